// Exact utilisation and the rate-monotonic utilisation bounds.
#include <keel/sched/utilization.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <stdexcept>
#include <vector>

using namespace keel::sched;

TEST_CASE("rational arithmetic is exact and reduced") {
    CHECK((rational(1, 3) + rational(1, 6)) == rational(1, 2));
    CHECK((rational(1, 3) + rational(1, 6)).to_string() == "1/2");
    CHECK(rational(4, 2).to_string() == "2");
    CHECK(rational(3, -6).to_string() == "-1/2");
    CHECK(rational(0, 5) == rational());
    CHECK((rational(2, 3) * rational(3, 4)) == rational(1, 2));
    CHECK((rational(1, 2) / rational(1, 4)) == rational(2));
    CHECK((rational(1, 2) - rational(3, 4)).is_negative());
    CHECK(rational(1, 3) < rational(334, 1000));
    CHECK(rational(1, 3) > rational(333, 1000));
    CHECK(rational(7, 9).numerator() == 7);
    CHECK(rational(7, 9).denominator() == 9);
    CHECK(rational(1, 4).to_double() == 0.25);
    CHECK_THROWS_AS(rational(1, 0), std::invalid_argument);
    CHECK_THROWS_AS(rational(1) / rational(), std::invalid_argument);
}

TEST_CASE("utilisation past 64-bit denominators stays exact") {
    // 1/p for the primes p in [2^31, 2^31 + 400): the denominator is their product.
    std::vector<task> set;
    for (time_value p = (time_value{1} << 31) + 11; p < (time_value{1} << 31) + 400; p += 2) {
        bool prime = true;
        for (time_value d = 3; d * d <= p && prime; d += 2)
            prime = p % d != 0;
        if (prime) set.push_back({1, p, p});
    }
    REQUIRE(set.size() >= 3);
    const rational u = utilization(set);
    CHECK_FALSE(u.denominator().has_value());
    rational sum;
    for (const task& t : set)
        sum = sum + rational(1, t.period);
    CHECK(u == sum);
    CHECK(u < rational(static_cast<std::int64_t>(set.size()), std::int64_t{1} << 31));
}

TEST_CASE("utilisation of the Burns & Wellings example set") {
    // 3/7 + 3/12 + 5/20 = 13/14 (Burns & Wellings, RTSPL, RTA example set).
    const std::array<task, 3> s{{{3, 7, 7}, {3, 12, 12}, {5, 20, 20}}};
    CHECK(utilization(s).to_string() == "13/14");
}

TEST_CASE("Liu & Layland and hyperbolic bounds on worked exercise sets") {
    // Exercise sets from lecture notes on RM scheduling (edomari/Appunti-Real-Time-
    // Embedded-Systems, exercices/scheduling/scheduling.md), numbers re-derived:
    // (C, T) = (2,6), (2,8), (2,12): U = 0.75 <= 3(2^{1/3} - 1) = 0.7798: LL holds.
    const std::array<task, 3> a{{{2, 6, 6}, {2, 8, 8}, {2, 12, 12}}};
    CHECK(utilization(a) == rational(3, 4));
    CHECK(liu_layland_bound_holds(a));
    CHECK(hyperbolic_bound_holds(a));
    // (3,5), (1,8), (1,10): U = 0.825 > 0.7798, LL fails; (8/5)(9/8)(11/10) = 1.98 <= 2:
    // the hyperbolic bound holds.
    const std::array<task, 3> b{{{3, 5, 5}, {1, 8, 8}, {1, 10, 10}}};
    CHECK(utilization(b) == rational(33, 40));
    CHECK_FALSE(liu_layland_bound_holds(b));
    CHECK(hyperbolic_bound_holds(b));
}

TEST_CASE("the bounds are decided exactly at their edges") {
    CHECK(liu_layland_bound(1) == 1.0);
    CHECK(liu_layland_bound(2) == Approx(0.8284271247461901));
    // n = 2: the bound is 2(sqrt 2 - 1) = 0.828427124746...
    const std::array<task, 2> below{
        {{41421356, 100000000, 100000000}, {41421356, 100000000, 100000000}}};
    const std::array<task, 2> above{
        {{41421357, 100000000, 100000000}, {41421356, 100000000, 100000000}}};
    CHECK(liu_layland_bound_holds(below));        // U = 0.82842712
    CHECK_FALSE(liu_layland_bound_holds(above));  // U = 0.82842713
    // One task: the bound is 1, reached exactly.
    const std::array<task, 1> one{{{5, 5, 5}}};
    CHECK(liu_layland_bound_holds(one));
    // Hyperbolic equality: (1 + 1/2)(1 + 1/3) = 2 holds; U = 5/6 > 0.8284, LL fails.
    const std::array<task, 2> eq{{{1, 2, 2}, {1, 3, 3}}};
    CHECK(hyperbolic_bound_holds(eq));
    CHECK_FALSE(liu_layland_bound_holds(eq));
    const std::array<task, 2> eq_plus{{{1, 2, 2}, {1001, 3000, 3000}}};
    CHECK_FALSE(hyperbolic_bound_holds(eq_plus));
    CHECK(liu_layland_bound_holds(std::span<const task>{}));
}

TEST_CASE("the bounds refuse the models they do not cover") {
    const std::array<task, 1> constrained{{{1, 4, 3}}};
    CHECK_THROWS_WITH(
        liu_layland_bound_holds(constrained),
        "liu_layland_bound_holds: task 1 (priority index 0): deadline 3 must equal the period "
        "(the bound is for implicit deadlines)");
    const std::array<task, 1> jitter{{{1, 4, 4, 1}}};
    CHECK_THROWS_AS(hyperbolic_bound_holds(jitter), std::invalid_argument);
    const std::array<task, 1> blocking{{{1, 4, 4, 0, 1}}};
    CHECK_THROWS_AS(hyperbolic_bound_holds(blocking), std::invalid_argument);
    const std::array<task, 1> bad{{{1, 0, 4}}};
    CHECK_THROWS_AS(utilization(bad), std::invalid_argument);
}
