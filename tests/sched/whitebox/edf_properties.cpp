// EDF property tests on generated task sets:
// 1. QPA and PDC give the same verdict; every witness really has h(t) > t; PDC's witness
//    is the first failing deadline, so it is never after QPA's.
// 2. QPA's certificate replays: each step's h(t) is recomputed and the last step ends the
//    search the way the verdict says.
// 3. Simulation: EDF with the critical-instant release pattern (all first jobs released
//    together at o = max J, each having arrived J_i earlier) never misses when the tests
//    say schedulable, nor with random release jitter. When they say unschedulable (and
//    U <= 1), the first simulated miss is EXACTLY at o + t*, t* = PDC's first failing
//    deadline: a miss must occur by o + t* (the jobs due by then need h(t*) > t* time,
//    all released at or after o), and a miss at an absolute deadline d implies a busy
//    window [t0, d] with t0 >= o whose demand exceeds d - t0, so h(d - t0) > d - t0 and
//    t* <= d - t0 <= d - o. This holds for U > 1 too (PDC then scans up to the doubling
//    witness).
#include <keel/sched/edf.hpp>
#include <keel/sched/generate.hpp>
#include <keel/sched/simulate.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

using namespace keel::sched;

namespace {

struct drawn {
    std::vector<task> tasks;
    bool jitter = false;
};

/// A varied set: 2..16 tasks, U in [0.5, 1.03], all four samplers, all deadline kinds,
/// jitter on a third of the sets.
drawn draw(std::uint64_t seed) {
    rng r(seed * 7919 + 1);
    generator_options o;
    o.n = 2 + static_cast<std::size_t>(r.below(15));
    o.utilization = 0.5 + 0.53 * r.uniform01();
    const auto m = r.below(4);
    o.method = m == 0 ? utilization_method::uunifast
             : m == 1 ? utilization_method::uunifast_discard
             : m == 2 ? utilization_method::randfixedsum
                      : utilization_method::dirichlet_rescale;
    o.max_task_utilization = 1.0;
    o.period_min = 10;
    o.period_max = 400;
    o.granularity = 10;  // keeps hyperperiods small enough to simulate
    const auto k = r.below(3);
    o.deadlines = k == 0 ? deadline_kind::implicit : k == 1 ? deadline_kind::constrained : deadline_kind::arbitrary;
    o.deadline_min_fraction = 0.2;
    drawn d;
    d.tasks = generate_task_set(o, seed).tasks;
    if (r.below(3) == 0) {
        d.jitter = true;
        for (auto& t : d.tasks) t.jitter = static_cast<time_value>(r.below(static_cast<std::uint64_t>(t.deadline / 3 + 1)));
    }
    return d;
}

void check_witness(std::span<const task> ts, const edf_result& r) {
    REQUIRE(r.witness);
    CHECK(r.witness->demand > r.witness->t);
    CHECK(demand_bound(ts, r.witness->t) == r.witness->demand);
}

}  // namespace

TEST_CASE("QPA and PDC agree - witnesses and certificates replay") {
    int unschedulable = 0;
    constexpr std::uint64_t sets = 20000;
    for (std::uint64_t seed = 0; seed < sets; ++seed) {
        const drawn d = draw(seed);
        const edf_result p = edf_pdc(d.tasks);
        const edf_result q = edf_qpa(d.tasks);
        INFO("seed " << seed);
        REQUIRE(p.schedulable == q.schedulable);
        // Same horizon, except with U > 1 (QPA: the doubling point; PDC: its scan end).
        if (edf_horizon(d.tasks).utilization_vs_one <= 0) CHECK(p.horizon == q.horizon);
        if (!p.schedulable) {
            ++unschedulable;
            check_witness(d.tasks, p);
            check_witness(d.tasks, q);
            CHECK(p.witness->t <= q.witness->t);
        }
        if (!q.steps.empty()) {
            for (auto [t, h] : q.steps) CHECK(demand_bound(d.tasks, t) == h);
            time_value d_min = d.tasks[0].deadline - d.tasks[0].jitter;
            for (const auto& t : d.tasks) d_min = std::min(d_min, t.deadline - t.jitter);
            const auto [t, h] = q.steps.back();
            if (q.schedulable)
                CHECK(h <= d_min);
            else
                CHECK(h > t);
        }
    }
    // The mix must exercise both verdicts.
    CHECK(unschedulable > static_cast<int>(sets) / 10);
    CHECK(unschedulable < static_cast<int>(sets) * 9 / 10);
}

TEST_CASE("EDF simulation never contradicts the tests - first miss at o + t*") {
    int simulated = 0, missed = 0, overloaded = 0;
    for (std::uint64_t seed = 0; seed < 3000; ++seed) {
        const drawn d = draw(seed + 1'000'000);
        const edf_bounds b = edf_horizon(d.tasks);
        const edf_result q = edf_qpa(d.tasks);
        const edf_result p = edf_pdc(d.tasks);
        time_value o = 0, max_d = 0;
        for (const auto& t : d.tasks) {
            o = std::max(o, t.jitter);
            max_d = std::max(max_d, t.deadline);
        }
        INFO("seed " << seed + 1'000'000);
        if (q.schedulable) {
            // A hyperperiod past the largest deadline covers every pattern repetition.
            if (!b.hyperperiod_bound || *b.hyperperiod_bound > 300'000) continue;
            const time_value horizon = o + *b.hyperperiod_bound + max_d;
            const auto s = simulate(d.tasks, sim_policy::edf, horizon, {release_pattern::critical_instant, 0});
            CHECK_FALSE(s.any_miss());
            if (d.jitter) {
                const auto rnd = simulate(d.tasks, sim_policy::edf, horizon, {release_pattern::random, seed});
                CHECK_FALSE(rnd.any_miss());
            }
            ++simulated;
        } else {
            REQUIRE(p.witness);
            if (p.witness->t > 1'000'000) continue;
            const time_value horizon = o + p.witness->t;
            const auto s = simulate(d.tasks, sim_policy::edf, std::max<time_value>(horizon, 1),
                                    {release_pattern::critical_instant, 0});
            REQUIRE(s.first_miss);
            CHECK(*s.first_miss == o + p.witness->t);
            ++missed;
            overloaded += b.utilization_vs_one > 0 ? 1 : 0;
        }
    }
    CHECK(simulated > 300);
    CHECK(missed > 300);
    CHECK(overloaded > 30);
}

// The horizon is the one thing both tests share, so their agreement cannot catch a
// horizon that is too short. Check it independently: brute force over every deadline up
// to max D' + hyperperiod (valid for U <= 1 by periodicity), and the double-precision La
// (used when the hyperperiod passes 63 bits) against a long double evaluation.
TEST_CASE("the horizon is valid: brute force to the hyperperiod agrees") {
    int brute = 0;
    for (std::uint64_t seed = 0; seed < 3000; ++seed) {
        const drawn d = draw(seed + 2'000'000);
        const edf_bounds b = edf_horizon(d.tasks);
        if (b.utilization_vs_one > 0 || !b.hyperperiod_bound || *b.hyperperiod_bound > 20'000) continue;
        bool ok = true;
        for (time_value t = 1; t < *b.hyperperiod_bound && ok; ++t) ok = demand_bound(d.tasks, t) <= t;
        INFO("seed " << seed + 2'000'000);
        CHECK(edf_qpa(d.tasks).schedulable == ok);
        ++brute;
    }
    CHECK(brute > 300);

    int approx = 0;
    for (std::uint64_t seed = 0; seed < 2000; ++seed) {
        generator_options o;
        o.n = 20;
        o.utilization = 0.95;
        o.period_min = 10'000;
        o.period_max = 1'000'000;
        o.deadlines = deadline_kind::constrained;
        const auto ts = generate_task_set(o, seed).tasks;
        const edf_bounds b = edf_horizon(ts);
        if (b.la_exact || !b.la || b.utilization_vs_one >= 0) continue;
        long double u = 0, num = 0;
        time_value max_d = 0;
        for (const auto& t : ts) {
            const long double ui = static_cast<long double>(t.wcet) / static_cast<long double>(t.period);
            u += ui;
            num += static_cast<long double>(t.period - t.deadline) * ui;
            max_d = std::max(max_d, t.deadline);
        }
        const long double la = std::max(static_cast<long double>(max_d), num / (1 - u));
        CHECK(static_cast<long double>(*b.la) >= la);
        CHECK(static_cast<long double>(*b.la) <= la * (1 + 1e-6L) + 4);
        ++approx;
    }
    CHECK(approx > 1000);
}

// Huge numbers: each analysis either answers (and then both agree) or throws
// analysis_overflow; nothing wraps (the ASan/UBSan build runs this too).
TEST_CASE("huge task parameters: an answer or analysis_overflow, never a wrapped value") {
    int answered = 0, refused = 0;
    for (std::uint64_t seed = 0; seed < 2000; ++seed) {
        rng r(seed);
        generator_options o;
        o.n = 2 + static_cast<std::size_t>(r.below(8));
        o.utilization = 0.3 + 0.75 * r.uniform01();
        o.period_min = time_value{1} << (40 + r.below(18));
        o.period_max = o.period_min * 8;
        o.deadlines = seed % 2 == 0 ? deadline_kind::constrained : deadline_kind::arbitrary;
        const auto ts = generate_task_set(o, seed).tasks;
        INFO("seed " << seed);
        try {
            const edf_result q = edf_qpa(ts);
            const edf_result p = edf_pdc(ts);
            CHECK(q.schedulable == p.schedulable);
            if (!q.schedulable) CHECK(demand_bound(ts, q.witness->t) == q.witness->demand);
            ++answered;
        } catch (const analysis_overflow&) {
            ++refused;
        }
    }
    CHECK(answered > 100);
    CHECK(refused > 0);
}

TEST_CASE("QPA and PDC agree on 100,000 sets", "[.long]") {
    for (std::uint64_t seed = 0; seed < 100'000; ++seed) {
        const drawn d = draw(seed + 5'000'000);
        const edf_result p = edf_pdc(d.tasks);
        const edf_result q = edf_qpa(d.tasks);
        INFO("seed " << seed + 5'000'000);
        REQUIRE(p.schedulable == q.schedulable);
    }
}
