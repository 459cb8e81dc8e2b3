// Round trip of one call between two processes (fork: the child serves, the parent
// calls), keel::rpc with each wait mode against the floor and the usual alternatives,
// all in this binary and run:
//   floor/cacheline   a 32-bit word in a MAP_SHARED mapping bounced between the
//                     processes by spinning (the fastest any shared-memory RPC can be)
//   floor/futex       the same word, both sides parked on FUTEX_WAIT between turns
//   pipe/<bytes>      two pipes, <bytes> each way (1 or 64)
//   uds/<bytes>       a Unix stream socketpair, <bytes> each way
//   keel/<mode>/noop  rpc::client::call of a void() method, both sides in <mode>
//   keel/<mode>/64B   a method taking and returning a 64-byte struct
// Time per iteration = one round trip. benchmarks/rpc/ratios.py prints keel/floor and
// uds/keel from the JSON output.
#include <keel/platform/cpu.hpp>
#include <keel/platform/wait_policy.hpp>
#include <keel/rpc.hpp>

#include <benchmark/benchmark.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

namespace rpc = keel::rpc;
namespace platform = keel::platform;

namespace {

/// A forked child running `body` (which never returns normally); killed and reaped
/// on destruction.
class forked {
public:
    explicit forked(const std::function<void()>& body) {
        _pid = ::fork();
        if (_pid < 0) std::abort();
        if (_pid == 0) {
            body();
            ::_exit(0);
        }
    }
    forked(const forked&) = delete;
    forked& operator=(const forked&) = delete;
    ~forked() {
        ::kill(_pid, SIGKILL);
        int status = 0;
        while (::waitpid(_pid, &status, 0) < 0 && errno == EINTR) {
        }
    }

private:
    pid_t _pid = -1;
};

/// One cache line in a MAP_SHARED anonymous mapping (inherited across fork).
struct shared_line {
    void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shared_line() {
        if (p == MAP_FAILED) std::abort();
    }
    ~shared_line() { ::munmap(p, 4096); }
    platform::wait_word& word(std::size_t i = 0) const { return static_cast<platform::wait_word*>(p)[i * 16]; }
};

constexpr std::uint32_t stop_value = 0xffffffffu;

// ---- floor: cache-line ping-pong ----------------------------------------------------
// Parent writes odd values, child answers with the next even one, on one word.
void floor_cacheline(benchmark::State& state) {
    shared_line line;
    auto& w = line.word();
    w.store(0);
    forked child([&] {
        for (;;) {
            std::uint32_t v;
            while (((v = w.load(std::memory_order_acquire)) & 1u) == 0) platform::cpu_relax();
            if (v == stop_value) return;
            w.store(v + 1, std::memory_order_release);
        }
    });
    std::uint32_t v = 0;
    for (auto _ : state) {
        w.store(v + 1, std::memory_order_release);
        while (w.load(std::memory_order_acquire) != v + 2) platform::cpu_relax();
        v += 2;
    }
    w.store(stop_value, std::memory_order_release);
}
BENCHMARK(floor_cacheline)->Name("floor/cacheline");

// ---- floor: futex ping-pong ---------------------------------------------------------
void floor_futex(benchmark::State& state) {
    shared_line line;
    auto& req = line.word(0);
    auto& rsp = line.word(1);
    req.store(0);
    rsp.store(0);
    const platform::shared_futex_wait futex{};
    forked child([&] {
        std::uint32_t seen = 0;
        for (;;) {
            futex.wait(req, seen);
            seen = req.load(std::memory_order_acquire);
            if (seen == stop_value) return;
            rsp.store(seen, std::memory_order_release);
            futex.wake_one(rsp);
        }
    });
    std::uint32_t v = 0;
    for (auto _ : state) {
        ++v;
        req.store(v, std::memory_order_release);
        futex.wake_one(req);
        futex.wait(rsp, v - 1);
    }
    req.store(stop_value, std::memory_order_release);
    futex.wake_one(req);
}
BENCHMARK(floor_futex)->Name("floor/futex");

// ---- pipes and Unix sockets ---------------------------------------------------------
bool write_all(int fd, const char* p, std::size_t n) {
    while (n != 0) {
        const ssize_t r = ::write(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}
bool read_all(int fd, char* p, std::size_t n) {
    while (n != 0) {
        const ssize_t r = ::read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

// to_child/from_child: fds the parent writes/reads; child_in/child_out: the child's.
void fd_ping_pong(benchmark::State& state, int to_child, int from_child, int child_in, int child_out) {
    const auto bytes = static_cast<std::size_t>(state.range(0));
    forked child([&] {
        char buf[64];
        while (read_all(child_in, buf, bytes) && write_all(child_out, buf, bytes)) {
        }
    });
    char buf[64] = {};
    for (auto _ : state) {
        if (!write_all(to_child, buf, bytes) || !read_all(from_child, buf, bytes)) {
            state.SkipWithError("pipe/socket failed");
            break;
        }
    }
}

void pipe_ping_pong(benchmark::State& state) {
    int a[2];
    int b[2];
    if (::pipe(a) != 0 || ::pipe(b) != 0) std::abort();
    fd_ping_pong(state, a[1], b[0], a[0], b[1]);
    for (int fd : {a[0], a[1], b[0], b[1]}) ::close(fd);
}
BENCHMARK(pipe_ping_pong)->Name("pipe")->Arg(1)->Arg(64);

void uds_ping_pong(benchmark::State& state) {
    int s[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0) std::abort();
    fd_ping_pong(state, s[0], s[0], s[1], s[1]);
    ::close(s[0]);
    ::close(s[1]);
}
BENCHMARK(uds_ping_pong)->Name("uds")->Arg(1)->Arg(64);

// ---- keel::rpc ----------------------------------------------------------------------
struct blob64 {
    std::array<std::uint8_t, 64> bytes;
};
using noop = rpc::method<"noop", void()>;
using echo64 = rpc::method<"echo64", blob64(blob64)>;
using bench_service = rpc::service<"bench", noop, echo64>;

template <bool Payload>
void keel_call(benchmark::State& state) {
    const auto mode = static_cast<rpc::wait_mode>(state.range(0));
    static int instance = 0;
    const std::string name =
        "@keel-rpc-bench-" + std::to_string(::getpid()) + "-" + std::to_string(instance++);
    forked child([&] {
        rpc::server_options o;
        o.wait = mode;
        rpc::server<bench_service> srv(name, o);
        srv.handle<noop>([] {});
        srv.handle<echo64>([](const blob64& b) { return b; });
        srv.run(std::stop_token{});  // until killed
    });
    rpc::client_options o;
    o.wait = mode;
    o.wait_for_listener = true;
    o.connect_timeout = std::chrono::seconds(10);
    auto c = rpc::client<bench_service>::connect(name, o);
    if (!c) {
        state.SkipWithError(("connect: " + rpc::error_detail()).c_str());
        return;
    }
    blob64 b{};
    for (auto _ : state) {
        if constexpr (Payload) {
            auto r = c->call<echo64>(b);
            if (!r) {
                state.SkipWithError(r.error().message().c_str());
                break;
            }
            benchmark::DoNotOptimize(r->bytes[0]);
        } else {
            if (!c->call<noop>()) {
                state.SkipWithError("call failed");
                break;
            }
        }
    }
}

void keel_modes(benchmark::internal::Benchmark* b) {
    b->ArgName("mode");
    for (auto m : {rpc::wait_mode::busy_poll, rpc::wait_mode::hybrid, rpc::wait_mode::futex}) {
        b->Arg(static_cast<std::int64_t>(m));
    }
}
BENCHMARK(keel_call<false>)->Name("keel/noop")->Apply(keel_modes);
BENCHMARK(keel_call<true>)->Name("keel/64B")->Apply(keel_modes);

}  // namespace
