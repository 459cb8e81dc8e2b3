// Multi-rate schedule randomisation (randomize.hpp): hand-worked cases.
// The MAARS paper (Sain, Adhikary, Koley & Dey, arXiv 2408.00341) gives no worked example
// with exact numbers that we could read, so every number here is worked by hand in the
// comments (exact RTA, Joseph & Pandya 1986: R = C_i + sum_{j<i} ceil(R/T_j) C_j).
#include <keel/sched/fp.hpp>
#include <keel/sched/randomize.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using namespace keel::sched;

namespace {

// Example A (priority order):
//   t0: C = 2, T in {4, 5};  t1: C = 2, T in {5, 10};  t2: C = 3, T in {10, 20}.
// t0: R = 2 always. t1: R = 2 + 2 = 4 under either T0 (ceil(4/4) = ceil(4/5) = 1), <= 5.
// t2 (R iterates from 3):
//   (4, 5, *): U = .5 + .4 + .3 = 1.2 or 1.05 > 1: misses.
//   (4, 10, 10): 3, 7, 9, 11 > 10: misses.  (4, 10, 20): 3, 7, 9, 11, 13, 15, 15: R = 15.
//   (5, 5, 10): U = 1.1: misses.  (5, 5, 20): 3, 7, 11, 15, 15: R = 15.
//   (5, 10, 10): 3, 7, 9, 9: R = 9.  (5, 10, 20): R = 9.
multirate_system example_a() {
    multirate_system s;
    s.tasks = {{2, {4, 5}, 0}, {2, {5, 10}, 0}, {3, {10, 20}, 0}};
    s.names = {"t0", "t1", "t2"};
    return s;
}

}  // namespace

TEST_CASE("enumeration finds exactly the hand-worked schedulable combinations", "[randomize]") {
    const auto r = enumerate_schedulable(example_a());
    REQUIRE(r.total == 8);
    REQUIRE_FALSE(r.truncated);
    REQUIRE(r.combinations.size() == 4);
    CHECK(r.rejected == 4);
    // Nothing prunable above the last task here: 2 + 2*2 + 4*2 RTAs.
    CHECK(r.rta_calls == 14);
    const std::vector<std::vector<time_value>> periods{
        {4, 10, 20}, {5, 5, 20}, {5, 10, 10}, {5, 10, 20}};
    const std::vector<std::vector<time_value>> responses{
        {2, 4, 15}, {2, 4, 15}, {2, 4, 9}, {2, 4, 9}};
    for (std::size_t k = 0; k < 4; ++k) {
        CHECK(r.combinations[k].periods == periods[k]);
        CHECK(r.combinations[k].response_times == responses[k]);
    }
    CHECK(r.combinations[2].choice == std::vector<std::size_t>{1, 1, 0});
    CHECK(r.combinations[2].utilization == Approx(0.4 + 0.2 + 0.3));
    // The brute-force reference lists all 8 choices in the same (lexicographic) order.
    const auto all = every_choice(example_a());
    REQUIRE(all.size() == 8);
    CHECK(all[3] == std::vector<std::size_t>{0, 1, 1});
    CHECK(all[7] == std::vector<std::size_t>{1, 1, 1});
}

TEST_CASE("an unschedulable prefix prunes all its completions", "[randomize]") {
    // t0: C = 3, T in {4, 8}; t1: C = 2, T in {5, 10}; t2: C = 1, T in {10, 20}.
    // Under T0 = 4, t1 with T1 = 5: R = 2 + ceil(R/4) 3: 5, 8 > 5: misses, so the two
    // completions (4, 5, 10) and (4, 5, 20) are rejected without an RTA of t2.
    multirate_system s;
    s.tasks = {{3, {4, 8}, 0}, {2, {5, 10}, 0}, {1, {10, 20}, 0}};
    const auto r = enumerate_schedulable(s);
    // Depth 0: 2 RTAs; depth 1: 4; depth 2: only the 3 schedulable prefixes, 6.
    CHECK(r.rta_calls == 12);
    CHECK(r.combinations.size() + r.rejected == 8);
    for (const auto& c : r.combinations)
        CHECK_FALSE((c.periods[0] == 4 && c.periods[1] == 5));
}

TEST_CASE("the cap stops the enumeration and says so", "[randomize]") {
    enumeration_options o;
    o.max_combinations = 3;
    const auto r = enumerate_schedulable(example_a(), o);
    CHECK(r.truncated);
    CHECK(r.combinations.size() == 3);
    o.max_combinations = 4;  // exactly as many as exist: not truncated
    CHECK_FALSE(enumerate_schedulable(example_a(), o).truncated);
}

TEST_CASE("fixed deadlines are kept across periods", "[randomize]") {
    // t1: D = 4 fixed: R = 4 under T0 = 4 or 5; with D = 3 it always misses.
    multirate_system s;
    s.tasks = {{2, {4, 5}, 0}, {2, {5, 10}, 3}};
    CHECK(enumerate_schedulable(s).combinations.empty());
    s.tasks[1].deadline = 4;
    CHECK(enumerate_schedulable(s).combinations.size() == 4);
}

TEST_CASE("validation names the task and the field", "[randomize]") {
    auto msg = [](const multirate_system& s) {
        try {
            s.validate();
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    multirate_system s = example_a();
    s.tasks[1].periods = {5, 0};
    CHECK_THAT(msg(s), Catch::Contains("task \"t1\"") && Catch::Contains("periods[1] 0"));
    s.tasks[1].periods = {5, 5};
    CHECK_THAT(msg(s), Catch::Contains("periods[1] 5 repeats"));
    s.tasks[1].periods = {};
    CHECK_THAT(msg(s), Catch::Contains("t1") && Catch::Contains("periods must list"));
    s = example_a();
    s.names.clear();
    s.tasks[2].wcet = 0;
    CHECK_THAT(msg(s), Catch::Contains("task 2") && Catch::Contains("wcet 0"));
    s.tasks[2].wcet = 1;
    s.tasks[0].deadline = -1;
    CHECK_THAT(msg(s), Catch::Contains("task 0") && Catch::Contains("deadline -1"));
    CHECK_THROWS_AS(enumerate_schedulable(s), std::invalid_argument);
}

TEST_CASE("vulnerability: the share of the likeliest start offset in a hyperperiod", "[randomize]") {
    const multirate_system s = example_a();
    const auto r = enumerate_schedulable(s);
    // (4, 10, 20), victim t1, H = 20: t0 runs [0,2) [4,6) [8,10) [12,14) [16,18); t1's job
    // released at 0 starts at 2 (offset 2), the one released at 10 starts at 10 (offset
    // 0): two offsets, one job each.
    const auto v = vulnerability_of(s, r.combinations[0], 1);
    CHECK(v.hyperperiod == 20);
    CHECK(v.victim_jobs == 2);
    CHECK(v.vulnerability == Approx(0.5));
    CHECK(v.likeliest_offset == 0);
    // A window of 2 ticks covers both offsets.
    CHECK(vulnerability_of(s, r.combinations[0], 1, 2).vulnerability == Approx(1.0));
    // (5, 5, 20), victim t1: t0 always runs first for 2 ticks: every offset is 2.
    const auto w = vulnerability_of(s, r.combinations[1], 1);
    CHECK(w.vulnerability == Approx(1.0));
    CHECK(w.likeliest_offset == 2);
    CHECK(w.victim_jobs == 4);
    CHECK_THROWS_AS(vulnerability_of(s, r.combinations[0], 3), std::invalid_argument);
}

TEST_CASE("the attacker learns a periodic gap pattern", "[randomize]") {
    const std::vector<time_value> periodic{0, 10, 20, 30};
    CHECK(predict_next_start(periodic) == 40);
    // Gaps 3, 7, 3, 7, 3: the suffix (7, 3) was followed by 7.
    const std::vector<time_value> alternating{0, 3, 10, 13, 20, 23};
    CHECK(predict_next_start(alternating) == 30);
    CHECK_FALSE(predict_next_start(std::vector<time_value>{5}).has_value());
    // Predictions of starts 2..5 (training 0): from (0, 3) the only gap repeats, 6 (not
    // 10); from (0, 3, 10) the suffix (7) has no earlier match, so 17 (not 13); then the
    // suffixes (3) and (7, 3) match: 20 and 23, right.
    const auto a = evaluate_attack(alternating, 0);
    CHECK(a.predictions == 4);
    CHECK(a.hits == 2);
    CHECK(a.rate == Approx(0.5));
    CHECK(evaluate_attack(alternating, 0, 4).hits == 4);  // both misses were 4 ticks off
    CHECK(evaluate_attack(alternating, 4).predictions == 2);
    CHECK_THROWS_AS(evaluate_attack(alternating, 0, -1), std::invalid_argument);
}

TEST_CASE("the simulator records starts and switches only at safe points", "[randomize]") {
    const multirate_system s = example_a();
    const auto r = enumerate_schedulable(s);
    // Fixed combination (5, 10, 10): t0 [0,2), t1 [2,4), t2 [4,5) preempted by t0 at 5
    // [5,7), t2 resumes [7,9): t2's job starts at 4 and finishes at 9.
    const auto trace = simulate_multirate(s, r.combinations, 2, 10);
    REQUIRE(trace.misses == 0);
    REQUIRE(trace.switches.size() == 1);
    for (const auto& j : trace.jobs)
        if (j.task == 2) {
            CHECK(*j.start == 4);
            CHECK(*j.finish == 9);
        }
    // With the randomiser: every switch at t > 0 finds every job released before t done.
    schedule_randomizer rnd({0, 1, 2, 3}, 7);
    const auto run = simulate_multirate(s, r.combinations, 0, 2000, &rnd);
    CHECK(run.misses == 0);
    CHECK(run.switches.size() > 3);
    CHECK(run.safe_points >= static_cast<std::int64_t>(run.switches.size()));
    for (const auto& [t, c] : run.switches) {
        for (const auto& j : run.jobs)
            if (j.release < t) CHECK((j.finish && *j.finish <= t));
        CHECK(c < 4);
    }
    CHECK_THROWS_AS(schedule_randomizer({}, 1), std::invalid_argument);
    CHECK_THROWS_AS(simulate_multirate(s, r.combinations, 9, 10), std::invalid_argument);
    CHECK_THROWS_AS(simulate_multirate(s, r.combinations, 0, 0), std::invalid_argument);
}

TEST_CASE("the attack-aware pool keeps the least vulnerable combinations", "[randomize]") {
    const multirate_system s = example_a();
    const auto r = enumerate_schedulable(s);
    std::vector<double> v;
    // Victim t1: (4, 10, 20) has 1/2 (above); the three others run t1 at offset 2 always.
    const auto pool = attack_aware_pool(s, r.combinations, 1, 0, 0.25, v);
    CHECK(v == std::vector<double>{0.5, 1.0, 1.0, 1.0});
    CHECK(pool == std::vector<std::size_t>{0});
    // Half: the quantile level is 1.0, so ties with it stay in.
    CHECK(attack_aware_pool(s, r.combinations, 1, 0, 0.5, v).size() == 4);
    CHECK_THROWS_AS(attack_aware_pool(s, r.combinations, 1, 0, 0.0, v), std::invalid_argument);
}
