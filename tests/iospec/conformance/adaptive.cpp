// The adaptive pre-issue depth in a scope: a read loop over cached data ends at depth 0
// with exactly the results of the raw calls; data dropped from the cache brings the
// depth back; fixed depths stay fixed.

#include <catch2/catch.hpp>

#include "iospec_workloads.hpp"

#include <sys/mman.h>

using namespace keel::iospec::test;

namespace {

constexpr std::size_t block = 4096;

// Whether every page of the file is in the page cache (mincore on a mapping).
bool all_resident(int fd, std::size_t size) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return false;
    const std::size_t pages = (size + 4095) / 4096;
    std::vector<unsigned char> v(pages);
    const bool ok = ::mincore(p, size, v.data()) == 0;
    ::munmap(p, size);
    if (!ok) return false;
    for (auto b : v) {
        if ((b & 1U) == 0) return false;
    }
    return true;
}

bool none_resident(int fd, std::size_t size) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return false;
    const std::size_t pages = (size + 4095) / 4096;
    std::vector<unsigned char> v(pages);
    const bool ok = ::mincore(p, size, v.data()) == 0;
    ::munmap(p, size);
    if (!ok) return false;
    for (auto b : v) {
        if ((b & 1U) != 0) return false;
    }
    return true;
}

// Drops the file's clean pages from the cache; false where the file system keeps them.
bool drop_cache(int fd, std::size_t size) {
    (void)::fdatasync(fd);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    return none_resident(fd, size);
}

struct run_result {
    std::vector<unsigned char> content;
    call_log log;
    unsigned max_depth = 0;
    unsigned end_depth = 0;
};

run_result spec_read_loop(is::graph& g, is::engine& e, int fd, is::scope_options options = {}) {
    run_result out;
    is::scope s(g, e, {fd}, options);
    std::vector<unsigned char> buf(block);
    for (std::uint64_t i = 0;; ++i) {
        const ssize_t n = s.pread(fd, buf.data(), block, static_cast<off_t>(i * block));
        out.log.add("pread block " + std::to_string(i), n);
        out.log.bytes(buf.data(), n);
        if (n > 0) out.content.insert(out.content.end(), buf.begin(), buf.begin() + n);
        out.max_depth = std::max(out.max_depth, static_cast<unsigned>(s.counters().depth));
        if (n != static_cast<ssize_t>(block)) break;
    }
    out.end_depth = static_cast<unsigned>(s.counters().depth);
    CHECK_FALSE(s.passthrough());
    return out;
}

}  // namespace

TEST_CASE("adaptive depth: a warm-cache read loop ends at depth 0 with identical results", "[iospec][adaptive]") {
    for (const auto& choice : engines()) {
        SECTION(choice.label) {
            auto e = choice.make();
            keel::test::temp_dir dir;
            std::mt19937_64 rng(7);
            const std::size_t size = 300 * block + 123;
            const auto bytes = random_bytes(rng, size);
            write_file(dir.file("f"), bytes);
            const int fd = open_or_throw(dir.file("f"), O_RDONLY);
            call_log raw_log;
            raw_io raw;
            const auto raw_content = read_loop(raw, fd, block, raw_log);  // also warms the cache
            REQUIRE(raw_content == bytes);
            if (!all_resident(fd, size)) {
                WARN("the file is not fully cached after reading it; skipping");
                ::close(fd);
                return;
            }

            auto g = read_loop_graph(fd, block, 1 << 20);  // default options: adaptive
            REQUIRE_FALSE(g.options().depth.has_value());
            CHECK(g.counters().depth == g.options().adaptive.initial);
            auto r = spec_read_loop(g, *e, fd);
            CHECK(r.content == bytes);
            CHECK(r.log.lines == raw_log.lines);
            CHECK(r.end_depth == 0);
            const auto c = g.counters();
            CHECK(c.depth == 0);  // learned by the graph
            CHECK(c.probes > 0);
            CHECK(c.probes_cached > 0);
            CHECK(c.mismatches == 0);
            // Calls after the scope found everything cached pass straight through (dormant).
            CHECK(c.dormant_calls > 0);
            CHECK(c.hits + c.misses + c.dormant_calls == raw_log.lines.size());
            CHECK(e->budget().used() == 0);

            // A second scope starts at the learned depth 0 and stays there.
            g.reset_counters();
            auto again = spec_read_loop(g, *e, fd);
            CHECK(again.content == bytes);
            CHECK(again.log.lines == raw_log.lines);
            CHECK(again.max_depth == 0);
            CHECK(g.counters().hits == 0);
            CHECK(g.counters().dormant_calls == raw_log.lines.size());  // dormant from the start
            // One read in dormant_probe_interval is probed (the last, short, read says nothing).
            const auto interval = g.options().adaptive.dormant_probe_interval;
            CHECK(g.counters().probes + 1 >= raw_log.lines.size() / interval);
            CHECK(g.counters().probes <= (raw_log.lines.size() + interval - 1) / interval);
            ::close(fd);
        }
    }
}

TEST_CASE("adaptive depth: a dormant scope's calls return exactly what the system calls do", "[iospec][adaptive]") {
    keel::test::temp_dir dir;
    std::mt19937_64 rng(11);
    const std::size_t size = 40 * block + 7;
    write_file(dir.file("f"), random_bytes(rng, size));
    const int fd = open_or_throw(dir.file("f"), O_RDONLY);
    raw_io raw;
    call_log warm_log;
    (void)read_loop(raw, fd, block, warm_log);
    if (!all_resident(fd, size)) {
        WARN("the file is not fully cached after reading it; skipping");
        ::close(fd);
        return;
    }
    auto e = engines().front().make();
    is::graph_options options;
    options.adaptive.dormant_probe_interval = 4;  // every call kind runs both ways below
    auto g = read_loop_graph(fd, block, 1 << 20, options);
    (void)spec_read_loop(g, *e, fd);  // learns depth 0
    REQUIRE(g.counters().depth == 0);

    is::scope s(g, *e, {fd});
    REQUIRE(s.dormant());
    std::vector<unsigned char> a(block), b(block);
    // Six calls a round, a probe every fourth call: each kind runs both between probes and
    // as a probe.
    for (std::size_t round = 0; round < 3 * 8; ++round) {
        const std::size_t offset = round % 3 == 0 ? size - 3 : (round % 3 == 1 ? size + block : round * 100);
        const auto at = static_cast<off_t>(offset);
        errno = 12345;
        const ssize_t want = ::pread(fd, a.data(), block, at);
        const int want_errno = errno;
        errno = 12345;
        const ssize_t got = s.pread(fd, b.data(), block, at);
        CHECK(got == want);
        CHECK(errno == want_errno);  // untouched on success, as the system call leaves it
        if (got > 0) CHECK(std::equal(a.begin(), a.begin() + got, b.begin()));

        errno = 0;
        CHECK(s.pread(-1, b.data(), block, 0) == -1);
        CHECK(errno == EBADF);
        struct ::stat st_raw {}, st {};
        REQUIRE(::fstat(fd, &st_raw) == 0);
        CHECK(s.fstat(fd, &st) == 0);
        CHECK(st.st_ino == st_raw.st_ino);
        CHECK(st.st_size == st_raw.st_size);
        errno = 0;
        CHECK(s.fstatat(AT_FDCWD, dir.file("missing").c_str(), &st, 0) == -1);
        CHECK(errno == ENOENT);
        CHECK(s.fstatat(AT_FDCWD, dir.file("f").c_str(), &st, 0) == 0);
        CHECK(st.st_ino == st_raw.st_ino);
        struct ::statx stx {};
        CHECK(s.statx(AT_FDCWD, dir.file("f").c_str(), 0, STATX_SIZE, &stx) == 0);
        CHECK(stx.stx_size == static_cast<std::uint64_t>(size));
    }
    CHECK(s.dormant());
    CHECK(s.counters().dormant_calls == 3 * 8 * 6);
    CHECK(s.counters().hits == 0);
    CHECK(s.counters().mismatches == 0);
    ::close(fd);
}

TEST_CASE("adaptive depth: comes back when the cache goes cold", "[iospec][adaptive]") {
    for (const auto& choice : engines()) {
        SECTION(choice.label) {
            auto e = choice.make();
            keel::test::temp_dir dir;
            std::mt19937_64 rng(11);
            const std::size_t size = 200 * block;
            const auto bytes = random_bytes(rng, size);
            write_file(dir.file("f"), bytes);
            const int fd = open_or_throw(dir.file("f"), O_RDONLY);
            (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);  // no readahead: pages stay cold until read

            // Warm: learns depth 0.
            std::vector<unsigned char> buf(size);
            REQUIRE(::pread(fd, buf.data(), size, 0) == static_cast<ssize_t>(size));
            auto g = read_loop_graph(fd, block, 1 << 20);
            auto warm = spec_read_loop(g, *e, fd);
            CHECK(warm.content == bytes);
            REQUIRE(g.counters().depth == 0);

            if (!drop_cache(fd, size)) {
                WARN("posix_fadvise(DONTNEED) left pages cached on this file system; skipping the cold half");
                ::close(fd);
                return;
            }
            // A scope that keeps matching at depth 0 comes back within itself.
            auto cold = spec_read_loop(g, *e, fd, {.depth = std::nullopt, .checks = is::fd_checks::verify, .rest_when_cached = false});
            CHECK(cold.content == bytes);
            CHECK(cold.log.lines == warm.log.lines);
            CHECK(cold.max_depth >= 2);  // a cold probe brought it back and it grew

            // A dormant scope stays dormant, and raises the depth the next scope starts at.
            REQUIRE(spec_read_loop(g, *e, fd).content == bytes);  // warm again: learns 0
            REQUIRE(g.counters().depth == 0);
            REQUIRE(drop_cache(fd, size));
            auto dormant = spec_read_loop(g, *e, fd);
            CHECK(dormant.content == bytes);
            CHECK(g.counters().depth >= 1);
            REQUIRE(drop_cache(fd, size));
            auto next = spec_read_loop(g, *e, fd);
            CHECK(next.content == bytes);
            CHECK(next.max_depth >= 2);
            ::close(fd);
        }
    }
}

TEST_CASE("adaptive depth: a fixed depth stays fixed and probes nothing", "[iospec][adaptive]") {
    auto e = engines().front().make();
    keel::test::temp_dir dir;
    std::mt19937_64 rng(3);
    const auto bytes = random_bytes(rng, 64 * block);
    write_file(dir.file("f"), bytes);
    const int fd = open_or_throw(dir.file("f"), O_RDONLY);
    auto g = read_loop_graph(fd, block, 1 << 20, {.depth = 6});
    auto r = spec_read_loop(g, *e, fd);
    CHECK(r.content == bytes);
    CHECK(r.max_depth == 6);
    CHECK(r.end_depth == 6);
    CHECK(g.counters().probes == 0);
    CHECK(g.counters().depth == 6);
    CHECK(g.counters().hits > 0);

    // scope_options::depth overrides an adaptive graph.
    auto a = read_loop_graph(fd, block, 1 << 20);
    {
        is::scope s(a, *e, {fd}, {.depth = 3});
        std::vector<unsigned char> buf(block);
        for (std::uint64_t i = 0; i < 64; ++i) {
            REQUIRE(s.pread(fd, buf.data(), block, static_cast<off_t>(i * block)) == static_cast<ssize_t>(block));
            CHECK(s.counters().depth == 3);
        }
        CHECK(s.counters().probes == 0);
    }
    ::close(fd);
}

TEST_CASE("adaptive depth: du (metadata calls, timed probes) gives the raw calls' results", "[iospec][adaptive]") {
    keel::test::temp_dir dir;
    std::mt19937_64 rng(9);
    make_tree(dir.path.string(), rng, 6, 40);
    call_log raw_log;
    const auto raw_total = du(dir.path.string(), 2048, raw_log, nullptr);
    for (const auto& choice : engines()) {
        auto e = choice.make();
        INFO("engine " << choice.label);
        // Every probe: the timed probes run on as many calls as possible.
        for (unsigned interval : {1u, 8u}) {
            is::graph_options o;
            o.adaptive.probe_interval = interval;
            call_log log;
            is::graph_counters c;
            const auto total = du(dir.path.string(), 2048, log, e.get(), o, &c);
            CHECK(total == raw_total);
            CHECK(log.lines == raw_log.lines);
            CHECK(c.mismatches == 0);
            CHECK(e->budget().used() == 0);
        }
    }
}
