#pragma once

// Reusable test support for keel::sync locks (header-only; include it by relative
// path, "../support/lock_stress.hpp"):
//  - invariant_state / run_invariant_stress: a critical-section invariant under
//    contention (the check of Concurrency Kit's `validate`, written anew);
//  - acquisition_order / check_fifo_order: FIFO order of queued waiters;
//  - try_lock helpers;
//  - stress_iterations: scales iteration counts (KEEL_STRESS_FACTOR, sanitizers).

#include <catch2/catch.hpp>

#include <keel/platform/cpu.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

namespace keel::test {

/// Iterations for a stress test: `base` times KEEL_STRESS_FACTOR (a decimal factor,
/// default 1), divided by 8 under ThreadSanitizer (which slows atomics ~10x). Never 0.
inline std::uint64_t stress_iterations(std::uint64_t base) {
    double factor = 1.0;
    if (const char* env = std::getenv("KEEL_STRESS_FACTOR")) factor = std::atof(env);
#if defined(__SANITIZE_THREAD__)
    factor /= 8;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    factor /= 8;
#endif
#endif
    const auto n = static_cast<std::uint64_t>(static_cast<double>(base) * factor);
    return n == 0 ? 1 : n;
}

/// State checked inside a critical section. `guarded` must read 0 on entry; the holder
/// writes its mark, reads it back and restores 0, so any second thread inside at the
/// same time is seen by one of them. `guarded` is atomic (relaxed) so a broken lock
/// is reported as a violation rather than being undefined behaviour the compiler may
/// fold away; `plain_count` is a plain variable, so ThreadSanitizer reports a lock
/// whose release/acquire does not order its holders. Atomic may be
/// testing::deterministic_atomic, which makes every access a scheduling point.
template <template <class> class Atomic = std::atomic>
struct invariant_state {
    Atomic<std::uint64_t> guarded{0};
    std::uint64_t plain_count = 0;
    std::atomic<std::uint64_t> violations{0};

    /// Call with the lock held; `mark` must be non-zero and distinct per thread.
    void critical_section(std::uint64_t mark) noexcept {
        if (guarded.load(std::memory_order_relaxed) != 0) violations.fetch_add(1, std::memory_order_relaxed);
        guarded.store(mark, std::memory_order_relaxed);
        if (guarded.load(std::memory_order_relaxed) != mark) violations.fetch_add(1, std::memory_order_relaxed);
        guarded.store(0, std::memory_order_relaxed);
        ++plain_count;
    }
};

/// How run_invariant_stress acquires.
struct stress_options {
    /// Every `try_every`-th acquisition (0: none) goes through try_lock, retried up to
    /// `try_attempts` times (yielding in between) before falling back to lock(): so
    /// try_lock is exercised while other threads hold and queue.
    std::uint64_t try_every = 4;
    std::uint64_t try_attempts = 16;
};

/// What run_invariant_stress saw.
struct stress_report {
    std::uint64_t violations = 0;
    std::uint64_t count = 0;     ///< critical sections counted by the plain counter
    std::uint64_t expected = 0;  ///< threads * iterations
    std::uint64_t try_successes = 0;
};

/// Runs `threads` threads, each acquiring `lock` `iterations` times and checking the
/// invariant inside; then REQUIREs no violation and an exact count (fails loudly, with
/// the lock type, thread count and numbers in the message). Returns the report.
template <class Lock>
stress_report run_invariant_stress(Lock& lock, std::size_t threads, std::uint64_t iterations,
                                   stress_options options = {}) {
    invariant_state<> state;
    std::atomic<std::size_t> ready{0};
    std::atomic<std::uint64_t> try_successes{0};
    std::vector<std::thread> workers;
    workers.reserve(threads);
    for (std::size_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            ready.fetch_add(1);
            while (ready.load() != threads) std::this_thread::yield();  // start together
            std::uint64_t tried = 0;
            for (std::uint64_t i = 0; i < iterations; ++i) {
                bool held = false;
                if constexpr (requires { lock.try_lock(); }) {
                    if (options.try_every != 0 && i % options.try_every == 0) {
                        for (std::uint64_t a = 0; a < options.try_attempts && !held; ++a) {
                            held = lock.try_lock();
                            if (!held) std::this_thread::yield();
                        }
                        if (held) ++tried;
                    }
                }
                if (!held) lock.lock();
                state.critical_section(t + 1);
                lock.unlock();
            }
            try_successes.fetch_add(tried);
        });
    }
    for (auto& w : workers) w.join();
    stress_report report{state.violations.load(), state.plain_count, threads * iterations,
                         try_successes.load()};
    INFO("lock " << typeid(Lock).name() << ", " << threads << " threads x " << iterations
                 << " iterations: " << report.violations << " invariant violations, count "
                 << report.count << " of " << report.expected);
    REQUIRE(report.violations == 0);
    REQUIRE(report.count == report.expected);
    return report;
}

/// The same on a fresh, default-constructed Lock.
template <class Lock>
stress_report run_invariant_stress(std::size_t threads, std::uint64_t iterations,
                                   stress_options options = {}) {
    Lock lock;
    return run_invariant_stress(lock, threads, iterations, options);
}

/// FIFO check for a queue lock instantiated with keel::sync::lock_stats: the calling
/// thread holds the lock while `waiters` threads queue one at a time (each started
/// only once stats().waiting() shows the previous one has taken its place in line);
/// returns the order in which they then acquired. A FIFO lock returns 0, 1, 2, ...
template <class Lock>
std::vector<std::size_t> acquisition_order(std::size_t waiters) {
    Lock lock;
    std::vector<std::size_t> order;  // appended under the lock
    lock.lock();
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < waiters; ++i) {
        threads.emplace_back([&lock, &order, i] {
            lock.lock();
            order.push_back(i);
            lock.unlock();
        });
        while (lock.stats().waiting() != i + 1) std::this_thread::yield();
    }
    lock.unlock();
    for (auto& t : threads) t.join();
    return order;
}

/// REQUIREs that `waiters` queued threads acquire in arrival order.
template <class Lock>
void check_fifo_order(std::size_t waiters) {
    std::vector<std::size_t> expected(waiters);
    std::iota(expected.begin(), expected.end(), std::size_t{0});
    REQUIRE(acquisition_order<Lock>(waiters) == expected);
}

/// try_lock called on another thread (so the debug checks see a non-owner); a
/// successful attempt is released there again. Returns whether it succeeded.
template <class Lock>
bool try_lock_elsewhere(Lock& lock) {
    bool ok = false;
    std::thread([&] {
        ok = lock.try_lock();
        if (ok) lock.unlock();
    }).join();
    return ok;
}

/// try_lock semantics every keel lock promises: succeeds on a free lock (no spurious
/// failure without contention), fails while another thread holds the lock (held by
/// lock() or by try_lock), and succeeds again once it is released.
template <class Lock>
void check_try_lock_semantics(Lock& lock) {
    REQUIRE(lock.try_lock());
    CHECK_FALSE(try_lock_elsewhere(lock));
    lock.unlock();
    CHECK(try_lock_elsewhere(lock));
    lock.lock();
    CHECK_FALSE(try_lock_elsewhere(lock));
    lock.unlock();
    REQUIRE(lock.try_lock());
    lock.unlock();
}

}  // namespace keel::test
