// Weakly-hard job-level priorities (weakly_hard.hpp): cost of one scheduling decision at
// a job release, against a plain global RM and global EDF decision, in the same binary.
// Moyano et al. (arXiv 2410.01528) report their RTEMS scheduler's overhead below 60 ns.
//
// wh/key/<policy>/<n>: the priority key of a released job only. rm: the task's rank.
//   edf: release + D (absolute deadline). wh: wh_priority_state::on_release (class from
//   the task's run of misses) plus on_outcome for the previous job of that task (the
//   state update the two-class scheduler adds). Events are a pre-drawn stream of
//   (task, release, met) so the stream is the same for the three policies.
// wh/decision/<policy>/<n>: the key plus the ready-queue work of a global scheduler at a
//   release: push the job into a binary heap of ready jobs (n - 1 already queued), pop
//   the highest-priority one (the job dispatched). items_per_second = decisions/s;
//   the time per iteration is the time per decision.
#include <keel/sched/generate.hpp>
#include <keel/sched/weakly_hard.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

using namespace keel::sched;

namespace {

constexpr std::size_t stream_length = 1 << 14;  // power of two: index with a mask

struct release_event {
    std::uint32_t task;
    bool met;
    time_value release;
};

struct workload {
    std::vector<task> tasks;
    std::vector<std::int64_t> tolerable;
    std::vector<release_event> events;
};

workload make_workload(std::size_t n) {
    rng r(42 + n);
    workload w;
    for (std::size_t i = 0; i < n; ++i) {
        const time_value period = 1000 + static_cast<time_value>(r.below(99'000));
        w.tasks.push_back({period / 10, period, period, 0, 0});
        w.tolerable.push_back(static_cast<std::int64_t>(r.below(4)));
    }
    time_value now = 0;
    for (std::size_t e = 0; e < stream_length; ++e) {
        now += static_cast<time_value>(r.below(100));
        // about one miss in four, so both classes occur
        w.events.push_back({static_cast<std::uint32_t>(r.below(n)), r.below(4) != 0, now});
    }
    return w;
}

enum class policy { rm, edf, wh };

/// The priority key of the released job under policy P (lower = higher priority).
template <policy P>
inline std::int64_t key_of(const release_event& ev, const workload& w, wh_priority_state& wh) noexcept {
    if constexpr (P == policy::rm) {
        return static_cast<std::int64_t>(ev.task);
    } else if constexpr (P == policy::edf) {
        return ev.release + w.tasks[ev.task].deadline;
    } else {
        wh.on_outcome(ev.task, ev.met);  // the previous job's judgement
        return wh.on_release(ev.task);
    }
}

template <policy P>
void BM_key(benchmark::State& state) {
    const workload w = make_workload(static_cast<std::size_t>(state.range(0)));
    wh_priority_state wh(w.tolerable);
    std::size_t e = 0;
    for (auto _ : state) {
        const release_event& ev = w.events[e];
        e = (e + 1) & (stream_length - 1);
        benchmark::DoNotOptimize(key_of<P>(ev, w, wh));
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <policy P>
void BM_decision(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const workload w = make_workload(n);
    wh_priority_state wh(w.tolerable);
    std::vector<std::int64_t> storage;
    storage.reserve(n + 1);
    std::priority_queue<std::int64_t, std::vector<std::int64_t>, std::greater<>> ready(std::greater<>{},
                                                                                      std::move(storage));
    for (std::size_t i = 0; i + 1 < n; ++i) ready.push(static_cast<std::int64_t>(i));
    std::size_t e = 0;
    for (auto _ : state) {
        const release_event& ev = w.events[e];
        e = (e + 1) & (stream_length - 1);
        ready.push(key_of<P>(ev, w, wh));
        benchmark::DoNotOptimize(ready.top());
        ready.pop();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void sizes(benchmark::internal::Benchmark* b) {
    for (int n : {10, 50, 200}) b->Arg(n);
}

}  // namespace

BENCHMARK(BM_key<policy::rm>)->Name("wh/key/g-rm")->Apply(sizes);
BENCHMARK(BM_key<policy::edf>)->Name("wh/key/g-edf")->Apply(sizes);
BENCHMARK(BM_key<policy::wh>)->Name("wh/key/wh-jlfp")->Apply(sizes);
BENCHMARK(BM_decision<policy::rm>)->Name("wh/decision/g-rm")->Apply(sizes);
BENCHMARK(BM_decision<policy::edf>)->Name("wh/decision/g-edf")->Apply(sizes);
BENCHMARK(BM_decision<policy::wh>)->Name("wh/decision/wh-jlfp")->Apply(sizes);
