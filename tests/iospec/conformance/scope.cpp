#include <catch2/catch.hpp>

#include "iospec_workloads.hpp"

#include <keel/iospec.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <random>
#include <string>
#include <vector>

namespace is = keel::iospec;
using namespace keel::iospec::test;

namespace {

constexpr std::size_t block = 4096;

// The read loop over a file of `size` bytes, raw and through a scope; both must agree.
void check_read_loop(is::engine& e, std::size_t size, unsigned depth, is::graph_counters& sum) {
    keel::test::temp_dir dir;
    std::mt19937_64 rng(size * 31 + depth);
    const auto bytes = random_bytes(rng, size);
    write_file(dir.file("f"), bytes);
    const int fd = open_or_throw(dir.file("f"), O_RDONLY);

    call_log raw_log;
    raw_io raw;
    const auto raw_content = read_loop(raw, fd, block, raw_log);

    auto g = read_loop_graph(fd, block, 1 << 20, {.depth = depth});
    call_log spec_log;
    std::vector<unsigned char> spec_content;
    {
        is::scope s(g, e, {fd});
        scope_io io{s};
        spec_content = read_loop(io, fd, block, spec_log);
        CHECK_FALSE(s.passthrough());
    }
    ::close(fd);
    CHECK(raw_content == bytes);
    CHECK(spec_content == bytes);
    CHECK(spec_log.lines == raw_log.lines);
    const auto c = g.counters();
    CHECK(c.mismatches == 0);
    CHECK(c.hits + c.misses == raw_log.lines.size());
    if (depth == 0) CHECK(c.hits == 0);
    if (depth > 0) CHECK(c.hits > 0);
    sum.hits += c.hits;
    sum.misses += c.misses;
    CHECK(e.budget().used() == 0);
}

}  // namespace

TEST_CASE("read loop: same bytes, return values and errors with and without speculation, on every engine",
          "[iospec][scope][differential]") {
    for (const auto& choice : engines()) {
        auto e = choice.make();
        INFO("engine " << choice.label << " (" << e->backend() << ": " << e->reason() << ")");
        is::graph_counters sum;
        for (std::size_t size : {std::size_t{0}, std::size_t{1}, block - 1, block, block + 1, 10 * block, 10 * block + 7}) {
            for (unsigned depth : {0u, 1u, 4u, 16u}) {
                INFO("size " << size << " depth " << depth);
                check_read_loop(*e, size, depth, sum);
            }
        }
        CHECK(sum.hits > sum.misses);
    }
}

TEST_CASE("du: an fstatat walk over a tree gives the same listing and sizes on every engine",
          "[iospec][scope][differential]") {
    keel::test::temp_dir dir;
    std::mt19937_64 rng(7);
    make_tree(dir.path.string(), rng, 6, 40);
    call_log raw_log;
    const auto raw_total = du(dir.path.string(), 2048, raw_log, nullptr);
    REQUIRE(raw_log.lines.size() > 200);

    for (const auto& choice : engines()) {
        auto e = choice.make();
        INFO("engine " << choice.label << " (" << e->backend() << ")");
        for (unsigned depth : {0u, 3u, 16u}) {
            INFO("depth " << depth);
            call_log log;
            is::graph_counters c;
            const auto total = du(dir.path.string(), 2048, log, e.get(), {.depth = depth}, &c);
            CHECK(total == raw_total);
            CHECK(log.lines == raw_log.lines);
            CHECK(c.mismatches == 0);
            if (depth > 0) CHECK(c.hits > 0);
            CHECK(e->budget().used() == 0);
        }
    }
}

TEST_CASE("errors come back exactly: EISDIR, EBADF, ENOENT, EINVAL", "[iospec][scope]") {
    keel::test::temp_dir dir;
    write_file(dir.file("w"), {1, 2, 3});
    for (const auto& choice : engines()) {
        auto e = choice.make();
        INFO("engine " << choice.label);
        const int dfd = open_or_throw(dir.path.string(), O_RDONLY | O_DIRECTORY);
        const int wfd = open_or_throw(dir.file("w"), O_WRONLY);
        for (int fd : {dfd, wfd}) {
            auto g = read_loop_graph(fd, block, 8, {.depth = 8});
            call_log raw_log, spec_log;
            raw_io raw;
            (void)read_loop(raw, fd, block, raw_log);
            {
                is::scope s(g, *e, {fd});
                scope_io io{s};
                errno = 0;
                (void)read_loop(io, fd, block, spec_log);
            }
            CHECK(spec_log.lines == raw_log.lines);
            CHECK(spec_log.lines.at(0).find(fd == dfd ? std::strerror(EISDIR) : std::strerror(EBADF)) !=
                  std::string::npos);
            CHECK(g.counters().hits == 1);  // the error itself came from the pre-issued read
        }
        // openat of a missing file, and a negative offset (the platform refuses to issue it).
        is::graph_builder b("missing", {.depth = 8});
        auto open = b.openat("open", [&](const is::context&) -> std::optional<is::openat_args> {
            return is::openat_args{AT_FDCWD, dir.file("absent"), O_RDONLY | O_CLOEXEC, 0};
        });
        auto bad = b.pread("bad", [&](const is::context&) -> std::optional<is::pread_args> {
            return is::pread_args{dfd, 16, static_cast<std::uint64_t>(-1)};
        });
        b.edge(open, bad);
        b.edge(bad, b.end());
        auto g = b.build();
        {
            is::scope s(g, *e, {dfd});
            errno = 0;
            CHECK(s.openat(AT_FDCWD, dir.file("absent").c_str(), O_RDONLY | O_CLOEXEC) == -1);
            CHECK(errno == ENOENT);
            char buf[16];
            CHECK(s.pread(dfd, buf, 16, -1) == -1);
            CHECK(errno == EINVAL);
        }
        CHECK(g.counters().mismatches == 0);
        CHECK(g.counters().misses >= 1);  // the negative offset is never pre-issued
        ::close(dfd);
        ::close(wfd);
    }
}

TEST_CASE("errno is left alone by successful calls", "[iospec][scope]") {
    keel::test::temp_dir dir;
    std::mt19937_64 rng(3);
    write_file(dir.file("f"), random_bytes(rng, 3 * block));
    const int fd = open_or_throw(dir.file("f"), O_RDONLY);
    auto e = engines().front().make();
    auto g = read_loop_graph(fd, block, 8, {.depth = 8});
    is::scope s(g, *e, {fd});
    std::vector<unsigned char> buf(block);
    errno = 12345;
    CHECK(s.pread(fd, buf.data(), block, 0) == static_cast<ssize_t>(block));
    CHECK(errno == 12345);
    ::close(fd);
}

TEST_CASE("early exit cancels or drops what was pre-issued and leaves no descriptor open",
          "[iospec][scope][early-exit]") {
    keel::test::temp_dir dir;
    std::mt19937_64 rng(11);
    const auto bytes = random_bytes(rng, 64 * block);
    write_file(dir.file("f"), bytes);
    for (const auto& choice : engines()) {
        auto e = choice.make();
        INFO("engine " << choice.label);
        const int fd = open_or_throw(dir.file("f"), O_RDONLY);
        auto g = read_loop_graph(fd, block, 1 << 20, {.depth = 8});
        call_log raw_log, spec_log;
        raw_io raw;
        (void)read_loop(raw, fd, block, raw_log, 3);
        {
            is::scope s(g, *e, {fd});
            scope_io io{s};
            (void)read_loop(io, fd, block, spec_log, 3);  // the program stops after 3 reads
        }
        CHECK(spec_log.lines == raw_log.lines);
        const auto c = g.counters();
        CHECK(c.hits + c.misses == 3);
        // What was ahead either was cancelled before it ran or ran for nothing.
        CHECK((c.cancelled > 0 || c.wasted_bytes > 0));
        CHECK(c.wasted_bytes % block == 0);
        CHECK(e->budget().used() == 0);
        ::close(fd);
    }
}

TEST_CASE("early exit after a speculative openat closes the descriptor it opened", "[iospec][scope][early-exit]") {
    keel::test::temp_dir dir;
    write_file(dir.file("a"), {1, 2, 3, 4});
    for (const auto& choice : engines()) {
        auto e = choice.make();
        INFO("engine " << choice.label);
        // open a (certain: the start node) --> read --> close; the program only opens.
        is::graph_builder b("open-read-close", {.depth = 8});
        const std::string path = dir.file("a");
        auto open = b.openat("open", [path](const is::context&) -> std::optional<is::openat_args> {
            return is::openat_args{AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0};
        });
        auto read = b.pread("read", [open](const is::context& c) -> std::optional<is::pread_args> {
            auto o = c.result(open);
            if (!o || !o->ok()) return std::nullopt;
            return is::pread_args{o->fd(), 4, 0};
        });
        auto close = b.close("close", [open](const is::context& c) -> std::optional<is::close_args> {
            auto o = c.result(open);
            if (!o) return std::nullopt;
            return is::close_args{o->fd()};
        });
        b.edge(open, read, is::edge_kind::may_exit);
        b.edge(read, close);
        b.edge(close, b.end());
        auto g = b.build();

        const int probe_before = ::dup(0);
        ::close(probe_before);
        {
            is::scope s(g, *e);  // the program exits at once: the pre-issued open is undone
        }
        const int probe_after = ::dup(0);
        ::close(probe_after);
        CHECK(probe_after == probe_before);  // no descriptor left behind
        {
            is::scope s(g, *e);
            const int fd = s.openat(AT_FDCWD, path.c_str(), O_RDONLY | O_CLOEXEC);
            REQUIRE(fd >= 0);
            char buf[4] = {};
            CHECK(s.pread(fd, buf, 4, 0) == 4);
            CHECK(buf[3] == 4);
            CHECK(s.close(fd) == 0);
        }
        const int probe_end = ::dup(0);
        ::close(probe_end);
        CHECK(probe_end == probe_before);
        CHECK(g.counters().mismatches == 0);
    }
}

TEST_CASE("a blocking speculative call is cancelled on early exit (io_uring)", "[iospec][scope][early-exit]") {
    namespace kp = keel::platform;
    if (!kp::io_uring_engine::probe().available) {
        WARN("io_uring unavailable: " << kp::io_uring_engine::probe().reason);
        return;
    }
    // Opening a FIFO for reading blocks until a writer comes: the program never comes,
    // so only cancellation ends the pre-issued open. (O_CREAT makes io_uring skip its
    // non-blocking first attempt, which would open the FIFO at once.) A watchdog writer
    // unblocks it after 10 s so that a failure shows as a failed check, not a hung test.
    keel::test::temp_dir dir;
    const std::string fifo = dir.file("fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    is::graph_builder b("fifo", {.depth = 8});
    auto open = b.openat(
        "open", [fifo](const is::context&) -> std::optional<is::openat_args> {
            return is::openat_args{AT_FDCWD, fifo, O_RDONLY | O_CREAT | O_CLOEXEC, 0600};
        },
        {.policy = is::issue_policy::speculate});
    b.edge(open, b.end());
    auto g = b.build();
    is::engine e({.kind = kp::io_engine_kind::io_uring});
    std::atomic<bool> done{false};
    std::thread watchdog([&] {
        for (int i = 0; i < 1000 && !done.load(); ++i) ::usleep(10'000);
        if (!done.load()) {
            const int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (w >= 0) ::close(w);
        }
    });
    const auto start = std::chrono::steady_clock::now();
    {
        is::scope s(g, e);
        ::usleep(20'000);  // let the open reach the kernel and block
    }
    const auto took = std::chrono::steady_clock::now() - start;
    done = true;
    watchdog.join();
    CHECK(g.counters().cancelled == 1);
    CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("a mismatch runs the real call, drops speculation for the scope and is counted",
          "[iospec][scope][mismatch]") {
    keel::test::temp_dir dir;
    std::mt19937_64 rng(5);
    const auto bytes = random_bytes(rng, 20 * block + 100);
    write_file(dir.file("f"), bytes);
    for (const auto& choice : engines()) {
        auto e = choice.make();
        INFO("engine " << choice.label);
        const int fd = open_or_throw(dir.file("f"), O_RDONLY);
        // The graph predicts offset+1 in epoch 5: the program's 6th read mismatches.
        auto g = read_loop_graph(fd, block, 1 << 20, {.depth = 4, .disable_after = 2}, 5);
        call_log raw_log;
        raw_io raw;
        (void)read_loop(raw, fd, block, raw_log);
        for (int run = 0; run < 3; ++run) {
            INFO("run " << run);
            call_log spec_log;
            std::vector<unsigned char> content;
            {
                is::scope s(g, *e, {fd});
                scope_io io{s};
                content = read_loop(io, fd, block, spec_log);
                CHECK(s.passthrough());
                const auto c = s.counters();
                if (run < 2) {
                    CHECK(c.mismatches == 1);
                    CHECK(c.hits + c.misses == 5);
                    CHECK(c.passthrough_calls == raw_log.lines.size() - 6);
                } else {
                    CHECK(c.mismatches == 0);  // disabled: every call passes through
                    CHECK(c.passthrough_calls == raw_log.lines.size());
                }
            }
            CHECK(content == bytes);
            CHECK(spec_log.lines == raw_log.lines);
            CHECK(g.disabled() == (run >= 1));  // disable_after = 2 mismatching scopes in a row
        }
        g.enable();
        CHECK_FALSE(g.disabled());
        CHECK(g.counters().mismatches == 2);
        CHECK(g.counters().scopes == 3);
        ::close(fd);
    }
}

TEST_CASE("calls beyond the graph's end or of another kind are mismatches, with exact results",
          "[iospec][scope][mismatch]") {
    keel::test::temp_dir dir;
    write_file(dir.file("f"), {9, 8, 7});
    const int fd = open_or_throw(dir.file("f"), O_RDONLY);
    auto e = engines().front().make();
    auto g = read_loop_graph(fd, 3, 1, {.depth = 8});  // at most 2 reads of 3 bytes
    {
        is::scope s(g, *e, {fd});
        struct ::stat st {};
        CHECK(s.fstat(fd, &st) == 0);  // the graph expects a pread
        CHECK(st.st_size == 3);
        CHECK(s.passthrough());
    }
    CHECK(g.counters().mismatches == 1);
    {
        is::scope s(g, *e, {fd});
        unsigned char buf[3];
        CHECK(s.pread(fd, buf, 3, 0) == 3);
        CHECK(s.pread(fd, buf, 3, 3) == 0);
        CHECK_FALSE(s.passthrough());
        CHECK(s.pread(fd, buf, 3, 0) == 3);  // the graph has ended
        CHECK(s.passthrough());
        CHECK(buf[0] == 9);
    }
    CHECK(g.counters().mismatches == 2);
    ::close(fd);
}

TEST_CASE("a descriptor closed through the scope and reused never yields the old file's data",
          "[iospec][scope][fd]") {
    keel::test::temp_dir dir;
    write_file(dir.file("a"), std::vector<unsigned char>(64, 'a'));
    write_file(dir.file("b"), std::vector<unsigned char>(64, 'b'));
    for (const auto& choice : engines()) {
        auto e = choice.make();
        INFO("engine " << choice.label);
        // open a --> read --> close --> read again on the same number (the graph's guess).
        const std::string a = dir.file("a");
        is::graph_builder gb("reuse", {.depth = 8});
        auto open = gb.openat("open", [a](const is::context&) -> std::optional<is::openat_args> {
            return is::openat_args{AT_FDCWD, a, O_RDONLY | O_CLOEXEC, 0};
        });
        const auto fd_of = [open](const is::context& c) -> std::optional<int> {
            auto o = c.result(open);
            if (!o || !o->ok()) return std::nullopt;
            return o->fd();
        };
        auto r1 = gb.pread("r1", [fd_of](const is::context& c) -> std::optional<is::pread_args> {
            auto fd = fd_of(c);
            if (!fd) return std::nullopt;
            return is::pread_args{*fd, 64, 0};
        });
        auto cl = gb.close("close", [fd_of](const is::context& c) -> std::optional<is::close_args> {
            auto fd = fd_of(c);
            if (!fd) return std::nullopt;
            return is::close_args{*fd};
        });
        auto r2 = gb.pread("r2", [fd_of](const is::context& c) -> std::optional<is::pread_args> {
            auto fd = fd_of(c);
            if (!fd) return std::nullopt;
            return is::pread_args{*fd, 64, 0};
        });
        gb.edge(open, r1);
        gb.edge(r1, cl);
        gb.edge(cl, r2);
        gb.edge(r2, gb.end());
        auto g = gb.build();
        {
            is::scope s(g, *e);
            const int fd = s.openat(AT_FDCWD, a.c_str(), O_RDONLY | O_CLOEXEC);
            REQUIRE(fd >= 0);
            char buf[64];
            CHECK(s.pread(fd, buf, 64, 0) == 64);
            CHECK(buf[0] == 'a');
            CHECK(s.close(fd) == 0);
            const int fb = ::open(dir.file("b").c_str(), O_RDONLY | O_CLOEXEC);  // takes the freed number
            REQUIRE(fb == fd);
            CHECK(s.pread(fd, buf, 64, 0) == 64);
            CHECK(buf[0] == 'b');
            CHECK(buf[63] == 'b');
            ::close(fb);
        }
        const auto c = g.counters();
        CHECK(c.mismatches == 0);
        CHECK(c.misses >= 2);  // the close, and the read on the reused number
    }
}

TEST_CASE("a pinned descriptor closed behind the scope's back and reused is caught by the fd check",
          "[iospec][scope][fd]") {
    keel::test::temp_dir dir;
    write_file(dir.file("a"), std::vector<unsigned char>(2 * block, 'a'));
    write_file(dir.file("b"), std::vector<unsigned char>(2 * block, 'b'));
    for (const auto& choice : engines()) {
        auto e = choice.make();
        INFO("engine " << choice.label);
        const int fd = open_or_throw(dir.file("a"), O_RDONLY);
        auto g = read_loop_graph(fd, block, 8, {.depth = 4});
        {
            is::scope s(g, *e, {fd});
            std::vector<char> buf(block);
            CHECK(s.pread(fd, buf.data(), block, 0) == static_cast<ssize_t>(block));
            CHECK(buf[0] == 'a');
            // Breaking the pin's promise: another file on the same number. dup2 closes and
            // reuses `fd` in one step (a plain close + open could be given another number
            // when an engine or sanitizer thread opens a descriptor in between).
            const int fb = ::open(dir.file("b").c_str(), O_RDONLY | O_CLOEXEC);
            REQUIRE(fb >= 0);
            REQUIRE(::dup2(fb, fd) == fd);
            ::close(fb);
            CHECK(s.pread(fd, buf.data(), block, static_cast<off_t>(block)) == static_cast<ssize_t>(block));
            CHECK(buf[0] == 'b');
            CHECK(buf[block - 1] == 'b');
        }
        ::close(fd);
    }
}

TEST_CASE("writes are ordered: a read after a write on the same descriptor sees the write",
          "[iospec][scope][order]") {
    keel::test::temp_dir dir;
    for (const auto& choice : engines()) {
        auto e = choice.make();
        INFO("engine " << choice.label);
        write_file(dir.file("f"), std::vector<unsigned char>(8 * 512, 0));
        const int fd = open_or_throw(dir.file("f"), O_RDWR);
        // Epoch i: write block i with byte i+1, then read blocks i and i+1 back (read-modify loop).
        std::vector<std::vector<std::byte>> data;
        for (int i = 0; i < 8; ++i) data.emplace_back(512, static_cast<std::byte>(i + 1));
        is::graph_builder gb("rmw", {.depth = 16});
        auto more = gb.loop("more", {.max_iterations = 7});
        auto w = gb.pwrite("w", [&, fd, more](const is::context& c) -> std::optional<is::pwrite_args> {
            const auto i = c.iteration(more);
            return is::pwrite_args{fd, data[i], i * 512};
        });
        auto r = gb.pread("r", [fd, more](const is::context& c) -> std::optional<is::pread_args> {
            return is::pread_args{fd, 1024, c.iteration(more) * 512};
        });
        gb.decide(more, [more](const is::context& c) -> std::optional<bool> { return c.iteration(more) < 7; });
        gb.start(w);
        gb.edge(w, r);
        gb.edge(r, more);
        gb.repeat(more, w);
        gb.edge(more, gb.end());
        auto g = gb.build();
        {
            is::scope s(g, *e, {fd});
            std::vector<unsigned char> buf(1024);
            for (int i = 0; i < 8; ++i) {
                CHECK(s.pwrite(fd, data[static_cast<std::size_t>(i)].data(), 512, i * 512) == 512);
                const ssize_t n = s.pread(fd, buf.data(), 1024, i * 512);
                CHECK(n == (i < 7 ? 1024 : 512));
                CHECK(buf[0] == i + 1);
                if (i < 7) CHECK(buf[512] == 0);  // the next block is not written yet
            }
        }
        CHECK(g.counters().mismatches == 0);
        ::close(fd);
    }
}

TEST_CASE("speculative buffers stay within the budget, and an exhausted budget only costs hits",
          "[iospec][scope][budget]") {
    keel::test::temp_dir dir;
    std::mt19937_64 rng(13);
    const auto bytes = random_bytes(rng, 16 * block);
    write_file(dir.file("f"), bytes);
    const int fd = open_or_throw(dir.file("f"), O_RDONLY);
    for (std::size_t limit : {std::size_t{0}, block, 3 * block}) {
        INFO("budget " << limit);
        is::buffer_budget budget(limit);
        is::engine e({.budget = &budget});
        auto g = read_loop_graph(fd, block, 1 << 20, {.depth = 8});
        call_log raw_log, spec_log;
        raw_io raw;
        (void)read_loop(raw, fd, block, raw_log);
        {
            is::scope s(g, e, {fd});
            scope_io io{s};
            CHECK(read_loop(io, fd, block, spec_log) == bytes);
            CHECK(budget.used() <= limit);
        }
        CHECK(spec_log.lines == raw_log.lines);
        CHECK(budget.used() == 0);
        if (limit == 0) CHECK(g.counters().hits == 0);
    }
    ::close(fd);
}

TEST_CASE("a busy engine or a disabled graph passes calls through", "[iospec][scope]") {
    keel::test::temp_dir dir;
    write_file(dir.file("f"), std::vector<unsigned char>(100, 7));
    const int fd = open_or_throw(dir.file("f"), O_RDONLY);
    auto e = engines().front().make();
    auto g = read_loop_graph(fd, 64, 8, {.depth = 8});
    is::scope outer(g, *e, {fd});
    CHECK(e->busy());
    {
        is::scope inner(g, *e, {fd});
        CHECK(inner.passthrough());
        char buf[64];
        CHECK(inner.pread(fd, buf, 64, 0) == 64);
        CHECK(inner.counters().passthrough_calls == 1);
    }
    CHECK_FALSE(outer.passthrough());
    ::close(fd);
}

TEST_CASE("statx, fstat and fstatat nodes deliver what the calls would", "[iospec][scope]") {
    keel::test::temp_dir dir;
    write_file(dir.file("f"), std::vector<unsigned char>(1234, 1));
    for (const auto& choice : engines()) {
        auto e = choice.make();
        INFO("engine " << choice.label);
        const int dfd = open_or_throw(dir.path.string(), O_RDONLY | O_DIRECTORY);
        const int fd = open_or_throw(dir.file("f"), O_RDONLY);
        is::graph_builder b("stats", {.depth = 8});
        auto sx = b.statx("sx", [dfd](const is::context&) -> std::optional<is::statx_args> {
            return is::statx_args{dfd, "f", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME};
        });
        auto fs = b.fstat("fs", [fd](const is::context&) -> std::optional<is::fstat_args> { return is::fstat_args{fd}; });
        auto at = b.fstatat("at", [dfd](const is::context&) -> std::optional<is::fstatat_args> {
            return is::fstatat_args{dfd, "missing", 0};
        });
        b.edge(sx, fs);
        b.edge(fs, at);
        b.edge(at, b.end());
        auto g = b.build();
        struct ::statx want_x {};
        struct ::statx got_x {};
        struct ::stat want {};
        struct ::stat got {};
        REQUIRE(::statx(dfd, "f", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &want_x) == 0);
        REQUIRE(::fstat(fd, &want) == 0);
        {
            is::scope s(g, *e, {dfd, fd});
            CHECK(s.statx(dfd, "f", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &got_x) == 0);
            CHECK(s.fstat(fd, &got) == 0);
            struct ::stat missing {};
            errno = 0;
            CHECK(s.fstatat(dfd, "missing", &missing, 0) == -1);
            CHECK(errno == ENOENT);
        }
        CHECK(got_x.stx_size == want_x.stx_size);
        CHECK(got_x.stx_ino == want_x.stx_ino);
        CHECK(got_x.stx_mask == want_x.stx_mask);
        CHECK(got_x.stx_btime.tv_sec == want_x.stx_btime.tv_sec);
        CHECK(got.st_size == 1234);
        CHECK(got.st_ino == want.st_ino);
        CHECK(got.st_dev == want.st_dev);
        CHECK(got.st_mode == want.st_mode);
        CHECK(got.st_blocks == want.st_blocks);
        CHECK(got.st_mtim.tv_nsec == want.st_mtim.tv_nsec);
        CHECK(g.counters().mismatches == 0);
        CHECK(g.counters().hits + g.counters().misses == 3);
        ::close(fd);
        ::close(dfd);
    }
}
