// Global tests on random task sets: never "schedulable" when the global simulator finds a
// miss; response-time bounds never below a simulated response; Guan's test dominates
// Bertogna–Cirinei's; more cores or less WCET never turn a schedulable verdict into an
// unschedulable one (all five tests are monotone in both: GFB's bound m - (m-1) max
// grows with m, BCL's limit m (D - C + 1) grows faster with m or with a smaller C than
// its interference sum can, and every RTA term is non-decreasing in C and in the other
// bounds while floor(sum/m) shrinks with m).
#include <keel/sched/generate.hpp>
#include <keel/sched/global.hpp>
#include <keel/sched/global_simulate.hpp>
#include <keel/sched/priority_assignment.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <vector>

using namespace keel::sched;

namespace {

struct verdicts {
    bool bc = false, guan = false, gfb = false, bcl = false, rta = false;
};

verdicts run_all(std::span<const task> dm, std::size_t m) {
    return {global_fp_rta_bc(dm, m).schedulable, global_fp_rta_guan(dm, m).schedulable,
            global_edf_gfb(dm, m).schedulable, global_edf_bcl(dm, m).schedulable,
            global_edf_rta(dm, m).schedulable};
}

time_value horizon_of(std::span<const task> ts) {
    // Two hyperperiods, capped: the sets use periods that are multiples of 10.
    time_value h = 1;
    for (const task& t : ts) {
        h = std::lcm(h, t.period);
        if (h > 3000) return 3000;
    }
    return std::min<time_value>(2 * h, 3000);
}

/// Whether any of the simulated release patterns (synchronous and `sporadic_runs` random
/// sporadic ones) misses a deadline; max_response[i] collects the worst response seen.
bool simulated_miss(std::span<const task> ts, std::size_t m, global_policy policy,
                    std::uint64_t seed, std::vector<time_value>& max_response, int sporadic_runs) {
    global_sim_options o;
    o.cores = m;
    o.horizon = horizon_of(ts);
    o.policy = policy;
    max_response.assign(ts.size(), 0);
    bool miss = false;
    for (int run = 0; run <= sporadic_runs; ++run) {
        o.pattern = run == 0 ? global_release::synchronous : global_release::random_sporadic;
        o.seed = seed + static_cast<std::uint64_t>(run);
        const auto r = simulate_global(ts, o);
        miss = miss || r.any_miss();
        for (std::size_t i = 0; i < ts.size(); ++i)
            max_response[i] = std::max(max_response[i], r.tasks[i].max_response);
    }
    return miss;
}

task_set draw(rng& r, std::size_t m, deadline_kind kind) {
    generator_options g;
    g.n = m + 1 + static_cast<std::size_t>(r.below(m + 2));
    g.utilization = static_cast<double>(m) * (0.3 + 0.7 * r.uniform01());
    g.method = utilization_method::randfixedsum;  // per-task U <= 1 even near U = n
    g.max_task_utilization = 1.0;
    g.period_min = 10;
    g.period_max = 200;
    g.granularity = 10;
    g.deadlines = kind;
    g.deadline_min_fraction = 0.3;
    if (g.utilization > 0.95 * static_cast<double>(g.n))
        g.utilization = 0.95 * static_cast<double>(g.n);
    auto set = generate_task_set(g, r.next());
    set.tasks = apply_priority_order(set.tasks, deadline_monotonic(set.tasks));
    return set;
}

/// Runs check(tasks, m, r) on `count` sets drawn from `seed` on 2 .. 1 + max_extra cores,
/// implicit and constrained deadlines alternately; r is the draw's rng, for more draws.
template <class Check>
void for_random_sets(std::uint64_t seed, int count, std::uint64_t max_extra, Check&& check) {
    rng r(seed);
    for (int trial = 0; trial < count; ++trial) {
        const std::size_t m = 2 + static_cast<std::size_t>(r.below(max_extra));
        const auto set =
            draw(r, m, trial % 2 == 0 ? deadline_kind::implicit : deadline_kind::constrained);
        INFO("trial " << trial << " m " << m);
        check(set.tasks, m, r, trial);
    }
}

}  // namespace

TEST_CASE(
    "global tests: never schedulable when the global simulator misses, bounds above simulation") {
    rng r(2026);
    int fp_misses = 0, edf_misses = 0, fp_accepted = 0, edf_accepted = 0;
    for (int trial = 0; trial < 400; ++trial) {
        const std::size_t m = trial % 2 == 0 ? 2 : 4;
        const auto kind = trial % 3 == 0 ? deadline_kind::constrained : deadline_kind::implicit;
        const auto set = draw(r, m, kind);
        const auto& ts = set.tasks;
        INFO("trial " << trial << " m " << m);
        std::vector<time_value> fp_resp, edf_resp;
        const bool fp_miss =
            simulated_miss(ts, m, global_policy::fixed_priority, r.next(), fp_resp, 3);
        const bool edf_miss = simulated_miss(ts, m, global_policy::edf, r.next(), edf_resp, 3);
        fp_misses += fp_miss;
        edf_misses += edf_miss;
        const auto bc = global_fp_rta_bc(ts, m);
        const auto guan = global_fp_rta_guan(ts, m);
        const auto rta = global_edf_rta(ts, m);
        if (fp_miss) {
            CHECK_FALSE(bc.schedulable);
            CHECK_FALSE(guan.schedulable);
        }
        if (edf_miss) {
            CHECK_FALSE(global_edf_gfb(ts, m).schedulable);
            CHECK_FALSE(global_edf_bcl(ts, m).schedulable);
            CHECK_FALSE(rta.schedulable);
        }
        fp_accepted += guan.schedulable;
        edf_accepted += rta.schedulable;
        for (std::size_t i = 0; i < ts.size(); ++i) {
            if (bc.tasks[i].response_bound) CHECK(*bc.tasks[i].response_bound >= fp_resp[i]);
            if (guan.tasks[i].response_bound) CHECK(*guan.tasks[i].response_bound >= fp_resp[i]);
            if (rta.tasks[i].response_bound) CHECK(*rta.tasks[i].response_bound >= edf_resp[i]);
        }
    }
    // The draw must exercise both sides.
    CHECK(fp_misses > 10);
    CHECK(edf_misses > 10);
    CHECK(fp_accepted > 10);
    CHECK(edf_accepted > 10);
}

TEST_CASE("global FP: Guan's limited carry-in dominates Bertogna-Cirinei") {
    int strictly_better = 0;
    for_random_sets(77, 1000, 7, [&](const std::vector<task>& ts, std::size_t m, rng&, int) {
        const auto bc = global_fp_rta_bc(ts, m);
        const auto guan = global_fp_rta_guan(ts, m);
        if (bc.schedulable) CHECK(guan.schedulable);
        strictly_better += guan.schedulable && !bc.schedulable;
        for (std::size_t i = 0; i < ts.size(); ++i)
            if (bc.tasks[i].response_bound && guan.tasks[i].response_bound)
                CHECK(*guan.tasks[i].response_bound <= *bc.tasks[i].response_bound);
    });
    CHECK(strictly_better > 0);
}

TEST_CASE("global tests: more cores and less WCET never hurt") {
    for_random_sets(99, 600, 5, [](const std::vector<task>& ts, std::size_t m, rng& r, int) {
        const verdicts base = run_all(ts, m);
        const verdicts more = run_all(ts, m + 1);
        CHECK((!base.bc || more.bc));
        CHECK((!base.guan || more.guan));
        CHECK((!base.gfb || more.gfb));
        CHECK((!base.bcl || more.bcl));
        CHECK((!base.rta || more.rta));
        auto lighter = ts;
        const std::size_t k = static_cast<std::size_t>(r.below(lighter.size()));
        if (lighter[k].wcet > 1)
            lighter[k].wcet -= 1 + static_cast<time_value>(
                                       r.below(static_cast<std::uint64_t>(lighter[k].wcet - 1)));
        const verdicts less = run_all(lighter, m);
        CHECK((!base.bc || less.bc));
        CHECK((!base.guan || less.guan));
        CHECK((!base.gfb || less.gfb));
        CHECK((!base.bcl || less.bcl));
        CHECK((!base.rta || less.rta));
    });
}

TEST_CASE("global EDF: the RTA accepts every set BCL accepts") {
    // With every R_i = D_i, the RTA's interference terms min(W_i, I^EDF_i, x - C_k + 1)
    // at x = D_k are at most BCL's min(I_i, D_k - C_k + 1) (I^EDF with zero slack is BCL's
    // I_i), so BCL's condition sum < m (D_k - C_k + 1) gives C_k + floor(sum / m) <= D_k:
    // the vector of deadlines is a post-fixed point of the RTA's monotone iteration, and
    // the least fixed point, which the RTA computes from below, lies under it.
    int strictly_better = 0;
    for_random_sets(5, 1000, 7, [&](const std::vector<task>& ts, std::size_t m, rng&, int) {
        const bool bcl = global_edf_bcl(ts, m).schedulable;
        const bool rta = global_edf_rta(ts, m).schedulable;
        if (bcl) CHECK(rta);
        strictly_better += rta && !bcl;
    });
    CHECK(strictly_better > 0);
}

TEST_CASE(
    "global simulator: dropping jobs at their deadlines changes nothing before the first miss") {
    // Until the first deadline miss both runs make the same decisions, so the first
    // missed deadline is the same; with abort_at_deadline no completed job is late.
    for_random_sets(314, 150, 3, [](const std::vector<task>& ts, std::size_t m, rng& r, int trial) {
        global_sim_options o;
        o.cores = m;
        o.horizon = horizon_of(ts);
        o.policy = trial % 3 == 0 ? global_policy::edf : global_policy::fixed_priority;
        o.pattern = trial % 4 == 0 ? global_release::synchronous : global_release::random_sporadic;
        o.seed = r.next();
        const auto late = simulate_global(ts, o);
        o.abort_at_deadline = true;
        o.record_outcomes = true;
        const auto dropped = simulate_global(ts, o);
        CHECK(late.first_miss == dropped.first_miss);
        CHECK(late.any_miss() == dropped.any_miss());
        for (std::size_t i = 0; i < ts.size(); ++i) {
            CHECK(dropped.tasks[i].max_response <= ts[i].deadline);
            CHECK(static_cast<std::int64_t>(dropped.outcomes[i].size()) <=
                  dropped.tasks[i].jobs_released);
        }
    });
}
