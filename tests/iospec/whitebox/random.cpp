#include <catch2/catch.hpp>

#include "iospec_workloads.hpp"

#include <keel/iospec.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

// Randomly generated programs and the graphs that describe them (seeded): chains of
// blocks (single reads, data-dependent reads, stats, open/read/close with a branch on the
// open's result, bounded read loops, write-then-read, getdents64), joined by must or
// may_exit edges. Each program runs once on raw system calls and once through a scope
// on every engine, with early exits at a may_exit edge and injected mismatches; the call
// logs, the scratch file and the directory position afterwards must be identical.

namespace is = keel::iospec;
using namespace keel::iospec::test;

namespace {

enum class kind { read, chase, fstat, statat, statx, open_read_close, loop_read, write_read, dents };

struct block {
    kind k = kind::read;
    int file = 0;
    int name = 0;
    std::size_t len = 0;
    std::uint64_t off = 0;
    std::uint64_t loops = 0;
    std::vector<std::byte> data;
    std::size_t len2 = 0;
    std::uint64_t off2 = 0;
    bool exit_after = false;  // the edge after this block is may_exit
    bool deviate = false;     // the program reads one byte more than the graph predicts
};

struct program {
    std::vector<block> blocks;
    int exit_at = -1;  // the program returns at the may_exit edge after this block
    unsigned depth = 4;
};

const std::vector<std::string> names{"f0", "f1", "f2", "f3", "scratch", "sub", "missing", "link", "sub/e-1"};

program make_program(std::mt19937_64& rng) {
    program p;
    p.depth = 1 + static_cast<unsigned>(rng() % 12);
    const int count = 1 + static_cast<int>(rng() % 12);
    auto pick = [&](std::uint64_t n) { return rng() % n; };
    for (int i = 0; i < count; ++i) {
        block b;
        const bool after_read = !p.blocks.empty() &&
                                (p.blocks.back().k == kind::read || p.blocks.back().k == kind::chase);
        b.k = static_cast<kind>(pick(9));
        if (b.k == kind::chase && !after_read) b.k = kind::read;
        b.file = static_cast<int>(pick(4));
        b.name = static_cast<int>(pick(names.size()));
        b.len = pick(3) == 0 ? 1 + pick(64) : 512 * (1 + pick(16));
        b.off = pick(4) == 0 ? 20000 + pick(5000) : pick(20000);  // sometimes past the end
        b.loops = 2 + pick(5);
        // Filled by push_back, not resize(): GCC 12 at -O1 (the tsan preset) reports a
        // false array-bounds error on resize's memset here.
        const std::uint64_t data_size = 1 + pick(3000);
        b.data.reserve(data_size);
        for (std::uint64_t j = 0; j < data_size; ++j) b.data.push_back(static_cast<std::byte>(rng()));
        b.len2 = 1 + pick(4000);
        b.off2 = pick(9000);
        b.exit_after = pick(4) == 0;
        b.deviate = b.k == kind::read && pick(10) == 0;
        p.blocks.push_back(std::move(b));
    }
    if (pick(2) == 0) {
        std::vector<int> exits;
        for (int i = 0; i < count; ++i) {
            if (p.blocks[static_cast<std::size_t>(i)].exit_after) exits.push_back(i);
        }
        if (!exits.empty()) p.exit_at = exits[pick(exits.size())];
    }
    return p;
}

// The files a program runs on, made afresh (from the same seed) for every run.
struct environment {
    keel::test::temp_dir dir;
    int f[4] = {-1, -1, -1, -1};
    int scratch = -1;
    int root = -1;
    int sub = -1;

    explicit environment(std::uint64_t seed) {
        std::mt19937_64 rng(seed);
        for (int i = 0; i < 4; ++i) {
            write_file(dir.file("f" + std::to_string(i)), random_bytes(rng, rng() % 24000));
        }
        write_file(dir.file("scratch"), random_bytes(rng, 9000));
        ::mkdir(dir.file("sub").c_str(), 0755);
        for (int i = 0; i < 40; ++i) write_file(dir.file("sub/e-" + std::to_string(i)), {});
        (void)::symlink("f0", dir.file("link").c_str());
        for (int i = 0; i < 4; ++i) f[i] = open_or_throw(dir.file("f" + std::to_string(i)), O_RDONLY);
        scratch = open_or_throw(dir.file("scratch"), O_RDWR);
        root = open_or_throw(dir.path.string(), O_RDONLY | O_DIRECTORY);
        sub = open_or_throw(dir.file("sub"), O_RDONLY | O_DIRECTORY);
    }
    ~environment() {
        for (int fd : {f[0], f[1], f[2], f[3], scratch, root, sub}) ::close(fd);
    }
    environment(const environment&) = delete;
    environment& operator=(const environment&) = delete;
};

std::uint64_t chase_offset(std::span<const std::byte> data) {
    if (data.empty()) return 0;
    return (static_cast<std::uint64_t>(data[0]) * 61) % 24000;
}

// Entry names and types (inode numbers and offsets differ between fresh directories).
void log_names(call_log& log, const std::vector<std::byte>& buf, ssize_t n) {
    if (n <= 0) return;
    for (const auto& e : is::dirent64_range(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)))) {
        log.lines.back() += " " + std::string(e.name) + "/" + std::to_string(e.type);
    }
}

template <class IO>
void run_program(IO& io, const program& p, const environment& env, call_log& log) {
    std::vector<std::byte> buf(1 << 16);
    std::vector<std::byte> last;  // what the previous read block read
    for (std::size_t i = 0; i < p.blocks.size(); ++i) {
        const block& b = p.blocks[i];
        const std::string tag = "#" + std::to_string(i) + " ";
        std::vector<std::byte> read_now;
        auto read = [&](int fd, std::size_t len, std::uint64_t off, const std::string& what) {
            const ssize_t n = io.pread(fd, buf.data(), len, static_cast<off_t>(off));
            log.add(tag + what + " pread " + std::to_string(len) + "@" + std::to_string(off), n);
            log.bytes(buf.data(), n);
            read_now.assign(buf.begin(), buf.begin() + std::max<ssize_t>(n, 0));
            return n;
        };
        switch (b.k) {
            case kind::read: (void)read(env.f[b.file], b.len + (b.deviate ? 1 : 0), b.off, "read"); break;
            case kind::chase: (void)read(env.f[b.file], b.len, chase_offset(last), "chase"); break;
            case kind::fstat: {
                struct ::stat st {};
                log.add(tag + "fstat", io.fstat(env.f[b.file], &st));
                log.stat(st);
                break;
            }
            case kind::statat: {
                struct ::stat st {};
                const int r = io.fstatat(env.root, names[static_cast<std::size_t>(b.name)].c_str(), &st, 0);
                log.add(tag + "fstatat " + names[static_cast<std::size_t>(b.name)], r);
                if (r == 0) log.stat(st);
                break;
            }
            case kind::statx: {
                struct ::statx x {};
                const int r = io.statx(env.root, names[static_cast<std::size_t>(b.name)].c_str(), AT_SYMLINK_NOFOLLOW,
                                       STATX_BASIC_STATS, &x);
                log.add(tag + "statx " + names[static_cast<std::size_t>(b.name)], r);
                if (r == 0) log.stat(x);
                break;
            }
            case kind::open_read_close: {
                const int fd = io.openat(env.root, names[static_cast<std::size_t>(b.name)].c_str(), O_RDONLY | O_CLOEXEC);
                log.add(tag + "openat " + names[static_cast<std::size_t>(b.name)], fd >= 0 ? 0 : fd);
                if (fd >= 0) {
                    (void)read(fd, b.len, b.off, "opened");
                    log.add(tag + "close", io.close(fd));
                }
                break;
            }
            case kind::loop_read:
                for (std::uint64_t j = 0; j < b.loops; ++j) {
                    if (read(env.f[b.file], b.len, j * b.len, "loop") != static_cast<ssize_t>(b.len)) break;
                }
                break;
            case kind::write_read: {
                log.add(tag + "pwrite", io.pwrite(env.scratch, b.data.data(), b.data.size(), static_cast<off_t>(b.off)));
                (void)read(env.scratch, b.len2, b.off2, "scratch");
                break;
            }
            case kind::dents: {
                const ssize_t n = io.getdents64(env.sub, buf.data(), b.len + 512);
                log.add(tag + "getdents64", n);
                log_names(log, buf, n);
                break;
            }
        }
        last = std::move(read_now);
        if (static_cast<int>(i) == p.exit_at) {
            log.add("early exit", 0);
            return;
        }
    }
}

// The graph describing `p` on `env`.
is::graph make_graph(const program& p, const environment& env) {
    // Depths 4, 8 and 12 run adaptive (starting there, probing often) instead of fixed.
    is::graph_options options{.depth = p.depth, .disable_after = 0};
    if (p.depth % 4 == 0) {
        options.depth.reset();
        options.adaptive.initial = p.depth;
        options.adaptive.probe_interval = 1 + p.depth % 3;
        options.adaptive.decay_interval = 2;
    }
    is::graph_builder g("random", options);
    std::vector<is::node_ref> pending;  // edges still to be pointed at the next block
    is::edge_kind pending_kind = is::edge_kind::must;
    std::optional<is::node<is::pread_op>> previous_read;
    bool first = true;
    auto enter = [&](is::node_ref entry) {
        if (first) g.start(entry);
        first = false;
        for (auto src : pending) g.edge(src, entry, pending_kind);
        pending.clear();
    };
    const int root = env.root;
    for (std::size_t i = 0; i < p.blocks.size(); ++i) {
        const block& b = p.blocks[i];
        const std::string tag = "#" + std::to_string(i) + " ";
        std::optional<is::node<is::pread_op>> this_read;
        switch (b.k) {
            case kind::read: {
                auto r = g.pread(tag + "read", [fd = env.f[b.file], len = b.len, off = b.off](const is::context&) {
                    return std::optional<is::pread_args>(is::pread_args{fd, len, off});
                });
                enter(r);
                pending = {r};
                this_read = r;
                break;
            }
            case kind::chase: {
                auto prev = *previous_read;
                auto r = g.pread(tag + "chase", [fd = env.f[b.file], len = b.len, prev](const is::context& c)
                                                    -> std::optional<is::pread_args> {
                    auto pr = c.result(prev);
                    if (!pr) return std::nullopt;
                    return is::pread_args{fd, len, chase_offset(pr->data)};
                });
                enter(r);
                pending = {r};
                this_read = r;
                break;
            }
            case kind::fstat: {
                auto s = g.fstat(tag + "fstat", [fd = env.f[b.file]](const is::context&) {
                    return std::optional<is::fstat_args>(is::fstat_args{fd});
                });
                enter(s);
                pending = {s};
                break;
            }
            case kind::statat: {
                auto s = g.fstatat(tag + "fstatat", [root, n = names[static_cast<std::size_t>(b.name)]](const is::context&) {
                    return std::optional<is::fstatat_args>(is::fstatat_args{root, n, 0});
                });
                enter(s);
                pending = {s};
                break;
            }
            case kind::statx: {
                auto s = g.statx(tag + "statx", [root, n = names[static_cast<std::size_t>(b.name)]](const is::context&) {
                    return std::optional<is::statx_args>(
                        is::statx_args{root, n, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS});
                });
                enter(s);
                pending = {s};
                break;
            }
            case kind::open_read_close: {
                auto o = g.openat(tag + "openat", [root, n = names[static_cast<std::size_t>(b.name)]](const is::context&) {
                    return std::optional<is::openat_args>(is::openat_args{root, n, O_RDONLY | O_CLOEXEC, 0});
                });
                auto opened = g.branch(tag + "opened?", [o](const is::context& c) -> std::optional<std::size_t> {
                    auto r = c.result(o);
                    if (!r) return std::nullopt;
                    return r->ok() ? 0 : 1;
                });
                auto r = g.pread(tag + "opened", [o, len = b.len, off = b.off](const is::context& c)
                                                     -> std::optional<is::pread_args> {
                    auto fd = c.result(o);
                    if (!fd || !fd->ok()) return std::nullopt;
                    return is::pread_args{fd->fd(), len, off};
                });
                auto cl = g.close(tag + "close", [o](const is::context& c) -> std::optional<is::close_args> {
                    auto fd = c.result(o);
                    if (!fd) return std::nullopt;
                    return is::close_args{fd->fd()};
                });
                enter(o);
                g.edge(o, opened);
                g.edge(opened, r);  // target 0
                g.edge(r, cl);
                pending = {cl, opened};  // close, or the branch's target 1
                this_read = r;
                break;
            }
            case kind::loop_read: {
                auto more = g.loop(tag + "more", {.max_iterations = b.loops - 1});
                auto r = g.pread(tag + "loop", [fd = env.f[b.file], len = b.len, more](const is::context& c) {
                    return std::optional<is::pread_args>(is::pread_args{fd, len, c.iteration(more) * len});
                });
                g.decide(more, [r, more, len = b.len, loops = b.loops](const is::context& c) -> std::optional<bool> {
                    auto x = c.result(r);
                    if (!x) return std::nullopt;
                    return x->value == static_cast<std::int64_t>(len) && c.iteration(more) + 1 < loops;
                });
                enter(r);
                g.edge(r, more);
                g.repeat(more, r);
                pending = {more};
                this_read = r;
                break;
            }
            case kind::write_read: {
                auto data = std::make_shared<std::vector<std::byte>>(b.data);
                auto w = g.pwrite(tag + "pwrite", [fd = env.scratch, data, off = b.off](const is::context&) {
                    return std::optional<is::pwrite_args>(is::pwrite_args{fd, *data, off});
                });
                auto r = g.pread(tag + "scratch", [fd = env.scratch, len = b.len2, off = b.off2](const is::context&) {
                    return std::optional<is::pread_args>(is::pread_args{fd, len, off});
                });
                enter(w);
                g.edge(w, r);
                pending = {r};
                this_read = r;
                break;
            }
            case kind::dents: {
                auto d = g.getdents64(tag + "getdents64", [fd = env.sub, len = b.len + 512](const is::context&) {
                    return std::optional<is::getdents64_args>(is::getdents64_args{fd, len});
                });
                enter(d);
                pending = {d};
                break;
            }
        }
        previous_read = this_read;
        pending_kind = b.exit_after ? is::edge_kind::may_exit : is::edge_kind::must;
    }
    for (auto src : pending) g.edge(src, g.end(), pending_kind);
    return g.build();
}

// What the program left behind: the scratch file and where the directory stands.
void after(const environment& env, call_log& log) {
    std::vector<std::byte> buf(1 << 16);
    const ssize_t n = ::pread(env.scratch, buf.data(), buf.size(), 0);
    log.add("scratch after", n);
    log.bytes(buf.data(), n);
    const ssize_t d = ::syscall(SYS_getdents64, env.sub, buf.data(), buf.size());
    log.add("getdents64 after", d);
    log_names(log, buf, d);
}

int lowest_free_fd() {
    const int fd = ::dup(0);
    ::close(fd);
    return fd;
}

}  // namespace

TEST_CASE("random graphs and workloads: identical outputs with and without speculation, on every engine",
          "[iospec][whitebox][random]") {
    const auto choices = engines();
    std::vector<std::unique_ptr<is::engine>> es;
    for (const auto& c : choices) es.push_back(c.make());
    is::graph_counters total;
    int programs_with_mismatch = 0;
    for (std::uint64_t seed = 1; seed <= 150; ++seed) {
        std::mt19937_64 rng(seed);
        const program p = make_program(rng);
        INFO("seed " << seed << ", " << p.blocks.size() << " blocks, depth " << p.depth << ", exit at " << p.exit_at);
        call_log want;
        want.identities = false;  // every run makes a fresh copy of the files
        {
            environment env(seed);
            raw_io raw;
            run_program(raw, p, env, want);
            after(env, want);
        }
        for (std::size_t e = 0; e < es.size(); ++e) {
            INFO("engine " << choices[e].label);
            const int free_before = lowest_free_fd();
            call_log got;
            got.identities = false;
            {
                environment env(seed);
                auto g = make_graph(p, env);
                {
                    is::scope s(g, *es[e], {env.f[0], env.f[1], env.f[2], env.f[3], env.scratch, env.root, env.sub});
                    scope_io io{s};
                    run_program(io, p, env, got);
                }
                after(env, got);
                const auto c = g.counters();
                total.hits += c.hits;
                total.misses += c.misses;
                total.mismatches += c.mismatches;
                total.cancelled += c.cancelled;
                total.wasted_bytes += c.wasted_bytes;
                if (c.mismatches > 0) ++programs_with_mismatch;
                bool deviates = false;
                for (std::size_t i = 0; i < p.blocks.size(); ++i) {
                    if (p.exit_at >= 0 && i > static_cast<std::size_t>(p.exit_at)) break;
                    deviates = deviates || p.blocks[i].deviate;
                }
                if (!deviates) CHECK(c.mismatches == 0);
                CHECK(es[e]->budget().used() == 0);
            }
            REQUIRE(got.lines == want.lines);
            CHECK(lowest_free_fd() == free_before);
        }
    }
    INFO("hits " << total.hits << " misses " << total.misses << " mismatches " << total.mismatches << " cancelled "
                 << total.cancelled << " wasted " << total.wasted_bytes);
    CHECK(total.hits > total.misses);
    CHECK(programs_with_mismatch > 0);
    CHECK(total.wasted_bytes > 0);
}
