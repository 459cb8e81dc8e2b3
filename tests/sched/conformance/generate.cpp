// Generators: the properties each promises (sum, bounds, reproducibility, distribution)
// and pinned first values that guard reproducibility. All seeds are fixed, so the
// statistical checks are deterministic; their tolerances are several standard errors.
#include <keel/sched/generate.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

using namespace keel::sched;

namespace {
double sum_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }
}  // namespace

// Pinned values. They were computed once with this implementation and guard
// reproducibility: a change here means every experiment seeded before it changes too.
// The raw stream (splitmix64-seeded xoshiro256**) was cross-checked by an independent
// Python implementation of the published algorithms, so it is exact on every platform;
// values that go through pow/log/exp are compared to 1e-12 to allow a different libm.
TEST_CASE("pinned: the first draws of known seeds") {
    rng r(42);
    CHECK(r.next() == 1546998764402558742ULL);
    CHECK(r.next() == 6990951692964543102ULL);
    CHECK(r.next() == 12544586762248559009ULL);

    rng a(1);
    const auto u = uunifast(4, 0.8, a);
    REQUIRE(u.size() == 4);
    CHECK(u[0] == Approx(0.088689862943439168).epsilon(1e-12));
    CHECK(u[1] == Approx(0.1981618047906325).epsilon(1e-12));
    CHECK(u[2] == Approx(0.2185469497564444).epsilon(1e-12));
    CHECK(u[3] == Approx(0.29460138250948398).epsilon(1e-12));

    rng b(7);
    CHECK(periods_log_uniform(5, 10, 1000, 10, b) == std::vector<time_value>{250, 30, 480, 920, 960});

    generator_options o;
    o.n = 3;
    o.utilization = 0.6;
    o.deadlines = deadline_kind::constrained;
    const task_set s = generate_task_set(o, 2024);
    CHECK(s.tasks == std::vector<task>{{6, 13, 8}, {1, 20, 8}, {39, 352, 119}});
}

TEST_CASE("same seed, same output - different seed, different output") {
    for (auto m : {utilization_method::uunifast, utilization_method::uunifast_discard,
                   utilization_method::randfixedsum, utilization_method::dirichlet_rescale}) {
        generator_options o;
        o.n = 12;
        o.utilization = 0.9;
        o.method = m;
        o.max_task_utilization = 0.3;
        o.deadlines = deadline_kind::arbitrary;
        CHECK(generate_task_set(o, 5).tasks == generate_task_set(o, 5).tasks);
        CHECK_FALSE(generate_task_set(o, 5).tasks == generate_task_set(o, 6).tasks);
    }
}

TEST_CASE("every sampler sums to U and honours its bounds") {
    rng r(11);
    for (int i = 0; i < 2000; ++i) {
        const std::size_t n = 2 + static_cast<std::size_t>(i % 30);
        const double u = 0.1 + 0.9 * r.uniform01() * static_cast<double>(n) * 0.25;
        const auto a = uunifast(n, u, r);
        CHECK(std::fabs(sum_of(a) - u) < 1e-9);
        CHECK(std::all_of(a.begin(), a.end(), [](double x) { return x >= 0; }));

        const double cap = std::max(u / static_cast<double>(n) * 2.0, 0.05);
        const auto b = uunifast_discard(n, std::min(u, cap * static_cast<double>(n)), cap, r);
        CHECK(std::all_of(b.begin(), b.end(), [&](double x) { return x >= 0 && x <= cap; }));

        const double lo = 0.01;
        const double hi = std::max(u / static_cast<double>(n) * 1.5, 0.02);
        const double target = std::clamp(u, lo * static_cast<double>(n), hi * static_cast<double>(n));
        const auto c = randfixedsum(n, target, lo, hi, r);
        CHECK(std::fabs(sum_of(c) - target) < 1e-9);
        CHECK(std::all_of(c.begin(), c.end(), [&](double x) { return x >= lo && x <= hi; }));

        std::vector<double> los(n), his(n);
        for (std::size_t k = 0; k < n; ++k) {
            los[k] = 0.001 * static_cast<double>(k % 3);
            his[k] = los[k] + 2.5 * u / static_cast<double>(n);
        }
        const auto d = dirichlet_rescale(n, u, los, his, r);
        CHECK(std::fabs(sum_of(d) - u) < 1e-9);
        for (std::size_t k = 0; k < n; ++k) CHECK((d[k] >= los[k] && d[k] <= his[k]));
    }
    // Multicore totals (U > 1) with per-task caps: the regime RandFixedSum exists for.
    const auto m = randfixedsum(8, 5.5, 0.0, 1.0, r);
    CHECK(std::fabs(sum_of(m) - 5.5) < 1e-9);
    CHECK(std::all_of(m.begin(), m.end(), [](double x) { return x >= 0 && x <= 1; }));
}

// Uniform on the simplex {x >= 0, sum x = U}: each share has mean U/n and
// P(x_1 <= c U) = 1 - (1 - c)^(n-1). UUniFast, RandFixedSum with an inactive upper bound
// and the Dirichlet sampler without bounds must all match it.
TEST_CASE("distribution: shares are uniform on the simplex") {
    constexpr int draws = 20000;
    constexpr std::size_t n = 5;
    constexpr double u = 0.8;
    const double c = 0.2;
    const double p_expected = 1.0 - std::pow(1.0 - c, static_cast<double>(n - 1));  // 0.5904
    rng r(99);
    auto check = [&](auto draw) {
        std::vector<double> mean(n, 0.0);
        int below = 0;
        for (int i = 0; i < draws; ++i) {
            const auto v = draw();
            for (std::size_t k = 0; k < n; ++k) mean[k] += v[k] / draws;
            below += v[0] <= c * u ? 1 : 0;
        }
        // Standard error of a mean share ~ 0.13 / sqrt(20000) ~ 0.001.
        for (double m : mean) CHECK(m == Approx(u / n).margin(0.005));
        // Standard error of the proportion ~ 0.0035.
        CHECK(static_cast<double>(below) / draws == Approx(p_expected).margin(0.015));
    };
    check([&] { return uunifast(n, u, r); });
    check([&] { return randfixedsum(n, u, 0.0, 1.0, r); });
    check([&] { return dirichlet_rescale(n, u, std::vector<double>(n, 0.0), std::vector<double>(n, 1.0), r); });
}

TEST_CASE("distribution: RandFixedSum with active bounds is uniform on the cut polytope") {
    rng r(3);
    // n = 2: x1 is uniform on [max(lo, u - hi), min(hi, u - lo)] = [0.3, 0.7] for
    // u = 1, lo = 0.3, hi = 0.7: mean 0.5, quartiles 0.4 / 0.6.
    int q1 = 0, q3 = 0;
    constexpr int draws = 20000;
    for (int i = 0; i < draws; ++i) {
        const auto v = randfixedsum(2, 1.0, 0.3, 0.7, r);
        q1 += v[0] <= 0.4 ? 1 : 0;
        q3 += v[0] <= 0.6 ? 1 : 0;
    }
    CHECK(static_cast<double>(q1) / draws == Approx(0.25).margin(0.015));
    CHECK(static_cast<double>(q3) / draws == Approx(0.75).margin(0.015));
    // n = 3, u = 1.5, bounds [0, 0.8] (active): compare with the rejection sampler, which
    // is uniform on the same region by construction: P(x_1 > 0.6) must agree, and equal
    // the area ratio (by hand, in the (x1, x2) plane: 0.7 <= x1 + x2 <= 1.5 inside
    // [0, 0.8]^2 has area 0.64 - 0.245 - 0.005 = 0.39, its part with x1 > 0.6 has 0.15).
    int a = 0, b = 0;
    const std::vector<double> lo(3, 0.0), hi(3, 0.8);
    for (int i = 0; i < draws; ++i) {
        a += randfixedsum(3, 1.5, 0.0, 0.8, r)[0] > 0.6 ? 1 : 0;
        b += dirichlet_rescale(3, 1.5, lo, hi, r)[0] > 0.6 ? 1 : 0;
    }
    CHECK(static_cast<double>(a) / draws == Approx(static_cast<double>(b) / draws).margin(0.02));
    CHECK(static_cast<double>(a) / draws == Approx(0.15 / 0.39).margin(0.015));
    CHECK(static_cast<double>(b) / draws == Approx(0.15 / 0.39).margin(0.015));
}

TEST_CASE("periods: log-uniform, on the granularity grid, inside the range") {
    rng r(8);
    const auto p = periods_log_uniform(20000, 10, 1000, 10, r);
    int below_geo_mean = 0;
    for (auto t : p) {
        CHECK(t % 10 == 0);
        CHECK((t >= 10 && t <= 1000));
        below_geo_mean += t < 100 ? 1 : 0;
    }
    // log-uniform on [10, 1010): P(x < 100) = ln(10) / ln(101) ~ 0.4989.
    CHECK(static_cast<double>(below_geo_mean) / 20000 == Approx(std::log(10.0) / std::log(101.0)).margin(0.015));
    CHECK(std::count(p.begin(), p.end(), 1000) > 0);  // the top multiple is reachable
}

TEST_CASE("deadline kinds") {
    generator_options o;
    o.n = 50;
    o.utilization = 0.9;
    const task_set imp = generate_task_set(o, 1);
    for (const auto& t : imp.tasks) CHECK(t.deadline == t.period);
    o.deadlines = deadline_kind::constrained;
    o.deadline_min_fraction = 0.5;
    for (const auto& t : generate_task_set(o, 2).tasks) {
        CHECK(t.deadline <= t.period);
        CHECK(t.deadline >= t.wcet);
        CHECK(t.deadline >= t.wcet + (t.period - t.wcet) / 2 - 1);
    }
    o.deadlines = deadline_kind::arbitrary;
    int beyond = 0;
    for (const auto& t : generate_task_set(o, 3).tasks) {
        CHECK(t.deadline >= t.wcet);
        CHECK(t.deadline <= 2 * t.period);
        beyond += t.deadline > t.period ? 1 : 0;
    }
    CHECK(beyond > 0);
}

TEST_CASE("impossible parameters are refused") {
    rng r(1);
    CHECK_THROWS_AS(uunifast(0, 0.5, r), std::invalid_argument);
    CHECK_THROWS_AS(uunifast_discard(4, 2.5, 0.5, r), std::invalid_argument);
    CHECK_THROWS_AS(randfixedsum(4, 3.5, 0.0, 0.8, r), std::invalid_argument);
    CHECK_THROWS_AS(dirichlet_rescale(2, 0.5, {0.0}, {1.0, 1.0}, r), std::invalid_argument);
    CHECK_THROWS_AS(periods_log_uniform(3, 0, 100, 1, r), std::invalid_argument);
    CHECK_THROWS_AS(periods_log_uniform(3, 11, 19, 10, r), std::invalid_argument);
    CHECK_THROWS_AS(uunifast_discard(4, 1.99, 0.5, r, 10), std::runtime_error);
}
