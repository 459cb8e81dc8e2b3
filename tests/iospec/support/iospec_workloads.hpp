#pragma once
// Workloads shared by the iospec tests: each is a program written once against an
// `io` (raw system calls, or a scope) plus the foreaction graph that describes it, and a
// log of every call's outcome, so that runs with and without speculation can be compared.

#include <keel/iospec.hpp>
#include <keel/platform/io_uring_engine.hpp>
#include <keel/platform/sync_io_engine.hpp>
#include <keel/platform/thread_pool_io_engine.hpp>

#include "temp_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace keel::iospec::test {

namespace is = keel::iospec;

// ---- the two ways to make calls ----------------------------------------------------------

struct raw_io {
    int openat(int d, const char* p, int f, mode_t m = 0) { return ::openat(d, p, f, m); }
    ssize_t pread(int fd, void* b, std::size_t n, off_t o) { return ::pread(fd, b, n, o); }
    ssize_t pwrite(int fd, const void* b, std::size_t n, off_t o) { return ::pwrite(fd, b, n, o); }
    int fstat(int fd, struct ::stat* st) { return ::fstat(fd, st); }
    int fstatat(int d, const char* p, struct ::stat* st, int f) { return ::fstatat(d, p, st, f); }
    int statx(int d, const char* p, int f, unsigned m, struct ::statx* x) { return ::statx(d, p, f, m, x); }
    int close(int fd) { return ::close(fd); }
    ssize_t getdents64(int fd, void* b, std::size_t n) { return ::syscall(SYS_getdents64, fd, b, n); }
};

struct scope_io {
    is::scope& s;
    int openat(int d, const char* p, int f, mode_t m = 0) { return s.openat(d, p, f, m); }
    ssize_t pread(int fd, void* b, std::size_t n, off_t o) { return s.pread(fd, b, n, o); }
    ssize_t pwrite(int fd, const void* b, std::size_t n, off_t o) { return s.pwrite(fd, b, n, o); }
    int fstat(int fd, struct ::stat* st) { return s.fstat(fd, st); }
    int fstatat(int d, const char* p, struct ::stat* st, int f) { return s.fstatat(d, p, st, f); }
    int statx(int d, const char* p, int f, unsigned m, struct ::statx* x) { return s.statx(d, p, f, m, x); }
    int close(int fd) { return s.close(fd); }
    ssize_t getdents64(int fd, void* b, std::size_t n) { return s.getdents64(fd, b, n); }
};

// ---- what the program saw ------------------------------------------------------------------

inline std::uint64_t fnv(const void* p, std::size_t n) {
    std::uint64_t h = 1469598103934665603ULL;
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/// One line per call: its name, return value, errno on failure, and what it produced
/// (a hash of the bytes, the stat fields reads cannot change).
struct call_log {
    std::vector<std::string> lines;
    /// Log inode and device numbers (not when runs compare fresh copies of a tree).
    bool identities = true;

    void add(const std::string& what, long long ret) {
        std::string line = what + " = " + std::to_string(ret);
        if (ret < 0) line += " (" + std::string(std::strerror(errno)) + ")";
        lines.push_back(std::move(line));
    }
    void bytes(const void* p, long long n) {
        if (n > 0) lines.back() += " data " + std::to_string(fnv(p, static_cast<std::size_t>(n)));
    }
    void stat(const struct ::stat& st) {
        lines.back() += " mode " + std::to_string(st.st_mode) + " size " + std::to_string(st.st_size) + " nlink " +
                        std::to_string(st.st_nlink) + " blocks " + std::to_string(st.st_blocks);
        if (identities) lines.back() += " ino " + std::to_string(st.st_ino) + " dev " + std::to_string(st.st_dev);
    }
    void stat(const struct ::statx& x) {
        lines.back() += " mask " + std::to_string(x.stx_mask) + " mode " + std::to_string(x.stx_mode) + " size " +
                        std::to_string(x.stx_size) + " nlink " + std::to_string(x.stx_nlink) + " blocks " +
                        std::to_string(x.stx_blocks);
        if (identities) lines.back() += " ino " + std::to_string(x.stx_ino);
    }
};

// ---- engines -------------------------------------------------------------------------------

struct engine_choice {
    std::string label;
    std::function<std::unique_ptr<is::engine>()> make;
};

/// Every engine this machine offers: automatic (io_uring with a pool for getdents64),
/// io_uring alone (getdents64 then runs synchronously), the thread pool, synchronous.
inline std::vector<engine_choice> engines(unsigned queue_depth = 64) {
    namespace kp = keel::platform;
    std::vector<engine_choice> out;
    const auto with = [queue_depth](kp::io_engine_kind k) {
        return [k, queue_depth] { return std::make_unique<is::engine>(is::engine_options{k, queue_depth, nullptr}); };
    };
    out.push_back({"automatic", with(kp::io_engine_kind::automatic)});
    if (kp::io_uring_engine::probe().available) out.push_back({"io_uring", with(kp::io_engine_kind::io_uring)});
    if (kp::thread_pool_io_engine::probe().available) {
        out.push_back({"thread_pool", with(kp::io_engine_kind::thread_pool)});
    }
    if (kp::sync_io_engine::probe().available) out.push_back({"synchronous", with(kp::io_engine_kind::synchronous)});
    return out;
}

// ---- files -----------------------------------------------------------------------------------

inline std::vector<unsigned char> random_bytes(std::mt19937_64& rng, std::size_t n) {
    std::vector<unsigned char> v(n);
    for (auto& b : v) b = static_cast<unsigned char>(rng());
    return v;
}

inline void write_file(const std::string& path, const std::vector<unsigned char>& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::system_error(errno, std::system_category(), "open " + path);
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) {
            ::close(fd);
            throw std::system_error(errno, std::system_category(), "write " + path);
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
}

inline int open_or_throw(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::system_category(), "open " + path);
    return fd;
}

// ---- read loop: pread fixed-size blocks until a short read, EOF or an error --------------------

/// The graph: read --> more? (repeat: read; exit: end). Epoch i reads block i.
/// Default options give the adaptive depth, which drops to 0 on the (cached) test files:
/// tests of pre-issuing itself pass a fixed depth ({.depth = 8}, slice 1's default).
/// `wrong_at` (for mismatch injection) makes the graph predict a wrong offset in that epoch.
inline is::graph read_loop_graph(int fd, std::size_t block, std::uint64_t max_blocks, is::graph_options options = {},
                                 std::uint64_t wrong_at = UINT64_MAX) {
    is::graph_builder b("read_loop", options);
    auto more = b.loop("more", {.max_iterations = max_blocks});
    auto read = b.pread("read", [=](const is::context& c) -> std::optional<is::pread_args> {
        const std::uint64_t i = c.iteration(more);
        std::uint64_t offset = i * block;
        if (i == wrong_at) offset += 1;
        return is::pread_args{fd, block, offset};
    });
    b.decide(more, [=](const is::context& c) -> std::optional<bool> {
        auto r = c.result(read);
        if (!r) return std::nullopt;
        return r->value == static_cast<std::int64_t>(block);
    });
    b.start(read);  // every node has an incoming edge (the repeat edge reaches read)
    b.edge(read, more);
    b.repeat(more, read);
    b.edge(more, b.end());
    return b.build();
}

/// The program: what the graph says, stopping early after `stop_after` reads.
template <class IO>
std::vector<unsigned char> read_loop(IO& io, int fd, std::size_t block, call_log& log,
                                     std::uint64_t stop_after = UINT64_MAX) {
    std::vector<unsigned char> content;
    std::vector<unsigned char> buf(block);
    for (std::uint64_t i = 0; i < stop_after; ++i) {
        const ssize_t n = io.pread(fd, buf.data(), block, static_cast<off_t>(i * block));
        log.add("pread block " + std::to_string(i), n);
        log.bytes(buf.data(), n);
        if (n > 0) content.insert(content.end(), buf.begin(), buf.begin() + n);
        if (n != static_cast<ssize_t>(block)) break;
    }
    return content;
}

// ---- du: walk a tree, one scope per directory ------------------------------------------------

/// The graph of one directory:
///   open --may_exit--> list --> batches? (repeat: entries?, exit: close)
///   entries? (repeat: stat --> entries?, exit: list)
/// list is getdents64 on the directory the graph opened; stat is fstatat of each entry
/// of the latest batch ("." and ".." left out).
struct dir_entries {
    static std::vector<std::string> of(std::span<const std::byte> bytes) {
        std::vector<std::string> names;
        for (const auto& e : is::dirent64_range(bytes)) {
            if (e.name != "." && e.name != "..") names.emplace_back(e.name);
        }
        return names;
    }
};

inline is::graph du_graph(const std::string& dir, std::size_t dents_bytes, is::graph_options options = {}) {
    is::graph_builder b("du", options);
    auto open = b.openat("open", [dir](const is::context&) -> std::optional<is::openat_args> {
        return is::openat_args{AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0};
    });
    auto batches = b.loop("batches", {.max_iterations = 1u << 20});
    auto entries = b.loop("entries", {.max_iterations = 1u << 20});
    auto list = b.getdents64("list", [open, dents_bytes](const is::context& c) -> std::optional<is::getdents64_args> {
        auto o = c.result(open);
        if (!o || !o->ok()) return std::nullopt;
        return is::getdents64_args{o->fd(), dents_bytes};
    });
    auto stat = b.fstatat("stat", [open, list, entries](const is::context& c) -> std::optional<is::fstatat_args> {
        auto o = c.result(open);
        auto l = c.result(list);
        if (!o || !l) return std::nullopt;
        const auto names = dir_entries::of(l->data);
        const std::uint64_t i = c.iteration(entries) - 1;  // a while-loop: the first epoch sees 1
        if (i >= names.size()) return std::nullopt;
        return is::fstatat_args{o->fd(), names[i], AT_SYMLINK_NOFOLLOW};
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
    b.decide(entries, [list, entries](const is::context& c) -> std::optional<bool> {
        auto l = c.result(list);
        if (!l) return std::nullopt;
        return c.iteration(entries) < dir_entries::of(l->data).size();
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

/// The program for one directory: what du_graph says. Appends the subdirectories to `subdirs`.
template <class IO>
void du_dir(IO& io, const std::string& dir, std::size_t dents_bytes, call_log& log, std::vector<std::string>& subdirs,
            std::uint64_t& total) {
    const int fd = io.openat(AT_FDCWD, dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    log.add("open " + dir, fd >= 0 ? 0 : fd);
    if (fd < 0) return;
    std::vector<std::byte> buf(dents_bytes);
    for (;;) {
        const ssize_t n = io.getdents64(fd, buf.data(), dents_bytes);
        log.add("list " + dir, n);
        if (n <= 0) break;
        for (const auto& name : dir_entries::of(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)))) {
            struct ::stat st {};
            const int r = io.fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW);
            log.add("stat " + dir + "/" + name, r);
            if (r == 0) {
                log.stat(st);
                total += static_cast<std::uint64_t>(st.st_size);
                if (S_ISDIR(st.st_mode)) subdirs.push_back(dir + "/" + name);
            }
        }
    }
    log.add("close " + dir, io.close(fd));
}

/// A tree of `dirs` directories (nested up to 3 deep) with `files` files each, random
/// sizes, a symlink and a dangling symlink; names long enough to need several batches.
inline void make_tree(const std::string& root, std::mt19937_64& rng, int dirs, int files) {
    std::vector<std::string> all{root};
    if (::mkdir(root.c_str(), 0755) != 0 && errno != EEXIST) {
        throw std::system_error(errno, std::system_category(), "mkdir " + root);
    }
    for (int d = 0; d < dirs; ++d) {
        const std::string parent = all[rng() % all.size()];
        const std::string path = parent + "/dir-" + std::to_string(d);
        if (::mkdir(path.c_str(), 0755) != 0) throw std::system_error(errno, std::system_category(), "mkdir " + path);
        all.push_back(path);
    }
    for (const auto& dir : all) {
        for (int f = 0; f < files; ++f) {
            write_file(dir + "/file-with-a-longish-name-" + std::to_string(f), random_bytes(rng, rng() % 5000));
        }
        (void)::symlink("file-with-a-longish-name-0", (dir + "/link").c_str());
        (void)::symlink("nowhere", (dir + "/dangling").c_str());
    }
}

/// du over `root`, breadth first; `speculate` null runs the raw calls.
inline std::uint64_t du(const std::string& root, std::size_t dents_bytes, call_log& log, is::engine* speculate,
                        is::graph_options options = {}, is::graph_counters* counters = nullptr) {
    std::vector<std::string> queue{root};
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < queue.size(); ++i) {
        const std::string dir = queue[i];
        if (speculate == nullptr) {
            raw_io io;
            du_dir(io, dir, dents_bytes, log, queue, total);
        } else {
            auto g = du_graph(dir, dents_bytes, options);
            {
                is::scope s(g, *speculate);
                scope_io io{s};
                du_dir(io, dir, dents_bytes, log, queue, total);
            }
            if (counters != nullptr) {
                const auto c = g.counters();
                counters->hits += c.hits;
                counters->misses += c.misses;
                counters->mismatches += c.mismatches;
                counters->cancelled += c.cancelled;
                counters->wasted_bytes += c.wasted_bytes;
            }
        }
    }
    return total;
}

}  // namespace keel::iospec::test
