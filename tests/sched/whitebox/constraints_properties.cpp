// The constraint systems agree with the tests they encode: on thousands of generated
// sets, each with several random WCET vectors for a random set of free tasks,
//   fp_constraints(...).satisfied_by(C)  ==  fp_rta(set with C).schedulable
//   edf_constraints(..., cap).satisfied_by(C)  ==  edf_qpa(set with C).schedulable
//                                                 && U(set with C) <= cap (exact)
// FP sets come in random priority orders (not only rate-monotonic: the point sets must
// hold for any order), with blocking; EDF sets have arbitrary deadlines and jitter.
#include <keel/sched/constraints.hpp>
#include <keel/sched/edf.hpp>
#include <keel/sched/fp.hpp>
#include <keel/sched/generate.hpp>
#include <keel/sched/utilization.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

using namespace keel::sched;

namespace {

/// A random subset of 1..min(3, n) distinct task indices, in random order.
std::vector<std::size_t> draw_free(std::size_t n, rng& r) {
    std::vector<std::size_t> all(n);
    std::iota(all.begin(), all.end(), std::size_t{0});
    for (std::size_t k = n; k > 1; --k)
        std::swap(all[k - 1], all[r.below(k)]);
    const std::size_t m = 1 + r.below(std::min<std::size_t>(3, n));
    all.resize(m);
    return all;
}

/// WCETs near the generated ones (x0.4 .. x1.6), within [1, D]: both verdicts occur.
std::vector<std::int64_t> draw_wcets(const task_set& s, const std::vector<std::size_t>& free,
                                     rng& r) {
    std::vector<std::int64_t> c;
    for (const std::size_t i : free) {
        const double f = 0.4 + 1.2 * r.uniform01();
        const auto v =
            static_cast<std::int64_t>(std::llround(static_cast<double>(s.tasks[i].wcet) * f));
        c.push_back(std::clamp<std::int64_t>(v, 1, s.tasks[i].deadline));
    }
    return c;
}

std::vector<task> with_wcets(const task_set& s, const std::vector<std::size_t>& free,
                             const std::vector<std::int64_t>& c) {
    std::vector<task> t = s.tasks;
    for (std::size_t k = 0; k < free.size(); ++k)
        t[free[k]].wcet = c[k];
    return t;
}

/// Counts of the WCET vectors checked and of those the exact test accepted.
struct tally {
    std::size_t checked = 0, accepted = 0;
};

/// Five random WCET vectors for `free`: the system and `exact` must agree on each.
template <class Exact>
void check_vectors(const constraint_system& sys, const task_set& s,
                   const std::vector<std::size_t>& free, rng& r, Exact&& exact, tally& n) {
    for (int v = 0; v < 5; ++v) {
        const std::vector<std::int64_t> c = draw_wcets(s, free, r);
        const bool want = exact(with_wcets(s, free, c));
        INFO("vector " << v);
        REQUIRE(sys.satisfied_by(c) == want);
        ++n.checked;
        n.accepted += want ? 1 : 0;
    }
}

}  // namespace

TEST_CASE("FP constraints agree with fp_rta on random sets, orders and WCETs") {
    rng r(20261128);
    tally n;
    for (std::uint64_t seed = 1; seed <= 3000; ++seed) {
        generator_options g;
        g.n = 2 + static_cast<std::size_t>(r.below(6));
        g.utilization = 0.5 + 0.5 * r.uniform01();
        g.period_min = 10;
        g.period_max = 200;
        g.deadlines = deadline_kind::constrained;
        g.deadline_min_fraction = 0.3;
        task_set s = generate_task_set(g, seed);
        // A random priority order and some blocking.
        for (std::size_t k = s.size(); k > 1; --k)
            std::swap(s.tasks[k - 1], s.tasks[r.below(k)]);
        for (task& t : s.tasks)
            if (r.below(4) == 0) t.blocking = static_cast<time_value>(r.below(5));
        const std::vector<std::size_t> free = draw_free(s.size(), r);
        const constraint_system sys = fp_constraints(s, free);
        INFO("seed " << seed);
        check_vectors(
            sys, s, free, r, [](const std::vector<task>& t) { return fp_rta(t).schedulable; }, n);
    }
    // Both verdicts were exercised.
    CHECK(n.accepted > n.checked / 10);
    CHECK(n.accepted < n.checked - n.checked / 10);
}

TEST_CASE("EDF constraints agree with edf_qpa under the utilisation cap") {
    rng r(7);
    tally n;
    const rational cap(19, 20);
    for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
        generator_options g;
        g.n = 2 + static_cast<std::size_t>(r.below(6));
        g.utilization = 0.5 + 0.5 * r.uniform01();
        g.period_min = 10;
        g.period_max = 200;
        g.deadlines = (seed % 2 == 0) ? deadline_kind::arbitrary : deadline_kind::constrained;
        g.deadline_min_fraction = 0.3;
        task_set s = generate_task_set(g, seed);
        for (task& t : s.tasks)
            if (r.below(4) == 0)
                t.jitter = static_cast<time_value>(r.below(static_cast<std::uint64_t>(t.deadline)));
        const std::vector<std::size_t> free = draw_free(s.size(), r);
        const constraint_system sys = edf_constraints(s, free, 19, 20);
        INFO("seed " << seed);
        check_vectors(
            sys, s, free, r,
            [&](const std::vector<task>& t) {
                return edf_qpa(t).schedulable && utilization(t) <= cap;
            },
            n);
    }
    CHECK(n.accepted > n.checked / 10);
    CHECK(n.accepted < n.checked - n.checked / 10);
}
