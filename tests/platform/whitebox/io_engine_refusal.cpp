#include <catch2/catch.hpp>

#include "refuse_syscalls.hpp"

#include <keel/platform/io_engine.hpp>
#include <keel/platform/io_uring_engine.hpp>
#include <keel/platform/sync_io_engine.hpp>
#include <keel/platform/thread_pool_io_engine.hpp>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

using namespace keel::platform;
using namespace std::chrono_literals;

namespace {

// A pwrite + pread round trip through `e` on a fresh file; "" when it works.
std::string round_trip(any_io_engine& e) {
    char path[] = "/tmp/keel-io-refusal-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) return std::string("mkstemp: ") + std::strerror(errno);
    ::unlink(path);
    const char out[] = "refused, yet it works";
    char in[sizeof out] = {};
    const io_request w = io_request::pwrite(fd, out, sizeof out, 0, 1);
    const io_request r = io_request::pread(fd, in, sizeof in, 0, 2);
    io_completion c[1];
    std::string err;
    for (const auto& q : {w, r}) {
        auto s = e.submit(std::span(&q, 1));
        if (!s || *s != 1) err = "submit failed";
        auto n = e.reap(c, 1, io_timeout(5s));
        if (!n || *n != 1 || c[0].user_data != q.user_data || c[0].result != static_cast<std::int64_t>(sizeof out)) {
            err = "completion missing or wrong";
        }
    }
    ::close(fd);
    if (err.empty() && std::memcmp(in, out, sizeof out) != 0) err = "data read back differs";
    return err;
}

// What must hold when io_uring is refused, whatever refused it; `cause` must
// appear in the probe's reason and in the exceptions.
std::string check_refused(const std::string& cause) {
    auto s = io_uring_engine::probe();
    if (s.available) return "io_uring probe says available";
    if (s.reason.find(cause) == std::string::npos) return "probe reason lacks '" + cause + "': " + s.reason;
    try {
        io_uring_engine e;
        return "io_uring_engine constructed";
    } catch (const std::system_error&) {
    }
    try {
        (void)make_io_engine(io_engine_kind::io_uring);
        return "make_io_engine(io_uring) did not throw";
    } catch (const std::system_error& e) {
        if (std::string(e.what()).find(cause) == std::string::npos) {
            return std::string("make_io_engine(io_uring) message lacks the cause: ") + e.what();
        }
    }
    auto e = make_io_engine();
    if (e.name() != "thread_pool") return "automatic chose " + std::string(e.name());
    if (e.reason().find(cause) == std::string::npos) return "automatic's reason lacks the cause: " + e.reason();
    if (!e.supports(io_op::getdents64)) return "fallback lacks getdents64";
    return round_trip(e);
}

}  // namespace

TEST_CASE("io_uring refused by seccomp (EPERM): probe says why, automatic falls back", "[platform][io]") {
    auto message = keel::test::run_with_refused_syscalls({__NR_io_uring_setup}, EPERM, [] {
        return check_refused("io_uring_setup: " + std::string(std::strerror(EPERM)));
    });
    CHECK(message == "");
}

TEST_CASE("io_uring refused by seccomp (ENOSYS, an old kernel): same fallback", "[platform][io]") {
    auto message = keel::test::run_with_refused_syscalls({__NR_io_uring_setup}, ENOSYS, [] {
        return check_refused(std::strerror(ENOSYS));
    });
    CHECK(message == "");
}

TEST_CASE("KEEL_DISABLE_BACKENDS=io_uring: probe says so, automatic falls back", "[platform][io]") {
    auto message = keel::test::run_in_child([] {
        ::setenv("KEEL_DISABLE_BACKENDS", "io_uring", 1);
        auto s = io_uring_engine::probe();
        if (s.reason != disabled_reason) return "reason is not disabled_reason: " + s.reason;
        return check_refused(std::string(disabled_reason));
    });
    CHECK(message == "");
}

TEST_CASE("KEEL_DISABLE_BACKENDS: io_uring and thread_pool off gives synchronous - all off throws",
          "[platform][io]") {
    auto message = keel::test::run_in_child([]() -> std::string {
        ::setenv("KEEL_DISABLE_BACKENDS", "io_uring, thread_pool", 1);
        if (thread_pool_io_engine::probe().available) return "thread_pool probe says available";
        auto e = make_io_engine();
        if (e.name() != "synchronous") return "automatic chose " + std::string(e.name());
        if (auto err = round_trip(e); !err.empty()) return err;
        try {
            thread_pool_io_engine p;
            return "thread_pool_io_engine constructed";
        } catch (const std::system_error&) {
        }
        ::setenv("KEEL_DISABLE_BACKENDS", "all", 1);
        try {
            (void)make_io_engine();
            return "make_io_engine() with everything disabled did not throw";
        } catch (const std::system_error& ex) {
            if (std::string(ex.what()).find("no io engine available") == std::string::npos) {
                return std::string("unexpected message: ") + ex.what();
            }
        }
        return {};
    });
    CHECK(message == "");
}

TEST_CASE("io_uring refused: the probe never crashes and its reason names the errno", "[platform][io]") {
    for (int err : {EPERM, EACCES, ENOMEM}) {
        auto message = keel::test::run_with_refused_syscalls({__NR_io_uring_setup}, err, [err]() -> std::string {
            auto s = io_uring_engine::probe();
            if (s.available) return "available";
            if (s.kind != "io_engine" || s.name != "io_uring") return "wrong kind/name";
            if (s.reason.find(std::strerror(err)) == std::string::npos) return "reason: " + s.reason;
            return {};
        });
        CHECK(message == "");
    }
}
