#pragma once

#include <keel/platform/cpu.hpp>

#include <cstdint>
#include <thread>

namespace keel::sync {

/// Exponential backoff for ttas_lock, in cpu_relax rounds (one x86 `pause`: about
/// 10-50 ns depending on the core; ~140 cycles on Intel server cores since Skylake).
/// A waiter that finds the lock held, or loses the exchange, waits `initial` rounds,
/// then twice as many, and so on up to `ceiling`, and stays there. Once the delay has
/// reached `yield_from`, every wait ends with a sched_yield after its spin: on its own
/// core that costs a system call that returns at once, but when threads outnumber
/// cores it lets the holder (or whoever can make progress) run.
/// Why a high ceiling: under contention a waiter that looks at the lock often steals
/// its cache line from the thread that keeps reacquiring it, and every waiter that
/// sees it free races for it; waiters that back off far stay out of the way.
/// Why initial = 16: a first wait of a few hundred nanoseconds (as Concurrency Kit's
/// fas lock makes) kept ttas within 10% of it at 1-16 threads on a 16-core Xeon where
/// initial = 2 did not at 2 threads (benchmarks/RESULTS.md).
/// Requirements: 1 <= initial <= ceiling; yield_from may exceed ceiling (never yield).
struct backoff_policy {
    std::uint32_t initial = 16;
    std::uint32_t ceiling = 8192;
    std::uint32_t yield_from = 1024;

    /// Whether the policy is usable (ttas_lock rejects others at compile time).
    [[nodiscard]] constexpr bool valid() const noexcept {
        return initial >= 1 && initial <= ceiling && ceiling <= (1u << 30);
    }
    friend constexpr bool operator==(const backoff_policy&, const backoff_policy&) = default;
};

namespace detail {

// Spinning for the queue locks: cpu_relax for a bounded number of rounds, then
// sched_yield each round. Pure spinning is fastest while every thread has a core;
// once threads outnumber cores a waiter (and, for FIFO locks, the next in line) may
// be descheduled, and yielding lets the thread that can make progress run instead
// of burning the rest of a time slice.
class spinner {
public:
    static constexpr std::uint32_t relax_rounds = 256;

    void spin() noexcept {
        if (_rounds < relax_rounds) {
            platform::cpu_relax();
        } else {
            std::this_thread::yield();
        }
        ++_rounds;
    }
    [[nodiscard]] std::uint64_t rounds() const noexcept { return _rounds; }

private:
    std::uint64_t _rounds = 0;
};

// One waiter's exponential backoff under a backoff_policy (see there).
template <backoff_policy P>
requires(P.valid())
class backoff {
public:
    void pause() noexcept {
        for (std::uint32_t i = 0; i < _delay; ++i) platform::cpu_relax();
        if (_delay >= P.yield_from) std::this_thread::yield();
        if (_delay < P.ceiling) _delay = _delay > P.ceiling / 2 ? P.ceiling : _delay * 2;
        ++_rounds;
    }
    /// pause() calls so far.
    [[nodiscard]] std::uint64_t rounds() const noexcept { return _rounds; }
    /// The spin of the next pause(), in cpu_relax rounds.
    [[nodiscard]] std::uint32_t delay() const noexcept { return _delay; }
    /// Whether the next pause() ends with a yield.
    [[nodiscard]] bool yields() const noexcept { return _delay >= P.yield_from; }

private:
    std::uint32_t _delay = P.initial;
    std::uint64_t _rounds = 0;
};

}  // namespace detail
}  // namespace keel::sync
