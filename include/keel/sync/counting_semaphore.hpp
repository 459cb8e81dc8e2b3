#pragma once

#include <keel/platform/cpu.hpp>
#include <keel/platform/wait_policy.hpp>
#include <keel/sync/detail/debug_checks.hpp>
#include <keel/sync/lock_checks.hpp>
#include <keel/sync/lock_stats.hpp>
#include <keel/sync/wait_policy_for.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace keel::sync {

/// Counting semaphore with the interface of std::counting_semaphore: acquire,
/// try_acquire, try_acquire_for/until, release(n), max(). The count lives in a 32-bit
/// word on which waiters park through the wait policy (default futex_wait); a second
/// word counts registered waiters so that release() makes a wake call only when some
/// thread may be parked (wake_one for release(1), wake_all for release(n > 1)).
/// max() is LeastMaxValue exactly; with Checks enabled (debug builds by default) a
/// release that would raise the count above max(), or a negative release, aborts with
/// a message (a precondition violation, as for the standard type).
/// Thread-safe. Cost: 8 bytes (+40 with lock_stats; a hybrid_wait policy adds its
/// parked count). Uncontended acquire: a load and a CAS; release: one fetch_add and
/// one load. Unfair: a running thread may take a unit before a woken one.
/// Stats: on_wait/on_acquire/on_park as for a lock (an acquire is an "acquisition").
template <std::ptrdiff_t LeastMaxValue = 0x7fffffff, template <class> class Atomic = std::atomic,
          class Wait = platform::futex_wait, class Stats = no_lock_stats,
          class Checks = default_lock_checks, std::uint32_t SpinRounds = 100>
requires wait_policy_for<Wait, Atomic>
class counting_semaphore {
    static_assert(LeastMaxValue >= 0 && LeastMaxValue <= 0x7fffffff,
                  "keel::sync::counting_semaphore counts in 31 bits");

public:
    /// Spin rounds of a blocked acquire before it registers and parks (0: at once).
    static constexpr std::uint32_t spin_rounds = SpinRounds;

    [[nodiscard]] static constexpr std::ptrdiff_t max() noexcept { return LeastMaxValue; }

    constexpr explicit counting_semaphore(std::ptrdiff_t desired) noexcept
        : _count(static_cast<std::uint32_t>(desired)) {}
    counting_semaphore(const counting_semaphore&) = delete;
    counting_semaphore& operator=(const counting_semaphore&) = delete;
    ~counting_semaphore() = default;

    void release(std::ptrdiff_t update = 1) noexcept {
        if constexpr (Checks::enabled) {
            if (update < 0)
                detail::lock_misuse("counting_semaphore::release with a negative count", this);
        }
        if (update == 0) return;
        // seq_cst on both sides (here the count RMW then the waiter load; in a waiter
        // the waiter RMW then the count load): either this sees the waiter or the
        // waiter sees the new count, so no wake-up is lost.
        const std::uint32_t old =
            _count.fetch_add(static_cast<std::uint32_t>(update), std::memory_order_seq_cst);
        if constexpr (Checks::enabled) {
            if (static_cast<std::ptrdiff_t>(old) + update > max()) {
                detail::lock_misuse("counting_semaphore::release beyond max()", this);
            }
        }
        if (_waiters.load(std::memory_order_seq_cst) != 0) {
            if (update == 1) {
                _wait.wake_one(_count);
            } else {
                _wait.wake_all(_count);
            }
        }
    }

    void acquire() noexcept {
        if (try_acquire()) return;
        _stats.on_wait();
        std::uint64_t spins = 0;
        if (!spin(spins)) {
            _waiters.fetch_add(1, std::memory_order_seq_cst);
            for (;;) {
                if (take_one_sc()) break;
                _stats.on_park();
                _wait.wait(_count, 0);
            }
            _waiters.fetch_sub(1, std::memory_order_relaxed);
        }
        _stats.on_acquire(true, spins);
    }

    /// Takes a unit if one is available now; fails only when the count reads 0.
    [[nodiscard]] bool try_acquire() noexcept {
        std::uint32_t c = _count.load(std::memory_order_relaxed);
        while (c != 0) {
            if (_count.compare_exchange_weak(c, c - 1, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
                _stats.on_acquire(false, 0);
                return true;
            }
        }
        return false;
    }

    template <class Rep, class Period>
    [[nodiscard]] bool try_acquire_for(std::chrono::duration<Rep, Period> timeout) noexcept {
        return try_acquire_until_steady(platform::deadline_after(timeout));
    }

    template <class Clock, class Duration>
    [[nodiscard]] bool try_acquire_until(
        std::chrono::time_point<Clock, Duration> deadline) noexcept {
        return try_acquire_until_steady(platform::steady_deadline(deadline));
    }

    /// The count now (a racy hint, for tests and diagnostics).
    [[nodiscard]] std::ptrdiff_t value() const noexcept {
        return _count.load(std::memory_order_relaxed);
    }
    /// Threads registered to park (a racy hint, for tests and diagnostics).
    [[nodiscard]] std::uint32_t waiters() const noexcept {
        return _waiters.load(std::memory_order_relaxed);
    }
    [[nodiscard]] const Stats& stats() const noexcept { return _stats; }

private:

    // A unit, if the count allows; the load is seq_cst to pair with release().
    bool take_one_sc() noexcept {
        std::uint32_t c = _count.load(std::memory_order_seq_cst);
        while (c != 0) {
            if (_count.compare_exchange_weak(c, c - 1, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
                return true;
            }
        }
        return false;
    }

    // Spins only while nobody is parked: with sleepers, contention is heavy and
    // spinning would only compete with the threads being woken.
    bool spin(std::uint64_t& spins) noexcept {
        for (std::uint32_t i = 0; i < spin_rounds && _waiters.load(std::memory_order_relaxed) == 0;
             ++i) {
            if (_count.load(std::memory_order_relaxed) != 0 && take_one_sc()) return true;
            platform::cpu_relax();
            ++spins;
        }
        return false;
    }

    bool try_acquire_until_steady(std::chrono::steady_clock::time_point deadline) noexcept {
        if (try_acquire()) return true;
        std::uint64_t spins = 0;
        if (!spin(spins)) {
            _waiters.fetch_add(1, std::memory_order_seq_cst);
            for (;;) {
                if (take_one_sc()) break;
                _stats.on_park();
                if (!_wait.wait_until(_count, 0, deadline).has_value()) {
                    // Timed out with the count at 0. A release that raced with the
                    // timeout and woke this thread is not lost: its unit is in the
                    // count, and a later acquirer or woken waiter takes it; but pass
                    // the wake on, in case this thread absorbed it.
                    _waiters.fetch_sub(1, std::memory_order_seq_cst);
                    if (_count.load(std::memory_order_seq_cst) != 0 &&
                        _waiters.load(std::memory_order_seq_cst) != 0) {
                        _wait.wake_one(_count);
                    }
                    return false;
                }
            }
            _waiters.fetch_sub(1, std::memory_order_relaxed);
        }
        // Counted only on success: lock_stats has no hook for a waiter that gives up.
        _stats.on_wait();
        _stats.on_acquire(true, spins);
        return true;
    }

    Atomic<std::uint32_t> _count;
    Atomic<std::uint32_t> _waiters{0};
    [[no_unique_address]] Wait _wait;
    [[no_unique_address]] Stats _stats;
};

/// A semaphore with max() 1, as std::binary_semaphore.
template <template <class> class Atomic = std::atomic, class Wait = platform::futex_wait>
using binary_semaphore = counting_semaphore<1, Atomic, Wait>;

}  // namespace keel::sync
