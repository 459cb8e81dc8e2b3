// Global multiprocessor tests: analysis time per task set for each test of global.hpp
// (G-FP: Bertogna-Cirinei RTA, Guan et al. limited carry-in RTA; G-EDF: GFB, BCL, RTA with
// slack iteration), the keel tests compared against each other on the same sets.
// Sets (generated before timing, 256 per configuration): m = 4, 8 cores, n = 16, 32, 64
// tasks, total utilisation 0.6 m (where the tests disagree most), RandFixedSum per-task
// utilisations in [0, 1], periods log-uniform in [10 000, 1 000 000] ticks, constrained
// deadlines D uniform in [C + (T - C)/2, T], deadline-monotonic priorities for G-FP.
// items_per_second = task sets analysed per second on one core; "accepted" = the
// fraction of the sets the test accepts (same sets for every test).
#include <keel/sched/generate.hpp>
#include <keel/sched/global.hpp>
#include <keel/sched/priority_assignment.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

using namespace keel::sched;

namespace {

constexpr std::size_t sets_per_config = 256;

const std::vector<std::vector<task>>& sets_for(std::size_t m, std::size_t n) {
    static std::map<std::pair<std::size_t, std::size_t>, std::vector<std::vector<task>>> cache;
    auto& sets = cache[{m, n}];
    if (sets.empty()) {
        for (std::size_t s = 0; s < sets_per_config; ++s) {
            generator_options g;
            g.n = n;
            g.utilization = 0.6 * static_cast<double>(m);
            g.method = utilization_method::randfixedsum;
            g.period_min = 10'000;
            g.period_max = 1'000'000;
            g.deadlines = deadline_kind::constrained;
            g.deadline_min_fraction = 0.5;
            auto ts = generate_task_set(g, 0x9E3779B97F4A7C15ULL * (s + 1) + m * 1000 + n).tasks;
            sets.push_back(apply_priority_order(ts, deadline_monotonic(ts)));
        }
    }
    return sets;
}

template <class Test>
void run(benchmark::State& state, Test&& test) {
    const auto m = static_cast<std::size_t>(state.range(0));
    const auto n = static_cast<std::size_t>(state.range(1));
    const auto& sets = sets_for(m, n);
    std::size_t i = 0, accepted = 0, done = 0;
    for (auto _ : state) {
        const bool ok = test(sets[i], m);
        benchmark::DoNotOptimize(ok);
        accepted += ok;
        ++done;
        if (++i == sets.size()) i = 0;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(done));
    state.counters["accepted"] =
        done == 0 ? 0.0 : static_cast<double>(accepted) / static_cast<double>(done);
}

void global_fp_bc(benchmark::State& s) {
    run(s, [](const std::vector<task>& ts, std::size_t m) {
        return global_fp_rta_bc(ts, m).schedulable;
    });
}
void global_fp_guan(benchmark::State& s) {
    run(s, [](const std::vector<task>& ts, std::size_t m) {
        return global_fp_rta_guan(ts, m).schedulable;
    });
}
void global_edf_gfb_test(benchmark::State& s) {
    run(s, [](const std::vector<task>& ts, std::size_t m) {
        return global_edf_gfb(ts, m).schedulable;
    });
}
void global_edf_bcl_test(benchmark::State& s) {
    run(s, [](const std::vector<task>& ts, std::size_t m) {
        return global_edf_bcl(ts, m).schedulable;
    });
}
void global_edf_rta_test(benchmark::State& s) {
    run(s, [](const std::vector<task>& ts, std::size_t m) {
        return global_edf_rta(ts, m).schedulable;
    });
}

void sizes(benchmark::internal::Benchmark* b) {
    b->ArgNames({"m", "n"})->ArgsProduct({{4, 8}, {16, 32, 64}});
}

}  // namespace

BENCHMARK(global_fp_bc)->Apply(sizes);
BENCHMARK(global_fp_guan)->Apply(sizes);
BENCHMARK(global_edf_gfb_test)->Apply(sizes);
BENCHMARK(global_edf_bcl_test)->Apply(sizes);
BENCHMARK(global_edf_rta_test)->Apply(sizes);
