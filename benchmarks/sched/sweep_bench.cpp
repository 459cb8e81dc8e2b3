// The parallel sweep's scaling with threads (keel::sched::sweep on oneTBB).
// Workload per iteration: n = 10, implicit deadlines, UUniFast-Discard, periods
// log-uniform in [10, 1000]; U = 0.70, 0.75, ..., 0.95 (6 points) x 200 sets = 1200 sets,
// each generated and checked by FP-RTA (deadline-monotonic) and EDF-QPA.
// items_per_second = task sets (generation + both tests) per second of wall-clock time.
// Thread counts: 1, 2, 4, 8, 16, those above the machine's hardware concurrency left
// out. Baseline in the same binary: the same sets and tests in a plain serial loop
// (no TBB), so sweep/threads:1 against serial_loop is the parallel machinery's overhead.
#include <keel/sched/edf.hpp>
#include <keel/sched/experiment.hpp>
#include <keel/sched/fp.hpp>
#include <keel/sched/priority_assignment.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <span>
#include <thread>
#include <vector>

using namespace keel::sched;

namespace {

sweep_options workload() {
    sweep_options o;
    o.generator.n = 10;
    o.generator.period_min = 10;
    o.generator.period_max = 1000;
    o.u_min = 0.70;
    o.u_max = 0.95;
    o.u_step = 0.05;
    o.sets_per_point = 200;
    o.seed = 42;
    return o;
}

bool fp_dm(std::span<const task> s) {
    return fp_schedulable(apply_priority_order(s, deadline_monotonic(s)));
}

bool edf(std::span<const task> s) {
    return edf_qpa(s).schedulable;
}

const std::vector<named_test>& tests() {
    static const std::vector<named_test> t{{"fp-rta", fp_dm}, {"edf-qpa", edf}};
    return t;
}

void bm_sweep(benchmark::State& state) {
    sweep_options o = workload();
    o.threads = static_cast<std::size_t>(state.range(0));
    std::size_t sets = 0, accepted = 0;
    for (auto _ : state) {
        const sweep_result r = sweep(tests(), o);
        for (const sweep_point& p : r.points) {
            sets += p.sets;
            accepted += p.accepted[0];
        }
        benchmark::DoNotOptimize(accepted);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(sets));
}

/// The baseline: one thread, no TBB, the same seeds (sweep's per-set seeds are internal,
/// so this loop draws its own; the work per set is the same).
void bm_serial_loop(benchmark::State& state) {
    const sweep_options o = workload();
    const std::vector<double> us = sweep_utilizations(o);
    std::size_t sets = 0, accepted = 0;
    for (auto _ : state) {
        std::uint64_t seed = o.seed;
        for (const double u : us)
            for (std::size_t s = 0; s < o.sets_per_point; ++s) {
                generator_options g = o.generator;
                g.utilization = u;
                const task_set ts = generate_task_set(g, ++seed);
                accepted += fp_dm(ts.view()) ? 1U : 0U;
                accepted += edf(ts.view()) ? 1U : 0U;
                ++sets;
            }
        benchmark::DoNotOptimize(accepted);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(sets));
}

void thread_counts(benchmark::internal::Benchmark* b) {
    const unsigned hw = std::thread::hardware_concurrency();
    for (const int t : {1, 2, 4, 8, 16})
        if (t == 1 || static_cast<unsigned>(t) <= hw) b->Arg(t);
}

}  // namespace

BENCHMARK(bm_sweep)
    ->Name("sweep/threads")
    ->Apply(thread_counts)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(bm_serial_loop)->Name("sweep/serial_loop")->UseRealTime()->Unit(benchmark::kMillisecond);
