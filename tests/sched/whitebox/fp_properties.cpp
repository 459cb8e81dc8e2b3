// Property tests of the fixed-priority analyses on thousands of random task sets:
// equivalent tests agree, certificates check out, the RTA matches a unit-step
// simulation of the synchronous periodic schedule, OPA and DM agree where DM is
// optimal, and the sensitivity searches land exactly on the schedulability edge.
// The generator is local to this file (seeded, platform-independent).
#include <keel/sched/fp.hpp>
#include <keel/sched/priority_assignment.hpp>
#include <keel/sched/sensitivity.hpp>
#include <keel/sched/utilization.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

using namespace keel::sched;

namespace {

/// splitmix64: tiny, seeded, the same on every platform.
struct rng {
    std::uint64_t s;
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    time_value between(time_value lo, time_value hi) {  // inclusive
        return lo + static_cast<time_value>(next() % static_cast<std::uint64_t>(hi - lo + 1));
    }
};

struct shape {
    std::size_t n_min = 2, n_max = 10;
    double u_min = 0.5, u_max = 1.0;
    time_value t_min = 10, t_max = 1000;
    bool arbitrary = false;  // D up to 3 T
    bool jitter = false;
    bool blocking = false;
};

/// UUniFast utilisations, log-uniform periods, D = C + r (T - C) (constrained) or up to 3T.
std::vector<task> random_set(rng& g, const shape& sh) {
    const auto n = static_cast<std::size_t>(
        g.between(static_cast<time_value>(sh.n_min), static_cast<time_value>(sh.n_max)));
    const double u_total = sh.u_min + (sh.u_max - sh.u_min) * g.uniform();
    std::vector<task> s;
    double rest = u_total;
    for (std::size_t i = 0; i < n; ++i) {
        double u = rest;
        if (i + 1 < n) {
            const double next = rest * std::pow(g.uniform(), 1.0 / static_cast<double>(n - i - 1));
            u = rest - next;
            rest = next;
        }
        const double lt =
            std::log(static_cast<double>(sh.t_min)) +
            (std::log(static_cast<double>(sh.t_max)) - std::log(static_cast<double>(sh.t_min))) *
                g.uniform();
        task t;
        t.period = std::max<time_value>(1, std::llround(std::exp(lt)));
        t.wcet =
            std::clamp<time_value>(std::llround(u * static_cast<double>(t.period)), 1, t.period);
        t.deadline = sh.arbitrary ? g.between(t.wcet, 3 * t.period) : g.between(t.wcet, t.period);
        if (sh.jitter) t.jitter = g.between(0, t.period / 4);
        if (sh.blocking) t.blocking = g.between(0, t.wcet);
        s.push_back(t);
    }
    return s;
}

std::vector<task> dm_sorted(std::vector<task> s) {
    return apply_priority_order(s, deadline_monotonic(s));
}

/// Worst response time of task i over the jobs released in [0, horizon) in the
/// synchronous periodic FP schedule (no jitter, no blocking), by unit steps; jobs of one
/// task run in release order. nullopt if some such job is unfinished at `limit`.
std::optional<time_value> simulate_worst(const std::vector<task>& s, std::size_t i,
                                         time_value horizon, time_value limit) {
    std::vector<std::vector<std::pair<time_value, time_value>>> pending(i +
                                                                        1);  // (release, remaining)
    time_value worst = 0;
    std::size_t open_jobs_of_i = 0;
    for (time_value now = 0; now < limit; ++now) {
        for (std::size_t j = 0; j <= i; ++j)
            if (now % s[j].period == 0 && (j < i || now < horizon)) {
                pending[j].push_back({now, s[j].wcet});
                if (j == i) ++open_jobs_of_i;
            }
        if (now >= horizon && open_jobs_of_i == 0) return worst;
        for (std::size_t j = 0; j <= i; ++j) {
            if (pending[j].empty()) continue;
            auto& job = pending[j].front();
            if (--job.second == 0) {
                if (j == i) {
                    worst = std::max(worst, now + 1 - job.first);
                    --open_jobs_of_i;
                }
                pending[j].erase(pending[j].begin());
            }
            break;
        }
    }
    return std::nullopt;
}

std::string describe(const std::vector<task>& s) {
    std::string out;
    for (const task& t : s)
        out += "(C=" + std::to_string(t.wcet) + " T=" + std::to_string(t.period) +
               " D=" + std::to_string(t.deadline) + " J=" + std::to_string(t.jitter) +
               " B=" + std::to_string(t.blocking) + ") ";
    return out;
}

const set_test fp_exact = [](std::span<const task> s) { return fp_schedulable(s); };

}  // namespace

TEST_CASE(
    "RTA and the scheduling-points test agree on 100000 sets (constrained D without jitter)") {
    rng g{1};
    std::int64_t schedulable = 0;
    for (int k = 0; k < 100000; ++k) {
        const shape sh{.u_min = 0.6, .u_max = 1.05, .blocking = k % 2 == 1};
        const auto s = dm_sorted(random_set(g, sh));
        const auto r = fp_rta(s);
        const auto p = fp_scheduling_points(s);
        REQUIRE(r.schedulable == p.schedulable);
        for (std::size_t i = 0; i < s.size(); ++i) {
            // The RTA's R is the least t with W(t) <= t; a passing point is one such t.
            const bool agree =
                r.tasks[i].schedulable == p.passing_point[i].has_value() &&
                (!p.passing_point[i] || *r.tasks[i].response_time <= *p.passing_point[i]);
            if (!agree) FAIL("set " << k << " task " << i << ": " << describe(s));
        }
        schedulable += r.schedulable ? 1 : 0;
    }
    // The sets straddle the edge: both verdicts are exercised.
    CHECK(schedulable > 10000);
    CHECK(schedulable < 90000);
}

TEST_CASE(
    "fp_rta and fp_response_time and fp_schedulable agree and certificates are fixed points") {
    rng g{2};
    for (int k = 0; k < 5000; ++k) {
        const shape sh{.u_min = 0.5,
                       .u_max = 1.02,
                       .arbitrary = k % 2 == 0,
                       .jitter = k % 3 != 0,
                       .blocking = k % 5 != 0};
        const auto s = random_set(g, sh);  // input order: arbitrary priorities
        const auto r = fp_rta(s);
        bool all = true;
        for (std::size_t i = 0; i < s.size(); ++i) {
            INFO("set " << k << " task " << i);
            const auto& t = r.tasks[i];
            REQUIRE(fp_response_time(s, i) == t.response_time);
            all = all && t.schedulable;
            // Unbounded exactly when U_i > 1, or U_i = 1 with blocking or jitter.
            const std::span<const task> level(s.data(), i + 1);
            const rational u = utilization(level);
            bool jitter_or_blocking = s[i].blocking > 0;
            for (const task& x : level)
                jitter_or_blocking = jitter_or_blocking || x.jitter > 0;
            const bool unbounded = u > rational(1) || (u == rational(1) && jitter_or_blocking);
            REQUIRE(t.response_time.has_value() == !unbounded);
            if (!t.response_time) continue;
            // The last iterate is the worst job's completion w, a fixed point.
            REQUIRE_FALSE(t.iterations.empty());
            const time_value w = t.iterations.back();
            time_value demand = s[i].blocking + (t.worst_job + 1) * s[i].wcet;
            for (std::size_t j = 0; j < i; ++j)
                demand += detail::ceil_div(w + s[j].jitter, s[j].period) * s[j].wcet;
            REQUIRE(demand == w);
            REQUIRE(*t.response_time == w - t.worst_job * s[i].period + s[i].jitter);
            REQUIRE(std::is_sorted(t.iterations.begin(), t.iterations.end()));
            REQUIRE(t.worst_job < t.jobs_examined);
        }
        REQUIRE(r.schedulable == all);
        REQUIRE(fp_schedulable(s) == all);
    }
}

TEST_CASE(
    "RTA equals a unit-step simulation of the synchronous schedule with arbitrary deadlines") {
    rng g{3};
    for (int k = 0; k < 3000; ++k) {
        const shape sh{.n_min = 2,
                       .n_max = 5,
                       .u_min = 0.5,
                       .u_max = 0.99,
                       .t_min = 3,
                       .t_max = 24,
                       .arbitrary = true};
        const auto s = random_set(g, sh);
        const auto r = fp_rta(s);
        for (std::size_t i = 0; i < s.size(); ++i) {
            const auto& t = r.tasks[i];
            if (!t.response_time) continue;
            INFO("set " << k << " task " << i);
            // The jobs of the level-i busy period are those released before it ends.
            const auto sim =
                simulate_worst(s, i, t.busy_period, t.busy_period + 10 * s[i].period + 1000);
            REQUIRE(sim.has_value());
            REQUIRE(*sim == *t.response_time);
        }
    }
}

TEST_CASE("OPA succeeds exactly when DM does (constrained D without jitter or blocking)") {
    rng g{4};
    std::int64_t found = 0;
    for (int k = 0; k < 3000; ++k) {
        const shape sh{.n_max = 8, .u_min = 0.7, .u_max = 1.0};
        const auto s = random_set(g, sh);
        const bool dm = fp_schedulable(dm_sorted(s));
        const auto o = audsley(s);
        INFO("set " << k);
        REQUIRE(o.has_value() == dm);
        if (o) {
            REQUIRE(fp_schedulable(apply_priority_order(s, *o)));
            ++found;
        }
    }
    CHECK(found > 300);
    // With arbitrary deadlines, jitter or per-task blocking (a fixed B_i breaks the
    // swap argument behind DM's optimality) OPA may beat DM, never the reverse.
    std::int64_t beat = 0;
    for (int k = 0; k < 2000; ++k) {
        const shape sh{
            .n_max = 6, .arbitrary = k % 3 == 0, .jitter = k % 3 == 1, .blocking = k % 3 == 2};
        const auto s = random_set(g, sh);
        const auto o = audsley(s);
        const bool dm = fp_schedulable(dm_sorted(s));
        if (dm) REQUIRE(o.has_value());
        if (o) REQUIRE(fp_schedulable(apply_priority_order(s, *o)));
        beat += (o && !dm) ? 1 : 0;
    }
    CHECK(beat > 0);
}

TEST_CASE("max_wcet is schedulable and max_wcet + 1 is not and the same holds for max_scaling") {
    rng g{5};
    for (int k = 0; k < 1000; ++k) {
        const shape sh{
            .n_max = 6, .u_min = 0.3, .u_max = 0.9, .arbitrary = k % 2 == 0, .jitter = k % 3 == 0};
        auto s = dm_sorted(random_set(g, sh));
        const auto i =
            static_cast<std::size_t>(g.between(0, static_cast<time_value>(s.size()) - 1));
        const auto c = max_wcet(s, i, fp_exact);
        INFO("set " << k << " task " << i);
        if (!c) {
            s[i].wcet = 1;
            REQUIRE_FALSE(fp_schedulable(s));
            continue;
        }
        s[i].wcet = *c;
        REQUIRE(fp_schedulable(s));
        if (*c < s[i].deadline) {
            s[i].wcet = *c + 1;
            REQUIRE_FALSE(fp_schedulable(s));
        }
        const auto f = max_scaling(s, fp_exact, 100);
        if (!f) continue;
        auto scaled = [&](std::int64_t kk) {
            auto x = s;
            for (auto& t : x)
                t.wcet = (t.wcet * kk + 99) / 100;
            return x;
        };
        REQUIRE(fp_schedulable(scaled(*f)));
        bool at_limit = false;
        for (const auto& t : scaled(*f + 1))
            at_limit = at_limit || t.wcet > t.deadline;
        if (!at_limit) REQUIRE_FALSE(fp_schedulable(scaled(*f + 1)));
    }
}

TEST_CASE("the Liu & Layland bound implies the hyperbolic bound which implies RM-schedulability") {
    rng g{6};
    for (int k = 0; k < 5000; ++k) {
        const shape sh{.u_min = 0.5, .u_max = 0.95};
        auto s = random_set(g, sh);
        for (auto& t : s)
            t.deadline = t.period;
        const bool ll = liu_layland_bound_holds(s);
        const bool hb = hyperbolic_bound_holds(s);
        if (ll) REQUIRE(hb);
        if (hb) REQUIRE(fp_schedulable(apply_priority_order(s, rate_monotonic(s))));
    }
}
