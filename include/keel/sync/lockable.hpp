#pragma once

#include <chrono>
#include <concepts>

namespace keel::sync {

/// The standard BasicLockable requirement as a concept: lock() blocks until the
/// calling thread holds the lock, unlock() releases it. std::lock_guard needs this.
template <class L>
concept basic_lockable = requires(L& l) {
    l.lock();
    l.unlock();
};

/// The standard Lockable requirement: basic_lockable plus a non-blocking try_lock()
/// whose result tests as bool. std::unique_lock, std::scoped_lock, std::lock and
/// std::condition_variable_any work with such a type.
template <class L>
concept lockable = basic_lockable<L> && requires(L& l) {
    { l.try_lock() } -> std::convertible_to<bool>;
};

/// The standard TimedLockable requirement: lockable plus try_lock_for(duration) and
/// try_lock_until(time_point). Checked with steady_clock, the clock keel's waits use.
template <class L>
concept timed_lockable = lockable<L> && requires(L& l, std::chrono::milliseconds d,
                                                 std::chrono::steady_clock::time_point t) {
    { l.try_lock_for(d) } -> std::convertible_to<bool>;
    { l.try_lock_until(t) } -> std::convertible_to<bool>;
};

}  // namespace keel::sync
