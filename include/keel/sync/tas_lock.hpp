#pragma once

#include <keel/sync/detail/spin.hpp>
#include <keel/sync/lock_checks.hpp>
#include <keel/sync/lock_stats.hpp>

#include <atomic>
#include <cstdint>

namespace keel::sync {

/// Test-and-set spin lock: every attempt is an atomic exchange on one word.
/// Lockable (lock/try_lock/unlock); any thread may unlock a lock handed to it
/// (declare it with adopt() when debug checks are on).
/// Cost: 4 bytes (+8 with owner checks, +40 with lock_stats); uncontended lock+unlock
/// is one exchange and one store. Unfair (no order among waiters), and waiters
/// exchange in a loop, so the line bounces between them: prefer ttas_lock or a queue
/// lock beyond two or three contending threads.
/// Atomic: std::atomic, or testing::deterministic_atomic to explore interleavings.
template <template <class> class Atomic = std::atomic, class Stats = no_lock_stats,
          class Checks = default_lock_checks>
class tas_lock {
public:
    tas_lock() noexcept = default;
    tas_lock(const tas_lock&) = delete;
    tas_lock& operator=(const tas_lock&) = delete;
    ~tas_lock() { _checks.on_destroy(this); }

    void lock() noexcept {
        _checks.before_lock(this);
        detail::spinner spin;
        while (_word.exchange(1, std::memory_order_acquire) != 0) {
            if (spin.rounds() == 0) _stats.on_wait();
            spin.spin();
        }
        _stats.on_acquire(spin.rounds() != 0, spin.rounds());
        _checks.after_lock();
    }

    [[nodiscard]] bool try_lock() noexcept {
        _checks.before_lock(this);
        // A plain load first: a failing try_lock then does not take the line exclusive.
        if (_word.load(std::memory_order_relaxed) != 0 ||
            _word.exchange(1, std::memory_order_acquire) != 0) {
            return false;
        }
        _stats.on_acquire(false, 0);
        _checks.after_lock();
        return true;
    }

    void unlock() noexcept {
        _checks.before_unlock(this);
        _word.store(0, std::memory_order_release);
    }

    /// Declares that the calling thread now owns a lock another thread acquired.
    void adopt() noexcept { _checks.adopt(); }
    /// Whether some thread holds the lock (a racy hint, for tests and diagnostics).
    [[nodiscard]] bool is_locked() const noexcept { return _word.load(std::memory_order_relaxed) != 0; }
    [[nodiscard]] const Stats& stats() const noexcept { return _stats; }

private:
    Atomic<std::uint32_t> _word{0};
    [[no_unique_address]] Stats _stats;
    [[no_unique_address]] Checks _checks;
};

}  // namespace keel::sync
