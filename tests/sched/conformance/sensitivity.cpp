// Sensitivity: the largest WCET of one task and the largest common scaling factor.
// No published worked example with numbers was found; the values are hand-derived
// from the scheduling points (Bini & Buttazzo 2004) in the comments.
#include <keel/sched/fp.hpp>
#include <keel/sched/sensitivity.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <stdexcept>

using namespace keel::sched;

namespace {
const set_test fp_exact = [](std::span<const task> s) { return fp_schedulable(s); };
}

TEST_CASE("max_wcet of the lowest and the highest priority task") {
    // (C, T = D): (1, 4), (2, 6), (C3, 12). Task 3 passes at some t in
    // P_2(12) = {4, 6, 8, 12}: W(4) = C3 + 3, W(6) = C3 + 4, W(8) = C3 + 6,
    // W(12) = C3 + 3 + 4 = C3 + 7 <= 12: C3 <= 5.
    const std::array<task, 3> s{{{1, 4, 4}, {2, 6, 6}, {1, 12, 12}}};
    CHECK(max_wcet(s, 2, fp_exact) == 5);
    // C1 (C3 = 1): task 2 needs C1 + 2 <= 4 or 2 C1 + 2 <= 6: C1 <= 2; task 3 at t = 12:
    // 3 C1 + 4 + 1 <= 12: C1 <= 2. C1 = 3 fails task 2 (5 > 4, 8 > 6).
    CHECK(max_wcet(s, 0, fp_exact) == 2);
    // The Burns & Wellings set is tight (R_c = D_c = 20): no WCET can grow.
    const std::array<task, 3> bw{{{3, 7, 7}, {3, 12, 12}, {5, 20, 20}}};
    CHECK(max_wcet(bw, 0, fp_exact) == 3);
    CHECK(max_wcet(bw, 1, fp_exact) == 3);
    CHECK(max_wcet(bw, 2, fp_exact) == 5);
    // A task alone: C up to D.
    const std::array<task, 1> one{{{1, 10, 7}}};
    CHECK(max_wcet(one, 0, fp_exact) == 7);
}

TEST_CASE("max_wcet is nullopt when the set fails even with C = 1") {
    const std::array<task, 2> s{{{3, 3, 3}, {1, 10, 10}}};
    CHECK_FALSE(max_wcet(s, 1, fp_exact).has_value());
    CHECK_THROWS_AS(max_wcet(s, 2, fp_exact), std::invalid_argument);
}

TEST_CASE("max_scaling: the common factor with WCETs rounded up") {
    // (1,10), (1,10): scaled C = ceil(k/1000) each; task 2 needs 2 C <= 10: C <= 5,
    // so k = 5000 (k = 5001 makes C = 6).
    const std::array<task, 2> s{{{1, 10, 10}, {1, 10, 10}}};
    CHECK(max_scaling(s, fp_exact) == 5000);
    CHECK(max_scaling(s, fp_exact, 1) == 5);
    // (1,4), (2,6), (1,12) at k = 1001: C = 2, 3, 2 and task 2 fails (2+3 > 4,
    // 4+3 > 6): the rounding makes k = 1000 the largest.
    const std::array<task, 3> t{{{1, 4, 4}, {2, 6, 6}, {1, 12, 12}}};
    CHECK(max_scaling(t, fp_exact) == 1000);
    // (3,3), (1,10) is overloaded (U = 1.1); it must shrink. For k <= 1000, C2 = 1 and
    // task 2 passes at some t in {3, 6, 9, 10} iff C1 <= 2 (C1 + 1 <= 3, ..., 4 C1 + 1
    // <= 10), i.e. ceil(3k/1000) <= 2: k <= 666.
    const std::array<task, 2> over{{{3, 3, 3}, {1, 10, 10}}};
    CHECK(max_scaling(over, fp_exact) == 666);
    CHECK_THROWS_AS(max_scaling(s, fp_exact, 0), std::invalid_argument);
}
