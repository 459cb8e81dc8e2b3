#pragma once

#include <keel/platform/cpu.hpp>
#include <keel/sync/detail/spin.hpp>
#include <keel/sync/lock_checks.hpp>
#include <keel/sync/lock_stats.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace keel::sync {

namespace detail {

// A CLH queue node: its owner sets `locked` while it waits for or holds the lock;
// its successor spins on it. One cache line, so that pool nodes allocated side by
// side do not share the lines their waiters spin on.
template <template <class> class Atomic>
struct alignas(platform::cache_line_size) clh_node {
    Atomic<std::uint32_t> locked{0};
    clh_node* free_next = nullptr;  // link in a thread's free list, used only there
};

// Per-thread free list of CLH nodes. CLH nodes migrate: a releasing thread leaves its
// node to its successor and takes its predecessor's. Keeping them per thread (not
// per lock) lets a thread hold any number of CLH locks and lets locks be handed over.
// Bounded: beyond `max_cached` nodes (a thread that only unlocks what others lock)
// the extra nodes are freed.
template <template <class> class Atomic>
class clh_node_pool {
public:
    using node = clh_node<Atomic>;
    static constexpr std::size_t max_cached = 64;

    clh_node_pool() = default;
    clh_node_pool(const clh_node_pool&) = delete;
    clh_node_pool& operator=(const clh_node_pool&) = delete;
    ~clh_node_pool() {
        while (_head != nullptr) delete std::exchange(_head, _head->free_next);
    }

    static clh_node_pool& local() noexcept {
        static thread_local clh_node_pool pool;
        return pool;
    }
    node* take() {
        if (_head == nullptr) return new node;
        --_count;
        return std::exchange(_head, _head->free_next);
    }
    void give(node* n) noexcept {
        if (_count == max_cached) {
            delete n;
            return;
        }
        n->free_next = std::exchange(_head, n);
        ++_count;
    }

private:
    node* _head = nullptr;
    std::size_t _count = 0;
};

}  // namespace detail

/// CLH queue lock (Craig; Landin & Hagersten): a waiter swaps its node into the
/// tail and spins on its predecessor's node. FIFO, one exchange to join the queue.
///
/// Lockable with no node in the caller's signature: nodes come from a small
/// per-thread pool (a node is allocated only when the calling thread's pool is empty,
/// e.g. on its first lock), and the holder's node and its predecessor's are kept in
/// the lock while it is held. So a thread may hold several CLH locks at once, and a
/// held lock may be unlocked by another thread (hand-off; declare it with adopt()
/// when debug checks are on).
///
/// try_lock: plain CLH cannot leave the queue once it has joined, so keel marks the
/// tail word with a "held or waited for" bit; a release that finds itself last clears
/// the bit (a CAS), and try_lock succeeds only by swinging an unmarked tail (a free
/// lock) to its own marked node. An unmarked tail value can reappear only through
/// another such release, which again means "free", so that CAS cannot be fooled by
/// node reuse (no ABA). The price: an uncontended unlock is a CAS plus a store
/// instead of a store.
/// Cost: 24 bytes (+8 with owner checks, +40 with lock_stats) plus one 64-byte
/// heap node per lock and up to 64 cached per thread; uncontended lock+unlock is one
/// exchange, one CAS, two stores. The constructor allocates (may throw bad_alloc).
template <template <class> class Atomic = std::atomic, class Stats = no_lock_stats,
          class Checks = default_lock_checks>
class clh_lock {
public:
    clh_lock() : _tail(reinterpret_cast<std::uintptr_t>(new node)) {}
    clh_lock(const clh_lock&) = delete;
    clh_lock& operator=(const clh_lock&) = delete;
    ~clh_lock() {
        _checks.on_destroy(this);
        // Free, the lock refers only to its last node (no one else references it).
        delete unmark(_tail.load(std::memory_order_acquire));
    }

    void lock() {
        _checks.before_lock(this);
        node* n = pool::local().take();
        n->locked.store(1, std::memory_order_relaxed);
        // acq_rel: publishes locked = 1 to our successor; acquires the predecessor.
        node* pred = unmark(_tail.exchange(mark(n), std::memory_order_acq_rel));
        if (pred->locked.load(std::memory_order_acquire) != 0) {
            _stats.on_wait();
            detail::spinner spin;
            do {
                spin.spin();
            } while (pred->locked.load(std::memory_order_acquire) != 0);
            _stats.on_acquire(true, spin.rounds());
        } else {
            _stats.on_acquire(false, 0);
        }
        _holder = n;
        _pred = pred;
        _checks.after_lock();
    }

    [[nodiscard]] bool try_lock() {
        _checks.before_lock(this);
        std::uintptr_t tail = _tail.load(std::memory_order_relaxed);
        if (is_marked(tail)) return false;
        node* n = pool::local().take();
        n->locked.store(1, std::memory_order_relaxed);
        if (!_tail.compare_exchange_strong(tail, mark(n), std::memory_order_acq_rel,
                                           std::memory_order_relaxed)) {
            n->locked.store(0, std::memory_order_relaxed);
            pool::local().give(n);
            return false;
        }
        _stats.on_acquire(false, 0);
        _holder = n;
        _pred = unmark(tail);
        _checks.after_lock();
        return true;
    }

    void unlock() noexcept {
        _checks.before_unlock(this);
        node* n = _holder;
        node* pred = _pred;
        // Last in line: clear the mark so try_lock can see the lock is free. Our node
        // cannot be reused by anyone while we hold it, so this CAS has no ABA.
        std::uintptr_t expected = mark(n);
        (void)_tail.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(n),
                                            std::memory_order_release,
                                            std::memory_order_relaxed);
        n->locked.store(0, std::memory_order_release);  // hands n to our successor
        // pred is ours now. If we got the lock by try_lock, pred's previous owner may
        // not have stored its `locked = 0` yet: wait (a few instructions) before reuse.
        wait_unlocked(pred);
        pool::local().give(pred);
    }

    /// Declares that the calling thread now owns a lock another thread acquired.
    void adopt() noexcept { _checks.adopt(); }
    /// Whether some thread holds or waits for the lock (a racy hint, for tests).
    [[nodiscard]] bool is_locked() const noexcept { return is_marked(_tail.load(std::memory_order_relaxed)); }
    [[nodiscard]] const Stats& stats() const noexcept { return _stats; }

private:
    using node = detail::clh_node<Atomic>;
    using pool = detail::clh_node_pool<Atomic>;

    static std::uintptr_t mark(node* n) noexcept { return reinterpret_cast<std::uintptr_t>(n) | 1U; }
    static bool is_marked(std::uintptr_t w) noexcept { return (w & 1U) != 0; }
    static node* unmark(std::uintptr_t w) noexcept {
        return reinterpret_cast<node*>(w & ~static_cast<std::uintptr_t>(1));
    }
    static void wait_unlocked(node* n) noexcept {
        detail::spinner spin;
        while (n->locked.load(std::memory_order_acquire) != 0) spin.spin();
    }

    Atomic<std::uintptr_t> _tail;  // last node in line, | 1 while held or waited for
    node* _holder = nullptr;       // the holder's node; written and read under the lock
    node* _pred = nullptr;         // its predecessor's node, ours once we hold the lock
    [[no_unique_address]] Stats _stats;
    [[no_unique_address]] Checks _checks;
};

}  // namespace keel::sync
