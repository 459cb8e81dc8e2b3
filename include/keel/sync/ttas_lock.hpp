#pragma once

#include <keel/sync/detail/exchange_lock.hpp>
#include <keel/sync/detail/spin.hpp>
#include <keel/sync/lock_checks.hpp>
#include <keel/sync/lock_stats.hpp>

#include <atomic>
#include <cstdint>

namespace keel::sync {

/// Test-and-test-and-set spin lock with exponential backoff: waiters look at the
/// word with a plain load (the line stays shared in their caches) and try the
/// exchange only when the lock looks free; between looks, and after a lost race,
/// they back off under `Backoff` (see backoff_policy; default: 16, 32, 64, ... up to
/// 8192 pause rounds, each wait from 1024 rounds on followed by a yield, so that a
/// run with more threads than cores still makes progress). Lockable; unlock from
/// another thread after adopt().
/// Cost: 4 bytes (+8 with owner checks, +40 with lock_stats); uncontended
/// lock+unlock is one exchange and one store. Unfair: a releasing thread often
/// reacquires before a backed-off waiter looks again (good throughput, no bound on
/// waiting; a waiter at the ceiling looks about every 8192 pauses).
/// (A template taking a lock as `template <template <class> class, class, class> class`
/// accepts ttas_lock with its Backoff defaulted, as C++17 allows.)
template <template <class> class Atomic = std::atomic, class Stats = no_lock_stats,
          class Checks = default_lock_checks, backoff_policy Backoff = backoff_policy{}>
requires(Backoff.valid())
class ttas_lock : public detail::exchange_lock<Atomic, Stats, Checks> {
    using base = detail::exchange_lock<Atomic, Stats, Checks>;
    using base::_checks;
    using base::_stats;
    using base::_word;

public:
    static constexpr backoff_policy backoff = Backoff;

    ttas_lock() noexcept = default;

    void lock() noexcept {
        _checks.before_lock(this);
        if (_word.exchange(1, std::memory_order_acquire) != 0) {
            _stats.on_wait();
            detail::backoff<Backoff> wait;
            for (;;) {
                while (_word.load(std::memory_order_relaxed) != 0) wait.pause();
                if (_word.exchange(1, std::memory_order_acquire) == 0) break;
                wait.pause();  // lost the race to another waiter
            }
            _stats.on_acquire(true, wait.rounds());
        } else {
            _stats.on_acquire(false, 0);
        }
        _checks.after_lock();
    }
};

}  // namespace keel::sync
