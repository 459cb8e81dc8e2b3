// The global simulator against schedules worked out by hand ([a, b) means the job runs
// from a to b; cores are interchangeable, so only which jobs run matters).
#include <keel/sched/generate.hpp>
#include <keel/sched/global_simulate.hpp>
#include <keel/sched/simulate.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <vector>

using namespace keel::sched;

namespace {

global_sim_options opts(std::size_t cores, time_value horizon, global_policy policy) {
    global_sim_options o;
    o.cores = cores;
    o.horizon = horizon;
    o.policy = policy;
    return o;
}

}  // namespace

TEST_CASE("global: Dhall's effect, two light tasks make the heavy one miss under G-EDF and G-RM") {
    // Dhall & Liu (1978): m light tasks with deadlines just before the heavy task's take
    // every core at the synchronous release, the heavy task starts late and misses, at a
    // total utilisation barely above 1 on m cores. Scaled to integers on m = 2:
    // light (C 2, T = D 10) twice, heavy (C 10, T = D 11); U = 0.2 + 0.2 + 0.909.
    // G-EDF (deadlines 10 < 11) and G-RM (periods 10 < 11) both run the lights [0, 2) on
    // both cores; the heavy job runs [2, 12) and misses its deadline 11 by one tick.
    const std::vector<task> ts{{2, 10, 10}, {2, 10, 10}, {10, 11, 11}};
    for (const auto policy : {global_policy::edf, global_policy::fixed_priority}) {
        auto o = opts(2, 11, policy);
        o.record_outcomes = true;
        const auto r = simulate_global(ts, o);
        CHECK(r.deadline_misses == 1);
        REQUIRE(r.first_miss == 11);
        CHECK(r.first_miss_task == 2);
        CHECK(r.tasks[0].first_job_response == 2);
        CHECK(r.tasks[1].first_job_response == 2);
        CHECK_FALSE(r.tasks[2].first_job_response.has_value());  // still running at 11
        REQUIRE(r.outcomes.size() == 3);
        CHECK(r.outcomes[2] == std::vector<job_outcome>{job_outcome::missed});
        // Run past the deadline: under G-EDF the job completes late at 12; under G-RM the
        // lights' second jobs (released at 10) preempt it with 2 units left: done at 14.
        o.horizon = 14;
        const auto late = simulate_global(ts, o);
        CHECK(late.tasks[2].first_job_response == (policy == global_policy::edf ? 12 : 14));
        CHECK(late.tasks[2].deadline_misses == 1);
        // Dropped at its deadline instead.
        o.abort_at_deadline = true;
        const auto dropped = simulate_global(ts, o);
        CHECK(dropped.dropped == 1);
        CHECK(dropped.tasks[2].jobs_completed == 0);
        CHECK(dropped.tasks[2].deadline_misses == 1);
    }
    // Heavy task first (FP, index 0) meets every deadline: it keeps one core (idle only in
    // [10, 11) of each period) and the lights share the other. Hyperperiod 110, run 3 of them.
    const std::vector<task> heavy_first{{10, 11, 11}, {2, 10, 10}, {2, 10, 10}};
    const auto ok = simulate_global(heavy_first, opts(2, 330, global_policy::fixed_priority));
    CHECK_FALSE(ok.any_miss());
    CHECK(ok.tasks[0].max_response == 10);
    CHECK(ok.tasks[1].first_job_response == 2);
    CHECK(ok.tasks[2].first_job_response == 4);  // waits for light 1 on the free core
    // Same on three cores under G-EDF: every job starts at its release.
    const auto three = simulate_global(ts, opts(3, 330, global_policy::edf));
    CHECK_FALSE(three.any_miss());
    CHECK(three.tasks[2].max_response == 10);
}

TEST_CASE("global FP on two cores: a three-task timeline") {
    // tau0 (2, 4), tau1 (3, 6), tau2 (4, 8), D = T, m = 2.
    // t=0: tau0 [0,2), tau1 [0,3); t=2: tau2 starts [2,6) on tau0's core; t=3: core idle;
    // t=4: tau0 job 1 [4,6) on the idle core; t=6: tau1 job 1 [6,9), tau2 done at 6.
    // First responses: 2, 3, 6. U = 1.5.
    const std::vector<task> ts{{2, 4, 4}, {3, 6, 6}, {4, 8, 8}};
    const auto r = simulate_global(ts, opts(2, 24, global_policy::fixed_priority));
    CHECK(r.tasks[0].first_job_response == 2);
    CHECK(r.tasks[1].first_job_response == 3);
    CHECK(r.tasks[2].first_job_response == 6);
    CHECK(r.tasks[0].jobs_released == 6);
    CHECK(r.tasks[2].jobs_completed == 3);
    CHECK_FALSE(r.any_miss());
    CHECK(r.end == 24);
}

TEST_CASE("global: job-level priorities from the callback see consecutive misses") {
    // One core. tau0 (C 2, T = D 2) fills the core; tau1 (C 1, T = D 4) normally never
    // runs. The callback promotes a tau1 job above everything once two jobs in a row
    // missed; jobs are dropped at their deadlines.
    // tau1: job 0 dropped at 4 (cm seen 0), job 1 dropped at 8 (cm 1), job 2 released at 8
    // with cm 2 runs [8, 9) and meets; job 3 (cm 0) dropped at 16.
    // tau0: jobs at 0, 2, 4, 6 meet; job 4 (8..10) gets only [9, 10): dropped at 10;
    // jobs 5..7 (10, 12, 14) meet.
    const std::vector<task> ts{{2, 2, 2}, {1, 4, 4}};
    std::vector<std::int64_t> seen;
    auto o = opts(1, 16, global_policy::job_level);
    o.abort_at_deadline = true;
    o.record_outcomes = true;
    o.priority = [&](const released_job& j) -> std::int64_t {
        if (j.task == 1) {
            seen.push_back(j.consecutive_misses);
            CHECK(j.absolute_deadline == j.arrival + 4);
            CHECK(j.arrival == 4 * j.job);
        }
        return j.task == 1 && j.consecutive_misses >= 2 ? -1 : static_cast<std::int64_t>(j.task);
    };
    const auto r = simulate_global(ts, o);
    CHECK(seen == std::vector<std::int64_t>{0, 1, 2, 0});
    using enum job_outcome;
    CHECK(r.outcomes[1] == std::vector<job_outcome>{missed, missed, met, missed});
    CHECK(r.outcomes[0] == std::vector<job_outcome>{met, met, met, met, missed, met, met, met});
    CHECK(r.dropped == 4);
    CHECK(r.deadline_misses == 4);
    CHECK(r.tasks[1].first_miss == 4);
    CHECK(r.first_miss == 4);
    CHECK(r.first_miss_task == 1);
    CHECK(r.tasks[1].max_response == 1);
}

TEST_CASE("global: job-level priorities equal to task indices reproduce global FP") {
    rng r(7);
    for (int trial = 0; trial < 30; ++trial) {
        generator_options g;
        g.n = 6;
        g.utilization = 1.6;
        g.period_min = 5;
        g.period_max = 60;
        const auto set = generate_task_set(g, r.next());
        auto fp = opts(2, 600, global_policy::fixed_priority);
        auto jl = opts(2, 600, global_policy::job_level);
        jl.priority = [](const released_job& j) { return static_cast<std::int64_t>(j.task); };
        fp.record_outcomes = jl.record_outcomes = true;
        const auto a = simulate_global(set.tasks, fp);
        const auto b = simulate_global(set.tasks, jl);
        CHECK(a.outcomes == b.outcomes);
        for (std::size_t i = 0; i < set.size(); ++i)
            CHECK(a.tasks[i].max_response == b.tasks[i].max_response);
    }
}

TEST_CASE("global: on one core the global simulator agrees with the uniprocessor one") {
    rng r(11);
    for (int trial = 0; trial < 40; ++trial) {
        generator_options g;
        g.n = 5;
        g.utilization = 0.7 + 0.01 * trial;  // up to 1.09: some sets overload
        g.period_min = 4;
        g.period_max = 50;
        g.deadlines = deadline_kind::constrained;
        const auto set = generate_task_set(g, r.next());
        for (const auto policy : {global_policy::fixed_priority, global_policy::edf}) {
            const auto uni = simulate(
                set.tasks,
                policy == global_policy::edf ? sim_policy::edf : sim_policy::fixed_priority, 500);
            const auto glob = simulate_global(set.tasks, opts(1, 500, policy));
            CHECK(uni.deadline_misses == glob.deadline_misses);
            CHECK(uni.first_miss == glob.first_miss);
            for (std::size_t i = 0; i < set.size(); ++i) {
                CHECK(uni.tasks[i].max_response == glob.tasks[i].max_response);
                CHECK(uni.tasks[i].jobs_completed == glob.tasks[i].jobs_completed);
            }
        }
    }
}

TEST_CASE("global: random sporadic releases are seeded and never closer than the period") {
    const std::vector<task> ts{{1, 5, 5}, {2, 7, 7}, {3, 11, 9}};
    auto o = opts(2, 1000, global_policy::edf);
    o.pattern = global_release::random_sporadic;
    o.seed = 42;
    o.record_outcomes = true;
    std::vector<std::int64_t> arrivals_gap_min(3, 1'000'000);
    std::vector<time_value> last(3, -1);
    o.policy = global_policy::job_level;
    o.priority = [&](const released_job& j) {
        if (last[j.task] >= 0)
            arrivals_gap_min[j.task] = std::min(arrivals_gap_min[j.task], j.arrival - last[j.task]);
        last[j.task] = j.arrival;
        return j.absolute_deadline;  // EDF through the callback
    };
    const auto a = simulate_global(ts, o);
    for (std::size_t i = 0; i < ts.size(); ++i) {
        CHECK(arrivals_gap_min[i] == ts[i].period);  // gap T is drawn half the time
        CHECK(a.tasks[i].jobs_released < 1000 / ts[i].period + 1);
        CHECK(a.tasks[i].jobs_released > 1000 / (ts[i].period * 3 / 2 + 1) - 2);
    }
    std::fill(last.begin(), last.end(), -1);
    const auto b = simulate_global(ts, o);
    for (std::size_t i = 0; i < ts.size(); ++i)
        CHECK(a.tasks[i].jobs_released == b.tasks[i].jobs_released);
    o.seed = 43;
    std::fill(last.begin(), last.end(), -1);
    const auto c = simulate_global(ts, o);
    bool differs = false;
    for (std::size_t i = 0; i < ts.size(); ++i)
        differs |= a.outcomes[i].size() != c.outcomes[i].size();
    CHECK(differs);
}

TEST_CASE("global: stop_at_first_miss and refusals") {
    const std::vector<task> ts{{2, 10, 10}, {2, 10, 10}, {10, 11, 11}};
    auto o = opts(2, 1100, global_policy::edf);
    o.stop_at_first_miss = true;
    const auto r = simulate_global(ts, o);
    CHECK(r.deadline_misses == 1);
    CHECK(r.end == 12);  // judged when the late job completes
    CHECK_THROWS_AS(simulate_global(ts, opts(0, 10, global_policy::edf)), std::invalid_argument);
    CHECK_THROWS_AS(simulate_global(ts, opts(2, 0, global_policy::edf)), std::invalid_argument);
    CHECK_THROWS_AS(simulate_global(ts, opts(2, 10, global_policy::job_level)),
                    std::invalid_argument);
    const std::vector<task> bad{{1, 5, 5}, {0, 5, 5}};
    CHECK_THROWS_WITH(simulate_global(bad, opts(2, 10, global_policy::edf)),
                      Catch::Contains("task 2 (index 1)"));
}
