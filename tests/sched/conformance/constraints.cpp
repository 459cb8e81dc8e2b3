// Linear constraints (Bini, arXiv 2410.14381; Bini & Di Natale, MISTA 2009): small sets
// whose feasible regions are derived by hand in the comments, the LP text's structure,
// and the solver's optimum against the exact one-task search of sensitivity.hpp.
#include <keel/sched/constraints.hpp>
#include <keel/sched/edf.hpp>
#include <keel/sched/fp.hpp>
#include <keel/sched/generate.hpp>
#include <keel/sched/priority_assignment.hpp>
#include <keel/sched/sensitivity.hpp>
#include <keel/sched/utilization.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

using namespace keel::sched;

namespace {

task_set make(std::vector<task> tasks, std::vector<std::string> names) {
    task_set s;
    s.tasks = std::move(tasks);
    s.names = std::move(names);
    return s;
}

bool fp_ok(const task_set& s, std::int64_t c1, std::int64_t c2) {
    std::vector<task> t = s.tasks;
    t[0].wcet = c1;
    t[1].wcet = c2;
    return fp_schedulable(t);
}

// (T = D): t1 (4), t2 (10), both free. Task 1: P_0(4) = {4}, C1 <= 4 = its bound: no
// group. Task 2: P_1(10) = {8, 10}: 2 C1 + C2 <= 8 OR 3 C1 + C2 <= 10.
task_set two_free() {
    return make({{1, 4, 4}, {1, 10, 10}}, {"t1", "t2"});
}

}  // namespace

TEST_CASE("FP constraints: a disjunction over the scheduling points, derived by hand") {
    const task_set s = two_free();
    const std::array<std::size_t, 2> free{0, 1};
    const constraint_system sys = fp_constraints(s, free);
    REQUIRE(sys.variables() == 2);
    CHECK(sys.names == std::vector<std::string>{"t1", "t2"});
    CHECK(sys.lower_bound == std::vector<std::int64_t>{1, 1});
    CHECK(sys.upper_bound == std::vector<std::int64_t>{4, 10});
    REQUIRE(sys.groups.size() == 1);
    const auto& alts = sys.groups[0].alternatives;
    REQUIRE(alts.size() == 2);
    CHECK(alts[0].terms == std::vector<linear_term>{{0, 2}, {1, 1}});
    CHECK(alts[0].rhs == 8);
    CHECK(alts[1].terms == std::vector<linear_term>{{0, 3}, {1, 1}});
    CHECK(alts[1].rhs == 10);

    // The region, point by point, against the exact test and the hand-derived rule.
    for (std::int64_t c1 = 1; c1 <= 4; ++c1)
        for (std::int64_t c2 = 1; c2 <= 10; ++c2) {
            const std::array<std::int64_t, 2> c{c1, c2};
            const bool hand = 2 * c1 + c2 <= 8 || 3 * c1 + c2 <= 10;
            CHECK(sys.satisfied_by(c) == hand);
            CHECK(fp_ok(s, c1, c2) == hand);
        }
    // Outside the bounds: never.
    CHECK_FALSE(sys.satisfied_by(std::array<std::int64_t, 2>{0, 1}));
    CHECK_FALSE(sys.satisfied_by(std::array<std::int64_t, 2>{1, 11}));
    CHECK_THROWS_AS(sys.satisfied_by(std::array<std::int64_t, 1>{1}), std::invalid_argument);
}

TEST_CASE("FP constraints: blocking and fixed tasks move to the right-hand side") {
    // t2 with B = 1, t1 fixed at C = 1: 2 + C2 <= 8 - 1 or 3 + C2 <= 10 - 1: C2 <= 6.
    task_set s = two_free();
    s.tasks[1].blocking = 1;
    const std::array<std::size_t, 1> free{1};
    const constraint_system sys = fp_constraints(s, free);
    REQUIRE(sys.groups.size() == 1);
    const auto& alts = sys.groups[0].alternatives;
    REQUIRE(alts.size() == 2);
    CHECK(alts[0].terms == std::vector<linear_term>{{0, 1}});
    CHECK(alts[0].rhs == 5);
    CHECK(alts[1].rhs == 6);
    CHECK(sys.satisfied_by(std::array<std::int64_t, 1>{6}));
    CHECK_FALSE(sys.satisfied_by(std::array<std::int64_t, 1>{7}));
    // A fixed task that fails whatever the free ones do: an empty group.
    task_set bad = make({{1, 10, 10}, {5, 4, 4}}, {"free", "fails"});
    const std::array<std::size_t, 1> first{0};
    const constraint_system never = fp_constraints(bad, first);
    bool has_empty = false;
    for (const auto& g : never.groups)
        has_empty = has_empty || g.alternatives.empty();
    CHECK(has_empty);
    CHECK_FALSE(never.satisfied_by(std::array<std::int64_t, 1>{1}));
}

TEST_CASE("FP constraints refuse what the scheduling-point form cannot encode, naming the task") {
    const std::array<std::size_t, 1> free{0};
    task_set arbitrary = make({{1, 4, 4}, {1, 10, 12}}, {"a", "late"});
    try {
        (void)fp_constraints(arbitrary, free);
        FAIL("no exception");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("'late'") != std::string::npos);
        CHECK(std::string(e.what()).find("deadline") != std::string::npos);
    }
    task_set jitter = make({{1, 4, 4, 1}, {1, 10, 10}}, {"shaky", "b"});
    try {
        (void)fp_constraints(jitter, free);
        FAIL("no exception");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("'shaky'") != std::string::npos);
        CHECK(std::string(e.what()).find("jitter") != std::string::npos);
    }
    const task_set s = two_free();
    CHECK_THROWS_AS(fp_constraints(s, std::span<const std::size_t>{}), std::invalid_argument);
    CHECK_THROWS_AS(fp_constraints(s, std::array<std::size_t, 1>{2}), std::invalid_argument);
    CHECK_THROWS_AS(fp_constraints(s, std::array<std::size_t, 2>{1, 1}), std::invalid_argument);
}

TEST_CASE("EDF constraints: demand at deadlines up to the capped horizon, and the cap") {
    // t1 (T 4, D 3) free, t2 (C 2, T 6, D 5) fixed, U_max = 9/10.
    // Horizon: max(T - D) = 1, 1 * 0.9 / 0.1 = 9, H = max(5, 9) + 1 = 10.
    // Deadlines <= 10: 3, 7 (t1), 5 (t2). t=3: C1 <= 3 and t=5: C1 + 2 <= 5 are implied by
    // C1 <= D1 = 3 (dropped); t=7: 2 C1 + 2 <= 7, i.e. 2 C1 <= 5.
    // Cap: M = lcm(10, 4) = 20: 5 C1 <= 18 - ceil(20 * 2/6) = 18 - 7 = 11.
    const task_set s = make({{1, 4, 3}, {2, 6, 5}}, {"t1", "t2"});
    const std::array<std::size_t, 1> free{0};
    const constraint_system sys = edf_constraints(s, free, 9, 10);
    CHECK(sys.horizon == 10);
    CHECK(sys.utilization_cap_num == 9);
    CHECK(sys.utilization_cap_den == 10);
    REQUIRE(sys.groups.size() == 2);
    REQUIRE(sys.groups[0].alternatives.size() == 1);
    CHECK(sys.groups[0].alternatives[0].terms == std::vector<linear_term>{{0, 5}});
    CHECK(sys.groups[0].alternatives[0].rhs == 11);
    REQUIRE(sys.groups[1].alternatives.size() == 1);
    CHECK(sys.groups[1].alternatives[0].terms == std::vector<linear_term>{{0, 2}});
    CHECK(sys.groups[1].alternatives[0].rhs == 5);
    CHECK(sys.satisfied_by(std::array<std::int64_t, 1>{2}));
    CHECK_FALSE(sys.satisfied_by(std::array<std::int64_t, 1>{3}));
    // The exact test agrees: C1 = 3 gives U = 3/4 + 1/3 > 1.
    std::vector<task> t = s.tasks;
    t[0].wcet = 2;
    CHECK(edf_qpa(t).schedulable);
    t[0].wcet = 3;
    CHECK_FALSE(edf_qpa(t).schedulable);

    CHECK_THROWS_AS(edf_constraints(s, free, 1, 1), std::invalid_argument);
    CHECK_THROWS_AS(edf_constraints(s, free, 0, 10), std::invalid_argument);
    // D - J <= 0: never schedulable, an empty group.
    const task_set late = make({{1, 4, 3}, {1, 6, 2, 2}}, {"t1", "t2"});
    const constraint_system never = edf_constraints(late, free);
    REQUIRE(never.groups.size() == 1);
    CHECK(never.groups[0].alternatives.empty());
}

TEST_CASE("LP export: sections, bounds, integer variables and the big-M rows") {
    const task_set s = two_free();
    const std::array<std::size_t, 2> free{0, 1};
    const std::string lp = to_lp(fp_constraints(s, free), std::array<double, 2>{3, 1});
    auto has = [&](const std::string& part) {
        INFO(lp);
        CHECK(lp.find(part) != std::string::npos);
    };
    has("Maximize\n obj: 3 C_t1 + 1 C_t2\n");
    has("Subject To\n");
    // M = (2*4 + 10) - 8 = 10 and (3*4 + 10) - 10 = 12: rows are terms + M y <= rhs + M.
    has(" g0_a0: 2 C_t1 + 1 C_t2 + 10 y_0_0 <= 18\n");
    has(" g0_a1: 3 C_t1 + 1 C_t2 + 12 y_0_1 <= 22\n");
    has(" g0_any: 1 y_0_0 + 1 y_0_1 >= 1\n");
    has("Bounds\n 1 <= C_t1 <= 4\n 1 <= C_t2 <= 10\n");
    has("General\n C_t1\n C_t2\n");
    has("Binary\n y_0_0\n y_0_1\n");
    CHECK(lp.size() >= 4);
    CHECK(lp.substr(lp.size() - 4) == "End\n");
    // Sections in order.
    CHECK(lp.find("Maximize") < lp.find("Subject To"));
    CHECK(lp.find("Subject To") < lp.find("Bounds"));
    CHECK(lp.find("Bounds") < lp.find("General"));
    CHECK(lp.find("General") < lp.find("Binary"));

    // Names are sanitised and kept distinct.
    const task_set odd = make({{1, 4, 4}, {1, 10, 10}}, {"a-b", "a.b"});
    const std::string lp2 = to_lp(fp_constraints(odd, free));
    CHECK(lp2.find(" C_a_b\n") != std::string::npos);
    CHECK(lp2.find(" C_a_b_1\n") != std::string::npos);
    CHECK_THROWS_AS(to_lp(fp_constraints(s, free), std::array<double, 1>{1}),
                    std::invalid_argument);

    // EDF: single rows only, no Binary section.
    const task_set e = make({{1, 4, 3}, {2, 6, 5}}, {"t1", "t2"});
    const std::string lp3 = to_lp(edf_constraints(e, std::array<std::size_t, 1>{0}, 9, 10));
    CHECK(lp3.find(" g0: 5 C_t1 <= 11\n") != std::string::npos);
    CHECK(lp3.find(" g1: 2 C_t1 <= 5\n") != std::string::npos);
    CHECK(lp3.find("Binary") == std::string::npos);
}

TEST_CASE("Solver: hand-derived optima, or a clear 'unavailable'") {
    const task_set s = two_free();
    const std::array<std::size_t, 2> free{0, 1};
    const constraint_system sys = fp_constraints(s, free);
    const solve_result r = maximize_weighted_wcet(sys, std::array<double, 2>{3, 1});
    if (!constraint_solver_available()) {
        CHECK(r.status == solve_status::unavailable);
        CHECK(r.message.find("KEEL_WITH_COINOR") != std::string::npos);
        return;
    }
    // max 3 C1 + C2: on 2 C1 + C2 <= 8, (3, 2) gives 11 (C1 = 4 leaves C2 = 0); on
    // 3 C1 + C2 <= 10 at most 10. (3, 2): R2 = 2 + ceil(R/4) 3 = 8 <= 10.
    REQUIRE(r.status == solve_status::optimal);
    CHECK(r.wcet == std::vector<std::int64_t>{3, 2});
    CHECK(r.objective == Approx(11));
    // max C1 + C2: (1, 7) on the t = 10 piece gives 8.
    const solve_result sum = maximize_weighted_wcet(sys);
    REQUIRE(sum.status == solve_status::optimal);
    CHECK(sum.wcet == std::vector<std::int64_t>{1, 7});
    // Infeasible: a fixed task that always fails.
    const task_set bad = make({{1, 10, 10}, {5, 4, 4}}, {"free", "fails"});
    CHECK(maximize_weighted_wcet(fp_constraints(bad, std::array<std::size_t, 1>{0})).status ==
          solve_status::infeasible);
}

TEST_CASE("Solver optimum with one free task equals max_wcet's exact search") {
    if (!constraint_solver_available()) return;
    const set_test fp_exact = [](std::span<const task> t) { return fp_schedulable(t); };
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        generator_options g;
        g.n = 5;
        g.utilization = 0.5 + 0.01 * static_cast<double>(seed);
        g.period_min = 10;
        g.period_max = 200;
        g.deadlines = deadline_kind::constrained;
        g.deadline_min_fraction = 0.5;
        task_set s = generate_task_set(g, seed);
        // Deadline-monotonic order, then a free task chosen by the seed.
        s.tasks = apply_priority_order(s.tasks, deadline_monotonic(s.tasks));
        const std::size_t i = seed % g.n;
        const std::array<std::size_t, 1> free{i};
        const auto exact = max_wcet(s.tasks, i, fp_exact);
        const solve_result r = maximize_weighted_wcet(fp_constraints(s, free));
        INFO("seed " << seed << " task " << i);
        if (exact) {
            REQUIRE(r.status == solve_status::optimal);
            CHECK(r.wcet[0] == *exact);
        } else {
            CHECK(r.status == solve_status::infeasible);
        }
        // EDF with the cap: the exact search over "QPA accepts and U <= 9/10".
        const set_test edf_capped = [](std::span<const task> t) {
            return edf_qpa(t).schedulable && utilization(t) <= rational(9, 10);
        };
        const auto exact_edf = max_wcet(s.tasks, i, edf_capped);
        const solve_result re = maximize_weighted_wcet(edf_constraints(s, free, 9, 10));
        if (exact_edf) {
            REQUIRE(re.status == solve_status::optimal);
            CHECK(re.wcet[0] == *exact_edf);
        } else {
            CHECK(re.status == solve_status::infeasible);
        }
    }
}

TEST_CASE("Solver optimum with two free tasks equals a brute-force search of the region") {
    if (!constraint_solver_available()) return;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        generator_options g;
        g.n = 4;
        g.utilization = 0.6 + 0.015 * static_cast<double>(seed);
        g.period_min = 10;
        g.period_max = 60;
        g.deadlines = deadline_kind::constrained;
        g.deadline_min_fraction = 0.5;
        task_set s = generate_task_set(g, seed);
        s.tasks = apply_priority_order(s.tasks, deadline_monotonic(s.tasks));
        const std::array<std::size_t, 2> free{seed % 4, (seed + 1) % 4};
        const std::array<double, 2> w{2, 1};
        for (const bool fp : {true, false}) {
            const constraint_system sys = fp ? fp_constraints(s, free) : edf_constraints(s, free);
            double best = -1;
            for (std::int64_t a = 1; a <= sys.upper_bound[0]; ++a)
                for (std::int64_t b = 1; b <= sys.upper_bound[1]; ++b)
                    if (sys.satisfied_by(std::array<std::int64_t, 2>{a, b}))
                        best = std::max(
                            best, w[0] * static_cast<double>(a) + w[1] * static_cast<double>(b));
            const solve_result r = maximize_weighted_wcet(sys, w);
            INFO("seed " << seed << (fp ? " fp" : " edf"));
            if (best < 0) {
                CHECK(r.status == solve_status::infeasible);
            } else {
                REQUIRE(r.status == solve_status::optimal);
                CHECK(r.objective == Approx(best));
                CHECK(sys.satisfied_by(r.wcet));
            }
        }
    }
}
