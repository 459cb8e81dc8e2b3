#pragma once

#include <keel/sync/detail/spin.hpp>
#include <keel/sync/lock_checks.hpp>
#include <keel/sync/lock_stats.hpp>

#include <atomic>
#include <cstdint>

namespace keel::sync {

/// Ticket lock: a thread takes the next ticket (fetch_add) and spins until the
/// serving counter reaches it. FIFO: threads acquire in the order their fetch_add
/// took effect. Lockable: try_lock takes a ticket only when it would be served at
/// once (a CAS on `next` against the serving value); unlock from another thread after
/// adopt(). Cost: 8 bytes, both counters on one line (+8 with owner checks, +40 with
/// lock_stats); uncontended lock+unlock is one fetch_add, one load and one store.
/// Every waiter spins on the same line, and a descheduled next-in-line stalls all of
/// them (waiters yield after 256 pause rounds to soften that on oversubscribed cores).
template <template <class> class Atomic = std::atomic, class Stats = no_lock_stats,
          class Checks = default_lock_checks>
class ticket_lock {
public:
    ticket_lock() noexcept = default;
    ticket_lock(const ticket_lock&) = delete;
    ticket_lock& operator=(const ticket_lock&) = delete;
    ~ticket_lock() { _checks.on_destroy(this); }

    void lock() noexcept {
        _checks.before_lock(this);
        const std::uint32_t ticket = _next.fetch_add(1, std::memory_order_relaxed);
        if (_serving.load(std::memory_order_acquire) != ticket) {
            _stats.on_wait();
            detail::spinner spin;
            do {
                spin.spin();
            } while (_serving.load(std::memory_order_acquire) != ticket);
            _stats.on_acquire(true, spin.rounds());
        } else {
            _stats.on_acquire(false, 0);
        }
        _checks.after_lock();
    }

    [[nodiscard]] bool try_lock() noexcept {
        _checks.before_lock(this);
        // If next == serving nobody holds or waits; taking ticket `serving` then
        // means we are served at once. (A false success would need the 32-bit
        // counters to wrap all the way round between the load and the CAS.)
        std::uint32_t serving = _serving.load(std::memory_order_acquire);
        if (!_next.compare_exchange_strong(serving, serving + 1, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
            return false;
        }
        _stats.on_acquire(false, 0);
        _checks.after_lock();
        return true;
    }

    void unlock() noexcept {
        _checks.before_unlock(this);
        // Only the holder writes `serving`: a load and a store, no read-modify-write.
        _serving.store(_serving.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }

    /// Declares that the calling thread now owns a lock another thread acquired.
    void adopt() noexcept { _checks.adopt(); }
    /// Whether some thread holds the lock (a racy hint, for tests and diagnostics).
    [[nodiscard]] bool is_locked() const noexcept {
        return _next.load(std::memory_order_relaxed) != _serving.load(std::memory_order_relaxed);
    }
    [[nodiscard]] const Stats& stats() const noexcept { return _stats; }

private:
    Atomic<std::uint32_t> _next{0};
    Atomic<std::uint32_t> _serving{0};
    [[no_unique_address]] Stats _stats;
    [[no_unique_address]] Checks _checks;
};

}  // namespace keel::sync
