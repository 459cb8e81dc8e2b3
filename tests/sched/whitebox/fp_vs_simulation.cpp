// Fixed-priority response-time analysis (fp_rta) against the simulator, on generated sets
// in deadline-monotonic order, blocking 0 (the simulator has no shared resources):
// 1. Synchronous release, no jitter, constrained deadlines: the first job's simulated
//    response time equals fp_rta's response time whenever that is <= T (the level-i busy
//    period then holds one job of the task, and the synchronous release is its critical
//    instant, Liu & Layland 1973 / Joseph & Pandya 1986).
// 2. Critical-instant release with jitter, any deadline: the largest simulated response
//    time over the first busy period equals fp_rta's (R = J + w, the worst job of the
//    level-i busy period), because that release pattern is the one the analysis assumes.
// 3. Never contradicted: with random jitter, no simulated response exceeds fp_rta's, and a
//    task fp_rta calls schedulable never misses.
#include <keel/sched/fp.hpp>
#include <keel/sched/generate.hpp>
#include <keel/sched/simulate.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

using namespace keel::sched;

namespace {

std::vector<task> draw(std::uint64_t seed, bool jitter, bool arbitrary) {
    rng r(seed * 104729 + 3);
    generator_options o;
    o.n = 2 + static_cast<std::size_t>(r.below(9));
    o.utilization = 0.4 + 0.58 * r.uniform01();
    o.method = utilization_method::randfixedsum;
    o.period_min = 10;
    o.period_max = 500;
    o.granularity = 10;
    o.deadlines = arbitrary ? deadline_kind::arbitrary : deadline_kind::constrained;
    o.deadline_min_fraction = 0.3;
    auto ts = generate_task_set(o, seed).tasks;
    if (jitter)
        for (auto& t : ts) t.jitter = static_cast<time_value>(r.below(static_cast<std::uint64_t>(t.period / 4 + 1)));
    std::stable_sort(ts.begin(), ts.end(),
                     [](const task& a, const task& b) { return a.deadline - a.jitter < b.deadline - b.jitter; });
    return ts;
}

/// A horizon covering every bounded level-i busy period (plus the bunching instant).
time_value horizon_for(const std::vector<task>& ts, const fp_result& a) {
    time_value h = 1, o = 0;
    for (const auto& t : ts) o = std::max(o, t.jitter);
    for (const auto& r : a.tasks)
        if (r.response_time) h = std::max(h, r.busy_period);
    return o + h + 1;
}

}  // namespace

TEST_CASE("synchronous release: the first job's response equals fp_rta's") {
    int compared = 0;
    for (std::uint64_t seed = 0; seed < 3000; ++seed) {
        const auto ts = draw(seed, false, false);
        const fp_result a = fp_rta(ts);
        const time_value h = horizon_for(ts, a);
        if (h > 2'000'000) continue;
        const auto s = simulate(ts, sim_policy::fixed_priority, h);
        INFO("seed " << seed);
        for (std::size_t i = 0; i < ts.size(); ++i) {
            const auto& r = a.tasks[i];
            if (!r.response_time || *r.response_time > ts[i].period) continue;
            REQUIRE(s.tasks[i].first_job_response);
            CHECK(*s.tasks[i].first_job_response == *r.response_time);
            ++compared;
            if (r.schedulable) CHECK(s.tasks[i].deadline_misses == 0);
        }
    }
    CHECK(compared > 5000);
}

TEST_CASE("critical-instant release with jitter, arbitrary deadlines: max response equals fp_rta's") {
    int compared = 0;
    for (std::uint64_t seed = 0; seed < 3000; ++seed) {
        const bool arbitrary = seed % 2 == 0;
        const auto ts = draw(seed + 100'000, true, arbitrary);
        const fp_result a = fp_rta(ts);
        const time_value h = horizon_for(ts, a);
        if (h > 2'000'000) continue;
        const auto s = simulate(ts, sim_policy::fixed_priority, h, {release_pattern::critical_instant, 0});
        INFO("seed " << seed + 100'000);
        for (std::size_t i = 0; i < ts.size(); ++i) {
            const auto& r = a.tasks[i];
            if (!r.response_time) continue;
            CHECK(s.tasks[i].max_response == *r.response_time);
            ++compared;
            if (r.schedulable) CHECK(s.tasks[i].deadline_misses == 0);
        }
    }
    CHECK(compared > 5000);
}

TEST_CASE("random jitter never exceeds fp_rta's response time") {
    for (std::uint64_t seed = 0; seed < 1000; ++seed) {
        const auto ts = draw(seed + 200'000, true, seed % 2 == 0);
        const fp_result a = fp_rta(ts);
        time_value p = 1;
        for (const auto& t : ts) p = std::max(p, t.period);
        const auto s = simulate(ts, sim_policy::fixed_priority, 50 * p, {release_pattern::random, seed});
        INFO("seed " << seed + 200'000);
        for (std::size_t i = 0; i < ts.size(); ++i) {
            const auto& r = a.tasks[i];
            if (!r.response_time) continue;
            CHECK(s.tasks[i].max_response <= *r.response_time);
            if (r.schedulable) CHECK(s.tasks[i].deadline_misses == 0);
        }
    }
}
