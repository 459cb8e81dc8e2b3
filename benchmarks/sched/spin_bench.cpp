// Spin-lock analyses: run time per system at realistic sizes (4-16 cores, 5-10 tasks per
// core, 8 global resources), MSRP and PWLP (per-request bounds) against FRAP (flow bound
// per fixed-point step; fixed levels, the assignment with evidence, and the assignment
// for a verdict only, as the sweep runs it), same systems for all.
#include <keel/sched/spin_locks.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

namespace {

using namespace keel::sched;

std::vector<spin_system> systems(benchmark::State& state) {
    spin_generator_options o;
    o.cores = static_cast<std::size_t>(state.range(0));
    o.tasks_per_core = static_cast<std::size_t>(state.range(1));
    o.utilization = 0.4;
    o.resources = 8;
    o.access_probability = 0.2;
    o.max_requests = 3;
    o.cs_min = 1;
    o.cs_max = 25;
    std::vector<spin_system> out;
    for (std::uint64_t seed = 1; seed <= 16; ++seed)
        out.push_back(generate_spin_system(o, seed));
    return out;
}

template <class F>
void run(benchmark::State& state, F&& analyse) {
    const std::vector<spin_system> sets = systems(state);
    std::size_t k = 0, accepted = 0;
    for (auto _ : state) {
        const spin_result r = analyse(sets[k]);
        accepted += r.schedulable ? 1 : 0;
        benchmark::DoNotOptimize(r.tasks.data());
        k = (k + 1) % sets.size();
    }
    state.counters["systems/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["accepted"] =
        static_cast<double>(accepted) / static_cast<double>(state.iterations());
}

void BM_spin_msrp(benchmark::State& s) {
    run(s, [](const spin_system& x) { return msrp_analysis(x); });
}
void BM_spin_pwlp(benchmark::State& s) {
    run(s, [](const spin_system& x) { return pwlp_analysis(x); });
}
void BM_spin_frap_fixed_levels(benchmark::State& s) {
    run(s, [](const spin_system& x) { return frap_analysis(x, pwlp_levels(x)); });
}
void BM_spin_frap_assignment(benchmark::State& s) {
    run(s, [](const spin_system& x) { return frap(x); });
}
void BM_spin_frap_assignment_verdict(benchmark::State& s) {
    run(s, [](const spin_system& x) { return frap(x, false); });
}

#define KEEL_SPIN_SIZES \
    ->Args({4, 5})->Args({8, 5})->Args({8, 10})->Args({16, 10})->Unit(benchmark::kMicrosecond)
BENCHMARK(BM_spin_msrp) KEEL_SPIN_SIZES;
BENCHMARK(BM_spin_pwlp) KEEL_SPIN_SIZES;
BENCHMARK(BM_spin_frap_fixed_levels) KEEL_SPIN_SIZES;
BENCHMARK(BM_spin_frap_assignment) KEEL_SPIN_SIZES;
BENCHMARK(BM_spin_frap_assignment_verdict) KEEL_SPIN_SIZES;

}  // namespace
