#pragma once

#include <keel/platform/cpu.hpp>

#include <cstdint>
#include <thread>

namespace keel::sync::detail {

// Spinning for the spin locks: cpu_relax for a bounded number of rounds, then
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

// Exponential backoff for test-and-test-and-set: after a failed exchange wait
// 1, 2, 4, ... up to max_delay cpu_relax rounds, so that contending threads stop
// hammering the line in step; yields once the delay is capped and still failing.
class backoff {
public:
    static constexpr std::uint32_t max_delay = 1024;

    void pause() noexcept {
        if (_delay < max_delay) {
            for (std::uint32_t i = 0; i < _delay; ++i) platform::cpu_relax();
            _delay *= 2;
        } else {
            std::this_thread::yield();
        }
        ++_rounds;
    }
    [[nodiscard]] std::uint64_t rounds() const noexcept { return _rounds; }

private:
    std::uint32_t _delay = 1;
    std::uint64_t _rounds = 0;
};

}  // namespace keel::sync::detail
