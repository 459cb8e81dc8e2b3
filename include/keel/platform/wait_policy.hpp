#pragma once

#include <keel/platform/backend_status.hpp>
#include <keel/platform/cpu.hpp>
#include <keel/result.hpp>

#include <sched.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <concepts>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

namespace keel::platform {

/// The word every wait policy waits on: 32 bits, because that is what a futex is.
using wait_word = std::atomic<std::uint32_t>;

static_assert(sizeof(wait_word) == sizeof(std::uint32_t) && wait_word::is_always_lock_free,
              "a futex is a plain aligned 32-bit word");

/// A wait policy blocks a thread until a 32-bit word changes, and wakes such threads.
///  - p.wait(w, expected): returns once w != expected has been observed (acquire load);
///    never returns spuriously. noexcept: it cannot fail, only wait.
///  - p.wait_until(w, expected, deadline): the same, or errc::timed_out once the
///    steady_clock deadline has passed and w still holds `expected`.
///  - p.wake_one(w) / p.wake_all(w): called by whoever changed w, after the change;
///    noexcept. A policy that does not park threads makes them free.
///  - P::name and P::probe(): the backend's name and whether this machine offers it.
template <class P>
concept wait_policy = requires(P& p, const wait_word& cw, wait_word& w, std::uint32_t v,
                               std::chrono::steady_clock::time_point deadline) {
    { p.wait(cw, v) } noexcept -> std::same_as<void>;
    { p.wait_until(cw, v, deadline) } -> std::same_as<result<void>>;
    { p.wake_one(w) } noexcept;
    { p.wake_all(w) } noexcept;
    { P::name } -> std::convertible_to<std::string_view>;
    { P::probe() } -> std::same_as<backend_status>;
};

/// The steady_clock deadline `timeout` from now. A non-positive timeout is now; a huge
/// one (duration::max()) saturates at time_point::max() instead of overflowing into
/// the past. Shared by every timed wait in keel.
template <class Rep, class Period>
[[nodiscard]] std::chrono::steady_clock::time_point deadline_after(
    std::chrono::duration<Rep, Period> timeout) noexcept {
    using clock = std::chrono::steady_clock;
    const auto now = clock::now();
    if (timeout <= timeout.zero()) return now;
    const std::chrono::duration<double> asked = timeout;
    const std::chrono::duration<double> room = clock::time_point::max() - now;
    return asked >= room ? clock::time_point::max()
                         : now + std::chrono::ceil<clock::duration>(asked);
}

/// A deadline on any clock as a steady_clock deadline (another clock's is converted
/// once, relative to now, so later jumps of that clock are not followed).
template <class Clock, class Duration>
[[nodiscard]] std::chrono::steady_clock::time_point steady_deadline(
    std::chrono::time_point<Clock, Duration> deadline) noexcept {
    if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
        return std::chrono::time_point_cast<std::chrono::steady_clock::duration>(deadline);
    } else {
        return deadline_after(deadline - Clock::now());
    }
}

/// wait_until with a relative timeout (see deadline_after).
template <wait_policy P, class Rep, class Period>
[[nodiscard]] result<void> wait_for(P& policy, const wait_word& word, std::uint32_t expected,
                                    std::chrono::duration<Rep, Period> timeout) {
    return policy.wait_until(word, expected, deadline_after(timeout));
}

/// Whether a futex waits on words private to this process (cheaper: the kernel keys
/// them by address space) or on words in memory shared between processes.
enum class futex_scope { process_private, process_shared };

namespace detail {

// The futex system calls, out of line (a syscall dwarfs a call). Each returns 0 or the
// errno; sys_futex_wait_until converts the steady_clock deadline to an absolute
// CLOCK_MONOTONIC one (FUTEX_WAIT_BITSET), which is what steady_clock reads on Linux.
int sys_futex_wait(const wait_word& word, std::uint32_t expected, bool shared) noexcept;
int sys_futex_wait_until(const wait_word& word, std::uint32_t expected,
                         std::chrono::steady_clock::time_point deadline, bool shared) noexcept;
/// Wakes up to `count` waiters; returns how many it woke, or -errno.
int sys_futex_wake(const wait_word& word, int count, bool shared) noexcept;
/// Counts one wait that fell back to yielding because the kernel refused futex.
void note_futex_fallback() noexcept;
backend_status probe_futex(std::string_view name);

/// True for a futex errno that means "the kernel will not do this" (seccomp ENOSYS or
/// EPERM, ...), as opposed to the ordinary outcomes of a wait.
inline bool futex_refused(int err) noexcept {
    return err != 0 && err != EAGAIN && err != EINTR && err != ETIMEDOUT;
}

/// Spins `rounds` times (one cpu_relax each); true as soon as the word differs.
inline bool spin_for_change(const wait_word& word, std::uint32_t expected,
                            std::uint32_t rounds) noexcept {
    for (std::uint32_t i = 0; i < rounds; ++i) {
        if (word.load(std::memory_order_acquire) != expected) return true;
        cpu_relax();
    }
    return word.load(std::memory_order_acquire) != expected;
}

/// Yields the CPU until the word differs: the fallback when futex is refused.
inline void yield_until_changed(const wait_word& word, std::uint32_t expected) noexcept {
    while (word.load(std::memory_order_acquire) == expected) ::sched_yield();
}

inline result<void> yield_until_changed(const wait_word& word, std::uint32_t expected,
                                        std::chrono::steady_clock::time_point deadline) noexcept {
    while (word.load(std::memory_order_acquire) == expected) {
        if (std::chrono::steady_clock::now() >= deadline) {
            if (word.load(std::memory_order_acquire) != expected) return {};
            return keel::make_error_code(std::errc::timed_out);
        }
        ::sched_yield();
    }
    return {};
}

/// Parks on the futex until the word differs; yields instead if the kernel refuses.
inline void futex_park(const wait_word& word, std::uint32_t expected, bool shared) noexcept {
    while (word.load(std::memory_order_acquire) == expected) {
        if (futex_refused(sys_futex_wait(word, expected, shared))) {
            note_futex_fallback();
            yield_until_changed(word, expected);
            return;
        }
    }
}

inline result<void> futex_park_until(const wait_word& word, std::uint32_t expected,
                                     std::chrono::steady_clock::time_point deadline,
                                     bool shared) noexcept {
    while (word.load(std::memory_order_acquire) == expected) {
        const int err = sys_futex_wait_until(word, expected, deadline, shared);
        if (err == ETIMEDOUT) {
            // A change that raced with the deadline still counts as a change.
            if (word.load(std::memory_order_acquire) != expected) return {};
            return keel::make_error_code(std::errc::timed_out);
        }
        if (futex_refused(err)) {
            note_futex_fallback();
            return yield_until_changed(word, expected, deadline);
        }
    }
    return {};
}

}  // namespace detail

/// How many waits, process-wide, found the futex system call refused (seccomp, an
/// exotic kernel) and fell back to yielding until the word changed. Such waits stay
/// correct but burn CPU; a non-zero count says so. Thread-safe; one relaxed load.
[[nodiscard]] std::uint64_t futex_fallback_count() noexcept;

/// Busy-waits with cpu_relax, backing off exponentially (1, 2, 4, ... pauses between
/// loads, capped at max_backoff) so the spinner does not hammer the word's cache line.
/// Lowest wake-up latency when waiter and waker run on their own cores; burns its core
/// meanwhile and, when threads outnumber cores, may spin a whole time slice while the
/// waker waits to run. Wakes are free. Stateless: share it freely; thread-safe.
class spin_wait {
public:
    static constexpr std::string_view name = "spin";
    static constexpr std::uint32_t default_max_backoff = 64;

    constexpr explicit spin_wait(std::uint32_t max_backoff = default_max_backoff) noexcept
        : _max_backoff(max_backoff == 0 ? 1 : max_backoff) {}

    static backend_status probe();

    void wait(const wait_word& word, std::uint32_t expected) const noexcept {
        for (std::uint32_t backoff = 1; word.load(std::memory_order_acquire) == expected;) {
            for (std::uint32_t i = 0; i < backoff; ++i) cpu_relax();
            if (backoff < _max_backoff) backoff *= 2;
        }
    }

    [[nodiscard]] result<void> wait_until(const wait_word& word, std::uint32_t expected,
                                          std::chrono::steady_clock::time_point deadline) const noexcept {
        for (std::uint32_t backoff = 1; word.load(std::memory_order_acquire) == expected;) {
            if (std::chrono::steady_clock::now() >= deadline) {
                if (word.load(std::memory_order_acquire) != expected) return {};
                return keel::make_error_code(std::errc::timed_out);
            }
            for (std::uint32_t i = 0; i < backoff; ++i) cpu_relax();
            if (backoff < _max_backoff) backoff *= 2;
        }
        return {};
    }

    void wake_one(const wait_word&) const noexcept {}
    void wake_all(const wait_word&) const noexcept {}

    [[nodiscard]] constexpr std::uint32_t max_backoff() const noexcept { return _max_backoff; }

private:
    std::uint32_t _max_backoff;
};

/// Spins spin_rounds times (cpu_relax), then calls sched_yield between loads.
/// Cheap when the change comes within the spin; afterwards each check costs a
/// sched_yield system call (~100s of ns) and leaves the core to runnable threads,
/// but a waiter never sleeps, so it still uses CPU while nothing else runs.
/// Wakes are free. Stateless: share it freely; thread-safe.
class spin_yield_wait {
public:
    static constexpr std::string_view name = "spin_yield";
    static constexpr std::uint32_t default_spin_rounds = 128;

    constexpr explicit spin_yield_wait(std::uint32_t spin_rounds = default_spin_rounds) noexcept
        : _spin_rounds(spin_rounds) {}

    static backend_status probe();

    void wait(const wait_word& word, std::uint32_t expected) const noexcept {
        if (detail::spin_for_change(word, expected, _spin_rounds)) return;
        detail::yield_until_changed(word, expected);
    }

    [[nodiscard]] result<void> wait_until(const wait_word& word, std::uint32_t expected,
                                          std::chrono::steady_clock::time_point deadline) const noexcept {
        if (detail::spin_for_change(word, expected, _spin_rounds)) return {};
        return detail::yield_until_changed(word, expected, deadline);
    }

    void wake_one(const wait_word&) const noexcept {}
    void wake_all(const wait_word&) const noexcept {}

    [[nodiscard]] constexpr std::uint32_t spin_rounds() const noexcept { return _spin_rounds; }

private:
    std::uint32_t _spin_rounds;
};

/// Parks the thread in the kernel with futex: FUTEX_WAIT_BITSET (absolute
/// CLOCK_MONOTONIC deadline for wait_until) and FUTEX_WAKE. A waiter uses no CPU; a
/// wake-up costs a system call on each side plus a context switch (several µs), and
/// every wake_one/wake_all is a system call (~100s of ns) even with nobody waiting.
/// Scope: futex_wait (private: the cheaper kernel lookup) for words of one process,
/// shared_futex_wait for words in memory shared between processes.
/// If the kernel refuses futex at run time, waits fall back to yielding until the word
/// changes (counted by futex_fallback_count()). Stateless; thread-safe.
template <futex_scope Scope>
class basic_futex_wait {
public:
    static constexpr std::string_view name = "futex";
    static constexpr bool process_shared = Scope == futex_scope::process_shared;

    static backend_status probe() { return detail::probe_futex(name); }

    void wait(const wait_word& word, std::uint32_t expected) const noexcept {
        detail::futex_park(word, expected, process_shared);
    }

    [[nodiscard]] result<void> wait_until(const wait_word& word, std::uint32_t expected,
                                          std::chrono::steady_clock::time_point deadline) const noexcept {
        return detail::futex_park_until(word, expected, deadline, process_shared);
    }

    void wake_one(const wait_word& word) const noexcept {
        (void)detail::sys_futex_wake(word, 1, process_shared);
    }
    void wake_all(const wait_word& word) const noexcept {
        (void)detail::sys_futex_wake(word, INT_MAX, process_shared);
    }
};

using futex_wait = basic_futex_wait<futex_scope::process_private>;
using shared_futex_wait = basic_futex_wait<futex_scope::process_shared>;

/// Spins spin_rounds times (cpu_relax), then parks on the futex. The default spin
/// (32 rounds, about a µs) catches a partner already running on another core (a
/// cache-line round trip is ~200 ns) and costs little when it misses; where runnable
/// threads outnumber cores every spin only delays the partner, so pass 0 there.
/// It counts its parked threads, so a wake with nobody parked is one atomic
/// read-modify-write (~10 ns) instead of a system call; that count makes the policy
/// object stateful: it belongs with the word(s) it guards (a member next to them, in
/// the shared mapping too for the shared flavour), and every waiter and waker of those
/// words must use the same object. One object may guard several words (a wake then
/// costs a syscall when a thread is parked on any of them). Thread-safe; neither
/// copyable nor movable. Falls back to yielding like basic_futex_wait if the kernel
/// refuses futex.
template <futex_scope Scope>
class basic_hybrid_wait {
public:
    static constexpr std::string_view name = "hybrid";
    static constexpr bool process_shared = Scope == futex_scope::process_shared;
    static constexpr std::uint32_t default_spin_rounds = 32;

    constexpr explicit basic_hybrid_wait(std::uint32_t spin_rounds = default_spin_rounds) noexcept
        : _spin_rounds(spin_rounds) {}
    basic_hybrid_wait(const basic_hybrid_wait&) = delete;
    basic_hybrid_wait& operator=(const basic_hybrid_wait&) = delete;

    static backend_status probe() { return detail::probe_futex(name); }

    void wait(const wait_word& word, std::uint32_t expected) noexcept {
        if (detail::spin_for_change(word, expected, _spin_rounds)) return;
        enter();
        detail::futex_park(word, expected, process_shared);
        leave();
    }

    [[nodiscard]] result<void> wait_until(const wait_word& word, std::uint32_t expected,
                                          std::chrono::steady_clock::time_point deadline) noexcept {
        if (detail::spin_for_change(word, expected, _spin_rounds)) return {};
        enter();
        auto r = detail::futex_park_until(word, expected, deadline, process_shared);
        leave();
        return r;
    }

    void wake_one(const wait_word& word) noexcept {
        if (someone_parked()) (void)detail::sys_futex_wake(word, 1, process_shared);
    }
    void wake_all(const wait_word& word) noexcept {
        if (someone_parked()) (void)detail::sys_futex_wake(word, INT_MAX, process_shared);
    }

    /// Threads between "about to park" and "back from parking"; for diagnostics and tests.
    [[nodiscard]] std::uint32_t parked() const noexcept {
        return _parked.load(std::memory_order_relaxed);
    }
    [[nodiscard]] constexpr std::uint32_t spin_rounds() const noexcept { return _spin_rounds; }

private:
    // No lost wake-up without fences: the waker's word store precedes its RMW on
    // _parked. If that RMW reads 0 it precedes the waiter's increment in _parked's
    // modification order, so the waiter's acquire increment synchronises with it and
    // the waiter's next load sees the new word. If it reads non-zero the waker calls
    // FUTEX_WAKE, and the kernel orders that against the waiter's in-kernel check.
    void enter() noexcept { _parked.fetch_add(1, std::memory_order_acq_rel); }
    void leave() noexcept { _parked.fetch_sub(1, std::memory_order_release); }
    bool someone_parked() noexcept { return _parked.fetch_add(0, std::memory_order_acq_rel) != 0; }

    std::atomic<std::uint32_t> _parked{0};
    std::uint32_t _spin_rounds;
};

using hybrid_wait = basic_hybrid_wait<futex_scope::process_private>;
using shared_hybrid_wait = basic_hybrid_wait<futex_scope::process_shared>;

static_assert(wait_policy<spin_wait>);
static_assert(wait_policy<spin_yield_wait>);
static_assert(wait_policy<futex_wait>);
static_assert(wait_policy<shared_futex_wait>);
static_assert(wait_policy<hybrid_wait>);
static_assert(wait_policy<shared_hybrid_wait>);

/// Probes every wait policy, in order of preference for blocking waits:
/// hybrid, futex, spin_yield, spin. Thread-safe.
[[nodiscard]] std::vector<backend_status> probe_wait_policies();

}  // namespace keel::platform
