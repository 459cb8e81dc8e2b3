// Weakly-hard properties (weakly_hard.hpp):
// 1. The monitor agrees with a brute-force count over every met/missed sequence up to
//    length 12, and tolerable_consecutive_misses is exactly the largest safe run length
//    (every sequence with runs <= c satisfies (m, K); some sequence with a run of c + 1
//    breaks it).
// 2. wh_jlfp_rta is never contradicted by the global simulator (global_simulate.hpp)
//    running the two-class job-level priorities, jobs aborted at their deadline, with
//    synchronous and random sporadic releases on 1-3 cores: a task the analysis calls
//    satisfied never breaks its (m, K) constraint, and none of its urgent jobs misses.
// 3. With every task hard (m = 0) wh_jlfp_rta is Guan et al.'s limited carry-in global
//    FP RTA (global.hpp): same verdicts, same bounds, as long as no higher task failed.
//    And it satisfies every task the earlier Bertogna-Cirinei based version of the
//    analysis (rebuilt here as a reference) satisfied, with a bound no larger.
// 4. Monotonicity: more tolerance (larger m) or one more core never turns a satisfied
//    task into an unsatisfied one; all-hard constraints never accept more than some
//    tolerance does.
#include <keel/sched/generate.hpp>
#include <keel/sched/global.hpp>
#include <keel/sched/global_simulate.hpp>
#include <keel/sched/weakly_hard.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

using namespace keel::sched;

namespace {

std::int64_t brute_max_window(const std::vector<bool>& met, std::int64_t K) {
    const auto n = static_cast<std::int64_t>(met.size());
    const std::int64_t w = std::min(K, n);
    std::int64_t best = 0;
    for (std::int64_t s = 0; s + w <= n; ++s) {
        std::int64_t c = 0;
        for (std::int64_t j = s; j < s + w; ++j) c += met[static_cast<std::size_t>(j)] ? 0 : 1;
        best = std::max(best, c);
    }
    return best;
}

std::int64_t brute_max_run(const std::vector<bool>& met) {
    std::int64_t run = 0, best = 0;
    for (bool b : met) {
        run = b ? 0 : run + 1;
        best = std::max(best, run);
    }
    return best;
}

struct drawn {
    std::vector<task> tasks;
    std::vector<weakly_hard_constraint> constraints;
    std::size_t cores = 1;
};

drawn draw(std::uint64_t seed) {
    rng r(seed * 7919 + 11);
    drawn d;
    d.cores = 1 + static_cast<std::size_t>(r.below(3));
    generator_options o;
    o.n = d.cores + 1 + static_cast<std::size_t>(r.below(6));
    o.utilization = static_cast<double>(d.cores) * (0.5 + 0.5 * r.uniform01());
    o.method = utilization_method::randfixedsum;
    o.min_task_utilization = 0.0;
    o.max_task_utilization = std::min(1.0, o.utilization);
    o.period_min = 10;
    o.period_max = 200;
    o.granularity = 10;
    o.deadlines = r.below(2) == 0 ? deadline_kind::implicit : deadline_kind::constrained;
    o.deadline_min_fraction = 0.5;
    d.tasks = generate_task_set(o, seed).tasks;
    std::stable_sort(d.tasks.begin(), d.tasks.end(),
                     [](const task& a, const task& b) { return a.deadline < b.deadline; });
    for (std::size_t i = 0; i < d.tasks.size(); ++i) {
        const auto K = 1 + static_cast<std::int64_t>(r.below(5));
        const auto m = static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>(K + 1)));
        d.constraints.push_back({m, K});
    }
    return d;
}

/// The analysis before limited carry-in (kept only as a reference): the same arrival
/// model, every higher task's workload bounded by Bertogna & Cirinei's carry-in bound.
/// Returns each task's urgent response bound (nullopt: not satisfied or never urgent).
std::vector<std::optional<time_value>> wh_bc_reference(
    const std::vector<task>& ts, const std::vector<weakly_hard_constraint>& cs, std::size_t cores) {
    std::vector<std::optional<time_value>> bound(ts.size());
    std::vector<std::int64_t> tol(ts.size());
    std::vector<time_value> period(ts.size());
    const auto m = static_cast<time_value>(cores);
    for (std::size_t k = 0; k < ts.size(); ++k) {
        tol[k] = tolerable_consecutive_misses(cs[k]);
        if (tol[k] == unbounded_misses) continue;
        time_value R = ts[k].wcet;
        for (;;) {
            time_value sum = 0;
            for (std::size_t i = 0; i < k; ++i) {
                if (tol[i] == unbounded_misses) continue;
                const time_value r = bound[i] ? *bound[i] : ts[i].deadline;
                const time_value span = R + r - ts[i].wcet;
                const time_value n = span / period[i];
                const time_value w = n * ts[i].wcet + std::min(ts[i].wcet, span - n * period[i]);
                sum += std::min(w, R - ts[k].wcet + 1);
            }
            const time_value next = ts[k].wcet + sum / m;
            if (next == R || next > ts[k].deadline) {
                if (next == R) bound[k] = R;
                break;
            }
            R = next;
        }
        // Periods <= 200 and K <= 5 here: no overflow.
        period[k] = bound[k] ? (tol[k] + 1) * ts[k].period : ts[k].period;
    }
    return bound;
}

}  // namespace

TEST_CASE("weakly-hard monitor and tolerable runs against brute force", "[sched][weakly_hard]") {
    for (std::size_t len = 0; len <= 12; ++len) {
        for (std::uint32_t bits = 0; bits < (1u << len); ++bits) {
            std::vector<bool> met(len);
            for (std::size_t j = 0; j < len; ++j) met[j] = ((bits >> j) & 1u) != 0;
            const std::int64_t run = brute_max_run(met);
            for (std::int64_t K = 1; K <= 6; ++K) {
                const std::int64_t window = brute_max_window(met, K);
                for (std::int64_t m = 0; m <= K; ++m) {
                    const auto mon = check_outcomes(met, {m, K});
                    REQUIRE(mon.max_window_misses() == window);
                    REQUIRE(mon.max_consecutive_misses() == run);
                    REQUIRE(mon.satisfied() == (window <= m));
                    const std::int64_t c = tolerable_consecutive_misses({m, K});
                    if (run <= c) REQUIRE(mon.satisfied());  // safe translation
                }
            }
        }
    }
    // tightness: a run of c + 1 misses (from the worst pattern) breaks (m, K)
    for (std::int64_t K = 1; K <= 10; ++K) {
        for (std::int64_t m = 0; m < K; ++m) {
            const std::int64_t c = tolerable_consecutive_misses({m, K});
            REQUIRE(window_misses_of_consecutive(c, K) <= m);
            // the pattern (c + 1 misses, 1 met) repeated reaches K - floor(K / (c + 2)) > m
            std::vector<bool> worst;
            for (std::int64_t j = 0; j < 3 * K; ++j) worst.push_back(j % (c + 2) == c + 1);
            REQUIRE(!check_outcomes(worst, {m, K}).satisfied());
        }
    }
}

TEST_CASE("wh_jlfp_rta is never contradicted by the global simulator", "[sched][weakly_hard]") {
    int satisfied_tasks = 0, checked_sets = 0, accepted_sets = 0;
    std::int64_t urgent_after_miss = 0, misses_tolerated = 0;
    for (std::uint64_t seed = 1; seed <= 400; ++seed) {
        const drawn d = draw(seed);
        const auto a = wh_jlfp_rta(d.tasks, d.constraints, d.cores);
        if (a.schedulable) ++accepted_sets;
        bool any = false;
        for (const auto& t : a.tasks) any = any || t.satisfied;
        if (!any) continue;
        ++checked_sets;
        time_value horizon = 0;
        for (const auto& t : d.tasks) horizon = std::max(horizon, t.period);
        horizon *= 25;
        const std::size_t n = d.tasks.size();
        for (int pattern = 0; pattern < 2; ++pattern) {
            // which jobs were urgent, per task (job index -> urgent)
            std::vector<std::vector<bool>> urgent(n);
            global_sim_options o;
            o.cores = d.cores;
            o.horizon = horizon;
            o.policy = global_policy::job_level;
            o.pattern = pattern == 0 ? global_release::synchronous : global_release::random_sporadic;
            o.seed = seed;
            o.abort_at_deadline = true;
            o.record_outcomes = true;
            o.priority = [&](const released_job& j) {
                const std::int64_t tol = a.tasks[j.task].tolerable;
                auto& u = urgent[j.task];
                if (u.size() <= static_cast<std::size_t>(j.job)) u.resize(static_cast<std::size_t>(j.job) + 1);
                u[static_cast<std::size_t>(j.job)] = wh_classify(j.consecutive_misses, tol) == wh_job_class::urgent;
                return wh_job_priority(j.task, n, j.consecutive_misses, tol);
            };
            const auto s = simulate_global(d.tasks, o);
            for (std::size_t k = 0; k < n; ++k) {
                if (!a.tasks[k].satisfied) continue;
                if (pattern == 0) ++satisfied_tasks;
                const auto& out = s.outcomes[k];
                const auto mon =
                    check_outcomes(out, d.constraints[k], [](job_outcome x) { return x == job_outcome::met; });
                INFO("seed " << seed << " task " << k << " pattern " << pattern << " cores " << d.cores);
                REQUIRE(mon.satisfied());
                REQUIRE(mon.max_consecutive_misses() <= a.tasks[k].tolerable);
                for (std::size_t j = 0; j < out.size() && j < urgent[k].size(); ++j)
                    if (urgent[k][j]) {
                        REQUIRE(out[j] == job_outcome::met);
                        if (j > 0 && out[j - 1] == job_outcome::missed) ++urgent_after_miss;
                    }
                misses_tolerated += mon.misses();
            }
        }
    }
    // the generator must exercise both verdicts
    CHECK(checked_sets > 100);
    CHECK(satisfied_tasks > 400);
    CHECK(accepted_sets > 10);
    CHECK(accepted_sets < 400);
    // and the schedules must exercise the classes: tolerated misses, promoted jobs
    CHECK(misses_tolerated > 100);
    CHECK(urgent_after_miss > 100);
}

TEST_CASE("wh_jlfp_rta is monotone in tolerance and cores", "[sched][weakly_hard]") {
    for (std::uint64_t seed = 1000; seed < 1400; ++seed) {
        const drawn d = draw(seed);
        const auto base = wh_jlfp_rta(d.tasks, d.constraints, d.cores);
        std::vector<weakly_hard_constraint> hard(d.tasks.size(), {0, 1});
        const auto h = wh_jlfp_rta(d.tasks, hard, d.cores);
        auto looser = d.constraints;
        for (auto& c : looser) c.m = std::min(c.K, c.m + 1);
        const auto l = wh_jlfp_rta(d.tasks, looser, d.cores);
        const auto more = wh_jlfp_rta(d.tasks, d.constraints, d.cores + 1);
        INFO("seed " << seed);
        for (std::size_t k = 0; k < d.tasks.size(); ++k) {
            if (h.tasks[k].satisfied) REQUIRE(base.tasks[k].satisfied);
            if (base.tasks[k].satisfied) REQUIRE(l.tasks[k].satisfied);
            if (base.tasks[k].satisfied) REQUIRE(more.tasks[k].satisfied);
            if (base.tasks[k].urgent_response && h.tasks[k].urgent_response)
                REQUIRE(*base.tasks[k].urgent_response <= *h.tasks[k].urgent_response);
        }
    }
}

TEST_CASE("wh_jlfp_rta with hard constraints is Guan et al.'s global FP RTA",
          "[sched][weakly_hard]") {
    int compared = 0;
    for (std::uint64_t seed = 2000; seed < 2400; ++seed) {
        const drawn d = draw(seed);
        const std::vector<weakly_hard_constraint> hard(d.tasks.size(), {0, 1});
        const auto w = wh_jlfp_rta(d.tasks, hard, d.cores);
        const auto guan = global_fp_rta_guan(d.tasks, d.cores);
        INFO("seed " << seed);
        REQUIRE(w.schedulable == guan.schedulable);
        for (std::size_t k = 0; k < d.tasks.size(); ++k) {
            if (guan.failed_task && k > *guan.failed_task) break;  // Guan stops at a failure
            REQUIRE(w.tasks[k].satisfied == guan.tasks[k].schedulable);
            REQUIRE(w.tasks[k].urgent_response == guan.tasks[k].response_bound);
            ++compared;
        }
    }
    CHECK(compared > 1000);
}

TEST_CASE("wh_jlfp_rta satisfies every task the Bertogna-Cirinei based analysis did",
          "[sched][weakly_hard]") {
    // Provable: per task and window, Guan's capped NC and CI workloads are each at most
    // BC's capped workload, and BC's is monotone in (P_i down, R_i up); see the docs.
    int old_satisfied = 0, gained = 0;
    for (std::uint64_t seed = 3000; seed < 3600; ++seed) {
        const drawn d = draw(seed);
        const auto w = wh_jlfp_rta(d.tasks, d.constraints, d.cores);
        const auto old = wh_bc_reference(d.tasks, d.constraints, d.cores);
        INFO("seed " << seed);
        for (std::size_t k = 0; k < d.tasks.size(); ++k) {
            if (w.tasks[k].tolerable == unbounded_misses) continue;
            if (old[k]) {
                ++old_satisfied;
                REQUIRE(w.tasks[k].satisfied);
                REQUIRE(*w.tasks[k].urgent_response <= *old[k]);
            } else if (w.tasks[k].satisfied) {
                ++gained;
            }
        }
    }
    CHECK(old_satisfied > 1000);
    CHECK(gained > 0);
}

TEST_CASE("wh_jlfp_rta near full load with (1, 2) is never contradicted", "[sched][weakly_hard]") {
    // The sweep's regime where wh-jlfp accepts what no hard test does: 2 cores, U in
    // [1.8, 2.0], every task tolerating one miss in a row.
    int accepted = 0;
    for (std::uint64_t seed = 1; seed <= 60; ++seed) {
        rng r(seed * 31 + 5);
        generator_options o;
        o.n = 10;
        o.utilization = 1.8 + 0.2 * r.uniform01();
        o.method = utilization_method::randfixedsum;
        o.max_task_utilization = 1.0;
        o.period_min = 10;
        o.period_max = 200;
        o.granularity = 10;
        auto ts = generate_task_set(o, seed).tasks;
        std::stable_sort(ts.begin(), ts.end(), [](const task& a, const task& b) { return a.period < b.period; });
        const std::vector<weakly_hard_constraint> cs(ts.size(), {1, 2});
        const auto a = wh_jlfp_rta(ts, cs, 2);
        if (!a.schedulable) continue;
        ++accepted;
        for (int pattern = 0; pattern < 2; ++pattern) {
            global_sim_options so;
            so.cores = 2;
            so.horizon = 200 * 40;
            so.policy = global_policy::job_level;
            so.pattern = pattern == 0 ? global_release::synchronous : global_release::random_sporadic;
            so.seed = seed;
            so.abort_at_deadline = true;
            so.record_outcomes = true;
            so.priority = [&](const released_job& j) {
                return wh_job_priority(j.task, ts.size(), j.consecutive_misses, a.tasks[j.task].tolerable);
            };
            const auto sim = simulate_global(ts, so);
            for (std::size_t k = 0; k < ts.size(); ++k) {
                INFO("seed " << seed << " task " << k << " pattern " << pattern);
                REQUIRE(check_outcomes(sim.outcomes[k], cs[k], [](job_outcome x) { return x == job_outcome::met; })
                            .satisfied());
            }
        }
    }
    CHECK(accepted > 20);
}
