#pragma once

#include <keel/platform/cpu.hpp>
#include <keel/platform/wait_policy.hpp>
#include <keel/sync/detail/debug_checks.hpp>
#include <keel/sync/lock_checks.hpp>
#include <keel/sync/lock_stats.hpp>
#include <keel/sync/wait_policy_for.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <type_traits>

namespace keel::sync {

/// shared_mutex policy: readers enter whenever no writer holds the lock, even while
/// writers wait. Best read throughput; a steady stream of readers can starve writers.
/// A thread may take the shared lock again while it holds it (it never waits then).
struct prefer_readers {
    static constexpr bool writers_first = false;
};

/// shared_mutex policy: once a writer waits, new readers wait behind it, so writers
/// do not starve (readers can, under a steady stream of writers). A thread that
/// already holds the shared lock may take it again without waiting, even while a
/// writer waits (the read -> write -> read pattern does not deadlock); see
/// shared_mutex for how, and for the cross-thread pattern it does not cover.
struct prefer_writers {
    static constexpr bool writers_first = true;
};

namespace detail {

/// One shared lock a thread holds: which, and how many times (recursion depth).
struct shared_hold {
    const void* lock;
    std::uint32_t depth;
};

/// The shared locks (of writer-preferring shared_mutexes) the calling thread holds.
/// Small and flat: a thread rarely holds more than a couple at once. Holds beyond
/// `capacity` are counted in `untracked`; while that is non-zero the thread treats
/// every shared lock it takes as possibly recursive (see shared_mutex).
struct shared_hold_table {
    static constexpr std::uint32_t capacity = 16;
    shared_hold holds[capacity];
    std::uint32_t size;
    std::uint32_t untracked;

    shared_hold* find(const void* lock) noexcept {
        for (std::uint32_t i = 0; i < size; ++i) {
            if (holds[i].lock == lock) return &holds[i];
        }
        return nullptr;
    }
    void add(const void* lock) noexcept {
        if (size == capacity) {
            ++untracked;
        } else {
            holds[size++] = shared_hold{lock, 1};
        }
    }
    void remove(shared_hold* h) noexcept { *h = holds[--size]; }
};

/// The calling thread's table. Out of line on purpose: one table per thread in the
/// whole process, however many shared objects include this header (an inline
/// thread_local would be duplicated per DSO under hidden visibility).
shared_hold_table& this_thread_shared_holds() noexcept;

}  // namespace detail

/// Reader/writer lock: SharedLockable and SharedTimedLockable (lock_shared,
/// try_lock_shared, try_lock_shared_for/until, unlock_shared) besides timed_lockable
/// for the exclusive side; works with std::shared_lock, std::unique_lock and
/// std::scoped_lock. Policy is prefer_writers (default) or prefer_readers.
///
/// State: one 64-bit word (writer bit, counts of waiting writers, waiting readers and
/// holding readers). Readers park on one 32-bit sequence word and writers on another
/// through the wait policy (default futex_wait), so a writer's release wakes all
/// readers or one writer, never both kinds at once under prefer_writers. Waiters spin
/// briefly before parking. Every wake is decided from the word after the change that
/// enables it; a waiter that times out passes on any wake it may have absorbed.
///
/// Recursive reads (the read -> write -> read pattern). Guarantee: a thread that holds
/// the shared lock may call lock_shared / try_lock_shared (timed too) on it again and
/// never waits, whatever the policy and whether writers wait; it calls unlock_shared
/// as often. Under prefer_readers that falls out of the policy. Under prefer_writers
/// each thread keeps a small table of the writer-preferring shared locks it holds and
/// their depth (detail::shared_hold_table, 16 entries, out of line): a re-entry only
/// bumps the depth and touches no shared state, so it cannot queue behind a writer.
/// Past 16 distinct locks held at once, that thread lets every shared acquisition of
/// a writer-preferring lock bypass waiting writers (correct, only less writer-fair).
/// Not covered: a thread that holds the shared lock and waits for ANOTHER thread to
/// take it (directly or through a task it waits on) deadlocks under prefer_writers
/// once a writer waits, as with any writer-preferring lock; use prefer_readers there.
/// Shared ownership belongs to a thread: unlock_shared on the thread that locked.
///
/// Checks (debug builds by default): unlock by a non-owner, destroying a held lock,
/// and lock_shared by the thread holding it exclusively (a certain self-deadlock) all
/// abort with a message; under prefer_writers also unlock_shared without a shared
/// hold and lock() by a thread holding the shared lock (an upgrade, which deadlocks).
/// Thread-safe. Cost: 16 bytes (+8 with owner checks, +40 with lock_stats; a
/// hybrid_wait policy adds its parked count). Uncontended: lock/unlock one CAS and one
/// RMW; lock_shared/unlock_shared one CAS and one fetch_sub, plus, under
/// prefer_writers, an out-of-line call and a scan of the thread's short table.
template <class Policy = prefer_writers, template <class> class Atomic = std::atomic,
          class Wait = platform::futex_wait, class Stats = no_lock_stats,
          class Checks = default_lock_checks, std::uint32_t SpinRounds = 100>
requires wait_policy_for<Wait, Atomic>
class shared_mutex {
public:
    using policy = Policy;
    /// Spin rounds of a blocked lock or lock_shared before it registers and parks.
    static constexpr std::uint32_t spin_rounds = SpinRounds;

    shared_mutex() noexcept = default;
    shared_mutex(const shared_mutex&) = delete;
    shared_mutex& operator=(const shared_mutex&) = delete;
    ~shared_mutex() {
        _checks.on_destroy(this);
        if constexpr (Checks::enabled) {
            if ((_state.load(std::memory_order_relaxed) & readers_mask) != 0) {
                detail::lock_misuse("destroying a lock that is held", this);
            }
        }
    }

    // ---- exclusive ------------------------------------------------------------

    void lock() noexcept {
        before_exclusive();
        word s = 0;
        if (_state.compare_exchange_strong(s, writer, std::memory_order_acquire,
                                           std::memory_order_relaxed)) [[likely]] {
            _stats.on_acquire(false, 0);
        } else {
            _stats.on_wait();
            std::uint64_t spins = 0;
            (void)lock_slow(spins, nullptr);
            _stats.on_acquire(true, spins);
        }
        _checks.after_lock();
    }

    [[nodiscard]] bool try_lock() noexcept {
        before_exclusive();
        word s = _state.load(std::memory_order_relaxed);
        while ((s & (writer | readers_mask)) == 0) {
            if (_state.compare_exchange_weak(s, s | writer, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
                _stats.on_acquire(false, 0);
                _checks.after_lock();
                return true;
            }
        }
        return false;
    }

    template <class Rep, class Period>
    [[nodiscard]] bool try_lock_for(std::chrono::duration<Rep, Period> timeout) noexcept {
        return try_lock_until_steady(platform::deadline_after(timeout));
    }
    template <class Clock, class Duration>
    [[nodiscard]] bool try_lock_until(std::chrono::time_point<Clock, Duration> deadline) noexcept {
        return try_lock_until_steady(platform::steady_deadline(deadline));
    }

    void unlock() noexcept {
        _checks.before_unlock(this);
        const word old = _state.fetch_sub(writer, std::memory_order_acq_rel);
        if ((old & (writers_waiting_mask | readers_waiting_mask)) != 0) wake_after(old - writer);
    }

    // ---- shared -----------------------------------------------------------------

    void lock_shared() noexcept {
        _checks.before_lock(this);  // the exclusive holder asking for shared: deadlock
        if constexpr (writers_first) {
            auto& table = detail::this_thread_shared_holds();
            if (detail::shared_hold* h = table.find(this)) {
                ++h->depth;
                _stats.on_acquire(false, 0);
                return;
            }
            acquire_shared(table.untracked != 0);
            table.add(this);
        } else {
            acquire_shared(false);
        }
    }

    [[nodiscard]] bool try_lock_shared() noexcept {
        _checks.before_lock(this);
        bool bypass = false;
        if constexpr (writers_first) {
            auto& table = detail::this_thread_shared_holds();
            if (detail::shared_hold* h = table.find(this)) {
                ++h->depth;
                _stats.on_acquire(false, 0);
                return true;
            }
            bypass = table.untracked != 0;
        }
        word s = _state.load(std::memory_order_relaxed);
        while (reader_may_enter(s, bypass)) {
            if (_state.compare_exchange_weak(s, s + reader, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
                _stats.on_acquire(false, 0);
                if constexpr (writers_first) detail::this_thread_shared_holds().add(this);
                return true;
            }
        }
        return false;
    }

    template <class Rep, class Period>
    [[nodiscard]] bool try_lock_shared_for(std::chrono::duration<Rep, Period> timeout) noexcept {
        return try_lock_shared_until_steady(platform::deadline_after(timeout));
    }
    template <class Clock, class Duration>
    [[nodiscard]] bool try_lock_shared_until(
        std::chrono::time_point<Clock, Duration> deadline) noexcept {
        return try_lock_shared_until_steady(platform::steady_deadline(deadline));
    }

    void unlock_shared() noexcept {
        if constexpr (writers_first) {
            auto& table = detail::this_thread_shared_holds();
            if (detail::shared_hold* h = table.find(this)) {
                if (--h->depth != 0) return;
                table.remove(h);
            } else if (table.untracked != 0) {
                --table.untracked;
            } else if constexpr (Checks::enabled) {
                detail::lock_misuse("unlock_shared by a thread that holds no shared lock on it",
                                    this);
            }
        }
        const word old = _state.fetch_sub(reader, std::memory_order_acq_rel);
        if constexpr (Checks::enabled) {
            if ((old & readers_mask) == 0)
                detail::lock_misuse("unlock_shared of a lock that is not held shared", this);
        }
        // Only the last reader out can enable a writer.
        if ((old & readers_mask) == reader && (old & writers_waiting_mask) != 0) wake_writer();
    }

    // ---- hints and diagnostics ----------------------------------------------------

    /// Declares that the calling thread now owns the exclusive lock another thread took.
    void adopt() noexcept { _checks.adopt(); }
    /// Racy hints, for tests and diagnostics.
    [[nodiscard]] bool is_locked() const noexcept {
        return (_state.load(std::memory_order_relaxed) & writer) != 0;
    }
    [[nodiscard]] std::uint32_t readers() const noexcept {
        return static_cast<std::uint32_t>(_state.load(std::memory_order_relaxed) & readers_mask);
    }
    [[nodiscard]] std::uint32_t writers_waiting() const noexcept {
        return static_cast<std::uint32_t>(
            (_state.load(std::memory_order_relaxed) & writers_waiting_mask) >>
            writers_waiting_shift);
    }
    [[nodiscard]] std::uint32_t readers_waiting() const noexcept {
        return static_cast<std::uint32_t>(
            (_state.load(std::memory_order_relaxed) & readers_waiting_mask) >>
            readers_waiting_shift);
    }
    [[nodiscard]] const Stats& stats() const noexcept { return _stats; }
    [[nodiscard]] const Wait& wait_policy() const noexcept { return _wait; }

private:
    using word = std::uint64_t;
    using time_point = std::chrono::steady_clock::time_point;
    static constexpr bool writers_first = Policy::writers_first;

    // 21 bits each for holding readers, waiting readers and waiting writers; top bit:
    // a writer holds the lock.
    static constexpr unsigned field_bits = 21;
    static constexpr word field_mask = (word{1} << field_bits) - 1;
    static constexpr word reader = 1;
    static constexpr word readers_mask = field_mask;
    static constexpr unsigned readers_waiting_shift = field_bits;
    static constexpr word reader_waiting = word{1} << readers_waiting_shift;
    static constexpr word readers_waiting_mask = field_mask << readers_waiting_shift;
    static constexpr unsigned writers_waiting_shift = 2 * field_bits;
    static constexpr word writer_waiting = word{1} << writers_waiting_shift;
    static constexpr word writers_waiting_mask = field_mask << writers_waiting_shift;
    static constexpr word writer = word{1} << 63;

    static bool reader_may_enter(word s, bool bypass) noexcept {
        if ((s & writer) != 0) return false;
        if constexpr (writers_first) {
            if (!bypass && (s & writers_waiting_mask) != 0) return false;
        }
        return true;
    }
    static bool writer_may_enter(word s) noexcept { return (s & (writer | readers_mask)) == 0; }


    void before_exclusive() noexcept {
        _checks.before_lock(this);
        if constexpr (writers_first && Checks::enabled) {
            if (detail::this_thread_shared_holds().find(this) != nullptr) {
                detail::lock_misuse(
                    "lock() by a thread that holds a shared lock on it: an upgrade deadlocks",
                    this);
            }
        }
    }

    void wake_readers() noexcept {
        _reader_seq.fetch_add(1, std::memory_order_release);
        _wait.wake_all(_reader_seq);
    }
    void wake_writer() noexcept {
        _writer_seq.fetch_add(1, std::memory_order_release);
        _wait.wake_one(_writer_seq);
    }

    // The wakes owed after a change (an unlock, a waiter leaving) that left `after`.
    void wake_after(word after) noexcept {
        if ((after & writer) != 0) return;
        const bool writers_wait = (after & writers_waiting_mask) != 0;
        const bool readers_wait = (after & readers_waiting_mask) != 0;
        const bool no_readers = (after & readers_mask) == 0;
        if constexpr (writers_first) {
            // With writers waiting, readers stay parked; if readers still hold, the
            // last of them wakes a writer.
            if (writers_wait) {
                if (no_readers) wake_writer();
            } else if (readers_wait) {
                wake_readers();
            }
        } else {
            if (readers_wait) wake_readers();
            if (writers_wait && no_readers) wake_writer();
        }
    }

    // Blocks until this thread holds the exclusive lock (deadline == nullptr) or the
    // deadline passes (false).
    bool lock_slow(std::uint64_t& spins, const time_point* deadline) noexcept {
        return acquire_slow(
            _writer_seq, writer_waiting, [this](word s) { return writer_may_enter(s); },
            [](word s) { return s | writer; },
            [this] {
                const word old = _state.fetch_sub(writer_waiting, std::memory_order_acq_rel);
                wake_after(old - writer_waiting);  // pass on a wake this thread may have had
            },
            spins, deadline);
    }

    // The reader's counterpart, on _reader_seq and a reader_waiting unit.
    bool lock_shared_slow(bool bypass, std::uint64_t& spins, const time_point* deadline) noexcept {
        return acquire_slow(
            _reader_seq, reader_waiting, [this, bypass](word s) { return reader_may_enter(s, bypass); },
            [this](word s) {
                if constexpr (Checks::enabled) {
                    if ((s & readers_mask) == readers_mask) {
                        detail::lock_misuse("shared_mutex: too many shared holds", this);
                    }
                }
                return s + reader;
            },
            [this] {
                // Readers are woken all at once, so a leaving reader owes nobody a wake.
                (void)_state.fetch_sub(reader_waiting, std::memory_order_relaxed);
            },
            spins, deadline);
    }

    // The slow path of both sides. A waiter registers in the word (one `waiting_unit`)
    // with a release CAS made after reading its side's sequence word, so whoever later
    // enables it sees the unit in its acquire RMW and bumps the sequence after this
    // thread's read of it: no lost wake-up. `entered(s)` is the word with this thread
    // in; `give_up()` withdraws the unit when the deadline passes.
    template <class MayEnter, class Entered, class GiveUp>
    bool acquire_slow(Atomic<std::uint32_t>& sequence, word waiting_unit, MayEnter may_enter, Entered entered,
                      GiveUp give_up, std::uint64_t& spins, const time_point* deadline) noexcept {
        bool registered = false;
        for (;;) {
            const std::uint32_t seq = sequence.load(std::memory_order_acquire);
            word s = _state.load(std::memory_order_relaxed);
            for (;;) {
                if (may_enter(s)) {
                    const word next = entered(s) - (registered ? waiting_unit : 0);
                    if (_state.compare_exchange_weak(s, next, std::memory_order_acquire,
                                                     std::memory_order_relaxed)) {
                        return true;
                    }
                } else if (!registered && spins < spin_rounds) {
                    break;
                } else if (registered) {
                    break;
                } else if (_state.compare_exchange_weak(s, s + waiting_unit, std::memory_order_release,
                                                        std::memory_order_relaxed)) {
                    registered = true;
                    break;
                }
            }
            if (!registered) {
                ++spins;
                platform::cpu_relax();
                continue;
            }
            _stats.on_park();
            if (deadline == nullptr) {
                _wait.wait(sequence, seq);
            } else if (!_wait.wait_until(sequence, seq, *deadline).has_value()) {
                give_up();
                return false;
            }
        }
    }

    void acquire_shared(bool bypass) noexcept {
        word s = _state.load(std::memory_order_relaxed);
        if (reader_may_enter(s, bypass) && (s & readers_mask) != readers_mask &&
            _state.compare_exchange_weak(s, s + reader, std::memory_order_acquire,
                                         std::memory_order_relaxed)) [[likely]] {
            _stats.on_acquire(false, 0);
            return;
        }
        _stats.on_wait();
        std::uint64_t spins = 0;
        (void)lock_shared_slow(bypass, spins, nullptr);
        _stats.on_acquire(true, spins);
    }

    bool try_lock_until_steady(time_point deadline) noexcept {
        before_exclusive();
        word s = 0;
        std::uint64_t spins = 0;
        if (_state.compare_exchange_strong(s, writer, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
            _stats.on_acquire(false, 0);
        } else if (lock_slow(spins, &deadline)) {
            _stats.on_wait();  // counted on success only: lock_stats cannot undo a wait
            _stats.on_acquire(true, spins);
        } else {
            return false;
        }
        _checks.after_lock();
        return true;
    }

    bool try_lock_shared_until_steady(time_point deadline) noexcept {
        _checks.before_lock(this);
        bool bypass = false;
        if constexpr (writers_first) {
            auto& table = detail::this_thread_shared_holds();
            if (detail::shared_hold* h = table.find(this)) {
                ++h->depth;
                _stats.on_acquire(false, 0);
                return true;
            }
            bypass = table.untracked != 0;
        }
        word s = _state.load(std::memory_order_relaxed);
        std::uint64_t spins = 0;
        if (reader_may_enter(s, bypass) && (s & readers_mask) != readers_mask &&
            _state.compare_exchange_strong(s, s + reader, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
            _stats.on_acquire(false, 0);
        } else if (lock_shared_slow(bypass, spins, &deadline)) {
            _stats.on_wait();
            _stats.on_acquire(true, spins);
        } else {
            return false;
        }
        if constexpr (writers_first) detail::this_thread_shared_holds().add(this);
        return true;
    }

    Atomic<word> _state{0};
    Atomic<std::uint32_t> _reader_seq{0};
    Atomic<std::uint32_t> _writer_seq{0};
    [[no_unique_address]] Wait _wait;
    [[no_unique_address]] Stats _stats;
    [[no_unique_address]] Checks _checks;
};

}  // namespace keel::sync
