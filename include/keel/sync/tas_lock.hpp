#pragma once

#include <keel/sync/detail/exchange_lock.hpp>
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
class tas_lock : public detail::exchange_lock<Atomic, Stats, Checks> {
    using base = detail::exchange_lock<Atomic, Stats, Checks>;
    using base::_checks;
    using base::_stats;
    using base::_word;

public:
    tas_lock() noexcept = default;

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
};

}  // namespace keel::sync
