// Costs of the safety modes' mechanisms (keel/rpc/safety.hpp), one process, so the
// call path can choose by measured cost (docs/rpc.md, "Safety modes"):
//   safety/window/pages:N            protection_window seal + release of N pages inside a
//                                    larger MAP_SHARED memfd arena (sealed mode, mprotect);
//                                    the process has no other running thread
//   safety/window_busy/pages:N       the same while a second thread of the process runs on
//                                    another core (the read-only mprotect must then shoot
//                                    down that core's TLB: the usual case in a real client)
//   safety/sealed_buffer/bytes:N     sealed_buffer create + fill + seal + attach + read one
//                                    byte per page + unmap (sealed mode, one-shot memfd)
//   safety/sealed_buffer_populate/.. the same with attach(populate = true)
//   safety/memcpy/bytes:N            copy_payload of N bytes from a shared mapping into
//                                    private memory (copy mode)
//   safety/guarded_call              a guarded run of an empty function: the sandbox's
//                                    stack switch there and back, without PKRU writes
//   safety/sigmask_pair              the two pthread_sigmask calls a sandbox run makes
//                                    with block_signals (measurable without MPK)
//   safety/sandbox/enter_exit        sandbox::run of an empty function (MPK; skipped with
//                                    the reason where protection keys are missing)
//   safety/sandbox/enter_exit_nomask the same with block_signals = false
// Named safety/... so the smoke run's filter leaves them out.
#include <keel/rpc/safety.hpp>

#include <benchmark/benchmark.h>

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace rpc = keel::rpc;

namespace {

const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

/// A MAP_SHARED read-write memfd mapping, touched: a sender's arena.
struct arena {
    int fd = -1;
    std::byte* data = nullptr;
    std::size_t size = 0;
    explicit arena(std::size_t bytes) : size(bytes) {
        fd = ::memfd_create("keel-safety-bench", MFD_CLOEXEC);
        if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(size)) != 0) std::abort();
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) std::abort();
        data = static_cast<std::byte*>(p);
        std::memset(data, 1, size);
    }
    arena(const arena&) = delete;
    arena& operator=(const arena&) = delete;
    ~arena() {
        ::munmap(data, size);
        ::close(fd);
    }
};

void window(benchmark::State& state, bool busy_peer) {
    const auto pages = static_cast<std::size_t>(state.range(0));
    arena a(512 * page);
    std::byte* first = a.data + 64 * page;  // inside the mapping: the kernel splits and merges it
    std::atomic<bool> stop{false};
    std::thread peer;
    if (busy_peer) {
        peer = std::thread([&] {
            // Runs (and touches the arena) on another core, so its TLB holds the mapping.
            while (!stop.load(std::memory_order_relaxed)) benchmark::DoNotOptimize(*a.data);
        });
    }
    for (auto _ : state) {
        auto w = rpc::protection_window::seal(first, pages * page);
        if (!w) {
            state.SkipWithError("protection_window::seal failed");
            break;
        }
        if (!w->release()) {
            state.SkipWithError("protection_window::release failed");
            break;
        }
    }
    stop.store(true);
    if (peer.joinable()) peer.join();
}

void sealed_buffer(benchmark::State& state, bool populate) {
    const auto bytes = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        auto b = rpc::sealed_buffer::make(bytes, [](std::span<std::byte> d) { std::memset(d.data(), 7, d.size()); });
        if (!b) {
            state.SkipWithError("sealed_buffer::make failed");
            break;
        }
        auto v = rpc::sealed_buffer::attach(b->fd(), bytes, populate);
        if (!v) {
            state.SkipWithError("sealed_buffer::attach failed");
            break;
        }
        std::uint32_t sum = 0;
        for (std::size_t off = 0; off < v->size(); off += page) sum += static_cast<std::uint32_t>(v->bytes()[off]);
        benchmark::DoNotOptimize(sum);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

void copy(benchmark::State& state) {
    const auto bytes = static_cast<std::size_t>(state.range(0));
    arena src(bytes);
    std::vector<std::byte> dst(bytes);
    for (auto _ : state) {
        auto r = rpc::copy_payload(src.data, bytes, dst, bytes);
        benchmark::DoNotOptimize(r);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

void empty_fn(void* p) noexcept { benchmark::DoNotOptimize(p); }

void guarded_call(benchmark::State& state) {
    rpc::detail::guarded_stack stack(64 * 1024);
    int x = 0;
    for (auto _ : state) {
        auto o = rpc::detail::guarded_run(stack, stack.high(), &empty_fn, &x, nullptr);
        benchmark::DoNotOptimize(o);
    }
}

void sigmask_pair(benchmark::State& state) {
    sigset_t block;
    sigfillset(&block);
    sigset_t saved;
    for (auto _ : state) {
        ::pthread_sigmask(SIG_BLOCK, &block, &saved);
        ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    }
}

void sandbox_enter_exit(benchmark::State& state, bool block_signals) {
    auto status = rpc::sandbox::probe();
    if (!status.available) {
        state.SkipWithError(status.reason.c_str());
        return;
    }
    auto sb = rpc::sandbox::create({.block_signals = block_signals});
    if (!sb) {
        state.SkipWithError("sandbox::create failed");
        return;
    }
    for (auto _ : state) {
        auto r = sb->run([] { return 1; });
        benchmark::DoNotOptimize(r);
    }
}

}  // namespace

BENCHMARK_CAPTURE(window, plain, false)->Name("safety/window")->ArgName("pages")->Arg(1)->Arg(16)->Arg(256);
BENCHMARK_CAPTURE(window, busy, true)->Name("safety/window_busy")->ArgName("pages")->Arg(1)->Arg(16)->Arg(256);
BENCHMARK_CAPTURE(sealed_buffer, fault, false)
    ->Name("safety/sealed_buffer")
    ->ArgName("bytes")
    ->Arg(4096)
    ->Arg(64 * 1024)
    ->Arg(1024 * 1024);
BENCHMARK_CAPTURE(sealed_buffer, populate, true)
    ->Name("safety/sealed_buffer_populate")
    ->ArgName("bytes")
    ->Arg(4096)
    ->Arg(64 * 1024)
    ->Arg(1024 * 1024);
BENCHMARK(copy)->Name("safety/memcpy")->ArgName("bytes")->Arg(4096)->Arg(64 * 1024)->Arg(1024 * 1024);
BENCHMARK(guarded_call)->Name("safety/guarded_call");
BENCHMARK(sigmask_pair)->Name("safety/sigmask_pair");
BENCHMARK_CAPTURE(sandbox_enter_exit, masked, true)->Name("safety/sandbox/enter_exit");
BENCHMARK_CAPTURE(sandbox_enter_exit, unmasked, false)->Name("safety/sandbox/enter_exit_nomask");
