#pragma once
// An SST-style table (sorted string table, as in LevelDB/RocksDB, reduced to fixed-size
// records) for the iospec examples, test and benchmark: the file format, a builder, the
// Get program written as plain preads against an `io` (raw system calls or an iospec
// scope), and the foreaction graph that declares it. Written once here and included by
// examples/iospec/sst.cpp, tests/iospec/conformance/examples.cpp and bench_iospec.
//
// File format (little-endian):
//   data blocks, one after another: count u32 | reserved u32 | records {key u64, value u64}
//   index block: count u64 | entries {last_key u64, offset u64, size u64}, one per data
//                block in key order (last_key: the block's largest key)
//   footer, the file's last 32 bytes: magic u64 | index_offset u64 | index_size u64 | key_count u64
//
// Get(key) reads the footer, then the index block the footer points at, then the one data
// block whose last key is the first >= key (none: the key is absent, no third read).

#include "calls.hpp"

#include <keel/iospec.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace example::sst {

namespace is = keel::iospec;

inline constexpr std::uint64_t magic = 0x3154535342454b4bULL;  // "KKEBSST1"
inline constexpr std::size_t footer_size = 32;
inline constexpr std::size_t block_header = 8;
inline constexpr std::size_t record_size = 16;
inline constexpr std::size_t index_entry_size = 24;
/// Largest index and data block a reader accepts (a corrupted size is not allocated).
inline constexpr std::uint64_t max_block = 64ULL << 20;

/// The builder's keys: 2, 7, 12, ... (gaps, so absent keys are easy to name).
[[nodiscard]] constexpr std::uint64_t key_at(std::uint64_t i) noexcept { return 5 * i + 2; }
[[nodiscard]] constexpr std::uint64_t value_of(std::uint64_t key) noexcept { return ~key * 0xC2B2AE3D27D4EB4FULL; }

using example::load;
using example::store;

/// The footer's fields, checked against the file size (nullopt: not a table, or corrupt).
struct footer {
    std::uint64_t index_offset = 0;
    std::uint64_t index_size = 0;
    std::uint64_t key_count = 0;

    static std::optional<footer> parse(std::span<const std::byte> b, std::uint64_t file_size) noexcept {
        if (b.size() != footer_size || load<std::uint64_t>(b, 0) != magic) return std::nullopt;
        footer f{load<std::uint64_t>(b, 8), load<std::uint64_t>(b, 16), load<std::uint64_t>(b, 24)};
        if (f.index_size < 8 || f.index_size > max_block || f.index_offset > file_size - footer_size ||
            f.index_size > file_size - footer_size - f.index_offset) {
            return std::nullopt;
        }
        return f;
    }
};

/// A data block's location, as the index holds it.
struct block_handle {
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
};

/// The index entry for `key`: the first block whose last key is >= key. nullopt: the key
/// is above every block (absent). `bad`: the index block is malformed. No allocation.
inline std::optional<block_handle> find_block(std::span<const std::byte> index, std::uint64_t index_offset,
                                              std::uint64_t key, bool& bad) noexcept {
    bad = true;
    if (index.size() < 8) return std::nullopt;
    const auto count = load<std::uint64_t>(index, 0);
    if (count > (index.size() - 8) / index_entry_size) return std::nullopt;
    std::uint64_t lo = 0, hi = count;
    while (lo < hi) {
        const std::uint64_t mid = (lo + hi) / 2;
        if (load<std::uint64_t>(index, 8 + mid * index_entry_size) < key) lo = mid + 1; else hi = mid;
    }
    bad = false;
    if (lo == count) return std::nullopt;
    block_handle h{load<std::uint64_t>(index, 8 + lo * index_entry_size + 8),
                   load<std::uint64_t>(index, 8 + lo * index_entry_size + 16)};
    if (h.size < block_header || h.size > max_block || h.offset > index_offset || h.size > index_offset - h.offset) {
        bad = true;
        return std::nullopt;
    }
    return h;
}

/// A table open on `fd`: its size comes from one fstat when opened (as a table cache does).
struct table {
    int fd = -1;
    std::uint64_t file_size = 0;
};

inline table open_table(int fd) {
    struct ::stat st {};
    if (::fstat(fd, &st) != 0) throw std::system_error(errno, std::system_category(), "sst: fstat");
    if (static_cast<std::uint64_t>(st.st_size) < footer_size) throw std::runtime_error("sst: file too small");
    return table{fd, static_cast<std::uint64_t>(st.st_size)};
}

struct build_options {
    std::uint64_t keys = 1000;
    std::size_t records_per_block = 255;  ///< 255: 4 KiB data blocks
};

/// Writes a table of `o.keys` keys to `path` and syncs it. Throws std::system_error.
inline void build(const std::string& path, const build_options& o) {
    if (o.records_per_block == 0) throw std::invalid_argument("sst::build: records_per_block must be positive");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::system_error(errno, std::system_category(), "sst::build: open " + path);
    std::uint64_t at = 0;
    const auto put = [&](const std::vector<std::byte>& b) {
        if (::pwrite(fd, b.data(), b.size(), static_cast<off_t>(at)) != static_cast<ssize_t>(b.size())) {
            const int err = errno;
            ::close(fd);
            throw std::system_error(err, std::system_category(), "sst::build: write " + path);
        }
        at += b.size();
    };
    std::vector<std::byte> index(8 + (o.keys + o.records_per_block - 1) / o.records_per_block * index_entry_size);
    std::uint64_t blocks = 0;
    std::vector<std::byte> block;
    for (std::uint64_t begin = 0; begin < o.keys; begin += o.records_per_block) {
        const std::uint64_t end = std::min<std::uint64_t>(o.keys, begin + o.records_per_block);
        block.assign(block_header + (end - begin) * record_size, std::byte{0});
        store<std::uint32_t>(std::span(block), 0, static_cast<std::uint32_t>(end - begin));
        for (std::uint64_t i = begin; i < end; ++i) {
            store<std::uint64_t>(std::span(block), block_header + (i - begin) * record_size, key_at(i));
            store<std::uint64_t>(std::span(block), block_header + (i - begin) * record_size + 8, value_of(key_at(i)));
        }
        const std::size_t e = 8 + blocks * index_entry_size;
        store<std::uint64_t>(std::span(index), e, key_at(end - 1));
        store<std::uint64_t>(std::span(index), e + 8, at);
        store<std::uint64_t>(std::span(index), e + 16, block.size());
        ++blocks;
        put(block);
    }
    store<std::uint64_t>(std::span(index), 0, blocks);
    const std::uint64_t index_offset = at;
    put(index);
    std::vector<std::byte> f(footer_size);
    store<std::uint64_t>(std::span(f), 0, magic);
    store<std::uint64_t>(std::span(f), 8, index_offset);
    store<std::uint64_t>(std::span(f), 16, index.size());
    store<std::uint64_t>(std::span(f), 24, o.keys);
    put(f);
    (void)::fdatasync(fd);
    ::close(fd);
}

// ---- the program --------------------------------------------------------------------------

enum class status : std::uint8_t { found, not_found, short_read, bad_footer, bad_index, bad_block, io_error };

[[nodiscard]] inline const char* to_string(status s) noexcept {
    switch (s) {
        case status::found: return "found";
        case status::not_found: return "not found";
        case status::short_read: return "short read";
        case status::bad_footer: return "bad footer";
        case status::bad_index: return "bad index";
        case status::bad_block: return "bad block";
        case status::io_error: return "io error";
    }
    return "?";
}

struct get_result {
    status st = status::not_found;
    std::uint64_t value = 0;
    int error = 0;  ///< errno for io_error
    bool operator==(const get_result&) const = default;
};

/// The Get program for a batch of keys: per key footer -> index block -> data block. Appends
/// one result per key; stops after the first error (appended). `scratch` holds the blocks.
template <class IO>
void get_many(IO& io, const table& t, std::span<const std::uint64_t> keys, std::vector<get_result>& out,
              std::vector<std::byte>& scratch) {
    const auto read = [&](std::uint64_t offset, std::uint64_t size, get_result& r) -> bool {
        if (scratch.size() < size) scratch.resize(size);
        const ssize_t n = io.pread(t.fd, scratch.data(), size, static_cast<off_t>(offset));
        if (n < 0) {
            r.st = status::io_error;
            r.error = errno;
            return false;
        }
        if (static_cast<std::uint64_t>(n) != size) {
            r.st = status::short_read;
            return false;
        }
        return true;
    };
    for (const std::uint64_t key : keys) {
        get_result r;
        const auto done = [&] {
            out.push_back(r);
            return r.st != status::found && r.st != status::not_found;
        };
        if (!read(t.file_size - footer_size, footer_size, r)) { if (done()) return; continue; }
        const auto f = footer::parse(std::span<const std::byte>(scratch.data(), footer_size), t.file_size);
        if (!f) {
            r.st = status::bad_footer;
            if (done()) return;
            continue;
        }
        if (!read(f->index_offset, f->index_size, r)) { if (done()) return; continue; }
        bool bad = false;
        const auto h = find_block(std::span<const std::byte>(scratch.data(), f->index_size), f->index_offset, key, bad);
        if (bad || !h) {
            r.st = bad ? status::bad_index : status::not_found;
            if (done()) return;
            continue;
        }
        if (!read(h->offset, h->size, r)) { if (done()) return; continue; }
        const std::span<const std::byte> b(scratch.data(), h->size);
        const auto count = load<std::uint32_t>(b, 0);
        if (count > (h->size - block_header) / record_size) {
            r.st = status::bad_block;
            if (done()) return;
            continue;
        }
        std::uint64_t lo = 0, hi = count;
        while (lo < hi) {
            const std::uint64_t mid = (lo + hi) / 2;
            if (load<std::uint64_t>(b, block_header + mid * record_size) < key) lo = mid + 1; else hi = mid;
        }
        if (lo < count && load<std::uint64_t>(b, block_header + lo * record_size) == key) {
            r.st = status::found;
            r.value = load<std::uint64_t>(b, block_header + lo * record_size + 8);
        }
        if (done()) return;
    }
}

// ---- the graph ------------------------------------------------------------------------------

/// The keys the graph's generators read (set before each scope; the graph is built once).
struct get_query {
    std::span<const std::uint64_t> keys;
};

/// The Get graph for a batch of keys (one epoch of `keys?` per key):
///
///   footer --may_exit--> index --may_exit--> block? --0--> data --may_exit--> keys?
///                                                   '--1----------------------> keys?
///   keys? --repeat--> footer;  keys? --exit--> end
///
/// footer's arguments are constant (the size is known); index's come from footer's bytes;
/// block? and data's from index's bytes and the epoch's key. block? (is there a block that
/// may hold the key) is known only once the index block has arrived, so the scope walks
/// into the next key's footer read after this key's index read completes; the data reads
/// of consecutive keys still overlap, which is where the cold time goes.
inline is::graph get_graph(const table& t, const get_query* q, is::graph_options options = {}) {
    is::graph_builder b("sst_get", options);
    auto keys = b.loop("keys?", {.max_iterations = 1ULL << 40});
    auto block = b.branch("block?");
    const auto foot = [t](const std::optional<is::op_result>& r) -> std::optional<footer> {
        if (!r || r->value != static_cast<std::int64_t>(footer_size)) return std::nullopt;
        return footer::parse(r->data, t.file_size);
    };
    auto footer_read = b.pread("footer", [t](const is::context&) -> std::optional<is::pread_args> {
        return is::pread_args{t.fd, footer_size, t.file_size - footer_size};
    });
    auto index = b.pread("index", [t, foot, footer_read](const is::context& c) -> std::optional<is::pread_args> {
        const auto f = foot(c.result(footer_read));
        if (!f) return std::nullopt;
        return is::pread_args{t.fd, f->index_size, f->index_offset};
    });
    // The block for this epoch's key: (handle or absent), nullopt while unknown or bad.
    const auto locate = [q, keys, foot, footer_read,
                         index](const is::context& c) -> std::optional<std::optional<block_handle>> {
        const std::uint64_t k = c.iteration(keys);
        if (k >= q->keys.size()) return std::nullopt;
        const auto f = foot(c.result(footer_read));
        auto r = c.result(index);
        if (!f || !r || r->value != static_cast<std::int64_t>(f->index_size)) return std::nullopt;
        bool bad = false;
        auto h = find_block(r->data, f->index_offset, q->keys[k], bad);
        if (bad) return std::nullopt;  // the program stops with bad_index
        return h;
    };
    auto data = b.pread("data", [t, locate](const is::context& c) -> std::optional<is::pread_args> {
        const auto h = locate(c);
        if (!h || !*h) return std::nullopt;
        return is::pread_args{t.fd, (*h)->size, (*h)->offset};
    });
    b.decide(block, [locate](const is::context& c) -> std::optional<std::size_t> {
        const auto h = locate(c);
        if (!h) return std::nullopt;
        return *h ? 0 : 1;
    });
    b.decide(keys, [q, keys](const is::context& c) -> std::optional<bool> { return c.iteration(keys) + 1 < q->keys.size(); });
    b.start(footer_read);
    b.edge(footer_read, index, is::edge_kind::may_exit);
    b.edge(index, block, is::edge_kind::may_exit);
    b.edge(block, data);  // target 0
    b.edge(block, keys);  // target 1
    b.edge(data, keys, is::edge_kind::may_exit);
    b.repeat(keys, footer_read);
    b.edge(keys, b.end());
    return b.build();
}

}  // namespace example::sst
