// Wake-up latency of keel's wait policies against what a user would otherwise pick:
// C++20 std::atomic<uint32_t>::wait/notify_one and std::mutex + std::condition_variable.
//
//  ping_pong<X>: two threads bounce a counter through two words, one round trip per
//    iteration (two wake-ups). Counters: ns_per_round_trip, and x_atomic_wait = that
//    time over the std::atomic::wait baseline's (which runs first; < 1 is faster).
//  ping_pong<keel_hybrid_spin>/spin_rounds:N: the hybrid's spin budget swept.
//  wake_nobody<X>: the cost of a wake when no thread waits (what every unlock or
//    release pays in the uncontended case). Counter: ns_per_wake.
//
// Every ping-pong checks that the counter arrived, and a watchdog aborts the process
// (rather than hang) if a run stops making progress.
#include <benchmark/benchmark.h>

#include <keel/platform/wait_policy.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>

namespace kp = keel::platform;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t stop_value = 0xffffffffu;

// ns per round trip of the std::atomic::wait baseline in this run; 0 until it has run.
double atomic_wait_baseline_ns = 0;

/// Aborts the process if `progress` stands still for `limit`: a lost wake-up must
/// show up as a failure, not as a benchmark that never ends.
class watchdog {
public:
    watchdog(const std::atomic<std::uint64_t>& progress, const char* what,
             std::chrono::seconds limit = std::chrono::seconds(30))
        : _thread([this, &progress, what, limit] {
              std::unique_lock lock(_mutex);
              auto last = progress.load(std::memory_order_relaxed);
              auto last_change = steady::now();
              while (!_done) {
                  _cv.wait_for(lock, std::chrono::milliseconds(200));
                  const auto now = progress.load(std::memory_order_relaxed);
                  if (now != last) {
                      last = now;
                      last_change = steady::now();
                  } else if (!_done && steady::now() - last_change > limit) {
                      std::fprintf(stderr, "wait_policy_bench: %s made no progress for %llds, aborting\n", what,
                                   static_cast<long long>(limit.count()));
                      std::abort();
                  }
              }
          }) {}
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
    ~watchdog() {
        {
            std::lock_guard lock(_mutex);
            _done = true;
        }
        _cv.notify_one();
        _thread.join();
    }

private:
    std::mutex _mutex;
    std::condition_variable _cv;
    bool _done = false;
    std::thread _thread;  // last: starts after the members it uses
};

/// Two words, each on its own cache line next to the policy object that guards it
/// (a hybrid policy's parked count belongs with its word).
template <class Policy>
struct policy_channel {
    struct alignas(kp::cache_line_size) slot {
        slot() = default;
        explicit slot(std::uint32_t spin_rounds) : policy(spin_rounds) {}
        kp::wait_word word{0};
        Policy policy;
    };
    policy_channel() = default;
    explicit policy_channel(std::uint32_t spin_rounds) : ping(spin_rounds), pong(spin_rounds) {}
    slot ping, pong;

    std::uint32_t await_ping(std::uint32_t last) {
        ping.policy.wait(ping.word, last);
        return ping.word.load(std::memory_order_acquire);
    }
    void await_pong(std::uint32_t last) { pong.policy.wait(pong.word, last); }
    void send_ping(std::uint32_t v) {
        ping.word.store(v, std::memory_order_release);
        ping.policy.wake_one(ping.word);
    }
    void send_pong(std::uint32_t v) {
        pong.word.store(v, std::memory_order_release);
        pong.policy.wake_one(pong.word);
    }
    std::uint32_t pong_value() const { return pong.word.load(); }
};

/// Baseline: C++20 atomic wait/notify (libstdc++: a short spin, then a futex).
struct atomic_channel {
    alignas(kp::cache_line_size) std::atomic<std::uint32_t> ping{0};
    alignas(kp::cache_line_size) std::atomic<std::uint32_t> pong{0};

    std::uint32_t await_ping(std::uint32_t last) {
        ping.wait(last, std::memory_order_acquire);
        return ping.load(std::memory_order_acquire);
    }
    void await_pong(std::uint32_t last) { pong.wait(last, std::memory_order_acquire); }
    void send_ping(std::uint32_t v) {
        ping.store(v, std::memory_order_release);
        ping.notify_one();
    }
    void send_pong(std::uint32_t v) {
        pong.store(v, std::memory_order_release);
        pong.notify_one();
    }
    std::uint32_t pong_value() const { return pong.load(); }
};

/// Baseline: the textbook mutex + condition variable hand-off.
struct condvar_channel {
    std::mutex mutex;
    std::condition_variable ping_cv, pong_cv;
    std::uint32_t ping = 0, pong = 0;

    std::uint32_t await_ping(std::uint32_t last) {
        std::unique_lock lock(mutex);
        ping_cv.wait(lock, [&] { return ping != last; });
        return ping;
    }
    void await_pong(std::uint32_t last) {
        std::unique_lock lock(mutex);
        pong_cv.wait(lock, [&] { return pong != last; });
    }
    void send_ping(std::uint32_t v) {
        {
            std::lock_guard lock(mutex);
            ping = v;
        }
        ping_cv.notify_one();
    }
    void send_pong(std::uint32_t v) {
        {
            std::lock_guard lock(mutex);
            pong = v;
        }
        pong_cv.notify_one();
    }
    std::uint32_t pong_value() {
        std::lock_guard lock(mutex);
        return pong;
    }
};

using std_atomic_wait = atomic_channel;
using std_condition_variable = condvar_channel;
using keel_spin = policy_channel<kp::spin_wait>;
using keel_spin_yield = policy_channel<kp::spin_yield_wait>;
using keel_futex = policy_channel<kp::futex_wait>;
using keel_hybrid = policy_channel<kp::hybrid_wait>;

/// hybrid_wait with the spin budget taken from the benchmark's argument.
struct keel_hybrid_spin : policy_channel<kp::hybrid_wait> {
    explicit keel_hybrid_spin(const benchmark::State& state)
        : policy_channel(static_cast<std::uint32_t>(state.range(0))) {}
};

template <class Channel>
std::unique_ptr<Channel> make_channel(const benchmark::State& state) {
    if constexpr (std::is_constructible_v<Channel, const benchmark::State&>) {
        return std::make_unique<Channel>(state);
    } else {
        return std::make_unique<Channel>();
    }
}

template <class Channel>
void ping_pong(benchmark::State& state) {
    auto channel = make_channel<Channel>(state);
    std::thread partner([&] {
        std::uint32_t last = 0;
        for (;;) {
            last = channel->await_ping(last);
            if (last == stop_value) return;
            channel->send_pong(last);
        }
    });

    std::atomic<std::uint64_t> progress{0};
    std::uint32_t sent = 0;
    steady::duration elapsed{};
    {
        watchdog dog(progress, "ping_pong");
        const auto start = steady::now();
        for (auto _ : state) {
            ++sent;
            channel->send_ping(sent);
            channel->await_pong(sent - 1);
            progress.store(sent, std::memory_order_relaxed);
        }
        elapsed = steady::now() - start;
    }
    const bool arrived = channel->pong_value() == sent;
    channel->send_ping(stop_value);
    partner.join();

    if (!arrived || sent != state.iterations()) {
        state.SkipWithError("the counter did not make every round trip");
        return;
    }
    const double ns = std::chrono::duration<double, std::nano>(elapsed).count() /
                      static_cast<double>(state.iterations());
    state.counters["ns_per_round_trip"] = ns;
    if constexpr (std::is_same_v<Channel, std_atomic_wait>) {
        atomic_wait_baseline_ns = ns;
    } else if (atomic_wait_baseline_ns > 0) {
        state.counters["x_atomic_wait"] = ns / atomic_wait_baseline_ns;
    }
}

// The baseline first: benchmarks run in registration order, and the others divide by it.
BENCHMARK_TEMPLATE(ping_pong, std_atomic_wait)->UseRealTime();
BENCHMARK_TEMPLATE(ping_pong, std_condition_variable)->UseRealTime();
BENCHMARK_TEMPLATE(ping_pong, keel_spin)->UseRealTime();
BENCHMARK_TEMPLATE(ping_pong, keel_spin_yield)->UseRealTime();
BENCHMARK_TEMPLATE(ping_pong, keel_futex)->UseRealTime();
BENCHMARK_TEMPLATE(ping_pong, keel_hybrid)->UseRealTime();
// The hybrid's spin budget (default 32 rounds): 0 behaves like futex; more rounds
// pay off only when the partner answers within the spin, i.e. has a core of its own.
BENCHMARK_TEMPLATE(ping_pong, keel_hybrid_spin)->ArgName("spin_rounds")->Arg(0)->Arg(32)->Arg(128)->Arg(1024)->UseRealTime();

template <class Wake>
void report_wake(benchmark::State& state, Wake&& wake) {
    const auto start = steady::now();
    for (auto _ : state) {
        wake();
        benchmark::ClobberMemory();
    }
    state.counters["ns_per_wake"] = std::chrono::duration<double, std::nano>(steady::now() - start).count() /
                                    static_cast<double>(state.iterations());
}

template <class Policy>
void wake_nobody(benchmark::State& state) {
    Policy policy;
    kp::wait_word word{0};
    report_wake(state, [&] { policy.wake_one(word); });
}

void wake_nobody_std_atomic(benchmark::State& state) {
    std::atomic<std::uint32_t> word{0};
    report_wake(state, [&] { word.notify_one(); });
}

void wake_nobody_std_condition_variable(benchmark::State& state) {
    std::condition_variable cv;
    report_wake(state, [&] { cv.notify_one(); });
}

BENCHMARK(wake_nobody_std_atomic);
BENCHMARK(wake_nobody_std_condition_variable);
BENCHMARK_TEMPLATE(wake_nobody, kp::spin_wait);
BENCHMARK_TEMPLATE(wake_nobody, kp::spin_yield_wait);
BENCHMARK_TEMPLATE(wake_nobody, kp::futex_wait);
BENCHMARK_TEMPLATE(wake_nobody, kp::hybrid_wait);

}  // namespace
