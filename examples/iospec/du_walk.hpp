#pragma once
// The du walk of the iospec examples: the program (one directory per scope: openat,
// getdents64 batches, fstatat of every entry, close), its foreaction graph and a tree
// builder. Shared by examples/iospec/du.cpp and bench_iospec.

#include "calls.hpp"

#include <keel/iospec.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace example::du {

namespace is = keel::iospec;

inline constexpr std::size_t dents_bytes = 32 * 1024;

inline constexpr int open_flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;

inline std::vector<std::string> names_of(std::span<const std::byte> bytes) {
    std::vector<std::string> names;
    for (const auto& e : is::dirent64_range(bytes)) {
        if (e.name != "." && e.name != "..") names.emplace_back(e.name);
    }
    return names;
}

// The entry names of one getdents64 batch, parsed once: the stat generator and the
// entries decision ask for them on every call, and re-parsing the batch each time makes
// the walk quadratic in the directory size. Keyed by the bytes themselves (a compare is
// far cheaper than a parse), so it is as pure as the parse it replaces. One thread.
class batch_names {
public:
    const std::vector<std::string_view>& of(std::span<const std::byte> data) {
        if (data.size() != _bytes.size() || std::memcmp(data.data(), _bytes.data(), data.size()) != 0) {
            _bytes.assign(data.begin(), data.end());
            _names.clear();
            for (const auto& e : is::dirent64_range(_bytes)) {
                if (e.name != "." && e.name != "..") _names.push_back(e.name);
            }
        }
        return _names;
    }

private:
    std::vector<std::byte> _bytes;
    std::vector<std::string_view> _names;  // into _bytes
};

struct totals {
    std::uint64_t bytes = 0;
    std::uint64_t entries = 0;
    std::uint64_t errors = 0;
    bool operator==(const totals&) const = default;
};

// The program for one directory.
template <class Calls>
void du_dir(Calls& io, const std::string& dir, std::vector<std::string>& queue, totals& t) {
    const int fd = io.openat(AT_FDCWD, dir.c_str(), open_flags);
    if (fd < 0) {
        ++t.errors;
        return;
    }
    std::vector<std::byte> buf(dents_bytes);
    for (;;) {
        const ssize_t n = io.getdents64(fd, buf.data(), dents_bytes);
        if (n <= 0) break;
        for (const auto& name : names_of(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)))) {
            struct ::stat st {};
            if (io.fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                ++t.errors;
                continue;
            }
            ++t.entries;
            t.bytes += static_cast<std::uint64_t>(st.st_size);
            if (S_ISDIR(st.st_mode)) queue.push_back(dir + "/" + name);
        }
    }
    io.close(fd);
}

// Its graph: open --may_exit--> list --> batches? (repeat: entries?, exit: close --> end);
// entries? (repeat: stat --> entries?, exit: list). `dir` is the directory of the scope
// being run (set by the walk before it opens the scope).
inline is::graph du_graph(const std::string* dir, is::graph_options options = {}) {
    is::graph_builder b("du", options);
    auto names = std::make_shared<batch_names>();
    auto open = b.openat("open", [dir](const is::context&) -> std::optional<is::openat_args> {
        return is::openat_args{AT_FDCWD, *dir, open_flags, 0};
    });
    auto batches = b.loop("batches", {.max_iterations = 1U << 30});
    auto entries = b.loop("entries", {.max_iterations = 1U << 30});
    auto list = b.getdents64("list", [open](const is::context& c) -> std::optional<is::getdents64_args> {
        auto o = c.result(open);
        if (!o || !o->ok()) return std::nullopt;
        return is::getdents64_args{o->fd(), dents_bytes};
    });
    auto stat = b.fstatat("stat", [open, list, entries, names](const is::context& c) -> std::optional<is::fstatat_args> {
        auto o = c.result(open);
        auto l = c.result(list);
        if (!o || !l) return std::nullopt;
        // Entry i of the latest batch (a while loop: its first epoch sees 1).
        const std::uint64_t i = c.iteration(entries) - 1;
        const auto& batch = names->of(l->data);
        if (i >= batch.size()) return std::nullopt;
        return is::fstatat_args{o->fd(), std::string(batch[i]), AT_SYMLINK_NOFOLLOW};
    });
    auto close = b.close("close", [open](const is::context& c) -> std::optional<is::close_args> {
        auto o = c.result(open);
        if (!o) return std::nullopt;
        return is::close_args{o->fd()};
    });
    b.decide(batches, [list](const is::context& c) -> std::optional<bool> {
        auto l = c.result(list);
        if (!l) return std::nullopt;
        return l->value > 0;
    });
    b.decide(entries, [list, entries, names](const is::context& c) -> std::optional<bool> {
        auto l = c.result(list);
        if (!l) return std::nullopt;
        return c.iteration(entries) < names->of(l->data).size();
    });
    b.edge(open, list, is::edge_kind::may_exit);  // the program returns if the open fails
    b.edge(list, batches);
    b.repeat(batches, entries);
    b.edge(batches, close);
    b.repeat(entries, stat);
    b.edge(stat, entries);
    b.edge(entries, list);
    b.edge(close, b.end());
    return b.build();
}

inline totals walk(const std::string& root, is::engine* e, is::graph* g, std::string* current) {
    std::vector<std::string> queue{root};
    totals t;
    for (std::size_t i = 0; i < queue.size(); ++i) {
        const std::string dir = queue[i];
        if (e == nullptr) {
            raw_calls io;
            du_dir(io, dir, queue, t);
        } else {
            *current = dir;
            is::scope s(*g, *e);
            scope_calls io{s};
            du_dir(io, dir, queue, t);
        }
    }
    return t;
}

inline void make_tree(const std::string& root, int dirs, int files) {
    std::mt19937_64 rng(5);
    std::vector<std::string> all{root};
    for (int d = 0; d < dirs; ++d) {
        const std::string path = all[rng() % all.size()] + "/d" + std::to_string(d);
        if (::mkdir(path.c_str(), 0755) != 0) throw std::system_error(errno, std::system_category(), "mkdir " + path);
        all.push_back(path);
    }
    std::vector<char> bytes(8192, 'x');
    for (const auto& dir : all) {
        for (int f = 0; f < files; ++f) {
            const std::string path = dir + "/file-" + std::to_string(f);
            const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0) throw std::system_error(errno, std::system_category(), "create " + path);
            (void)!::write(fd, bytes.data(), rng() % bytes.size());
            ::close(fd);
        }
    }
}

}  // namespace example::du
