// Fixed-priority analysis throughput: task sets analysed per second by the exact RTA
// (with certificates: fp_rta; verdict only: fp_schedulable, the constexpr path) and by
// the Bini–Buttazzo scheduling-points test, at n = 10, 25, 50 and U = 0.90, 0.95.
// Sets are generated before timing: UUniFast utilisations, periods log-uniform in
// [10 000, 1 000 000] ticks (10 ms .. 1 s in µs), D uniform in [C + (T - C)/2, T],
// deadline-monotonic priorities, no jitter or blocking (the points test's model).
// items_per_second = task sets per second on one core.
// fp/ratio times both tests on the same sets in the same run (thread CPU
// time of each batch of 1000 sets) and reports points_over_rta = (time of the points
// test) / (time of the RTA), with the RTA's iterations and the points evaluated per set.
// Issue 8 goal: >= 300 000 FP-RTA verdicts per second per core at n = 10.
#include <keel/sched/fp.hpp>
#include <keel/sched/priority_assignment.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <map>
#include <span>
#include <utility>
#include <vector>

using namespace keel::sched;

namespace {

constexpr std::size_t sets_per_point = 1000;

/// The benchmark's own seeded generator (splitmix64 + UUniFast), so the numbers do not
/// move when the library's generators change.
class set_source {
public:
    explicit set_source(std::uint64_t seed) : _state(seed) {}

    std::vector<task> make(std::size_t n, double u_total) {
        std::vector<task> s(n);
        double left = u_total;
        for (std::size_t i = 0; i < n; ++i) {
            double u = left;
            if (i + 1 < n) {
                const double keep = left * std::pow(unit(), 1.0 / static_cast<double>(n - i - 1));
                u = left - keep;
                left = keep;
            }
            const double period =
                std::exp(std::log(1e4) + (std::log(1e6) - std::log(1e4)) * unit());
            task& t = s[i];
            t.period = std::llround(period);
            t.wcet = std::clamp<time_value>(std::llround(u * period), 1, t.period);
            t.deadline = t.wcet + std::llround(static_cast<double>(t.period - t.wcet) *
                                               (0.5 + 0.5 * unit()));
        }
        return apply_priority_order(s, deadline_monotonic(s));
    }

private:
    double unit() {
        std::uint64_t z = (_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
    }
    std::uint64_t _state;
};

const std::vector<std::vector<task>>& sets_for(std::size_t n, int u_percent) {
    static std::map<std::pair<std::size_t, int>, std::vector<std::vector<task>>> cache;
    auto& v = cache[{n, u_percent}];
    if (v.empty()) {
        set_source src(std::uint64_t{0x5eed0000} + std::uint64_t{n} * 1000U +
                       static_cast<std::uint64_t>(u_percent));
        for (std::size_t k = 0; k < sets_per_point; ++k)
            v.push_back(src.make(n, u_percent / 100.0));
    }
    return v;
}

template <class Analysis>
void run_sets(benchmark::State& state, Analysis&& analysis) {
    const auto& sets =
        sets_for(static_cast<std::size_t>(state.range(0)), static_cast<int>(state.range(1)));
    std::size_t next = 0;
    std::int64_t schedulable = 0;
    for (auto _ : state) {
        schedulable += analysis(sets[next]) ? 1 : 0;
        next = next + 1 == sets.size() ? 0 : next + 1;
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["schedulable_share"] =
        static_cast<double>(schedulable) /
        static_cast<double>(std::max<std::int64_t>(1, state.iterations()));
}

/// An analysis returning a result with `schedulable`, kept from being optimised away.
template <class Analysis>
auto verdict_of(Analysis analysis) {
    return [analysis](const std::vector<task>& s) {
        auto r = analysis(s);
        benchmark::DoNotOptimize(r);
        return r.schedulable;
    };
}

void BM_fp_rta(benchmark::State& state) {
    run_sets(state, verdict_of([](std::span<const task> s) { return fp_rta(s); }));
}

void BM_fp_schedulable(benchmark::State& state) {
    run_sets(state, [](const std::vector<task>& s) { return fp_schedulable(s); });
}

void BM_fp_points(benchmark::State& state) {
    run_sets(state, verdict_of(&fp_scheduling_points));
}

/// CPU time of this thread: the ratio below stays meaningful on a loaded machine.
double thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

/// Both tests over the whole pre-generated point, each batch timed in thread CPU time.
void BM_fp_rta_vs_points(benchmark::State& state) {
    const auto& sets =
        sets_for(static_cast<std::size_t>(state.range(0)), static_cast<int>(state.range(1)));
    std::vector<fp_result> rta_results(sets.size());
    std::vector<fp_points_result> points_results(sets.size());
    double rta_ns = 0, points_ns = 0;
    std::int64_t disagreements = 0, iterations = 0, evaluated = 0;
    for (auto _ : state) {
        const double t0 = thread_cpu_ns();
        for (std::size_t k = 0; k < sets.size(); ++k)
            rta_results[k] = fp_rta(sets[k]);
        const double t1 = thread_cpu_ns();
        for (std::size_t k = 0; k < sets.size(); ++k)
            points_results[k] = fp_scheduling_points(sets[k]);
        const double t2 = thread_cpu_ns();
        rta_ns += t1 - t0;
        points_ns += t2 - t1;
        for (std::size_t k = 0; k < sets.size(); ++k) {
            disagreements += rta_results[k].schedulable != points_results[k].schedulable ? 1 : 0;
            for (const auto& t : rta_results[k].tasks)
                iterations += static_cast<std::int64_t>(t.iterations.size());
            evaluated += points_results[k].points_evaluated;
        }
    }
    const double analysed =
        static_cast<double>(state.iterations()) * static_cast<double>(sets.size());
    state.SetItemsProcessed(static_cast<std::int64_t>(analysed));
    state.counters["rta_ns_per_set"] = rta_ns / analysed;
    state.counters["points_ns_per_set"] = points_ns / analysed;
    state.counters["points_over_rta"] = points_ns / rta_ns;
    state.counters["rta_iterations_per_set"] = static_cast<double>(iterations) / analysed;
    state.counters["points_evaluated_per_set"] = static_cast<double>(evaluated) / analysed;
    state.counters["disagreements"] = static_cast<double>(disagreements);
}

void points(benchmark::internal::Benchmark* b) {
    for (const int n : {10, 25, 50})
        for (const int u : {90, 95})
            b->Args({n, u});
    b->ArgNames({"n", "u_pct"});
}

}  // namespace

BENCHMARK(BM_fp_rta)->Name("fp/rta")->Apply(points);
BENCHMARK(BM_fp_schedulable)->Name("fp/schedulable")->Apply(points);
BENCHMARK(BM_fp_points)->Name("fp/points")->Apply(points);
BENCHMARK(BM_fp_rta_vs_points)->Name("fp/ratio")->Apply(points)->Unit(benchmark::kMillisecond);
