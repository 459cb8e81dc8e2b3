// EDF exact tests: QPA (edf_qpa) against the processor demand criterion (edf_pdc), on the
// same pre-generated sets, one set per benchmark iteration.
//
// Names:
//   edf/qpa/n:<n>/u_pct:<u>      edf/pdc/n:<n>/u_pct:<u>     time per set
//   edf/ratio/n:<n>/u_pct:<u>    both over all sets in one iteration; counter
//                                pdc_over_qpa = PDC time / QPA time, thread CPU time
//                                (robust on a loaded machine; the goal: >= 20
//                                at n = 50, U = 0.95)
// Counters: evals = demand-bound evaluations per set (PDC: deadlines checked; QPA:
// iterations), sets_per_s, sched_pct = share of the sets found schedulable.
// Sets: 200 per (n, U), UUniFast-Discard utilisations, log-uniform periods 10,000 to
// 1,000,000 ticks (10 ms to 1 s in µs) with granularity 1, constrained deadlines
// D = C + f (T - C), f uniform in [0.5, 1] (the methodology of docs/sched.md).
#include <keel/sched/edf.hpp>
#include <keel/sched/generate.hpp>

#include <benchmark/benchmark.h>

#include <time.h>

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace {

using namespace keel::sched;

constexpr int sets_per_point = 200;

const std::vector<task_set>& sets_for(int n, int u_pct) {
    static std::map<std::pair<int, int>, std::vector<task_set>> cache;
    auto& v = cache[{n, u_pct}];
    if (v.empty()) {
        generator_options o;
        o.n = static_cast<std::size_t>(n);
        o.utilization = u_pct / 100.0;
        o.method = utilization_method::uunifast_discard;
        o.period_min = 10'000;
        o.period_max = 1'000'000;
        o.granularity = 1;
        o.deadlines = deadline_kind::constrained;
        o.deadline_min_fraction = 0.5;
        for (int s = 0; s < sets_per_point; ++s)
            v.push_back(generate_task_set(o, static_cast<std::uint64_t>(n * 100000 + u_pct * 1000 + s)));
    }
    return v;
}

template <edf_result (*Test)(std::span<const task>)>
void bm_test(benchmark::State& state) {
    const auto& sets = sets_for(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
    std::size_t i = 0;
    std::int64_t evals = 0, sched = 0, runs = 0;
    for (auto _ : state) {
        const edf_result r = Test(sets[i].view());
        benchmark::DoNotOptimize(r.schedulable);
        evals += r.evaluations;
        sched += r.schedulable ? 1 : 0;
        ++runs;
        i = (i + 1) % sets.size();
    }
    state.counters["evals"] = benchmark::Counter(static_cast<double>(evals) / static_cast<double>(runs));
    state.counters["sched_pct"] = benchmark::Counter(100.0 * static_cast<double>(sched) / static_cast<double>(runs));
    state.counters["sets_per_s"] = benchmark::Counter(static_cast<double>(runs), benchmark::Counter::kIsRate);
}

double thread_cpu_s() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void bm_ratio(benchmark::State& state) {
    const auto& sets = sets_for(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
    double qpa_s = 0, pdc_s = 0;
    std::int64_t mismatches = 0;
    for (auto _ : state) {
        std::vector<bool> verdict(sets.size());
        const double t0 = thread_cpu_s();
        for (std::size_t i = 0; i < sets.size(); ++i) verdict[i] = edf_qpa(sets[i].view()).schedulable;
        const double t1 = thread_cpu_s();
        for (std::size_t i = 0; i < sets.size(); ++i)
            mismatches += edf_pdc(sets[i].view()).schedulable != verdict[i] ? 1 : 0;
        const double t2 = thread_cpu_s();
        qpa_s += t1 - t0;
        pdc_s += t2 - t1;
    }
    if (mismatches != 0) state.SkipWithError("QPA and PDC disagree");
    const double per = static_cast<double>(state.iterations()) * static_cast<double>(sets.size());
    state.counters["qpa_us_per_set"] = benchmark::Counter(qpa_s / per * 1e6);
    state.counters["pdc_us_per_set"] = benchmark::Counter(pdc_s / per * 1e6);
    state.counters["pdc_over_qpa"] = benchmark::Counter(pdc_s / qpa_s);
}

void points(benchmark::internal::Benchmark* b) {
    b->ArgNames({"n", "u_pct"});
    for (int n : {10, 25, 50})
        for (int u : {90, 95}) b->Args({n, u});
}

BENCHMARK(bm_test<edf_qpa>)->Name("edf/qpa")->Apply(points);
BENCHMARK(bm_test<edf_pdc>)->Name("edf/pdc")->Apply(points);
BENCHMARK(bm_ratio)->Name("edf/ratio")->Apply(points)->Unit(benchmark::kMillisecond);

}  // namespace
