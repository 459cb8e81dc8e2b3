#pragma once

#include <keel/sync/detail/debug_checks.hpp>

#include <atomic>
#include <cstdint>
#include <type_traits>

/// KEEL_SYNC_DEBUG_CHECKS: 1 turns keel's lock misuse checks on, 0 off. Unset, it
/// follows the build type: on without NDEBUG (Debug), off with it (Release).
/// The setting picks the default `Checks` template argument of every keel lock, so
/// it is part of the lock's type: tas_lock<> names a different class in a TU built
/// with checks than in one built without, and a function taking a keel lock links
/// only against code built with the same setting (a link error, not a silent ODR
/// violation). A user class that merely embeds a keel lock does not change its own
/// name, though: keep the setting uniform across a program, or spell the Checks
/// argument (no_lock_checks / owner_lock_checks) in types shared across such TUs.
#ifndef KEEL_SYNC_DEBUG_CHECKS
#ifdef NDEBUG
#define KEEL_SYNC_DEBUG_CHECKS 0
#else
#define KEEL_SYNC_DEBUG_CHECKS 1
#endif
#endif

namespace keel::sync {

namespace detail {

// A cheap identity for the calling thread: the address of a thread_local, unique
// among live threads and never 0. (std::thread::id is not usable in an atomic.)
inline std::uintptr_t this_thread_token() noexcept {
    static thread_local char token;
    return reinterpret_cast<std::uintptr_t>(&token);
}

}  // namespace detail

/// The misuse-check policy a lock takes as its `Checks` template argument. A lock calls
/// before_lock(this) at the start of lock()/try_lock(), after_lock() once it holds the
/// lock, before_unlock(this) at the start of unlock(), on_destroy(this) in its destructor.
template <class C>
concept lock_checks_policy = requires(C& c, const void* p) {
    { C::enabled } -> std::convertible_to<bool>;
    c.before_lock(p);
    c.after_lock();
    c.before_unlock(p);
    c.on_destroy(p);
    c.adopt();
};

/// No checks (the default with NDEBUG): an empty type stored with
/// [[no_unique_address]]; adds no bytes and no instructions.
struct no_lock_checks {
    static constexpr bool enabled = false;
    void before_lock(const void*) noexcept {}
    void after_lock() noexcept {}
    void before_unlock(const void*) noexcept {}
    void on_destroy(const void*) noexcept {}
    void adopt() noexcept {}
};

/// Owner tracking (the default without NDEBUG): records which thread holds the lock
/// and aborts through detail::lock_misuse, with a message naming the misuse, on
/// lock()/try_lock() by the thread that already holds it, unlock() by a thread that
/// does not hold it (or of a free lock), and destruction of a held lock.
/// A lock deliberately handed to another thread is declared there with adopt().
/// Thread-safe (a relaxed atomic word). Cost: 8 bytes and a relaxed load/store
/// per operation.
class owner_lock_checks {
public:
    static constexpr bool enabled = true;

    void before_lock(const void* lock) noexcept {
        if (_owner.load(std::memory_order_relaxed) == detail::this_thread_token()) {
            detail::lock_misuse("relock: the thread that holds this non-recursive lock locked it again",
                                lock);
        }
    }
    void after_lock() noexcept { _owner.store(detail::this_thread_token(), std::memory_order_relaxed); }
    void before_unlock(const void* lock) noexcept {
        const std::uintptr_t owner = _owner.load(std::memory_order_relaxed);
        if (owner != detail::this_thread_token()) {
            detail::lock_misuse(owner == 0 ? "unlock of a lock that is not held"
                                           : "unlock by a thread that does not hold the lock",
                                lock);
        }
        _owner.store(0, std::memory_order_relaxed);
    }
    void on_destroy(const void* lock) noexcept {
        if (_owner.load(std::memory_order_relaxed) != 0) {
            detail::lock_misuse("destroying a lock that is held", lock);
        }
    }
    void adopt() noexcept { after_lock(); }

private:
    std::atomic<std::uintptr_t> _owner{0};
};

static_assert(lock_checks_policy<no_lock_checks>);
static_assert(lock_checks_policy<owner_lock_checks>);

/// The Checks argument keel's locks default to, chosen by KEEL_SYNC_DEBUG_CHECKS.
using default_lock_checks =
    std::conditional_t<KEEL_SYNC_DEBUG_CHECKS != 0, owner_lock_checks, no_lock_checks>;

}  // namespace keel::sync
