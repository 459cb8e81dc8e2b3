// ROS 2 chain analyses against the executor simulator on random systems: a simulated
// latency (or callback completion) never exceeds the analysis bound, for both executor
// behaviours, synchronous and random timer phases, full and random execution times;
// and the monotonicity the inequalities give (docs/sched/ros2.md): less WCET or more
// threads never increase a bound.
#include <keel/sched/ros2.hpp>
#include <keel/sched/ros2_simulate.hpp>

#include <catch2/catch.hpp>

#include <algorithm>

using namespace keel::sched;

namespace {

ros2_generator_options random_options(rng& r) {
    ros2_generator_options o;
    o.threads = 1 + r.below(4);
    o.chains = 2 + r.below(4);
    o.min_chain_length = 1;
    o.max_chain_length = 4;
    o.utilization = std::min((0.05 + 0.5 * r.uniform01()) * static_cast<double>(o.threads),
                             0.8 * static_cast<double>(o.chains));
    o.max_chain_utilization = 1.0;
    o.period_min = 20;
    o.period_max = 400;
    o.granularity = 5;
    o.deadlines = r.below(2) == 0 ? deadline_kind::implicit : deadline_kind::arbitrary;
    o.groups = 1 + r.below(4);
    o.mutex_probability = r.uniform01();
    return o;
}

}  // namespace

TEST_CASE("ros2: simulated latencies never exceed the analysis bounds") {
    rng r(2408'08440);
    int checked = 0, schedulable = 0;
    for (int trial = 0; trial < 600; ++trial) {
        const ros2_generator_options o = random_options(r);
        const ros2_system s = ros2_generate(o, r.next());
        for (auto ex : {ros2_executor::default_executor, ros2_executor::priority_driven}) {
            const ros2_result a = ros2_analyze(s, ex);
            if (!a.converged) continue;
            ++checked;
            if (a.schedulable) ++schedulable;
            for (int run = 0; run < 3; ++run) {
                ros2_sim_options so;
                so.horizon = 2000;
                so.random_phases = run > 0;
                so.execution = run == 2 ? ros2_execution::random : ros2_execution::wcet;
                so.seed = r.next();
                const ros2_sim_result sim = ros2_simulate(s, ex, so);
                INFO("trial " << trial << " executor " << to_string(ex) << " run " << run);
                for (std::size_t c = 0; c < s.chains.size(); ++c) {
                    REQUIRE(sim.chains[c].max_latency <= *a.chains[c].end_to_end);
                    if (a.chains[c].schedulable) REQUIRE(sim.chains[c].deadline_misses == 0);
                }
                for (std::size_t k = 0; k < s.callbacks.size(); ++k)
                    REQUIRE(sim.max_completion[k] <= a.callbacks[k].completion);
            }
        }
    }
    CHECK(checked > 500);
    CHECK(schedulable > 150);
}

TEST_CASE("ros2: less WCET or more threads never increase a bound") {
    rng r(77);
    for (int trial = 0; trial < 200; ++trial) {
        const ros2_generator_options o = random_options(r);
        const ros2_system s = ros2_generate(o, r.next());
        for (auto ex : {ros2_executor::default_executor, ros2_executor::priority_driven}) {
            const ros2_result a = ros2_analyze(s, ex);
            if (!a.converged) continue;
            ros2_system lighter = s;
            const std::size_t k = r.below(s.callbacks.size());
            lighter.callbacks[k].wcet = std::max<time_value>(1, lighter.callbacks[k].wcet / 2);
            ros2_system wider = s;
            ++wider.threads;
            for (const ros2_system* v : {&lighter, &wider}) {
                const ros2_result b = ros2_analyze(*v, ex);
                INFO("trial " << trial << " executor " << to_string(ex));
                REQUIRE(b.converged);
                if (a.schedulable) CHECK(b.schedulable);
                for (std::size_t c = 0; c < s.chains.size(); ++c)
                    REQUIRE(*b.chains[c].end_to_end <= *a.chains[c].end_to_end);
            }
        }
    }
}
