// Multi-rate schedule randomisation (randomize.hpp) on generated systems:
// 1. The pruned enumeration agrees with brute force (fp_schedulable on every combination).
// 2. Exactness against simulation: every combination reported schedulable runs a
//    synchronous hyperperiod without a miss, and every one rejected misses in it (the
//    synchronous release is FP's critical instant for constrained deadlines without
//    jitter, Liu & Layland 1973), so the simulator and the RTA agree both ways.
// 3. Randomised runs, switching at every safe point (or after a dwell), never miss; every
//    job has finished by the next switch; jobs of one task are never released closer than
//    the period in force.
// 4. The attacker predicts a fixed schedule perfectly once it has seen enough of it.
#include <keel/sched/fp.hpp>
#include <keel/sched/randomize.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <numeric>
#include <set>
#include <vector>

using namespace keel::sched;

namespace {

multirate_system draw(std::uint64_t seed) {
    rng r(seed * 7919 + 11);
    multirate_generator_options o;
    o.n = 2 + static_cast<std::size_t>(r.below(5));
    o.utilization = 0.3 + 0.65 * r.uniform01();
    o.alternatives = 1 + static_cast<std::size_t>(r.below(3));
    o.period_menu = {10, 12, 15, 20, 30, 40, 60};
    multirate_system s = generate_multirate_system(o, seed);
    if (r.below(3) == 0)  // some fixed (constrained) deadlines
        for (auto& t : s.tasks)
            t.deadline = std::max(t.wcet, t.periods.front() - static_cast<time_value>(r.below(4)));
    return s;
}

time_value hyperperiod(const std::vector<time_value>& periods) {
    time_value h = 1;
    for (time_value p : periods)
        h = std::lcm(h, p);
    return h;
}

}  // namespace

TEST_CASE("enumeration equals brute force and the simulator agrees both ways", "[randomize]") {
    int schedulable = 0, rejected = 0;
    for (std::uint64_t seed = 1; seed <= 150; ++seed) {
        const multirate_system s = draw(seed);
        const auto r = enumerate_schedulable(s);
        REQUIRE_FALSE(r.truncated);
        REQUIRE(r.combinations.size() + r.rejected == r.total);
        std::set<std::vector<std::size_t>> found;
        for (const auto& c : r.combinations)
            found.insert(c.choice);
        for (const auto& choice : every_choice(s)) {
            const std::vector<task> tasks = s.instantiate(choice);
            const bool brute = fp_schedulable(tasks);
            INFO("seed " << seed);
            REQUIRE(brute == (found.count(choice) == 1));
            std::vector<time_value> periods;
            for (const auto& t : tasks)
                periods.push_back(t.period);
            period_combination c;
            c.choice = choice;
            c.periods = periods;
            const auto trace = simulate_multirate(s, std::span(&c, 1), 0, hyperperiod(periods));
            REQUIRE((trace.misses == 0) == brute);
            (brute ? schedulable : rejected) += 1;
        }
    }
    // Both verdicts were exercised.
    CHECK(schedulable > 100);
    CHECK(rejected > 50);
}

TEST_CASE("randomised runs never miss a deadline across switches", "[randomize]") {
    std::int64_t switches = 0;
    for (std::uint64_t seed = 1; seed <= 120; ++seed) {
        const multirate_system s = draw(seed);
        const auto r = enumerate_schedulable(s);
        if (r.combinations.empty()) continue;
        std::vector<std::size_t> pool(r.combinations.size());
        std::iota(pool.begin(), pool.end(), std::size_t{0});
        const time_value dwell = static_cast<time_value>(seed % 3) * 50;
        schedule_randomizer rnd(pool, seed, dwell);
        const auto trace = simulate_multirate(s, r.combinations, 0, 5000, &rnd);
        INFO("seed " << seed);
        REQUIRE(trace.misses == 0);
        switches += static_cast<std::int64_t>(trace.switches.size()) - 1;
        // Consecutive releases of a task are at least the period in force for the later
        // one apart (exactly the period when no switch came between them).
        std::vector<std::optional<job_record>> last(s.tasks.size());
        for (const auto& j : trace.jobs) {
            if (last[j.task]) {
                const auto& p = *last[j.task];
                const time_value gap = j.release - p.release;
                REQUIRE(gap >= r.combinations[j.combination].periods[j.task]);
                bool switched = false;
                for (const auto& sw : trace.switches)
                    switched = switched || (sw.first > p.release && sw.first <= j.release);
                if (!switched) REQUIRE(gap == r.combinations[j.combination].periods[j.task]);
            }
            last[j.task] = j;
        }
        // Safe points only: a job has finished by the first switch after its release (jobs
        // are recorded in release order, so one pointer walks the switches).
        std::size_t next_switch = 1;
        for (const auto& j : trace.jobs) {
            while (next_switch < trace.switches.size() && trace.switches[next_switch].first <= j.release)
                ++next_switch;
            if (next_switch < trace.switches.size())
                REQUIRE((j.finish && *j.finish <= trace.switches[next_switch].first));
        }
        // A dwell keeps switches at least that far apart.
        for (std::size_t k = 2; k < trace.switches.size(); ++k)
            REQUIRE(trace.switches[k].first - trace.switches[k - 1].first >= dwell);
    }
    CHECK(switches > 1000);
}

TEST_CASE("the attacker predicts a fixed schedule once it has seen a hyperperiod", "[randomize]") {
    for (std::uint64_t seed = 1; seed <= 60; ++seed) {
        const multirate_system s = draw(seed);
        const auto r = enumerate_schedulable(s);
        if (r.combinations.empty()) continue;
        const auto& c = r.combinations.front();
        const time_value h = hyperperiod(c.periods);
        const std::size_t victim = s.tasks.size() / 2;
        const auto trace = simulate_multirate(s, r.combinations, 0, 12 * h);
        const auto starts = start_times(trace, victim);
        // The victim's gap pattern repeats every hyperperiod; with a context of 64 gaps
        // the attacker's longest matching suffix covers a whole pattern, so it predicts
        // every start of the second half of a 12-hyperperiod run.
        const auto a = evaluate_attack(starts, starts.size() / 2, 0, 64);
        INFO("seed " << seed);
        CHECK(a.rate == Approx(1.0));
    }
}
