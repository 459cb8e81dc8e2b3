// Blocking primitives against their standard baselines, in one run.
//
// Names (keel and std side by side, so ratios pair up by replacing the impl part):
//   blocking/throughput/mutex/<impl>/cs_ns:<c>/out_ns:<o>/real_time/threads:<n>
//   blocking/latency/mutex/<impl>                      uncontended lock+unlock
//   blocking/read_mostly/shared_mutex/<impl>/write_pct:10/real_time/threads:<n>
//   blocking/latency/shared_mutex_shared/<impl>        uncontended lock_shared+unlock_shared
//   blocking/latency/semaphore/<impl>                  uncontended acquire+release
//   blocking/ping_pong/semaphore/<impl>/real_time/threads:2
//   blocking/bounded/semaphore/<impl>/units:2/real_time/threads:<n>
// mutex impl: std (std::mutex), keel_futex (futex_mutex<>), keel_hybrid
// (futex_mutex with hybrid_wait), keel_futex_spin0/100 (spin budget 0 or 100 rounds; default 20);
// shared_mutex impl: std (std::shared_mutex), keel_writers, keel_readers; semaphore impl: std
// (std::counting_semaphore), keel. Counter ops_per_s: operations per second, all threads together
// (wall time). Each run checks its work (a plain counter updated under the lock must match the
// operations made, a semaphore must end with its units) and reports an error if not.

#include <keel/platform/wait_policy.hpp>
#include <keel/sync/counting_semaphore.hpp>
#include <keel/sync/futex_mutex.hpp>
#include <keel/sync/shared_mutex.hpp>

#include <benchmark/benchmark.h>

#include "busy_work.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <semaphore>
#include <shared_mutex>
#include <string>

namespace {

namespace ks = keel::sync;
namespace kp = keel::platform;

using keel::bench::burn;
using keel::bench::rounds_for;

// Release configuration spelled out (no stats, no checks), so a Debug build of the
// benchmark measures the same lock.
using keel_futex =
    ks::futex_mutex<std::atomic, kp::futex_wait, ks::no_lock_stats, ks::no_lock_checks>;
template <std::uint32_t Spin>
using keel_futex_spin =
    ks::futex_mutex<std::atomic, kp::futex_wait, ks::no_lock_stats, ks::no_lock_checks, Spin>;
using keel_hybrid =
    ks::futex_mutex<std::atomic, kp::hybrid_wait, ks::no_lock_stats, ks::no_lock_checks>;
template <class Policy>
using keel_shared =
    ks::shared_mutex<Policy, std::atomic, kp::futex_wait, ks::no_lock_stats, ks::no_lock_checks>;
using keel_sem = ks::counting_semaphore<0x7fffffff, std::atomic, kp::futex_wait, ks::no_lock_stats,
                                        ks::no_lock_checks>;
using std_sem = std::counting_semaphore<0x7fffffff>;

// ---- mutex --------------------------------------------------------------------

template <class Mutex>
struct mutex_state {
    Mutex lock;
    alignas(64) std::uint64_t counter = 0;
    alignas(64) std::atomic<std::uint64_t> ops{0};
    std::atomic<int> finished{0};
};

template <class Mutex>
mutex_state<Mutex>& mutex_state_for() {
    static mutex_state<Mutex> s;
    return s;
}

// The last thread out checks the plain counter against the operations made.
template <class State>
void finish(benchmark::State& state, State& shared, std::uint64_t mine) {
    state.counters["ops_per_s"] =
        benchmark::Counter(static_cast<double>(mine), benchmark::Counter::kIsRate);
    shared.ops.fetch_add(mine);
    if (shared.finished.fetch_add(1) + 1 == state.threads()) {
        std::lock_guard guard(shared.lock);
        if (shared.counter != shared.ops.load()) {
            state.SkipWithError("counter != operations: the lock let two writers in");
        }
    }
}

template <class Mutex>
void mutex_throughput(benchmark::State& state) {
    auto& shared = mutex_state_for<Mutex>();
    const std::uint64_t cs = rounds_for(state.range(0));
    const std::uint64_t out = rounds_for(state.range(1));
    if (state.thread_index() == 0) {
        shared.counter = 0;
        shared.ops.store(0);
        shared.finished.store(0);
    }
    std::uint64_t x = static_cast<std::uint64_t>(state.thread_index()) + 1;
    std::uint64_t mine = 0;
    for (auto _ : state) {
        shared.lock.lock();
        ++shared.counter;
        x = burn(cs, x);
        shared.lock.unlock();
        x = burn(out, x);
        ++mine;
    }
    benchmark::DoNotOptimize(x);
    finish(state, shared, mine);
}

template <class Mutex>
void mutex_latency(benchmark::State& state) {
    Mutex lock;
    std::uint64_t counter = 0;
    for (auto _ : state) {
        lock.lock();
        ++counter;
        benchmark::ClobberMemory();
        lock.unlock();
    }
    if (counter != static_cast<std::uint64_t>(state.iterations()))
        state.SkipWithError("lost acquisitions");
}

template <class Mutex>
void add_mutex(const std::string& impl) {
    for (std::int64_t cs : {0, 100}) {
        auto* b = benchmark::RegisterBenchmark(("blocking/throughput/mutex/" + impl).c_str(),
                                               mutex_throughput<Mutex>);
        b->ArgNames({"cs_ns", "out_ns"})->Args({cs, 200})->UseRealTime();
        for (int t : {1, 2, 4, 8, 16})
            b->Threads(t);
    }
    benchmark::RegisterBenchmark(("blocking/latency/mutex/" + impl).c_str(), mutex_latency<Mutex>);
}

// ---- shared_mutex: read-mostly ------------------------------------------------------

template <class Shared>
struct shared_state {
    Shared lock;
    alignas(64) std::uint64_t counter = 0;  // written under the exclusive lock only
    alignas(64) std::atomic<std::uint64_t> ops{0};
    std::atomic<std::uint64_t> reads_bad{0};
    std::atomic<int> finished{0};
};

template <class Shared>
shared_state<Shared>& shared_state_for() {
    static shared_state<Shared> s;
    return s;
}

// write_pct% of operations write (increment the counter), the rest read it; each
// holds the lock ~50 ns and works ~200 ns outside. The check: writes counted match.
template <class Shared>
void read_mostly(benchmark::State& state) {
    auto& shared = shared_state_for<Shared>();
    const auto write_pct = static_cast<std::uint64_t>(state.range(0));
    const std::uint64_t cs = rounds_for(50);
    const std::uint64_t out = rounds_for(200);
    if (state.thread_index() == 0) {
        shared.counter = 0;
        shared.ops.store(0);
        shared.reads_bad.store(0);
        shared.finished.store(0);
    }
    std::uint64_t x = static_cast<std::uint64_t>(state.thread_index()) * 7919 + 1;
    std::uint64_t writes = 0;
    std::uint64_t last_seen = 0;
    std::uint64_t i = static_cast<std::uint64_t>(state.thread_index());
    for (auto _ : state) {
        if (++i % 100 < write_pct) {
            shared.lock.lock();
            ++shared.counter;
            x = burn(cs, x);
            shared.lock.unlock();
            ++writes;
        } else {
            shared.lock.lock_shared();
            const std::uint64_t seen = shared.counter;
            x = burn(cs, x + seen);
            shared.lock.unlock_shared();
            if (seen < last_seen) shared.reads_bad.fetch_add(1);
            last_seen = seen;
        }
        x = burn(out, x);
    }
    benchmark::DoNotOptimize(x);
    state.counters["ops_per_s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    shared.ops.fetch_add(writes);
    if (shared.finished.fetch_add(1) + 1 == state.threads()) {
        std::lock_guard guard(shared.lock);
        if (shared.counter != shared.ops.load() || shared.reads_bad.load() != 0) {
            state.SkipWithError("lost writes or a reader saw the counter go back");
        }
    }
}

template <class Shared>
void shared_latency(benchmark::State& state) {
    Shared lock;
    std::uint64_t counter = 0;
    for (auto _ : state) {
        lock.lock_shared();
        ++counter;
        benchmark::ClobberMemory();
        lock.unlock_shared();
    }
    if (counter != static_cast<std::uint64_t>(state.iterations()))
        state.SkipWithError("lost acquisitions");
}

template <class Shared>
void add_shared(const std::string& impl) {
    auto* b = benchmark::RegisterBenchmark(("blocking/read_mostly/shared_mutex/" + impl).c_str(),
                                           read_mostly<Shared>);
    b->ArgName("write_pct")->Arg(10)->UseRealTime();
    for (int t : {1, 2, 4, 8})
        b->Threads(t);
    benchmark::RegisterBenchmark(("blocking/latency/shared_mutex_shared/" + impl).c_str(),
                                 shared_latency<Shared>);
}

// ---- semaphores -----------------------------------------------------------------------

template <class Sem>
void sem_latency(benchmark::State& state) {
    Sem sem(1);
    for (auto _ : state) {
        sem.acquire();
        benchmark::ClobberMemory();
        sem.release();
    }
    if (!sem.try_acquire()) state.SkipWithError("a unit went missing");
}

// Two threads hand a token back and forth: every round is a wake-up (a park on an
// idle core, or a spin hit on a busy one).
template <class Sem>
struct ping_pong_state {
    Sem ping{0};
    Sem pong{0};
};

template <class Sem>
void sem_ping_pong(benchmark::State& state) {
    static ping_pong_state<Sem> s;
    const bool first = state.thread_index() == 0;
    for (auto _ : state) {
        if (first) {
            s.ping.release();
            s.pong.acquire();
        } else {
            s.ping.acquire();
            s.pong.release();
        }
    }
    // Both threads ran the same number of rounds, so both semaphores are back to 0.
    if (first && (s.ping.try_acquire() || s.pong.try_acquire()))
        state.SkipWithError("unbalanced hand-off");
}

template <class Sem>
struct bounded_state {
    Sem units{2};
    std::atomic<std::uint32_t> inside{0};
    std::atomic<std::uint64_t> too_many{0};
};

// A resource of 2 units shared by n threads, held ~100 ns each time.
template <class Sem>
void sem_bounded(benchmark::State& state) {
    static bounded_state<Sem> s;
    if (state.thread_index() == 0) s.too_many.store(0);
    const std::uint64_t cs = rounds_for(100);
    const std::uint64_t out = rounds_for(200);
    std::uint64_t x = static_cast<std::uint64_t>(state.thread_index()) + 1;
    for (auto _ : state) {
        s.units.acquire();
        if (s.inside.fetch_add(1, std::memory_order_relaxed) >= 2) s.too_many.fetch_add(1);
        x = burn(cs, x);
        s.inside.fetch_sub(1, std::memory_order_relaxed);
        s.units.release();
        x = burn(out, x);
    }
    benchmark::DoNotOptimize(x);
    state.counters["ops_per_s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    if (s.too_many.load() != 0) state.SkipWithError("more holders than units");
}

template <class Sem>
void add_sem(const std::string& impl) {
    benchmark::RegisterBenchmark(("blocking/latency/semaphore/" + impl).c_str(), sem_latency<Sem>);
    benchmark::RegisterBenchmark(("blocking/ping_pong/semaphore/" + impl).c_str(),
                                 sem_ping_pong<Sem>)
        ->Threads(2)
        ->UseRealTime();
    auto* b = benchmark::RegisterBenchmark(("blocking/bounded/semaphore/" + impl).c_str(),
                                           sem_bounded<Sem>);
    b->ArgName("units")->Arg(2)->UseRealTime();
    for (int t : {1, 2, 4, 8})
        b->Threads(t);
}

const bool registered = [] {
    add_mutex<std::mutex>("std");
    add_mutex<keel_futex>("keel_futex");
    add_mutex<keel_hybrid>("keel_hybrid");
    // The spin budget before parking, for tuning: 0 parks at once (as glibc's mutex).
    add_mutex<keel_futex_spin<0>>("keel_futex_spin0");
    add_mutex<keel_futex_spin<100>>("keel_futex_spin100");
    add_shared<std::shared_mutex>("std");
    add_shared<keel_shared<ks::prefer_writers>>("keel_writers");
    add_shared<keel_shared<ks::prefer_readers>>("keel_readers");
    add_sem<std_sem>("std");
    add_sem<keel_sem>("keel");
    return true;
}();

}  // namespace
