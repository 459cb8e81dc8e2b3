// Multi-rate schedule randomisation (randomize.hpp) costs:
// - randomize/enumerate: the pruned depth-first enumeration of schedulable period
//   combinations, against the baseline randomize/brute_force (fp_schedulable on every
//   combination), on the same generated systems: n tasks, up to 3 admissible periods each
//   (menu 10, 12, 15, 20, 30, 40, 60, 120, stretch <= 3), nominal utilisation 0.70 or 0.95
//   (the second argument, in percent), RM order, no cap. The baseline gives the verdicts
//   only (no response times, nothing stored), the enumeration stores every schedulable
//   combination with its evidence. items_per_second = systems enumerated per second;
//   counters: combinations in total, schedulable, RTAs per system.
// - randomize/decide: one run-time switch decision (schedule_randomizer::decide) with a
//   pool of 64 combinations: the O(1) draw a scheduler makes at a safe point.
// - randomize/vulnerability: the vulnerability of one combination (one simulated
//   hyperperiod) for the middle-priority task.
#include <keel/sched/fp.hpp>
#include <keel/sched/randomize.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <numeric>
#include <vector>

using namespace keel::sched;

namespace {

std::vector<multirate_system> systems(std::size_t n, std::size_t count, double u = 0.7) {
    multirate_generator_options o;
    o.n = n;
    o.utilization = u;
    o.period_menu = {10, 12, 15, 20, 30, 40, 60, 120};
    o.alternatives = 2;
    std::vector<multirate_system> out;
    for (std::uint64_t s = 1; out.size() < count; ++s)
        out.push_back(generate_multirate_system(o, s));
    return out;
}

void enumerate(benchmark::State& state) {
    const auto sets = systems(static_cast<std::size_t>(state.range(0)), 64,
                              static_cast<double>(state.range(1)) / 100.0);
    enumeration_options options;
    options.max_combinations = 1'000'000;
    std::size_t k = 0;
    double total = 0, found = 0, rtas = 0, runs = 0;
    for (auto _ : state) {
        const auto r = enumerate_schedulable(sets[k++ % sets.size()], options);
        benchmark::DoNotOptimize(r.combinations.data());
        total += static_cast<double>(r.total);
        found += static_cast<double>(r.combinations.size());
        rtas += static_cast<double>(r.rta_calls);
        runs += 1;
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["combinations"] = total / runs;
    state.counters["schedulable"] = found / runs;
    state.counters["rtas"] = rtas / runs;
}

void brute_force(benchmark::State& state) {
    const auto sets = systems(static_cast<std::size_t>(state.range(0)), 64,
                              static_cast<double>(state.range(1)) / 100.0);
    std::vector<std::vector<std::vector<std::size_t>>> choices;
    for (const auto& s : sets)
        choices.push_back(every_choice(s));
    std::size_t k = 0;
    double found = 0, runs = 0;
    for (auto _ : state) {
        const std::size_t i = k++ % sets.size();
        std::size_t ok = 0;
        for (const auto& c : choices[i])
            ok += fp_schedulable(sets[i].instantiate(c)) ? 1U : 0U;
        benchmark::DoNotOptimize(ok);
        found += static_cast<double>(ok);
        runs += 1;
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["schedulable"] = found / runs;
}

void decide(benchmark::State& state) {
    std::vector<std::size_t> pool(64);
    std::iota(pool.begin(), pool.end(), std::size_t{0});
    schedule_randomizer r(pool, 42);
    time_value now = 0;
    std::size_t current = 0;
    for (auto _ : state) {
        current = r.decide(now++, current);
        benchmark::DoNotOptimize(current);
    }
    state.SetItemsProcessed(state.iterations());
}

void vulnerability(benchmark::State& state) {
    const auto sets = systems(static_cast<std::size_t>(state.range(0)), 16);
    std::vector<std::pair<std::size_t, period_combination>> work;
    for (std::size_t i = 0; i < sets.size(); ++i) {
        const auto r = enumerate_schedulable(sets[i]);
        if (!r.combinations.empty()) work.emplace_back(i, r.combinations.front());
    }
    std::size_t k = 0;
    for (auto _ : state) {
        const auto& [i, c] = work[k++ % work.size()];
        const auto v = vulnerability_of(sets[i], c, sets[i].tasks.size() / 2);
        benchmark::DoNotOptimize(v.vulnerability);
    }
    state.SetItemsProcessed(state.iterations());
}

}  // namespace

// Args: n, nominal utilisation in percent.
BENCHMARK(enumerate)->Name("randomize/enumerate")->ArgsProduct({{5, 8, 10}, {70, 95}});
BENCHMARK(brute_force)->Name("randomize/brute_force")->ArgsProduct({{5, 8, 10}, {70, 95}});
BENCHMARK(decide)->Name("randomize/decide");
BENCHMARK(vulnerability)->Name("randomize/vulnerability")->Arg(5)->Arg(10);
