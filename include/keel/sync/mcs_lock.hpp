#pragma once

#include <keel/platform/cpu.hpp>
#include <keel/sync/detail/spin.hpp>
#include <keel/sync/lock_checks.hpp>
#include <keel/sync/lock_stats.hpp>

#include <atomic>
#include <cstdint>

namespace keel::sync {

namespace detail {

// What a queue predecessor writes its successor's address into: a waiter's node,
// or the lock's own stand-in for a holder that has no node (see mcs_lock).
template <template <class> class Atomic>
struct mcs_link {
    Atomic<mcs_link*> next{nullptr};
};

}  // namespace detail

/// A queue node for mcs_lock's explicit-node form: the caller owns it, passes the same
/// node to lock() and unlock(), and keeps it alive and unused elsewhere in between.
/// One cache line (64 bytes), so the flag a waiter spins on shares its line with
/// nothing else.
template <template <class> class Atomic = std::atomic>
struct alignas(platform::cache_line_size) mcs_node : detail::mcs_link<Atomic> {
    Atomic<std::uint32_t> waiting{0};
};

/// MCS queue lock (Mellor-Crummey & Scott): waiters form a linked queue and each
/// spins on its own node, so a release touches only the next waiter's line. FIFO.
///
/// Lockable with no node in the caller's signature (std::lock_guard, unique_lock,
/// scoped_lock, condition_variable_any work): a waiter queues a node on its own
/// stack, and once it holds the lock it moves its queue position into a stand-in
/// link inside the lock (the K42 variant of MCS), so the holder keeps no node.
/// Hence a thread may hold any number of MCS locks at once, in any nesting order, and
/// a held lock may be unlocked by another thread (hand-off; declare it with adopt()
/// when debug checks are on). The explicit-node form lock(node)/unlock(node) skips
/// that move (one CAS less per contended acquisition); both forms may be mixed on one
/// lock, but each unlock must match its lock's form (and node).
/// try_lock: succeeds only when nobody holds or waits (one CAS).
/// Cost: 16 bytes (+8 with owner checks, +40 with lock_stats), plus a 64-byte stack
/// node while waiting; uncontended lock+unlock is two CASes.
template <template <class> class Atomic = std::atomic, class Stats = no_lock_stats,
          class Checks = default_lock_checks>
class mcs_lock {
public:
    using node = mcs_node<Atomic>;

    mcs_lock() noexcept = default;
    mcs_lock(const mcs_lock&) = delete;
    mcs_lock& operator=(const mcs_lock&) = delete;
    ~mcs_lock() { _checks.on_destroy(this); }

    void lock() noexcept {
        _checks.before_lock(this);
        link* expected = nullptr;
        if (_tail.compare_exchange_strong(expected, &_self, std::memory_order_acquire,
                                          std::memory_order_relaxed)) {
            _stats.on_acquire(false, 0);
        } else {
            node n;
            enqueue(n);
            move_to_stand_in(n);
        }
        _checks.after_lock();
    }

    [[nodiscard]] bool try_lock() noexcept { return try_take(&_self); }

    void unlock() noexcept {
        _checks.before_unlock(this);
        release(&_self);
    }

    /// Explicit-node form: `n` must stay alive and untouched until unlock(n).
    void lock(node& n) noexcept {
        _checks.before_lock(this);
        enqueue(n);
        _checks.after_lock();
    }
    [[nodiscard]] bool try_lock(node& n) noexcept {
        n.next.store(nullptr, std::memory_order_relaxed);
        return try_take(&n);
    }
    void unlock(node& n) noexcept {
        _checks.before_unlock(this);
        release(&n);
    }

    /// Declares that the calling thread now owns a lock another thread acquired.
    void adopt() noexcept { _checks.adopt(); }
    /// Whether some thread holds the lock (a racy hint, for tests and diagnostics).
    [[nodiscard]] bool is_locked() const noexcept { return _tail.load(std::memory_order_relaxed) != nullptr; }
    [[nodiscard]] const Stats& stats() const noexcept { return _stats; }

private:
    using link = detail::mcs_link<Atomic>;

    bool try_take(link* holder) noexcept {
        _checks.before_lock(this);
        link* expected = nullptr;
        if (!_tail.compare_exchange_strong(expected, holder, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
            return false;
        }
        _stats.on_acquire(false, 0);
        _checks.after_lock();
        return true;
    }

    // Classic MCS acquire with `n` as the caller's node; returns holding the lock.
    void enqueue(node& n) noexcept {
        n.next.store(nullptr, std::memory_order_relaxed);
        n.waiting.store(1, std::memory_order_relaxed);
        // acq_rel: publishes n's initialisation to the next waiter, and acquires
        // the predecessor's node (its initialisation) before we write into it.
        link* prev = _tail.exchange(&n, std::memory_order_acq_rel);
        if (prev == nullptr) {
            _stats.on_acquire(false, 0);
            return;
        }
        _stats.on_wait();
        prev->next.store(&n, std::memory_order_release);
        detail::spinner spin;
        while (n.waiting.load(std::memory_order_acquire) != 0) spin.spin();
        _stats.on_acquire(true, spin.rounds());
    }

    // The holder of stack node `n` moves its queue position into _self so that n can
    // die: its successor (if any) becomes _self's successor; if there is none, the
    // tail is swung from n to _self. _self.next is null here (unlock clears it).
    void move_to_stand_in(node& n) noexcept {
        link* succ = n.next.load(std::memory_order_acquire);
        if (succ == nullptr) {
            link* expected = &n;
            if (_tail.compare_exchange_strong(expected, &_self, std::memory_order_acq_rel,
                                              std::memory_order_relaxed)) {
                return;
            }
            // A waiter swapped itself in behind n and is about to link into n.
            detail::spinner spin;
            while ((succ = n.next.load(std::memory_order_acquire)) == nullptr) spin.spin();
        }
        _self.next.store(succ, std::memory_order_relaxed);
    }

    // Releases the lock held through `holder` (_self or the caller's node).
    void release(link* holder) noexcept {
        link* succ = holder->next.load(std::memory_order_acquire);
        if (succ == nullptr) {
            link* expected = holder;
            if (_tail.compare_exchange_strong(expected, nullptr, std::memory_order_release,
                                              std::memory_order_relaxed)) {
                return;
            }
            detail::spinner spin;
            while ((succ = holder->next.load(std::memory_order_acquire)) == nullptr) spin.spin();
        }
        // Keep _self.next null while no holder uses it: the next holder through _self
        // (fast path, or a waiter moving in) expects that. Nobody else writes it now:
        // a waiter links into _self only while _tail == &_self, which it no longer is.
        if (holder == &_self) _self.next.store(nullptr, std::memory_order_relaxed);
        // Only nodes ever queue behind a holder, so succ is a node.
        static_cast<node*>(succ)->waiting.store(0, std::memory_order_release);
    }

    Atomic<link*> _tail{nullptr};  // null: free; &_self or a node: the last in line
    link _self;                    // stands in for a holder that has no node
    [[no_unique_address]] Stats _stats;
    [[no_unique_address]] Checks _checks;
};

}  // namespace keel::sync
