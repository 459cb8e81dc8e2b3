#pragma once
// An on-disk B+-tree for the iospec examples, test and benchmark: the file format, a
// bulk-loading builder, the programs (lookup of a batch of keys, range scan) written as
// plain preads against an `io` (raw system calls or an iospec scope), and the foreaction
// graphs that declare those programs. Written once here and included by
// examples/iospec/btree.cpp, tests/iospec/conformance/examples.cpp and bench_iospec.
//
// File format (little-endian, fixed 4 KiB pages; page n at offset n * 4096):
//   page 0, header: magic u64 | page_size u32 | height u32 | root u32 | page_count u32 |
//                   key_count u64
//   every other page: type u16 (1 internal, 2 leaf) | count u16 | next u32 | high_key u64
//     internal: children u32[340] at 16 | separators u64[339] at 1376. count children;
//               separator i is the smallest key under child i + 1 (keys under child i are
//               below it). next: the right sibling on the same level (0: none).
//     leaf: count records {key u64, value u64} at 16, sorted. next: the next leaf in key
//           order (0: none); the scan here walks the leaves through their parents instead
//           (see scan()), the links are for programs that follow the chain.
//     high_key: the smallest key of the next page on the same level (UINT64_MAX: none),
//               a B-link fence: a scan stops at a leaf whose high key is above its end.
//   All leaves are at depth height - 1 (height >= 2: the root is always internal).

#include "calls.hpp"

#include <keel/iospec.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace example::btree {

namespace is = keel::iospec;

inline constexpr std::size_t page_size = 4096;
inline constexpr std::uint64_t magic = 0x3154504242454b4bULL;  // "KKEBBPT1"
inline constexpr std::size_t page_header = 16;
inline constexpr std::size_t max_children = 340;
inline constexpr std::size_t max_records = (page_size - page_header) / 16;  // 255
inline constexpr std::size_t separators_at = page_header + 4 * max_children;
inline constexpr std::uint64_t no_key = UINT64_MAX;
inline constexpr std::uint16_t internal_page = 1;
inline constexpr std::uint16_t leaf_page = 2;
static_assert(separators_at + 8 * (max_children - 1) <= page_size);

/// The builder's keys: 1, 4, 7, ... (gaps, so absent keys are easy to name).
[[nodiscard]] constexpr std::uint64_t key_at(std::uint64_t i) noexcept { return 3 * i + 1; }
/// The value stored with `key`.
[[nodiscard]] constexpr std::uint64_t value_of(std::uint64_t key) noexcept {
    return (key * 0x9E3779B97F4A7C15ULL) ^ 0x5bd1e995ULL;
}

using example::load;
using example::store;

/// A view of one page's bytes. Every accessor is bounds-safe once valid() said yes, so
/// generators may parse pages that a corrupted file made garbage. No allocation.
class page_view {
public:
    explicit page_view(std::span<const std::byte> bytes) noexcept : _b(bytes) {}

    [[nodiscard]] bool valid() const noexcept {
        if (_b.size() != page_size) return false;
        if (type() == internal_page) return count() >= 1 && count() <= max_children;
        if (type() == leaf_page) return count() <= max_records;
        return false;
    }
    [[nodiscard]] bool is_internal() const noexcept { return valid() && type() == internal_page; }
    [[nodiscard]] bool is_leaf() const noexcept { return valid() && type() == leaf_page; }
    [[nodiscard]] std::uint16_t type() const noexcept { return load<std::uint16_t>(_b, 0); }
    [[nodiscard]] std::size_t count() const noexcept { return load<std::uint16_t>(_b, 2); }
    [[nodiscard]] std::uint32_t next() const noexcept { return load<std::uint32_t>(_b, 4); }
    [[nodiscard]] std::uint64_t high_key() const noexcept { return load<std::uint64_t>(_b, 8); }

    // Internal pages.
    [[nodiscard]] std::uint32_t child(std::size_t i) const noexcept { return load<std::uint32_t>(_b, page_header + 4 * i); }
    [[nodiscard]] std::uint64_t separator(std::size_t i) const noexcept {
        return load<std::uint64_t>(_b, separators_at + 8 * i);
    }
    /// The child whose subtree holds `key`: the number of separators <= key.
    [[nodiscard]] std::size_t child_index(std::uint64_t key) const noexcept {
        std::size_t lo = 0, hi = count() - 1;  // separators [0, count - 1)
        while (lo < hi) {
            const std::size_t mid = (lo + hi) / 2;
            if (separator(mid) <= key) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    // Leaf pages.
    [[nodiscard]] std::uint64_t key(std::size_t i) const noexcept { return load<std::uint64_t>(_b, page_header + 16 * i); }
    [[nodiscard]] std::uint64_t value(std::size_t i) const noexcept {
        return load<std::uint64_t>(_b, page_header + 16 * i + 8);
    }
    /// The first record with a key >= `key` (count() if none).
    [[nodiscard]] std::size_t lower_bound(std::uint64_t k) const noexcept {
        std::size_t lo = 0, hi = count();
        while (lo < hi) {
            const std::size_t mid = (lo + hi) / 2;
            if (key(mid) < k) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

private:
    std::span<const std::byte> _b;
};

/// The header page's fields (what a program reads once when it opens the tree).
struct tree {
    int fd = -1;
    std::uint32_t height = 0;
    std::uint32_t root = 0;
    std::uint32_t page_count = 0;
    std::uint64_t key_count = 0;

    [[nodiscard]] bool page_ok(std::uint32_t page) const noexcept { return page != 0 && page < page_count; }
};

/// Reads and checks the header of the tree open on `fd`; throws std::runtime_error.
inline tree open_tree(int fd) {
    std::byte b[page_size];
    if (::pread(fd, b, page_size, 0) != static_cast<ssize_t>(page_size)) throw std::runtime_error("btree: short header");
    const std::span<const std::byte> h(b, page_size);
    if (load<std::uint64_t>(h, 0) != magic || load<std::uint32_t>(h, 8) != page_size) {
        throw std::runtime_error("btree: not a keel B+-tree file");
    }
    tree t;
    t.fd = fd;
    t.height = load<std::uint32_t>(h, 12);
    t.root = load<std::uint32_t>(h, 16);
    t.page_count = load<std::uint32_t>(h, 20);
    t.key_count = load<std::uint64_t>(h, 24);
    if (t.height < 2 || t.height > 16 || !t.page_ok(t.root)) throw std::runtime_error("btree: bad header");
    return t;
}

// ---- the builder --------------------------------------------------------------------------

struct build_options {
    std::uint64_t keys = 1000;           ///< key_at(0) .. key_at(keys - 1)
    std::size_t leaf_fill = max_records;  ///< records per leaf (small values: deeper trees for tests)
    std::size_t inner_fill = max_children;
    /// Place the leaves at a random permutation of their page numbers, as in a tree that
    /// grew by splits: consecutive leaves are not consecutive in the file, so readahead
    /// does not help a scan.
    bool shuffle_leaves = false;
    std::uint64_t seed = 1;
};

/// Writes a tree of `o.keys` keys to `path` (bulk load, bottom up) and syncs it. Returns
/// the header. Throws std::system_error or std::invalid_argument.
inline tree build(const std::string& path, const build_options& o) {
    if (o.leaf_fill < 1 || o.leaf_fill > max_records || o.inner_fill < 2 || o.inner_fill > max_children) {
        throw std::invalid_argument("btree::build: leaf_fill in [1, 255] and inner_fill in [2, 340]");
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::system_error(errno, std::system_category(), "btree::build: open " + path);
    std::vector<std::byte> page(page_size);
    const std::span<std::byte> p(page);
    const auto write_page = [&](std::uint32_t n) {
        if (::pwrite(fd, page.data(), page_size, static_cast<off_t>(n) * page_size) != static_cast<ssize_t>(page_size)) {
            const int err = errno;
            ::close(fd);
            throw std::system_error(err, std::system_category(), "btree::build: write " + path);
        }
    };
    const std::uint64_t leaves = std::max<std::uint64_t>(1, (o.keys + o.leaf_fill - 1) / o.leaf_fill);
    if (leaves > UINT32_MAX / 2) throw std::invalid_argument("btree::build: too many keys");
    std::vector<std::uint32_t> where(leaves);  // leaf j (in key order) is at page where[j]
    std::iota(where.begin(), where.end(), 1U);
    if (o.shuffle_leaves) std::shuffle(where.begin(), where.end(), std::mt19937_64(o.seed));
    const auto first_key = [&](std::uint64_t leaf) { return key_at(leaf * o.leaf_fill); };

    // (page, smallest key) of each node of the level being built on.
    std::vector<std::pair<std::uint32_t, std::uint64_t>> level;
    for (std::uint64_t j = 0; j < leaves; ++j) {
        std::fill(page.begin(), page.end(), std::byte{0});
        const std::uint64_t begin = j * o.leaf_fill, end = std::min<std::uint64_t>(o.keys, begin + o.leaf_fill);
        const bool last = j + 1 == leaves;
        store<std::uint16_t>(p, 0, leaf_page);
        store<std::uint16_t>(p, 2, static_cast<std::uint16_t>(end - begin));
        store<std::uint32_t>(p, 4, last ? 0 : where[j + 1]);
        store<std::uint64_t>(p, 8, last ? no_key : first_key(j + 1));
        for (std::uint64_t i = begin; i < end; ++i) {
            store<std::uint64_t>(p, page_header + 16 * (i - begin), key_at(i));
            store<std::uint64_t>(p, page_header + 16 * (i - begin) + 8, value_of(key_at(i)));
        }
        write_page(where[j]);
        level.emplace_back(where[j], first_key(j));
    }
    auto next_page = static_cast<std::uint32_t>(leaves + 1);
    std::uint32_t height = 1;
    do {  // at least one internal level: the root is internal
        std::vector<std::pair<std::uint32_t, std::uint64_t>> up;
        const std::size_t groups = (level.size() + o.inner_fill - 1) / o.inner_fill;
        for (std::size_t g = 0; g < groups; ++g) {
            std::fill(page.begin(), page.end(), std::byte{0});
            const std::size_t begin = g * o.inner_fill, end = std::min(level.size(), begin + o.inner_fill);
            const bool last = g + 1 == groups;
            store<std::uint16_t>(p, 0, internal_page);
            store<std::uint16_t>(p, 2, static_cast<std::uint16_t>(end - begin));
            store<std::uint32_t>(p, 4, last ? 0 : next_page + 1);
            store<std::uint64_t>(p, 8, last ? no_key : level[end].second);
            for (std::size_t i = begin; i < end; ++i) {
                store<std::uint32_t>(p, page_header + 4 * (i - begin), level[i].first);
                if (i > begin) store<std::uint64_t>(p, separators_at + 8 * (i - begin - 1), level[i].second);
            }
            write_page(next_page);
            up.emplace_back(next_page, level[begin].second);
            ++next_page;
        }
        level = std::move(up);
        ++height;
    } while (level.size() > 1);

    tree t;
    t.height = height;
    t.root = level.front().first;
    t.page_count = next_page;
    t.key_count = o.keys;
    std::fill(page.begin(), page.end(), std::byte{0});
    store<std::uint64_t>(p, 0, magic);
    store<std::uint32_t>(p, 8, static_cast<std::uint32_t>(page_size));
    store<std::uint32_t>(p, 12, t.height);
    store<std::uint32_t>(p, 16, t.root);
    store<std::uint32_t>(p, 20, t.page_count);
    store<std::uint64_t>(p, 24, t.key_count);
    write_page(0);
    (void)::fdatasync(fd);
    ::close(fd);
    return t;
}

// ---- the programs -----------------------------------------------------------------------

/// How a query ended. Errors stop the program (a batch stops at its first error).
enum class status : std::uint8_t { found, not_found, ok, short_read, bad_page, bad_child, io_error };

[[nodiscard]] inline const char* to_string(status s) noexcept {
    switch (s) {
        case status::found: return "found";
        case status::not_found: return "not found";
        case status::ok: return "ok";
        case status::short_read: return "short read";
        case status::bad_page: return "bad page";
        case status::bad_child: return "bad child";
        case status::io_error: return "io error";
    }
    return "?";
}

struct lookup_result {
    status st = status::not_found;
    std::uint64_t value = 0;
    int error = 0;  ///< errno for io_error
    bool operator==(const lookup_result&) const = default;
};

struct record {
    std::uint64_t key = 0;
    std::uint64_t value = 0;
    bool operator==(const record&) const = default;
};

struct scan_result {
    status st = status::ok;
    int error = 0;
    std::vector<record> records;
    bool operator==(const scan_result&) const = default;
};

namespace detail {
// One page read by the program: ok, or the status that ends it.
template <class IO>
status read_page(IO& io, const tree& t, std::uint32_t page, std::byte* buf, std::uint16_t type, int& error) {
    const ssize_t n = io.pread(t.fd, buf, page_size, static_cast<off_t>(page) * page_size);
    if (n < 0) {
        error = errno;
        return status::io_error;
    }
    if (static_cast<std::size_t>(n) != page_size) return status::short_read;
    const page_view v(std::span<const std::byte>(buf, page_size));
    if (!v.valid() || v.type() != type) return status::bad_page;
    return status::ok;
}

// Descends from the root to the leaf that would hold `key`; the leaf's bytes end in buf.
template <class IO>
status descend(IO& io, const tree& t, std::uint64_t key, std::byte* buf, int& error) {
    std::uint32_t page = t.root;
    for (std::uint32_t level = 0; level + 1 < t.height; ++level) {
        if (auto s = read_page(io, t, page, buf, internal_page, error); s != status::ok) return s;
        const page_view v(std::span<const std::byte>(buf, page_size));
        page = v.child(v.child_index(key));
        if (!t.page_ok(page)) return status::bad_child;
    }
    return read_page(io, t, page, buf, leaf_page, error);
}
}  // namespace detail

/// The lookup program: for each key, root -> internal pages -> leaf, one pread per level.
/// Appends one result per key; stops after the first error (appended). `io` has
/// `ssize_t pread(int, void*, size_t, off_t)`.
template <class IO>
void lookup_many(IO& io, const tree& t, std::span<const std::uint64_t> keys, std::vector<lookup_result>& out) {
    alignas(64) std::byte buf[page_size];
    for (const std::uint64_t key : keys) {
        lookup_result r;
        r.st = detail::descend(io, t, key, buf, r.error);
        if (r.st == status::ok) {
            const page_view leaf(std::span<const std::byte>(buf, page_size));
            const std::size_t i = leaf.lower_bound(key);
            r.st = i < leaf.count() && leaf.key(i) == key ? status::found : status::not_found;
            if (r.st == status::found) r.value = leaf.value(i);
        }
        out.push_back(r);
        if (r.st != status::found && r.st != status::not_found) return;
    }
}

/// The range scan program: the records with lo <= key <= hi, into `r` (its record vector
/// is reused: a scan allocates nothing once it has grown). No call at all when lo > hi.
///
/// It walks the leaf level through the level above: it descends to the parent of lo's
/// leaf, reads that parent's children from lo's child on, then the parent's right sibling
/// (the parents' next links) and its children, and so on; it stops after a leaf whose high
/// key is above `hi`, or after the last leaf. The leaves' own next links are not followed:
/// each would make the next leaf's offset depend on the leaf before it (a pointer chase
/// with nothing to overlap), where a parent names up to 340 leaves at once.
template <class IO>
void scan(IO& io, const tree& t, std::uint64_t lo, std::uint64_t hi, scan_result& r) {
    r.st = status::ok;
    r.error = 0;
    r.records.clear();
    if (lo > hi) return;
    alignas(64) std::byte parent[page_size];
    alignas(64) std::byte buf[page_size];
    // The internal levels: the last page read is the parent of lo's leaf.
    std::uint32_t page = t.root;
    for (std::uint32_t level = 0; level + 1 < t.height; ++level) {
        if ((r.st = detail::read_page(io, t, page, parent, internal_page, r.error)) != status::ok) return;
        const page_view v(std::span<const std::byte>(parent, page_size));
        page = v.child(v.child_index(lo));
        if (!t.page_ok(page)) {
            r.st = status::bad_child;
            return;
        }
    }
    const page_view p(std::span<const std::byte>(parent, page_size));
    for (std::size_t j = p.child_index(lo);; j = 0) {
        for (; j < p.count(); ++j) {
            if (!t.page_ok(p.child(j))) {
                r.st = status::bad_child;
                return;
            }
            if ((r.st = detail::read_page(io, t, p.child(j), buf, leaf_page, r.error)) != status::ok) return;
            const page_view leaf(std::span<const std::byte>(buf, page_size));
            for (std::size_t i = leaf.lower_bound(lo); i < leaf.count() && leaf.key(i) <= hi; ++i) {
                r.records.push_back({leaf.key(i), leaf.value(i)});
            }
            if (leaf.high_key() > hi) return;
        }
        if (p.next() == 0) return;
        if (!t.page_ok(p.next())) {
            r.st = status::bad_child;
            return;
        }
        if ((r.st = detail::read_page(io, t, p.next(), parent, internal_page, r.error)) != status::ok) return;
    }
}

/// The same, returning a fresh result.
template <class IO>
scan_result scan(IO& io, const tree& t, std::uint64_t lo, std::uint64_t hi) {
    scan_result r;
    scan(io, t, lo, hi, r);
    return r;
}

// ---- the graphs ---------------------------------------------------------------------------
//
// Both graphs begin with the same descent: `inner`, a pread in a do-while loop `down?` of
// height - 1 epochs. Epoch 0 reads the root; epoch i reads the child of the page epoch i-1
// read (`result(inner)`: the latest earlier instance), found by parsing that page's bytes
// for the key. `down?` decides from the height alone (known from the header), never from
// the bytes, so the scope walks past one key's descent into the next key's while the pages
// are still on their way: the reads of different keys overlap, each key's own chain stays
// in order (its offsets are computable only once the page above has arrived).

/// What the lookup graph's generators read: the batch of keys the program is about to
/// look up (set before each scope; the graph is built once per tree).
struct lookup_query {
    std::span<const std::uint64_t> keys;
};

/// The scan's bounds (set before each scope).
struct scan_query {
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
};

namespace detail {
inline std::optional<is::pread_args> page_args(const tree& t, std::uint32_t page) {
    if (!t.page_ok(page)) return std::nullopt;  // the program stops with bad_child: no read
    return is::pread_args{t.fd, page_size, static_cast<std::uint64_t>(page) * page_size};
}
// The child of the (internal) page `r` for `key`, as the program computes it.
inline std::optional<is::pread_args> child_args(const tree& t, const std::optional<is::op_result>& r, std::uint64_t key) {
    if (!r || r->value != static_cast<std::int64_t>(page_size)) return std::nullopt;
    const page_view v(r->data);
    if (!v.is_internal()) return std::nullopt;
    return page_args(t, v.child(v.child_index(key)));
}


// A generator that reads its own node's earlier result needs the node's handle before
// the node exists: it is shared through this cell, filled right after the node is made.
using pread_cell = std::shared_ptr<is::node<is::pread_op>>;

// Adds the descent for `key_of(c)`: inner --> down?; returns (inner, down?).
template <class KeyOf>
std::pair<is::node<is::pread_op>, is::loop_node> add_descent(is::graph_builder& b, const tree& t, KeyOf key_of) {
    auto down = b.loop("down?", {.max_iterations = 64});
    auto self = std::make_shared<is::node<is::pread_op>>();
    auto inner = b.pread("inner", [t, key_of, down, self](const is::context& c) -> std::optional<is::pread_args> {
        const std::optional<std::uint64_t> key = key_of(c);
        if (!key) return std::nullopt;
        if (c.iteration(down) == 0) return page_args(t, t.root);
        return child_args(t, c.result(*self), *key);  // the page one level up
    });
    *self = inner;
    const std::uint64_t internal_levels = t.height - 1;
    b.decide(down, [down, internal_levels](const is::context& c) -> std::optional<bool> {
        return c.iteration(down) + 1 < internal_levels;
    });
    b.edge(inner, down, is::edge_kind::may_exit);  // the program stops at a bad page
    b.repeat(down, inner);
    return {inner, down};
}
}  // namespace detail

/// The lookup graph (a batch of keys, one epoch of `keys?` per key):
///
///   inner --may_exit--> down? --repeat--> inner      (height - 1 internal pages)
///                         '--exit--> leaf --may_exit--> keys? --repeat--> inner (next key)
///                                                        '--exit--> end
inline is::graph lookup_graph(const tree& t, const lookup_query* q, is::graph_options options = {}) {
    is::graph_builder b("btree_lookup", options);
    auto keys = b.loop("keys?", {.max_iterations = 1ULL << 40});
    const auto key_of = [q, keys](const is::context& c) -> std::optional<std::uint64_t> {
        const std::uint64_t k = c.iteration(keys);
        if (k >= q->keys.size()) return std::nullopt;
        return q->keys[k];
    };
    auto [inner, down] = detail::add_descent(b, t, key_of);
    auto leaf = b.pread("leaf", [t, key_of, inner](const is::context& c) -> std::optional<is::pread_args> {
        const auto key = key_of(c);
        if (!key) return std::nullopt;
        return detail::child_args(t, c.result(inner), *key);
    });
    b.decide(keys, [q, keys](const is::context& c) -> std::optional<bool> { return c.iteration(keys) + 1 < q->keys.size(); });
    b.start(inner);
    b.edge(down, leaf);
    b.edge(leaf, keys, is::edge_kind::may_exit);
    b.repeat(keys, inner);
    b.edge(keys, b.end());
    return b.build();
}

/// The scan graph (a do-while loop over parents, each a do-while loop over its leaves):
///
///   inner --may_exit--> down? --repeat--> inner              (height - 1 internal pages, for lo)
///                         '--exit--> leaf --may_exit--> leaves? --repeat--> leaf
///                                                          '--exit--> parents? --repeat--> sibling --may_exit--> leaf
///                                                                        '--exit--> end
///
/// `leaf` epoch i of parent epoch k reads child j = (k == 0 ? j0 : 0) + i of the current
/// parent (j0: lo's child), the parent being the descent's last page (k == 0) or the latest
/// `sibling`. `leaves?` stops at the early exit (the leaf's high key, which is the parent's
/// separator j, above hi) or after the parent's last child; `parents?` goes on to the
/// parent's right sibling while the parent's high key is not above hi. All decisions and
/// offsets come from the parent's bytes, known long before the leaves', so the scope keeps
/// the leaves of a whole parent in flight and reads the next parent as soon as the current
/// one is there. (Where the program stops on a leaf's own high key and the parent's
/// separator disagrees with it, a corrupted tree, the program's call differs from the graph
/// and the scope falls back: a mismatch, same results.)
inline is::graph scan_graph(const tree& t, const scan_query* q, is::graph_options options = {}) {
    is::graph_builder b("btree_scan", options);
    auto [inner, down] = detail::add_descent(b, t, [q](const is::context&) -> std::optional<std::uint64_t> { return q->lo; });
    auto leaves = b.loop("leaves?", {.max_iterations = max_children});
    auto parents = b.loop("parents?", {.max_iterations = 1ULL << 32});
    auto sibling_cell = std::make_shared<is::node<is::pread_op>>();
    // The current parent (the descent's last page, or the latest sibling) and the child
    // index its first leaf in this scan has.
    const auto parent = [q, inner, parents, sibling_cell](
                            const is::context& c, bool before_sibling) -> std::optional<std::pair<page_view, std::size_t>> {
        const std::uint64_t k = c.iteration(parents) - (before_sibling ? 1 : 0);
        auto r = k == 0 ? c.result(inner) : c.result(*sibling_cell);
        if (!r || r->value != static_cast<std::int64_t>(page_size)) return std::nullopt;
        const page_view v(r->data);
        if (!v.is_internal()) return std::nullopt;
        return std::pair{v, k == 0 ? v.child_index(q->lo) : std::size_t{0}};
    };
    auto leaf = b.pread("leaf", [t, leaves, parent](const is::context& c) -> std::optional<is::pread_args> {
        auto p = parent(c, false);
        if (!p) return std::nullopt;
        const std::size_t j = p->second + c.iteration(leaves);
        if (j >= p->first.count()) return std::nullopt;
        return detail::page_args(t, p->first.child(j));
    });
    auto sibling = b.pread("sibling", [t, parent](const is::context& c) -> std::optional<is::pread_args> {
        auto p = parent(c, true);  // the parent whose right sibling this is
        if (!p) return std::nullopt;
        return detail::page_args(t, p->first.next());
    });
    *sibling_cell = sibling;
    b.decide(leaves, [q, leaves, leaf, parent](const is::context& c) -> std::optional<bool> {
        auto p = parent(c, false);
        if (!p) return std::nullopt;
        const auto& [v, j0] = *p;
        const std::size_t j = j0 + c.iteration(leaves);  // the leaf just read
        std::uint64_t high = j + 1 < v.count() ? v.separator(j) : v.high_key();
        if (auto r = c.result(leaf); r && r->value == static_cast<std::int64_t>(page_size)) {
            const page_view l(r->data);
            if (l.is_leaf()) high = l.high_key();  // what the program looks at, once known
        }
        return high <= q->hi && j + 1 < v.count();
    });
    b.decide(parents, [q, parent](const is::context& c) -> std::optional<bool> {
        auto p = parent(c, false);
        if (!p) return std::nullopt;
        return p->first.high_key() <= q->hi && p->first.next() != 0;
    });
    b.start(inner);
    b.edge(down, leaf);
    b.edge(leaf, leaves, is::edge_kind::may_exit);
    b.repeat(leaves, leaf);
    b.edge(leaves, parents);
    b.repeat(parents, sibling);
    b.edge(sibling, leaf, is::edge_kind::may_exit);
    b.edge(parents, b.end());
    return b.build();
}

}  // namespace example::btree
