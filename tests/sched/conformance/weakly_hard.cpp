// Weakly-hard (m, K) tasks under global two-class job-level fixed priorities
// (weakly_hard.hpp): the constraint conventions, the outcome monitor, the runtime
// priority decision and hand-worked cases of wh_jlfp_rta. The source paper (Moyano,
// Hammadeh, Saidi & Lüdtke, arXiv 2410.01528, 2024) gives no worked example with exact
// numbers that this implementation could read, so the analysis cases below are worked by
// hand from the equations documented in weakly_hard.hpp / docs/sched/weakly_hard.md.
#include <keel/sched/weakly_hard.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <vector>

using namespace keel::sched;

TEST_CASE("weakly-hard constraint conventions", "[sched][weakly_hard]") {
    // at most c consecutive misses == at most c misses in any c + 1 consecutive jobs
    STATIC_REQUIRE(consecutive_misses_constraint(2) == weakly_hard_constraint{2, 3});
    STATIC_REQUIRE(tolerable_consecutive_misses({0, 1}) == 0);
    STATIC_REQUIRE(tolerable_consecutive_misses({0, 7}) == 0);
    STATIC_REQUIRE(tolerable_consecutive_misses({1, 2}) == 1);
    STATIC_REQUIRE(tolerable_consecutive_misses({2, 3}) == 2);
    STATIC_REQUIRE(tolerable_consecutive_misses({4, 5}) == 4);
    // (1, 3): "miss, met, miss" has 2 misses in 3, so only the hard scheduler fits
    STATIC_REQUIRE(tolerable_consecutive_misses({1, 3}) == 0);
    // (2, 5): one-miss runs allow M H M H M = 3 misses in 5
    STATIC_REQUIRE(tolerable_consecutive_misses({2, 5}) == 0);
    // (3, 5): M H M H M = 3 <= 3 but M M H M M = 4 > 3
    STATIC_REQUIRE(tolerable_consecutive_misses({3, 5}) == 1);
    STATIC_REQUIRE(tolerable_consecutive_misses({3, 3}) == unbounded_misses);
    STATIC_REQUIRE(window_misses_of_consecutive(1, 5) == 3);
    STATIC_REQUIRE(window_misses_of_consecutive(2, 5) == 4);
    STATIC_REQUIRE(window_misses_of_consecutive(0, 5) == 0);
    STATIC_REQUIRE(window_misses_of_consecutive(unbounded_misses, 5) == 5);
    STATIC_REQUIRE(!is_well_formed(weakly_hard_constraint{3, 2}));
    STATIC_REQUIRE(!is_well_formed(weakly_hard_constraint{0, 0}));
    STATIC_REQUIRE(!is_well_formed(weakly_hard_constraint{-1, 2}));
}

TEST_CASE("weakly-hard monitor on hand-written sequences", "[sched][weakly_hard]") {
    // met = true. Sequence: H M M H M H H M M M
    const std::vector<bool> seq{true, false, false, true, false, true, true, false, false, false};
    const auto m23 = check_outcomes(seq, {2, 3});
    CHECK(m23.jobs() == 10);
    CHECK(m23.misses() == 6);
    CHECK(m23.max_consecutive_misses() == 3);
    CHECK(m23.consecutive_misses() == 3);
    CHECK(m23.max_window_misses() == 3);   // the last three jobs
    CHECK(!m23.satisfied());
    CHECK(m23.first_violation() == 9);
    CHECK(m23.window_misses() == 3);

    const auto m35 = check_outcomes(seq, {3, 5});
    // windows of 5: HMMHM=3, MMHMH=3, MHMHH=2, HMHHM=2, MHHMM=3, HHMMM=3
    CHECK(m35.max_window_misses() == 3);
    CHECK(m35.satisfied());

    const auto m24 = check_outcomes(seq, {2, 4});
    // windows of 4: HMMH=2, MMHM=3 -> first violation at job index 4
    CHECK(m24.first_violation() == 4);

    // shorter than K: the whole sequence is the window
    const auto shortseq = check_outcomes(std::vector<bool>{false, false}, {1, 5});
    CHECK(shortseq.max_window_misses() == 2);
    CHECK(shortseq.first_violation() == 1);

    // a projection for other outcome types
    const std::vector<int> ints{1, 0, 1};
    const auto proj = check_outcomes(ints, {1, 2}, [](int v) { return v == 1; });
    CHECK(proj.satisfied());
    CHECK(proj.misses() == 1);

    CHECK_THROWS_AS(weakly_hard_monitor({3, 2}), std::invalid_argument);
}

TEST_CASE("weakly-hard job priority classes", "[sched][weakly_hard]") {
    STATIC_REQUIRE(wh_classify(0, 0) == wh_job_class::urgent);   // hard task: always urgent
    STATIC_REQUIRE(wh_classify(0, 2) == wh_job_class::normal);
    STATIC_REQUIRE(wh_classify(1, 2) == wh_job_class::normal);
    STATIC_REQUIRE(wh_classify(2, 2) == wh_job_class::urgent);
    STATIC_REQUIRE(wh_classify(5, unbounded_misses) == wh_job_class::normal);
    STATIC_REQUIRE(wh_classify(unbounded_misses, unbounded_misses) == wh_job_class::normal);
    // 4 tasks: urgent keys 0..3, normal keys 4..7
    STATIC_REQUIRE(wh_job_priority(3, 4, 1, 1) == 3);
    STATIC_REQUIRE(wh_job_priority(0, 4, 0, 1) == 4);
    STATIC_REQUIRE(wh_job_priority(3, 4, 0, 0) < wh_job_priority(0, 4, 0, 1));

    const std::vector<std::int64_t> tolerable{0, 2, unbounded_misses};
    wh_priority_state s(tolerable);
    CHECK(s.on_release(0) == 0);
    CHECK(s.on_release(1) == 4);
    s.on_outcome(1, false);
    CHECK(s.on_release(1) == 4);
    s.on_outcome(1, false);
    CHECK(s.consecutive_misses(1) == 2);
    CHECK(s.on_release(1) == 1);  // a third miss would break "at most 2 in a row"
    s.on_outcome(1, true);
    CHECK(s.on_release(1) == 4);
    for (int i = 0; i < 10; ++i) s.on_outcome(2, false);
    CHECK(s.on_release(2) == 5);
    s.reset();
    CHECK(s.consecutive_misses(2) == 0);
    const std::vector<std::int64_t> bad{1, -1};
    CHECK_THROWS_WITH(wh_priority_state(bad), Catch::Contains("task 1"));
}

TEST_CASE("wh_jlfp_rta: hand-worked one-core case", "[sched][weakly_hard]") {
    // t1 = (C 2, T = D 4), t2 = (C 3, T = D 6), U = 1 on one core.
    const std::vector<task> ts{{2, 4, 4, 0, 0}, {3, 6, 6, 0, 0}};
    SECTION("both hard: Guan et al.'s global FP RTA fails t2") {
        // One core: no task carries in, NC workloads only. R = 3: W1 = min(3, 2) = 2,
        // capped at R - C + 1 = 1 -> 4; R = 4: W1 = 2 -> 5; R = 5: W1 = 2 + min(1, 2) = 3
        // -> 6; R = 6: W1 = 4 -> 7 > 6.
        const auto r = wh_jlfp_rta(ts, std::vector<weakly_hard_constraint>{{0, 1}, {0, 1}}, 1);
        CHECK(!r.schedulable);
        CHECK(r.tasks[0].satisfied);
        CHECK(r.tasks[0].urgent_response == 2);
        CHECK(r.tasks[0].urgent_period == 4);
        CHECK(!r.tasks[1].satisfied);
        CHECK(r.tasks[1].iterations == std::vector<time_value>{3, 4, 5, 6, 7});
        CHECK(r.tasks[1].urgent_period == 6);
    }
    SECTION("t1 tolerates one miss in a row: its urgent jobs are >= 8 apart") {
        // R = 3: W1 = 2 (one urgent job), cap 1 -> 4; R = 4: cap 2 -> 5; R = 5: W1 = 2 -> 5.
        const auto r = wh_jlfp_rta(ts, std::vector<weakly_hard_constraint>{{1, 2}, {0, 1}}, 1);
        CHECK(r.schedulable);
        CHECK(r.tasks[0].tolerable == 1);
        CHECK(r.tasks[0].urgent_period == 8);
        CHECK(r.tasks[1].urgent_response == 5);
        CHECK(r.tasks[1].iterations == std::vector<time_value>{3, 4, 5});
    }
    SECTION("the tolerance of the lower task does not help it") {
        const auto r = wh_jlfp_rta(ts, std::vector<weakly_hard_constraint>{{0, 1}, {1, 2}}, 1);
        CHECK(!r.schedulable);
        CHECK(!r.tasks[1].satisfied);
        CHECK(!r.tasks[1].urgent_response);
    }
    SECTION("m = K: never urgent, nothing to guarantee, no interference") {
        const auto r = wh_jlfp_rta(ts, std::vector<weakly_hard_constraint>{{2, 2}, {0, 1}}, 1);
        CHECK(r.schedulable);
        CHECK(r.tasks[0].tolerable == unbounded_misses);
        CHECK(r.tasks[1].urgent_response == 3);
    }
}

TEST_CASE("wh_jlfp_rta: limited carry-in accepts what Bertogna-Cirinei does not",
          "[sched][weakly_hard]") {
    // Three hard (C 1, T = D 3) tasks on one core. R1 = 1, R2 = 2. For t3, no task carries
    // in (cores - 1 = 0): R = 1: NC = 1 each, cap 1 -> 3; R = 3: NC = 1 + min(0, 1) = 1
    // each -> 3. (Bertogna-Cirinei would count t2's carry-in job, span 3 + 2 - 1 = 4,
    // W2 = 1 + 1 = 2, and reach 4 > 3.)
    const std::vector<task> ts{{1, 3, 3, 0, 0}, {1, 3, 3, 0, 0}, {1, 3, 3, 0, 0}};
    const auto r = wh_jlfp_rta(ts, std::vector<weakly_hard_constraint>(3, {0, 1}), 1);
    CHECK(r.schedulable);
    CHECK(r.tasks[1].urgent_response == 2);
    CHECK(r.tasks[2].urgent_response == 3);
    CHECK(r.tasks[2].iterations == std::vector<time_value>{1, 3});
}

TEST_CASE("wh_jlfp_rta: hand-worked two-core case", "[sched][weakly_hard]") {
    // t1 = t2 = (2, 4, 4), t3 = (4, 6, 6) on two cores.
    const std::vector<task> ts{{2, 4, 4, 0, 0}, {2, 4, 4, 0, 0}, {4, 6, 6, 0, 0}};
    SECTION("hard: t3 fails") {
        // One task may carry in. R = 4: NC = 2 + min(0, 2) = 2, CI = 2 + [2 - 2]_0 = 2, each
        // capped at 1 -> 4 + 2/2 = 5; R = 5: NC = 3, CI = 2 + 1 = 3, cap 2 -> 4/2 -> 6;
        // R = 6: NC = CI = 4, cap 3 -> 6/2 -> 7 > 6.
        const auto r = wh_jlfp_rta(ts, std::vector<weakly_hard_constraint>{{0, 1}, {0, 1}, {0, 1}}, 2);
        CHECK(!r.tasks[2].satisfied);
        CHECK(r.tasks[2].iterations == std::vector<time_value>{4, 5, 6, 7});
        CHECK(r.tasks[1].urgent_response == 2);
    }
    SECTION("t1, t2 at most one miss in a row: t3 passes at 6") {
        // urgent jobs of t1, t2 >= 8 apart: R = 4: NC = CI = 2 each, capped at 1 -> 5;
        // R = 5: cap 2 -> 6; R = 6: NC = CI = 2 each -> 6.
        const auto r = wh_jlfp_rta(ts, std::vector<weakly_hard_constraint>{{1, 2}, {1, 2}, {0, 1}}, 2);
        CHECK(r.schedulable);
        CHECK(r.tasks[2].urgent_response == 6);
        CHECK(r.tasks[2].iterations == std::vector<time_value>{4, 5, 6});
    }
    SECTION("a third core removes the interference") {
        const auto r = wh_jlfp_rta(ts, std::vector<weakly_hard_constraint>{{0, 1}, {0, 1}, {0, 1}}, 3);
        CHECK(r.schedulable);
        // R = 4: 2 each capped at 1, floor(2 / 3) = 0 -> 4
        CHECK(r.tasks[2].urgent_response == 4);
        CHECK(r.tasks[2].iterations == std::vector<time_value>{4});
    }
}

TEST_CASE("wh_jlfp_rta refuses what it does not analyse", "[sched][weakly_hard]") {
    const std::vector<weakly_hard_constraint> c1{{0, 1}};
    CHECK_THROWS_WITH(wh_jlfp_rta(std::vector<task>{{5, 10, 12, 0, 0}}, c1, 1), Catch::Contains("task 0: deadline"));
    CHECK_THROWS_WITH(wh_jlfp_rta(std::vector<task>{{5, 10, 4, 0, 0}}, c1, 1), Catch::Contains("task 0: wcet"));
    CHECK_THROWS_WITH(wh_jlfp_rta(std::vector<task>{{5, 10, 10, 1, 0}}, c1, 1), Catch::Contains("jitter"));
    CHECK_THROWS_WITH(wh_jlfp_rta(std::vector<task>{{5, 10, 10, 0, 1}}, c1, 1), Catch::Contains("blocking"));
    CHECK_THROWS_WITH(wh_jlfp_rta(std::vector<task>{{5, 10, 10, 0, 0}}, std::vector<weakly_hard_constraint>{{2, 1}}, 1),
                      Catch::Contains("m/K"));
    CHECK_THROWS_AS(wh_jlfp_rta(std::vector<task>{{5, 10, 10, 0, 0}}, c1, 0), std::invalid_argument);
    CHECK_THROWS_AS(wh_jlfp_rta(std::vector<task>{{5, 10, 10, 0, 0}}, std::vector<weakly_hard_constraint>{}, 1),
                    std::invalid_argument);
    CHECK(wh_jlfp_rta(std::vector<task>{}, std::vector<weakly_hard_constraint>{}, 2).schedulable);
}
