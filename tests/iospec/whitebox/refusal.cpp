#include <catch2/catch.hpp>

#include "iospec_workloads.hpp"
#include "refuse_syscalls.hpp"

#include <keel/iospec.hpp>
#include <keel/platform/sync_io_engine.hpp>

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <deque>
#include <random>
#include <string>
#include <vector>

namespace is = keel::iospec;
namespace kp = keel::platform;
using namespace keel::iospec::test;

namespace {

// Read loop and du, raw and speculative, on `e`; "" when both agree and speculation hit.
std::string differential(is::engine& e) {
    keel::test::temp_dir dir;
    std::mt19937_64 rng(21);
    const auto bytes = random_bytes(rng, 9 * 4096 + 5);
    write_file(dir.file("f"), bytes);
    const int fd = open_or_throw(dir.file("f"), O_RDONLY);
    call_log raw_log, spec_log;
    raw_io raw;
    (void)read_loop(raw, fd, 4096, raw_log);
    auto g = read_loop_graph(fd, 4096, 64, {.depth = 8});
    {
        is::scope s(g, e, {fd});
        scope_io io{s};
        if (read_loop(io, fd, 4096, spec_log) != bytes) return "read loop: wrong bytes";
    }
    ::close(fd);
    if (spec_log.lines != raw_log.lines) return "read loop: logs differ";
    if (g.counters().hits == 0) return "read loop: no hit";

    std::mt19937_64 trng(4);
    make_tree(dir.file("tree"), trng, 3, 20);
    call_log du_raw, du_spec;
    is::graph_counters c;
    const auto want = du(dir.file("tree"), 1024, du_raw, nullptr);
    if (du(dir.file("tree"), 1024, du_spec, &e, {.depth = 8}, &c) != want) return "du: wrong total";
    if (du_spec.lines != du_raw.lines) return "du: logs differ";
    if (c.hits == 0) return "du: no hit";
    if (c.mismatches != 0) return "du: mismatches";
    return {};
}

// An io engine that fails chosen requests with a transient error without running them
// (as a signal or a full queue would), and runs the others on the synchronous engine.
class flaky_engine {
public:
    static constexpr std::string_view name = "flaky";
    static kp::backend_status probe() { return {"io_engine", "flaky", true, "test engine"}; }

    explicit flaky_engine(std::vector<int> errors) : _errors(std::move(errors)) {}

    keel::result<std::size_t> submit(std::span<const kp::io_request> requests) {
        for (const auto& q : requests) {
            const int err = _errors[_count++ % _errors.size()];
            if (err != 0) {
                _failed.push_back({q.user_data, -err});
                continue;
            }
            auto r = _inner.submit(std::span(&q, 1));
            if (!r) return r;
        }
        return requests.size();
    }
    keel::result<std::size_t> reap(std::span<kp::io_completion> out, std::size_t min_complete, kp::io_timeout t) {
        std::size_t n = 0;
        while (n < out.size() && !_failed.empty()) {
            out[n++] = _failed.front();
            _failed.pop_front();
        }
        if (n >= min_complete || n == out.size()) {
            auto r = _inner.reap(out.subspan(n), 0, t);
            return n + (r ? *r : 0);
        }
        auto r = _inner.reap(out.subspan(n), min_complete - n, t);
        if (!r) return r;
        return n + *r;
    }
    keel::result<void> cancel(std::uint64_t user_data) { return _inner.cancel(user_data); }
    [[nodiscard]] bool supports(kp::io_op) const noexcept { return true; }
    [[nodiscard]] std::size_t in_flight() const noexcept { return _failed.size() + _inner.in_flight(); }

private:
    kp::sync_io_engine _inner{kp::io_engine_options{64, 0}};
    std::vector<int> _errors;
    std::size_t _count = 0;
    std::deque<kp::io_completion> _failed;
};
static_assert(kp::io_engine<flaky_engine>);

}  // namespace

TEST_CASE("io_uring refused by KEEL_DISABLE_BACKENDS: the engine falls back and results are exact",
          "[iospec][whitebox][refusal]") {
    auto message = keel::test::run_in_child([]() -> std::string {
        ::setenv("KEEL_DISABLE_BACKENDS", "io_uring", 1);
        is::engine e;
        if (e.backend() != "thread_pool") return "automatic chose " + std::string(e.backend());
        if (e.reason().find("io_uring") == std::string::npos) return "reason does not say why: " + e.reason();
        return differential(e);
    });
    CHECK(message == "");
}

TEST_CASE("io_uring refused by seccomp (EPERM): the engine falls back and results are exact",
          "[iospec][whitebox][refusal]") {
    auto message = keel::test::run_with_refused_syscalls({__NR_io_uring_setup}, EPERM, []() -> std::string {
        is::engine e;
        if (e.backend() != "thread_pool") return "automatic chose " + std::string(e.backend());
        return differential(e);
    });
    CHECK(message == "");
}

TEST_CASE("io_uring and the thread pool refused: synchronous speculation is still exact",
          "[iospec][whitebox][refusal]") {
    auto message = keel::test::run_in_child([]() -> std::string {
        ::setenv("KEEL_DISABLE_BACKENDS", "io_uring,thread_pool", 1);
        is::engine e;
        if (e.backend() != "synchronous") return "automatic chose " + std::string(e.backend());
        return differential(e);
    });
    CHECK(message == "");
}

TEST_CASE("every engine refused: building an engine throws, naming the cause", "[iospec][whitebox][refusal]") {
    auto message = keel::test::run_in_child([]() -> std::string {
        ::setenv("KEEL_DISABLE_BACKENDS", "all", 1);
        try {
            is::engine e;
            return "engine built with every backend disabled";
        } catch (const std::system_error& ex) {
            if (std::string(ex.what()).find("no io engine available") == std::string::npos) {
                return std::string("unexpected message: ") + ex.what();
            }
        }
        return {};
    });
    CHECK(message == "");
}

TEST_CASE("transient speculative failures (EINTR, EAGAIN, ECANCELED) never reach the program",
          "[iospec][whitebox][transient]") {
    for (const auto& errors : std::vector<std::vector<int>>{{EINTR}, {0, EAGAIN}, {ECANCELED, 0, 0}, {0, EINTR, EAGAIN}}) {
        INFO("pattern of " << errors.size() << " starting with " << errors.front());
        is::engine e(kp::any_io_engine(flaky_engine(errors), "test"));
        CHECK(e.backend() == "flaky");
        const auto message = differential(e);
        // Hits may be few or none (pattern {EINTR} fails every pre-issue); outputs must agree.
        CHECK(message.find("differ") == std::string::npos);
        CHECK(message.find("wrong") == std::string::npos);
        CHECK(message.find("mismatches") == std::string::npos);
    }
}

TEST_CASE("a transient failure counts as a miss, not a hit", "[iospec][whitebox][transient]") {
    keel::test::temp_dir dir;
    write_file(dir.file("f"), std::vector<unsigned char>(4 * 4096, 3));
    const int fd = open_or_throw(dir.file("f"), O_RDONLY);
    is::engine e(kp::any_io_engine(flaky_engine({EINTR}), "test"));  // every pre-issue fails
    auto g = read_loop_graph(fd, 4096, 16, {.depth = 8});
    call_log log;
    {
        is::scope s(g, e, {fd});
        scope_io io{s};
        CHECK(read_loop(io, fd, 4096, log).size() == 4 * 4096);
    }
    CHECK(g.counters().hits == 0);
    CHECK(g.counters().misses == 5);
    CHECK(g.counters().mismatches == 0);
    ::close(fd);
}
