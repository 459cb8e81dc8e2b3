#pragma once

#include <keel/platform/backend_status.hpp>
#include <keel/result.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>

/// Deterministic interleaving for testing concurrent code (the idea of folly's
/// DeterministicSchedule, written for keel).
///
/// How to use it: write the code under test against `template <class> class Atomic`
/// (as every keel::sync primitive is), instantiate it with deterministic_atomic, and
/// run the threads through a deterministic_schedule:
///
///     for (std::uint64_t seed = 1; seed <= 500; ++seed) {
///         testing::deterministic_schedule sched(seed);
///         mcs_lock<testing::deterministic_atomic> lock;
///         sched.run(3, [&](std::size_t) { lock.lock(); /* check */ lock.unlock(); });
///     }
///
/// The threads are real threads, but only one runs at a time. Every operation on a
/// deterministic_atomic is a scheduling point at which a PRNG seeded with `seed` picks
/// the next thread to run, so a run is a function of its seed: a failure found with
/// one seed replays with that seed. Data that the code under test shares must live in
/// deterministic_atomic (plain variables are not scheduling points; they are safe to
/// use inside critical sections the code under test is supposed to protect).
/// Blocking code uses deterministic_wait (the wait policy) or deterministic_atomic's
/// wait/notify; a thread blocked there is not scheduled until woken.
///
/// The harness reports, with the seed, and aborts: a deadlock (every live thread
/// blocked) and a run longer than max_steps scheduling points (a livelock or a thread
/// spinning on something that cannot change). Invariant failures are the caller's to
/// check; report the seed with them (first_failing_seed helps).
///
/// Limits: interleavings are explored under sequential consistency: the memory_order
/// arguments are passed to the real atomics but the harness does not simulate weaker
/// orderings (use TSan and hardware stress for those). compare_exchange_weak fails
/// spuriously now and then, as real hardware may. Time is not modelled: a timed wait
/// may time out whenever the scheduler picks it while it is still blocked.
namespace keel::sync::testing {

/// Runs threads one at a time, switching at scheduling points chosen by a seeded PRNG.
/// Independent schedules may run at once on different threads. Not copyable.
/// Cost: a thread switch (mutex + condition variable hand-off, several µs) per
/// scheduling point that picks another thread.
class deterministic_schedule {
public:
    /// max_steps bounds the scheduling points of one run().
    explicit deterministic_schedule(std::uint64_t seed, std::uint64_t max_steps = 5'000'000);
    deterministic_schedule(const deterministic_schedule&) = delete;
    deterministic_schedule& operator=(const deterministic_schedule&) = delete;
    ~deterministic_schedule();

    /// Runs body(0) ... body(threads - 1) on `threads` new threads under this schedule
    /// and joins them. If a body throws, the first exception is rethrown here (the other
    /// threads must still be able to finish). Later runs continue the PRNG stream.
    void run(std::size_t threads, const std::function<void(std::size_t)>& body);

    [[nodiscard]] std::uint64_t seed() const noexcept;
    /// Scheduling points passed so far (all runs).
    [[nodiscard]] std::uint64_t steps() const noexcept;

    // Hooks for deterministic_atomic and deterministic_wait; they act on the calling
    // thread's schedule and do nothing for a thread that is not run by one.

    /// Whether the calling thread runs under a schedule.
    [[nodiscard]] static bool active() noexcept;
    /// A scheduling point: the PRNG picks which thread runs next (maybe the caller).
    static void point() noexcept;
    /// A PRNG draw in [0, bound), for choices such as spurious CAS failure; 0 when
    /// not under a schedule.
    [[nodiscard]] static std::uint64_t random(std::uint64_t bound) noexcept;
    /// Blocks the caller on `key` until wake(key, ...) picks it: returns true. A
    /// `timed` block may instead time out when the scheduler picks it: returns false.
    static bool block(const void* key, bool timed) noexcept;
    /// Makes up to `count` threads blocked on `key` runnable (chosen by the PRNG).
    static void wake(const void* key, std::size_t count) noexcept;

    struct state;  // the implementation's (src/sync/deterministic_schedule.cpp)

private:
    std::unique_ptr<state> _state;
};

/// Runs trial(seed) for seeds first, first + 1, ... (count of them); trial returns
/// true when its run was correct. Returns the first failing seed, if any.
template <class Trial>
[[nodiscard]] std::optional<std::uint64_t> first_failing_seed(std::uint64_t first,
                                                              std::uint64_t count, Trial&& trial) {
    for (std::uint64_t seed = first; seed < first + count; ++seed) {
        if (!trial(seed)) return seed;
    }
    return std::nullopt;
}

/// A std::atomic<T> look-alike whose every operation is a scheduling point of the
/// calling thread's deterministic_schedule (and a plain atomic operation for other
/// threads). Same interface as std::atomic for load, store, exchange,
/// compare_exchange_weak/strong, fetch_add/sub/and/or/xor, wait/notify_one/notify_all.
/// Cost: the size of std::atomic<T>; a scheduling point per operation.
template <class T>
class deterministic_atomic {
public:
    using value_type = T;
    using difference_type = std::conditional_t<std::is_pointer_v<T>, std::ptrdiff_t, T>;
    static constexpr bool is_always_lock_free = std::atomic<T>::is_always_lock_free;

    constexpr deterministic_atomic() noexcept(std::is_nothrow_default_constructible_v<T>) : _a(T()) {}
    constexpr deterministic_atomic(T v) noexcept : _a(v) {}  // NOLINT: implicit like std::atomic
    deterministic_atomic(const deterministic_atomic&) = delete;
    deterministic_atomic& operator=(const deterministic_atomic&) = delete;

    T load(std::memory_order o = std::memory_order_seq_cst) const noexcept {
        deterministic_schedule::point();
        return _a.load(o);
    }
    void store(T v, std::memory_order o = std::memory_order_seq_cst) noexcept {
        deterministic_schedule::point();
        _a.store(v, o);
    }
    operator T() const noexcept { return load(); }  // NOLINT: implicit like std::atomic
    T operator=(T v) noexcept {
        store(v);
        return v;
    }
    T exchange(T v, std::memory_order o = std::memory_order_seq_cst) noexcept {
        deterministic_schedule::point();
        return _a.exchange(v, o);
    }
    bool compare_exchange_strong(T& expected, T desired, std::memory_order success,
                                 std::memory_order failure) noexcept {
        deterministic_schedule::point();
        return _a.compare_exchange_strong(expected, desired, success, failure);
    }
    bool compare_exchange_strong(T& expected, T desired,
                                 std::memory_order o = std::memory_order_seq_cst) noexcept {
        return compare_exchange_strong(expected, desired, o, failure_order(o));
    }
    bool compare_exchange_weak(T& expected, T desired, std::memory_order success,
                               std::memory_order failure) noexcept {
        deterministic_schedule::point();
        if (deterministic_schedule::random(8) == 0) {  // spurious failure, 1 in 8
            expected = _a.load(failure);
            return false;
        }
        return _a.compare_exchange_strong(expected, desired, success, failure);
    }
    bool compare_exchange_weak(T& expected, T desired,
                               std::memory_order o = std::memory_order_seq_cst) noexcept {
        return compare_exchange_weak(expected, desired, o, failure_order(o));
    }

    T fetch_add(difference_type d, std::memory_order o = std::memory_order_seq_cst) noexcept
        requires(std::is_integral_v<T> || std::is_pointer_v<T>) {
        deterministic_schedule::point();
        return _a.fetch_add(d, o);
    }
    T fetch_sub(difference_type d, std::memory_order o = std::memory_order_seq_cst) noexcept
        requires(std::is_integral_v<T> || std::is_pointer_v<T>) {
        deterministic_schedule::point();
        return _a.fetch_sub(d, o);
    }
    T fetch_and(T v, std::memory_order o = std::memory_order_seq_cst) noexcept
        requires std::is_integral_v<T> {
        deterministic_schedule::point();
        return _a.fetch_and(v, o);
    }
    T fetch_or(T v, std::memory_order o = std::memory_order_seq_cst) noexcept
        requires std::is_integral_v<T> {
        deterministic_schedule::point();
        return _a.fetch_or(v, o);
    }
    T fetch_xor(T v, std::memory_order o = std::memory_order_seq_cst) noexcept
        requires std::is_integral_v<T> {
        deterministic_schedule::point();
        return _a.fetch_xor(v, o);
    }

    /// Blocks while the value equals `old` (C++20 atomic wait); woken by notify_*.
    void wait(T old, std::memory_order o = std::memory_order_seq_cst) const noexcept {
        while (load(o) == old) {
            if (deterministic_schedule::active()) {
                deterministic_schedule::block(this, false);
            } else {
                std::this_thread::yield();
            }
        }
    }
    void notify_one() noexcept { deterministic_schedule::wake(this, 1); }
    void notify_all() noexcept { deterministic_schedule::wake(this, SIZE_MAX); }

    [[nodiscard]] bool is_lock_free() const noexcept { return _a.is_lock_free(); }

private:
    static constexpr std::memory_order failure_order(std::memory_order o) noexcept {
        if (o == std::memory_order_acq_rel) return std::memory_order_acquire;
        if (o == std::memory_order_release) return std::memory_order_relaxed;
        return o;
    }

    std::atomic<T> _a;
};

/// The wait policy for code run under a deterministic_schedule: the shape of
/// platform::wait_policy (and of keel::sync::wait_policy_for) over
/// deterministic_atomic<std::uint32_t>. A blocking primitive written as
/// `template <template <class> class Atomic, class Wait>` is explored by instantiating
/// it with <deterministic_atomic, deterministic_wait>. Under a schedule, wait() blocks
/// the thread until a wake on the same word picks it (a lost wake-up shows up as a
/// reported deadlock); wait_until() may also time out at any scheduling point (time
/// is not modelled, so every timeout path gets explored). Outside a schedule it
/// spins with yield. Stateless; thread-safe.
struct deterministic_wait {
    static constexpr std::string_view name = "deterministic";
    static platform::backend_status probe() {
        return {"wait_policy", std::string(name), true, "testing: deterministic_schedule"};
    }

    void wait(const deterministic_atomic<std::uint32_t>& word, std::uint32_t expected) const noexcept {
        while (word.load(std::memory_order_acquire) == expected) {
            if (deterministic_schedule::active()) {
                deterministic_schedule::block(&word, false);
            } else {
                std::this_thread::yield();
            }
        }
    }
    result<void> wait_until(const deterministic_atomic<std::uint32_t>& word, std::uint32_t expected,
                            std::chrono::steady_clock::time_point deadline) const {
        while (word.load(std::memory_order_acquire) == expected) {
            if (deterministic_schedule::active()) {
                if (!deterministic_schedule::block(&word, true) &&
                    word.load(std::memory_order_acquire) == expected) {
                    return keel::make_error_code(std::errc::timed_out);
                }
            } else {
                if (std::chrono::steady_clock::now() >= deadline) {
                    return keel::make_error_code(std::errc::timed_out);
                }
                std::this_thread::yield();
            }
        }
        return {};
    }
    void wake_one(deterministic_atomic<std::uint32_t>& word) const noexcept {
        deterministic_schedule::wake(&word, 1);
    }
    void wake_all(deterministic_atomic<std::uint32_t>& word) const noexcept {
        deterministic_schedule::wake(&word, SIZE_MAX);
    }
};

}  // namespace keel::sync::testing
