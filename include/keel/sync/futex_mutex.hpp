#pragma once

#include <keel/platform/cpu.hpp>
#include <keel/platform/wait_policy.hpp>
#include <keel/sync/lock_checks.hpp>
#include <keel/sync/lock_stats.hpp>
#include <keel/sync/wait_policy_for.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <type_traits>

namespace keel::sync {

/// Blocking mutex on one 32-bit word with three states: 0 free, 1 locked, 2 locked
/// and maybe waiters. A contended lock() spins briefly while the word reads 1 (up to
/// the lock's current spin budget in cpu_relax rounds, trying whenever it reads 0; not
/// at all once it reads 2, i.e. others sleep already), then marks the word 2 and parks
/// through the wait policy (default futex_wait) until an unlock wakes it.
/// Adaptive spinning: the budget (a second 32-bit word, a racy hint updated with
/// relaxed loads and stores, only when it changes) starts at SpinRounds and follows
/// the lock's recent history: a waiter that got the lock after spinning k rounds
/// raises it to at least 2k + 1 and by one more (capped at SpinRounds); a waiter that
/// had to park halves it. So short hold times with few waiters (2 threads) keep the
/// full spin, which saves a park and a wake per hand-off, while heavy contention,
/// where spinners only fight the holder for the line and park anyway, drives it
/// toward 0 (the no-spin behaviour, which keeps up with std::mutex at many threads;
/// see benchmarks/RESULTS.md). A budget of 0 grows again when a waiter's exchange
/// finds the lock already free (it would have got it by spinning).
/// Lockable and timed_lockable (std::lock_guard, unique_lock, scoped_lock,
/// condition_variable_any); unlock from another thread after adopt().
/// Cost: 8 bytes (+8 with owner checks, +40 with lock_stats; a hybrid_wait policy adds
/// its parked count). Uncontended lock+unlock: one CAS and one exchange, no system
/// call, the budget untouched; unlock makes a wake call only when the word said 2
/// (someone may be parked).
/// Unfair: a running thread may barge past parked ones (throughput over order; a
/// parked thread has no bound on its wait, though each unlock wakes one).
/// Timed waits use steady_clock deadlines; a timed-out waiter may leave the word at 2,
/// which costs the holder's unlock one spare wake, never a lost one.
template <template <class> class Atomic = std::atomic, class Wait = platform::futex_wait,
          class Stats = no_lock_stats, class Checks = default_lock_checks,
          std::uint32_t SpinRounds = 20>
requires wait_policy_for<Wait, Atomic>
class futex_mutex {
public:
    /// The most spin rounds before parking, and the initial budget: by default 20
    /// (about 1 µs with x86 pause), enough to ride out a short critical section on
    /// another core. No fixed budget suited every thread count in our measurements
    /// (benchmarks/RESULTS.md), hence the adaptation.
    /// (0 parks at once; tests use it to drive every waiter down the parking path.)
    static constexpr std::uint32_t spin_rounds = SpinRounds;

    /// The current spin budget (a racy hint, for tests and diagnostics).
    [[nodiscard]] std::uint32_t spin_budget() const noexcept {
        return _budget.load(std::memory_order_relaxed);
    }

    futex_mutex() noexcept = default;
    futex_mutex(const futex_mutex&) = delete;
    futex_mutex& operator=(const futex_mutex&) = delete;
    ~futex_mutex() { _checks.on_destroy(this); }

    void lock() noexcept {
        _checks.before_lock(this);
        std::uint32_t c = unlocked;
        if (_word.compare_exchange_strong(c, locked, std::memory_order_acquire,
                                          std::memory_order_relaxed)) [[likely]] {
            _stats.on_acquire(false, 0);
        } else {
            lock_contended(c);
        }
        _checks.after_lock();
    }

    [[nodiscard]] bool try_lock() noexcept {
        _checks.before_lock(this);
        std::uint32_t c = unlocked;
        if (!_word.compare_exchange_strong(c, locked, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
            return false;
        }
        _stats.on_acquire(false, 0);
        _checks.after_lock();
        return true;
    }

    template <class Rep, class Period>
    [[nodiscard]] bool try_lock_for(std::chrono::duration<Rep, Period> timeout) noexcept {
        return try_lock_until(platform::deadline_after(timeout));
    }

    template <class Clock, class Duration>
    [[nodiscard]] bool try_lock_until(std::chrono::time_point<Clock, Duration> deadline) noexcept {
        _checks.before_lock(this);
        std::uint32_t c = unlocked;
        if (_word.compare_exchange_strong(c, locked, std::memory_order_acquire,
                                          std::memory_order_relaxed)) {
            _stats.on_acquire(false, 0);
            _checks.after_lock();
            return true;
        }
        std::uint64_t spins = 0;
        const std::uint32_t budget = spin_budget();
        if (spin(c, spins, budget)) {
            spun(budget, spins);
        } else {
            if (c != contended) c = _word.exchange(contended, std::memory_order_acquire);
            if (c == unlocked) spun(budget, budget);
            const auto until = platform::steady_deadline(deadline);
            if (c != unlocked) parked(budget);
            while (c != unlocked) {
                _stats.on_park();
                if (!_wait.wait_until(_word, contended, until).has_value()) {
                    // Timed out while the word read 2: somebody holds the lock and its
                    // unlock will wake a parked thread, so no wake-up is lost by leaving.
                    return false;
                }
                c = _word.exchange(contended, std::memory_order_acquire);
            }
        }
        // Counted only on success: lock_stats has no hook for a waiter that gives up.
        _stats.on_wait();
        _stats.on_acquire(true, spins);
        _checks.after_lock();
        return true;
    }

    void unlock() noexcept {
        _checks.before_unlock(this);
        if (_word.exchange(unlocked, std::memory_order_release) == contended) _wait.wake_one(_word);
    }

    /// Declares that the calling thread now owns a lock another thread acquired.
    void adopt() noexcept { _checks.adopt(); }
    /// Whether some thread holds the lock (a racy hint, for tests and diagnostics).
    [[nodiscard]] bool is_locked() const noexcept {
        return _word.load(std::memory_order_relaxed) != unlocked;
    }
    [[nodiscard]] const Stats& stats() const noexcept { return _stats; }
    /// The wait policy object (a hybrid_wait's parked() count, for diagnostics).
    [[nodiscard]] const Wait& wait_policy() const noexcept { return _wait; }

private:
    static constexpr std::uint32_t unlocked = 0;
    static constexpr std::uint32_t locked = 1;
    static constexpr std::uint32_t contended = 2;



    // Spins while the lock is held, grabbing it (0 -> 1) when it reads free. True once
    // acquired; false with `c` holding the last value read. Gives up at once on 2:
    // others already sleep, so contention is heavy and more spinners would only
    // fight the holder for the line (the 16-thread benchmark showed it).
    bool spin(std::uint32_t& c, std::uint64_t& spins, std::uint32_t budget) noexcept {
        for (std::uint32_t i = 0; i < budget && c != contended; ++i) {
            if (c == unlocked && _word.compare_exchange_weak(c, locked, std::memory_order_acquire,
                                                             std::memory_order_relaxed)) {
                return true;
            }
            platform::cpu_relax();
            ++spins;
            c = _word.load(std::memory_order_relaxed);
        }
        return false;
    }

    // Budget updates (see the class comment). Relaxed and racy: a lost update only
    // makes the hint a little staler. Stored only on change, so a steady budget never
    // costs the lock's line a write.
    void spun(std::uint32_t budget, std::uint64_t spins) noexcept {
        if constexpr (spin_rounds != 0) {
            const std::uint64_t wanted = 2 * spins + 1;
            std::uint64_t next = (wanted > budget ? wanted : budget) + 1;
            if (next > spin_rounds) next = spin_rounds;
            if (next != budget) _budget.store(static_cast<std::uint32_t>(next), std::memory_order_relaxed);
        }
    }
    void parked(std::uint32_t budget) noexcept {
        if (budget != 0) _budget.store(budget / 2, std::memory_order_relaxed);
    }

    void lock_contended(std::uint32_t c) noexcept {
        _stats.on_wait();
        std::uint64_t spins = 0;
        const std::uint32_t budget = spin_budget();
        if (spin(c, spins, budget)) {
            spun(budget, spins);
        } else {
            // From here the lock is taken as 2, since this thread cannot know whether
            // others are parked: its own unlock then wakes one.
            if (c != contended) c = _word.exchange(contended, std::memory_order_acquire);
            // Free already: spinning `budget` rounds (or a few more) would have done.
            if (c == unlocked) spun(budget, budget);
            else parked(budget);
            while (c != unlocked) {
                _stats.on_park();
                _wait.wait(_word, contended);
                c = _word.exchange(contended, std::memory_order_acquire);
            }
        }
        _stats.on_acquire(true, spins);
    }

    Atomic<std::uint32_t> _word{unlocked};
    // Spin budget: a heuristic, never part of the protocol, so a plain std::atomic
    // whatever Atomic is (a deterministic-schedule atomic would only add schedule
    // points that cannot matter).
    std::atomic<std::uint32_t> _budget{SpinRounds};
    [[no_unique_address]] Wait _wait;
    [[no_unique_address]] Stats _stats;
    [[no_unique_address]] Checks _checks;
};

}  // namespace keel::sync
