// ROS 2 chain analysis throughput: systems analysed per second by ros2_analyze under the
// default and the priority-driven executor, at realistic sizes: 5, 10 and 20 chains of 2-5
// callbacks on 4 and 8 threads, total utilisation 0.15 * threads, periods log-uniform in
// [100, 1 000] ticks, implicit deadlines, groups mutually exclusive with probability 1/2
// (ros2_generate, seeded). Baseline in the same binary: one simulation of the same system
// over 10 000 ticks (the check the analysis replaces), per system.
// Systems are generated before timing; items_per_second = systems per second on one core.
// Counters: iterations = holistic rounds per system; schedulable = share accepted.
#include <keel/sched/ros2.hpp>
#include <keel/sched/ros2_simulate.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

using namespace keel::sched;

namespace {

constexpr std::size_t systems_per_point = 64;

std::vector<ros2_system> make_systems(std::size_t chains, std::size_t threads) {
    ros2_generator_options o;
    o.chains = chains;
    o.threads = threads;
    o.utilization = 0.15 * static_cast<double>(threads);
    o.period_max = 1000;
    std::vector<ros2_system> out;
    for (std::size_t i = 0; i < systems_per_point; ++i) out.push_back(ros2_generate(o, 1000 + i));
    return out;
}

void run_analysis(benchmark::State& state, ros2_executor ex) {
    const auto systems = make_systems(static_cast<std::size_t>(state.range(0)), static_cast<std::size_t>(state.range(1)));
    std::size_t i = 0;
    std::int64_t rounds = 0, accepted = 0, done = 0;
    for (auto _ : state) {
        const ros2_result r = ros2_analyze(systems[i], ex);
        benchmark::DoNotOptimize(r.schedulable);
        rounds += r.iterations;
        accepted += r.schedulable ? 1 : 0;
        ++done;
        i = (i + 1) % systems.size();
    }
    state.SetItemsProcessed(done);
    state.counters["iterations"] = static_cast<double>(rounds) / static_cast<double>(done);
    state.counters["schedulable"] = static_cast<double>(accepted) / static_cast<double>(done);
}

void ros2_default(benchmark::State& state) { run_analysis(state, ros2_executor::default_executor); }
void ros2_priority(benchmark::State& state) { run_analysis(state, ros2_executor::priority_driven); }

void ros2_simulate_baseline(benchmark::State& state) {
    const auto systems = make_systems(static_cast<std::size_t>(state.range(0)), static_cast<std::size_t>(state.range(1)));
    std::size_t i = 0;
    std::int64_t done = 0;
    for (auto _ : state) {
        const ros2_sim_result r = ros2_simulate(systems[i], ros2_executor::default_executor, {.horizon = 10'000});
        benchmark::DoNotOptimize(r.jobs);
        ++done;
        i = (i + 1) % systems.size();
    }
    state.SetItemsProcessed(done);
}

void sizes(benchmark::internal::Benchmark* b) {
    for (int chains : {5, 10, 20})
        for (int threads : {4, 8}) b->Args({chains, threads});
    b->ArgNames({"chains", "threads"});
}

}  // namespace

BENCHMARK(ros2_default)->Apply(sizes);
BENCHMARK(ros2_priority)->Apply(sizes);
BENCHMARK(ros2_simulate_baseline)->Apply(sizes);
