// The simulator against schedules worked out by hand (each timeline is written out in
// the comment; [a, b) means the task runs from a to b).
#include <keel/sched/simulate.hpp>

#include <catch2/catch.hpp>

#include <limits>
#include <vector>

using namespace keel::sched;

TEST_CASE("FP, synchronous release: the textbook three-task timeline") {
    // tau1 (C 1, T 4), tau2 (C 2, T 6), tau3 (C 3, T 12), D = T, priority by index.
    // t=0 all released: tau1 [0,1), tau2 [1,3), tau3 [3,4); t=4 tau1 [4,5), tau3 [5,6);
    // t=6 tau2 [6,8); t=8 tau1 [8,9), tau3 [9,10) completes (3 units); idle [10,12).
    // Responses: tau1 1, 1, 1; tau2 3 then 2; tau3 10 (= the RTA fixed point
    // 3 + ceil(10/4) * 1 + ceil(10/6) * 2 = 10).
    const std::vector<task> ts{{1, 4, 4}, {2, 6, 6}, {3, 12, 12}};
    const auto r = simulate(ts, sim_policy::fixed_priority, 12);
    REQUIRE(r.tasks.size() == 3);
    CHECK(r.tasks[0].max_response == 1);
    CHECK(r.tasks[1].max_response == 3);
    CHECK(r.tasks[1].first_job_response == 3);
    CHECK(r.tasks[2].max_response == 10);
    CHECK(r.tasks[2].first_job_response == 10);
    CHECK(r.tasks[0].jobs_released == 3);
    CHECK(r.tasks[0].jobs_completed == 3);
    CHECK(r.tasks[1].jobs_completed == 2);
    CHECK(r.tasks[2].jobs_completed == 1);
    CHECK_FALSE(r.any_miss());
    CHECK_FALSE(r.first_miss);
    CHECK(r.end == 12);
    // The schedule repeats every hyperperiod: twice the jobs, same maxima.
    const auto r2 = simulate(ts, sim_policy::fixed_priority, 24);
    CHECK(r2.tasks[0].jobs_completed == 6);
    CHECK(r2.tasks[2].max_response == 10);
}

TEST_CASE("FP, critical-instant jitter: responses from arrival match R = J + w") {
    // Same set, tau1 with J = 1. Bunching instant o = max J = 1: tau1's job 0 arrives at 0
    // and is released at 1; tau2 and tau3 arrive (and are released) at 1.
    // t=1 tau1 [1,2) (response 2 from its arrival 0 = J + C); tau2 [2,4) (3);
    // t=4 tau1 job 1 [4,5); tau3 [5,7); t=7 tau2 job 1 [7,8); t=8 tau1 preempts [8,9);
    // tau2 [9,10) (response 3); tau3 [10,11) completes: 11 - 1 = 10.
    // RTA: w2 = 2 + ceil((w2 + 1)/4) = 3; w3 = 3 + ceil((w3 + 1)/4) + 2 ceil(w3/6) = 10.
    const std::vector<task> ts{{1, 4, 4, 1}, {2, 6, 6}, {3, 12, 12}};
    const auto r = simulate(ts, sim_policy::fixed_priority, 13, {release_pattern::critical_instant, 0});
    CHECK(r.tasks[0].first_job_response == 2);
    CHECK(r.tasks[1].max_response == 3);
    CHECK(r.tasks[2].first_job_response == 10);
    CHECK_FALSE(r.any_miss());
    // Without the pattern, jitter is ignored: the synchronous timeline of the test above.
    const auto s = simulate(ts, sim_policy::fixed_priority, 12);
    CHECK(s.tasks[0].max_response == 1);
}

TEST_CASE("EDF: a known miss at a known time") {
    // tau1 (C 2, T 4, D 3), tau2 (C 4, T 8, D 5); U = 7/8 but h(5) = 2 + 4 = 6 > 5.
    // t=0: tau1 (d 3) [0,2), tau2 (d 5) [2,4); t=4 tau1 job 1 (d 7) waits: tau2 (d 5) runs
    // [4,6) and completes at 6 > 5: first miss, at deadline 5. tau1 [6,8) ends at 8 > 7.
    // t=8: tau1 (d 11) [8,10), tau2 (d 13) [10,14) (tau1's job at 12 has d 15 > 13):
    // miss at 13; tau1 [14,16) ends at 16 > 15: miss. Horizon 16: four misses.
    const std::vector<task> ts{{2, 4, 3}, {4, 8, 5}};
    const auto r = simulate(ts, sim_policy::edf, 16);
    REQUIRE(r.first_miss);
    CHECK(*r.first_miss == 5);
    CHECK(r.first_miss_task == 1u);
    CHECK(r.deadline_misses == 4);
    CHECK(r.tasks[0].deadline_misses == 2);
    CHECK(r.tasks[1].deadline_misses == 2);
    CHECK(r.tasks[0].first_miss == 7);
    CHECK(r.tasks[1].first_miss == 5);
    CHECK(r.tasks[1].first_job_response == 6);
    CHECK(r.tasks[0].jobs_completed == 4);
    CHECK(r.tasks[1].jobs_completed == 2);
    // FP on the same set: tau1 always first, tau2 [2,4) and [6,8): completes at 8 > 5.
    const auto f = simulate(ts, sim_policy::fixed_priority, 8);
    CHECK(f.first_miss == 5);
    CHECK(f.tasks[1].first_job_response == 8);
}

TEST_CASE("EDF ties: equal deadlines go to the lower task index") {
    // Both first jobs due at 4: the lower index runs first.
    const std::vector<task> a{{2, 8, 4}, {1, 4, 4}};
    const auto ra = simulate(a, sim_policy::edf, 8);
    CHECK(ra.tasks[0].first_job_response == 2);
    CHECK(ra.tasks[1].first_job_response == 3);
    const std::vector<task> b{{1, 4, 4}, {2, 8, 4}};
    const auto rb = simulate(b, sim_policy::edf, 8);
    CHECK(rb.tasks[0].first_job_response == 1);
    CHECK(rb.tasks[1].first_job_response == 3);
}

TEST_CASE("unfinished jobs at the horizon: judged only when already due") {
    // One task C 5, T 10, D 3, horizon 4: the job is unfinished and due at 3 <= 4: a miss.
    const auto r = simulate(std::vector<task>{{5, 10, 3}}, sim_policy::edf, 4);
    CHECK(r.deadline_misses == 1);
    CHECK(r.first_miss == 3);
    CHECK(r.tasks[0].jobs_completed == 0);
    // Due at 8 > horizon 4: not judged.
    const auto s = simulate(std::vector<task>{{5, 10, 8}}, sim_policy::edf, 4);
    CHECK(s.deadline_misses == 0);
}

TEST_CASE("random jitter: reproducible, within the release window") {
    // tau1 (C 1, T 4, J 3), tau2 (C 2, T 6, J 2), tau3 (C 2, T 12), D = T: FP-schedulable
    // (RTA by hand): R1 = J1 + C1 = 4; w2 = 2 + ceil((w2 + 3)/4) = 4, R2 = 2 + 4 = 6;
    // w3 = 2 + ceil((w3 + 3)/4) + 2 ceil((w3 + 2)/6): 5 -> 8 -> 9 -> 9 = R3. The
    // critical-instant pattern realises these worst cases; a random pattern never exceeds it.
    const std::vector<task> ts{{1, 4, 4, 3}, {2, 6, 6, 2}, {2, 12, 12}};
    const sim_options opt{release_pattern::random, 42};
    const auto a = simulate(ts, sim_policy::fixed_priority, 1200, opt);
    const auto b = simulate(ts, sim_policy::fixed_priority, 1200, opt);
    const auto worst = simulate(ts, sim_policy::fixed_priority, 1200, {release_pattern::critical_instant, 0});
    for (std::size_t i = 0; i < ts.size(); ++i) {
        CHECK(a.tasks[i].max_response == b.tasks[i].max_response);
        CHECK(a.tasks[i].jobs_completed == b.tasks[i].jobs_completed);
        CHECK(a.tasks[i].max_response >= ts[i].wcet);
        CHECK(a.tasks[i].max_response <= worst.tasks[i].max_response);
    }
    // tau1 alone at the top: response = its release delay + C, at most J + C = 4.
    CHECK(a.tasks[0].max_response <= 4);
    CHECK(a.tasks[0].max_response > 1);  // 300 jobs: some are released late
    CHECK(worst.tasks[0].max_response == 4);
    CHECK(worst.tasks[1].max_response == 6);
    CHECK(worst.tasks[2].max_response == 9);
    CHECK_FALSE(a.any_miss());
}

TEST_CASE("simulator input errors and overflow") {
    CHECK_THROWS_AS(simulate(std::vector<task>{{1, 4, 4}}, sim_policy::edf, 0), std::invalid_argument);
    CHECK_THROWS_AS(simulate(std::vector<task>{{0, 4, 4}}, sim_policy::edf, 10), std::invalid_argument);
    constexpr time_value max = std::numeric_limits<time_value>::max();
    // Job 1 arrives at max/2 with D = max: its absolute deadline passes 2^63.
    CHECK_THROWS_AS(simulate(std::vector<task>{{1, max / 2, max}}, sim_policy::edf, max), analysis_overflow);
    CHECK(simulate(std::vector<task>{}, sim_policy::edf, 10).deadline_misses == 0);
}
