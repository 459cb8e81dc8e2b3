#pragma once

#include <keel/sync/detail/debug_checks.hpp>
#include <keel/sync/futex_mutex.hpp>
#include <keel/sync/lock_checks.hpp>
#include <keel/sync/lockable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace keel::sync {

/// Reentrant lock over any keel (or standard) lock: the owning thread may lock again,
/// and must unlock as many times; the inner Lock is taken on the first lock and
/// released on the last unlock. try_lock exists when Lock is lockable, try_lock_for /
/// try_lock_until when it is timed_lockable. With Checks enabled (debug builds by
/// default), unlock by a thread that does not hold it and destroying it while held
/// abort with a message (the owner is tracked anyway, so the check costs a branch).
/// Thread-safe. Cost: sizeof(Lock) + 8 (owner) + 4 (depth) bytes, padded; a relock by
/// the owner is a relaxed load and an increment; a first lock adds a relaxed load and
/// store to Lock's own cost. Fairness and parking are Lock's.
template <basic_lockable Lock = futex_mutex<>, class Checks = default_lock_checks>
class recursive_mutex {
public:
    recursive_mutex() = default;
    recursive_mutex(const recursive_mutex&) = delete;
    recursive_mutex& operator=(const recursive_mutex&) = delete;
    ~recursive_mutex() {
        if constexpr (Checks::enabled) {
            if (_owner.load(std::memory_order_relaxed) != 0) {
                detail::lock_misuse("destroying a lock that is held", this);
            }
        }
    }

    void lock() {
        if (owned()) {
            ++_depth;
            return;
        }
        _lock.lock();
        take();
    }

    [[nodiscard]] bool try_lock() requires lockable<Lock> {
        if (owned()) {
            ++_depth;
            return true;
        }
        if (!_lock.try_lock()) return false;
        take();
        return true;
    }

    template <class Rep, class Period>
    [[nodiscard]] bool try_lock_for(std::chrono::duration<Rep, Period> timeout) requires
        timed_lockable<Lock> {
        if (owned()) {
            ++_depth;
            return true;
        }
        if (!_lock.try_lock_for(timeout)) return false;
        take();
        return true;
    }

    template <class Clock, class Duration>
    [[nodiscard]] bool try_lock_until(std::chrono::time_point<Clock, Duration> deadline) requires
        timed_lockable<Lock> {
        if (owned()) {
            ++_depth;
            return true;
        }
        if (!_lock.try_lock_until(deadline)) return false;
        take();
        return true;
    }

    void unlock() {
        if constexpr (Checks::enabled) {
            const std::uintptr_t owner = _owner.load(std::memory_order_relaxed);
            if (owner != detail::this_thread_token()) {
                detail::lock_misuse(owner == 0 ? "unlock of a lock that is not held"
                                               : "unlock by a thread that does not hold the lock",
                                    this);
            }
        }
        if (--_depth != 0) return;
        _owner.store(0, std::memory_order_relaxed);
        _lock.unlock();
    }

    /// Whether the calling thread holds the lock (exact for the caller).
    [[nodiscard]] bool held_by_this_thread() const noexcept { return owned(); }
    /// How many times the owner has locked it; meaningful on the owning thread only.
    [[nodiscard]] std::uint32_t depth() const noexcept { return owned() ? _depth : 0; }
    /// The inner lock (its stats(), is_locked() hint ...).
    [[nodiscard]] const Lock& inner() const noexcept { return _lock; }

private:
    // Only the owner stores its own token, so a relaxed load that reads it was
    // written by this very thread; any other value means "not me".
    [[nodiscard]] bool owned() const noexcept {
        return _owner.load(std::memory_order_relaxed) == detail::this_thread_token();
    }
    void take() noexcept {
        _owner.store(detail::this_thread_token(), std::memory_order_relaxed);
        _depth = 1;
    }

    Lock _lock;
    std::atomic<std::uintptr_t> _owner{0};
    std::uint32_t _depth = 0;  // touched by the owner only, under _lock
};

}  // namespace keel::sync
