#pragma once

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
class ttas_lock {
public:
    static constexpr backoff_policy backoff = Backoff;

    ttas_lock() noexcept = default;
    ttas_lock(const ttas_lock&) = delete;
    ttas_lock& operator=(const ttas_lock&) = delete;
    ~ttas_lock() { _checks.on_destroy(this); }

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

    [[nodiscard]] bool try_lock() noexcept {
        _checks.before_lock(this);
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
