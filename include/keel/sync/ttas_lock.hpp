#pragma once

#include <keel/sync/detail/spin.hpp>
#include <keel/sync/lock_checks.hpp>
#include <keel/sync/lock_stats.hpp>

#include <atomic>
#include <cstdint>

namespace keel::sync {

/// Test-and-test-and-set spin lock with exponential backoff: waiters spin on a
/// plain load (the line stays shared in their caches) and try the exchange only
/// when the lock looks free; after a lost race they back off 1, 2, 4, ... up to
/// 1024 pause rounds, then yield. Lockable; unlock from another thread after adopt().
/// Cost: 4 bytes (+8 with owner checks, +40 with lock_stats); uncontended
/// lock+unlock is one load, one exchange and one store. Unfair: a releasing thread
/// often reacquires before a backed-off waiter looks again (good throughput, no
/// bound on waiting).
template <template <class> class Atomic = std::atomic, class Stats = no_lock_stats,
          class Checks = default_lock_checks>
class ttas_lock {
public:
    ttas_lock() noexcept = default;
    ttas_lock(const ttas_lock&) = delete;
    ttas_lock& operator=(const ttas_lock&) = delete;
    ~ttas_lock() { _checks.on_destroy(this); }

    void lock() noexcept {
        _checks.before_lock(this);
        if (_word.exchange(1, std::memory_order_acquire) != 0) {
            _stats.on_wait();
            detail::backoff wait;
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
