// EDF processor-demand tests (edf_pdc, edf_qpa, demand_bound, edf_horizon) against
// published examples and hand-derived ones. Every number is justified next to it:
// "published" numbers come from the cited source; "hand" numbers are worked out in the
// comment; "reference" numbers were computed once by an independent exact script
// (Python fractions, brute force over all deadlines) and are pinned to catch regressions.
#include <keel/sched/edf.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

using namespace keel::sched;

namespace {
using steps_t = std::vector<std::pair<time_value, time_value>>;
}

// Buttazzo, "Hard Real-Time Computing Systems", 3rd ed. (Springer 2011), section 4.6.2,
// Table 4.4: tau1 (C 2, D 4, T 6), tau2 (C 2, D 5, T 8), tau3 (C 3, D 7, T 9).
// Published: U = 2/6 + 2/8 + 3/9 = 11/12, L* = sum (T_i - D_i) U_i / (1 - U) = 25,
// H = lcm(6, 8, 9) = 72, and the demand check at the deadlines up to L* passes. (C and T
// are in the published U and H; the deadlines 4, 5, 7 are those of the table as we have
// it, and they reproduce the published L* = 25: (2*1/3 + 3*1/4 + 2*1/3) / (1/12) = 25.)
TEST_CASE("Buttazzo Table 4.4: L* = 25, H = 72, demand below supply at every deadline") {
    const std::vector<task> ts{{2, 6, 4}, {2, 8, 5}, {3, 9, 7}};
    const edf_bounds b = edf_horizon(ts);
    CHECK(b.utilization_vs_one < 0);
    REQUIRE(b.la);
    CHECK(*b.la == 25);  // published L*
    CHECK(b.la_exact);
    REQUIRE(b.hyperperiod_bound);
    CHECK(*b.hyperperiod_bound == 7 + 72);  // max D + published H
    // Hand: busy period w = 7 -> 9 -> 11 -> 14 -> 16 -> 16 (sum ceil(w/T_i) C_i).
    REQUIRE(b.busy_period);
    CHECK(*b.busy_period == 16);
    CHECK(b.horizon == 16);
    // Hand: h at the published check points (jobs due by t, times C).
    const std::vector<std::pair<time_value, time_value>> points{
        {4, 2}, {5, 4}, {7, 7}, {10, 9}, {13, 11}, {16, 16}, {21, 18}, {22, 20}};
    for (auto [t, demand] : points) CHECK(demand_bound(ts, t) == demand);

    const edf_result pdc = edf_pdc(ts);
    CHECK(pdc.schedulable);
    CHECK_FALSE(pdc.witness);
    CHECK(pdc.horizon == 16);
    CHECK(pdc.evaluations == 5);  // hand: deadlines below 16 are 4, 5, 7, 10, 13
    CHECK(pdc.steps.empty());

    // Hand: QPA from t = 13 (largest deadline < 16): h(13) = 11 < 13 -> t = 11; h(11) = 9
    // -> 9; h(9) = 7 -> 7; h(7) = 7 = t -> previous deadline 5; h(5) = 4 <= d_min = 4:
    // schedulable (the search stops as soon as the demand fits before the first deadline).
    const edf_result qpa = edf_qpa(ts);
    CHECK(qpa.schedulable);
    CHECK(qpa.steps == steps_t{{13, 11}, {11, 9}, {9, 7}, {7, 7}, {5, 4}});
    CHECK(qpa.evaluations == 5);
}

// The QPA example set of Zhang & Burns, "Schedulability Analysis for Real-Time Systems
// with EDF Scheduling", IEEE Trans. Computers 58(9), 2009, as SchedCAT's QPA regression
// test (brandenburg/schedcat, tests/edf.py, Test_QPA) reproduces it, (C, T, D). Expected
// verdicts there: schedulable; with (C 10, T 100, D 15) added, unschedulable. The other
// numbers below are "reference" numbers (see the top of the file), not published ones.
TEST_CASE("Zhang & Burns 2009 example set: schedulable - with (10, 100, 15) added, not") {
    std::vector<task> ts{{6000, 31000, 18000}, {2000, 9800, 9000}, {1000, 17000, 12000},
                         {90, 4200, 3000},     {8, 96, 78},          {2, 12, 16},
                         {10, 280, 120},       {26, 660, 160}};
    const edf_bounds b = edf_horizon(ts);
    // Reference: U = 13685509/17043180, La = 18000 (max D dominates), Lb = 16984,
    // lcm = 3408636000.
    CHECK(b.la == 18000);
    CHECK(b.busy_period == 16984);
    CHECK(b.hyperperiod_bound == 18000 + 3408636000);
    const edf_result pdc = edf_pdc(ts);
    const edf_result qpa = edf_qpa(ts);
    CHECK(pdc.schedulable);  // published
    CHECK(qpa.schedulable);  // published
    CHECK(pdc.evaluations == 1638);  // reference: distinct deadlines below 16984
    // Reference: the QPA trace, ending with h(26) = 2 <= d_min = 16.
    CHECK(qpa.steps == steps_t{{16974, 8890}, {8890, 3080}, {3080, 1098}, {1098, 362},
                               {362, 118}, {118, 26}, {26, 2}});

    ts.push_back({10, 100, 15});
    const edf_result pdc2 = edf_pdc(ts);
    const edf_result qpa2 = edf_qpa(ts);
    CHECK_FALSE(pdc2.schedulable);  // published
    CHECK_FALSE(qpa2.schedulable);  // published
    // Reference: La = 31275, Lb = 25480; PDC's first failure is at 18800 (h = 19364)
    // after 2003 points; QPA stops at 19900 (h = 19902) after 15 steps.
    CHECK(pdc2.horizon == 25480);
    REQUIRE(pdc2.witness);
    CHECK(*pdc2.witness == demand_witness{18800, 19364});
    CHECK(pdc2.evaluations == 2003);
    REQUIRE(qpa2.witness);
    CHECK(*qpa2.witness == demand_witness{19900, 19902});
    CHECK(qpa2.evaluations == 15);
    CHECK(qpa2.steps.back() == std::pair<time_value, time_value>{19900, 19902});
    for (const auto* r : {&pdc2, &qpa2}) CHECK(demand_bound(ts, r->witness->t) == r->witness->demand);
}

// Baruah, Rosier & Howell (Real-Time Systems 2(4), 1990): a synchronous sporadic set is
// EDF-feasible iff U <= 1 and h(t) <= t for all t. With implicit deadlines this reduces
// to U <= 1 (Liu & Layland 1973), including U = 1 exactly.
TEST_CASE("implicit deadlines: U = 1 is schedulable, U > 1 is not (with a witness)") {
    // U = 2/4 + 3/6 = 1 exactly: the exact comparison path. Hand: busy period
    // 5 -> 7 -> 10 -> 12 -> 12 = the hyperperiod.
    const std::vector<task> full{{2, 4, 4}, {3, 6, 6}};
    const edf_bounds b = edf_horizon(full);
    CHECK(b.utilization_vs_one == 0);
    CHECK_FALSE(b.la);
    CHECK(b.busy_period == 12);
    CHECK(b.hyperperiod_bound == 6 + 12);
    CHECK(edf_pdc(full).schedulable);
    CHECK(edf_qpa(full).schedulable);

    // U = 3/4 + 2/4 = 5/4 > 1. Hand: doubling starts at max D = 4, h(4) = 3 + 2 = 5 > 4;
    // PDC then scans the deadlines below 5: only 4 (one more evaluation).
    const std::vector<task> over{{3, 4, 4}, {2, 4, 4}};
    CHECK(edf_horizon(over).utilization_vs_one == 1);
    const edf_result oq = edf_qpa(over);
    const edf_result op = edf_pdc(over);
    CHECK_FALSE(oq.schedulable);
    CHECK(oq.witness == demand_witness{4, 5});
    CHECK(oq.evaluations == 1);
    CHECK(op.witness == demand_witness{4, 5});
    CHECK(op.evaluations == 2);
    // U = 2/3 + 2/4 = 7/6, tau1 (C 2, T 3, D 2), tau2 (C 2, T 4, D 10). Hand: doubling
    // from max D = 10: h(10) = 3*2 + 2 = 8, h(20) = 7*2 + 3*2 = 20, h(40) = 13*2 + 8*2 = 42
    // > 40; the largest deadline <= 40 is 38 (2 + 12*3 = 10 + 7*4): QPA's witness
    // (38, 42) after 3 evaluations. PDC scans 2, 5, 8, 10, 11, 14, 17, 18, 20, 22, 23 with
    // h = 2, 4, 6, 8, 10, 14, 16, 18, 20, 22, 24: first failure h(23) = 8*2 + 4*2 = 24.
    const std::vector<task> over2{{2, 3, 2}, {2, 4, 10}};
    const edf_result q2 = edf_qpa(over2);
    CHECK(q2.witness == demand_witness{38, 42});
    CHECK(q2.evaluations == 3);
    const edf_result p2 = edf_pdc(over2);
    CHECK(p2.witness == demand_witness{23, 24});
    CHECK(p2.evaluations == 3 + 11);

    // U = 1/3 + 1/3 + 1/3 + 1/1000000007 just above 1: only the exact sum sees it.
    const std::vector<task> barely{{1, 3, 3}, {1, 3, 3}, {1, 3, 3}, {1, 1000000007, 1000000007}};
    CHECK(edf_horizon(barely).utilization_vs_one == 1);
    const edf_result r = edf_qpa(barely);
    CHECK_FALSE(r.schedulable);
    REQUIRE(r.witness);
    CHECK(r.witness->demand > r.witness->t);
    CHECK(demand_bound(barely, r.witness->t) == r.witness->demand);
}

TEST_CASE("constrained deadlines: the first failing deadline and QPA's certificate") {
    // Hand: tau1 (C 2, T 5, D 3), tau2 (C 3, T 10, D 4); U = 0.7.
    // La = max(4, ceil((2*0.4 + 6*0.3) / 0.3)) = ceil(8.67) = 9; Lb: 5 -> 2 + 3 = 5.
    // Deadlines below 5: 3 (h = 2), 4 (h = 5 > 4): witness (4, 5).
    const std::vector<task> ts{{2, 5, 3}, {3, 10, 4}};
    const edf_bounds b = edf_horizon(ts);
    CHECK(b.la == 9);
    CHECK(b.busy_period == 5);
    CHECK(b.horizon == 5);
    const edf_result pdc = edf_pdc(ts);
    CHECK_FALSE(pdc.schedulable);
    CHECK(pdc.witness == demand_witness{4, 5});
    CHECK(pdc.evaluations == 2);
    const edf_result qpa = edf_qpa(ts);
    CHECK_FALSE(qpa.schedulable);
    CHECK(qpa.witness == demand_witness{4, 5});
    CHECK(qpa.steps == steps_t{{4, 5}});
}

// George, Rivierre & Spuri (INRIA RR-2966, 1996) extend the demand test to arbitrary
// deadlines with the bound La = max(D_max, sum (T_i - D_i) U_i / (1 - U)).
TEST_CASE("arbitrary deadlines (D > T)") {
    // Hand: tau1 (C 3, T 4, D 5), tau2 (C 3, T 16, D 5); U = 0.9375.
    // La = max(5, (-1 * 0.75 + 11 * 0.1875) / 0.0625) = 21; Lb: 6 -> 9 -> 12 -> 12.
    // Deadlines below 12: 5 (h = 3 + 3 = 6 > 5). QPA starts at 9: h(9) = 6 + 3 = 9 = t ->
    // previous deadline 5: h(5) = 6 > 5.
    const std::vector<task> ts{{3, 4, 5}, {3, 16, 5}};
    const edf_bounds b = edf_horizon(ts);
    CHECK(b.la == 21);
    CHECK(b.busy_period == 12);
    const edf_result pdc = edf_pdc(ts);
    CHECK(pdc.witness == demand_witness{5, 6});
    CHECK(pdc.evaluations == 1);
    const edf_result qpa = edf_qpa(ts);
    CHECK(qpa.witness == demand_witness{5, 6});
    CHECK(qpa.steps == steps_t{{9, 9}, {5, 6}});

    // Hand: deadlines beyond the busy period cannot fail. tau1 (C 3, T 4, D 6),
    // tau2 (C 1, T 8, D 10): Lb = 4 (4 -> 3 + 1 = 4), no deadline below 4.
    const std::vector<task> late{{3, 4, 6}, {1, 8, 10}};
    const edf_result q = edf_qpa(late);
    CHECK(q.schedulable);
    CHECK(q.horizon == 4);
    CHECK(q.evaluations == 0);
    CHECK(edf_pdc(late).evaluations == 0);
}

TEST_CASE("release jitter shortens the deadline to D - J") {
    // Hand: tau1 (C 2, T 5, D 4, J 2) has D' = 2; tau2 (C 2, T 10, D 4).
    // h(2) = 2, h(4) = 4: schedulable. With J = 3, D' = 1 < C: h(1) = 2 > 1.
    std::vector<task> ts{{2, 5, 4, 2}, {2, 10, 4}};
    CHECK(demand_bound(ts, 2) == 2);
    CHECK(demand_bound(ts, 4) == 4);
    CHECK(edf_pdc(ts).schedulable);
    CHECK(edf_qpa(ts).schedulable);
    ts[0].jitter = 3;
    CHECK(edf_pdc(ts).witness == demand_witness{1, 2});
    CHECK(edf_qpa(ts).witness == demand_witness{1, 2});
    // J >= D: the job can be released at or after its deadline: witness at t = 0.
    ts[0].jitter = 4;
    CHECK(edf_qpa(ts).witness == demand_witness{0, 2});
    CHECK(edf_pdc(ts).witness == demand_witness{0, 2});
    // Jitter also lengthens the busy period: w = ceil((w + J_i)/T_i) C_i summed.
    // Hand: tau1 (C 1, T 4, D 4, J 3), tau2 (C 1, T 4, D 4): 2 -> 2*1 + 1 = 3 -> 3.
    const std::vector<task> bunched{{1, 4, 4, 3}, {1, 4, 4}};
    CHECK(edf_horizon(bunched).busy_period == 3);
}

TEST_CASE("blocking is ignored by the EDF demand tests") {
    const std::vector<task> a{{2, 6, 4}, {2, 8, 5}, {3, 9, 7}};
    std::vector<task> b = a;
    b[0].blocking = 100;
    CHECK(edf_qpa(b).steps == edf_qpa(a).steps);
    CHECK(edf_pdc(b).schedulable == edf_pdc(a).schedulable);
}

TEST_CASE("malformed tasks and overflow are reported, never wrapped") {
    const std::vector<task> bad{{1, 4, 4}, {0, 5, 5}};
    CHECK_THROWS_WITH(edf_qpa(bad), "edf: task \"t2\": wcet 0 must be positive");
    CHECK_THROWS_AS(edf_pdc(std::vector<task>{{1, -3, 4}}), std::invalid_argument);
    CHECK(edf_qpa(std::vector<task>{}).schedulable);

    constexpr time_value big = std::numeric_limits<time_value>::max() / 4;
    // Two tasks with C ~ 2^61: the busy period sum passes 2^63.
    const std::vector<task> huge{{big, big + 1, big + 1}, {big, big + 1, big + 1}, {big, big + 1, big + 1},
                                 {big, big + 1, big + 1}, {big, big + 1, big + 1}};
    CHECK_THROWS_AS(edf_qpa(huge), analysis_overflow);
    CHECK_THROWS_AS(edf_pdc(huge), analysis_overflow);
    CHECK_THROWS_AS(demand_bound(huge, std::numeric_limits<time_value>::max()), analysis_overflow);
}
