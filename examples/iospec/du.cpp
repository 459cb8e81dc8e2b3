// A du-like tree walk with keel::iospec: for each directory, open it, list it with
// getdents64 and fstatat every entry, summing sizes and queueing subdirectories. One
// foreaction graph describes one directory; each directory is a scope of that graph (so
// the adaptive depth learned carries from one directory to the next), and the fstatat
// calls of a batch are pre-issued while the program handles the earlier ones.
// The walk runs with the raw system calls and through scopes, warm, and with
// --drop-caches also cold (the whole machine's clean dentries and inodes dropped with
// `echo 2 > /proc/sys/vm/drop_caches`, root only); the totals must agree.
//
//   example_iospec_du [--dirs N] [--files N] [--path DIR] [--drop-caches 1]
//   (--path walks an existing tree)
#include "common.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace example;

namespace {

constexpr std::size_t dents_bytes = 32 * 1024;

struct raw_calls {
    int openat(int d, const char* p, int f) { return ::openat(d, p, f); }
    ssize_t getdents64(int fd, void* b, std::size_t n) { return ::syscall(SYS_getdents64, fd, b, n); }
    int fstatat(int d, const char* p, struct ::stat* st, int f) { return ::fstatat(d, p, st, f); }
    int close(int fd) { return ::close(fd); }
};

struct scope_calls {
    is::scope& s;
    int openat(int d, const char* p, int f) { return s.openat(d, p, f); }
    ssize_t getdents64(int fd, void* b, std::size_t n) { return s.getdents64(fd, b, n); }
    int fstatat(int d, const char* p, struct ::stat* st, int f) { return s.fstatat(d, p, st, f); }
    int close(int fd) { return s.close(fd); }
};

constexpr int open_flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;

std::vector<std::string> names_of(std::span<const std::byte> bytes) {
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
is::graph du_graph(const std::string* dir) {
    is::graph_builder b("du");
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

totals walk(const std::string& root, is::engine* e, is::graph* g, std::string* current) {
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

void make_tree(const std::string& root, int dirs, int files) {
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

// Drops clean dentries and inodes (root only); false when not allowed.
bool drop_metadata_cache() {
    ::sync();
    const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::write(fd, "2", 1) == 1;
    ::close(fd);
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    int dirs = 40;
    int files = 50;
    std::string path;
    bool drop = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--dirs") == 0) dirs = std::atoi(argv[i + 1]);
        if (std::strcmp(argv[i], "--files") == 0) files = std::atoi(argv[i + 1]);
        if (std::strcmp(argv[i], "--path") == 0) path = argv[i + 1];
        if (std::strcmp(argv[i], "--drop-caches") == 0) drop = std::atoi(argv[i + 1]) != 0;
    }
    scratch_dir scratch;
    if (path.empty()) {
        path = scratch.path() + "/tree";
        if (::mkdir(path.c_str(), 0755) != 0) return 1;
        make_tree(path, dirs, files);
    }
    is::engine e;
    std::string current;
    auto g = du_graph(&current);
    std::printf("du of %s on engine %s\n", path.c_str(), std::string(e.backend()).c_str());
    int status = 0;
    const bool can_drop = drop && drop_metadata_cache();
    for (const bool cold : {true, false}) {
        if (cold && !can_drop) {
            std::printf("cold cache: %s\n", drop ? "skipped (cannot write /proc/sys/vm/drop_caches)"
                                                 : "skipped (--drop-caches 1 to run it)");
            continue;
        }
        std::printf("%s cache:\n", cold ? "cold" : "warm");
        if (cold) drop_metadata_cache();
        auto t0 = std::chrono::steady_clock::now();
        const totals serial = walk(path, nullptr, nullptr, nullptr);
        const double serial_s = seconds_since(t0);
        if (cold) drop_metadata_cache();
        g.reset_counters();
        t0 = std::chrono::steady_clock::now();
        const totals spec = walk(path, &e, &g, &current);
        const double spec_s = seconds_since(t0);
        std::printf("  serial:      %.4f s  %llu entries, %llu bytes, %llu errors\n", serial_s,
                    static_cast<unsigned long long>(serial.entries), static_cast<unsigned long long>(serial.bytes),
                    static_cast<unsigned long long>(serial.errors));
        std::printf("  speculative: %.4f s (%.2fx serial)%s\n", spec_s, spec_s > 0 ? serial_s / spec_s : 0.0,
                    spec == serial ? ", same totals as serial" : "  TOTALS DIFFER");
        print_counters("counters", g.counters());
        if (!(spec == serial)) status = 1;
    }
    return status;
}
