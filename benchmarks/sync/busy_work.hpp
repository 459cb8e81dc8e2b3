#pragma once

// Calibrated busy work for the sync benchmarks: critical sections and the work
// between acquisitions are given in nanoseconds and turned into rounds of a
// dependent multiply chain the compiler cannot fold away.

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>

namespace keel::bench {

inline std::uint64_t burn(std::uint64_t rounds, std::uint64_t x) noexcept {
    for (std::uint64_t i = 0; i < rounds; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        benchmark::DoNotOptimize(x);
    }
    return x;
}

/// Nanoseconds one round of burn() takes on this machine, measured once.
inline double ns_per_round() {
    static const double value = [] {
        constexpr std::uint64_t rounds = 20'000'000;
        const auto start = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(burn(rounds, 1));
        const std::chrono::duration<double, std::nano> took =
            std::chrono::steady_clock::now() - start;
        return took.count() / static_cast<double>(rounds);
    }();
    return value;
}

/// Rounds of burn() that take about `ns` nanoseconds.
inline std::uint64_t rounds_for(std::int64_t ns) {
    if (ns <= 0) return 0;
    return static_cast<std::uint64_t>(static_cast<double>(ns) / ns_per_round() + 0.5);
}

}  // namespace keel::bench
