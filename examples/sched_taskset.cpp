// Checks a small control application's task set before it is deployed: priorities by
// deadline-monotonic order, exact response times with their evidence, EDF as the
// alternative, the headroom left (how much every WCET may grow), and a simulated
// schedule as a cross-check. Times are in microseconds. The set is illustrative: a
// sensor loop with release jitter, a control law, a bus driver that holds a lock for
// up to 150 µs (its blocking), logging and diagnostics.
#include <keel/sched.hpp>

#include <cstddef>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

namespace ks = keel::sched;

int main() {
    const std::vector<std::string> names{"diagnostics", "sensor_fusion", "logging", "control_law",
                                         "bus_driver"};
    //                               C      T       D      J    B
    const std::vector<ks::task> set{{9000, 100000, 100000, 0, 0},
                                    {1800, 10000, 8000, 500, 150},
                                    {4000, 50000, 50000, 0, 0},
                                    {1200, 5000, 5000, 0, 150},
                                    {600, 2000, 1000, 0, 0}};

    // Deadline-monotonic priorities are optimal here (constrained deadlines, jitter only
    // on one task); Audsley's algorithm would find an order whenever one exists.
    const std::vector<std::size_t> order = ks::deadline_monotonic(set);
    const std::vector<ks::task> by_priority = ks::apply_priority_order(set, order);

    double utilisation = 0;
    for (const auto& t : set) utilisation += static_cast<double>(t.wcet) / static_cast<double>(t.period);
    // The utilisation bounds (ks::liu_layland_bound_holds, ks::hyperbolic_bound_holds)
    // assume D = T and refuse this set with std::invalid_argument: only an exact test
    // answers for constrained deadlines and jitter.
    std::printf("utilisation %.3f of one core; deadlines shorter than periods, so only exact tests apply\n",
                utilisation);

    const ks::fp_result fp = ks::fp_rta(by_priority);
    std::printf("\nfixed priority, deadline-monotonic (exact response-time analysis): %s\n",
                fp.schedulable ? "schedulable" : "NOT schedulable");
    std::printf("  %-14s %8s %8s  %s\n", "task", "R (µs)", "D (µs)", "fixed-point iterates");
    for (std::size_t k = 0; k < by_priority.size(); ++k) {
        const ks::fp_task_result& r = fp.tasks[k];
        std::string iterates;
        for (auto w : r.iterations) iterates += std::to_string(w) + " ";
        std::printf("  %-14s %8s %8lld  %s\n", names[order[k]].c_str(),
                    r.response_time ? std::to_string(*r.response_time).c_str() : "unbounded",
                    static_cast<long long>(by_priority[k].deadline), iterates.c_str());
    }

    const ks::edf_result edf = ks::edf_qpa(set);
    std::printf("\nEDF (quick processor-demand analysis): %s after %lld demand evaluations\n",
                edf.schedulable ? "schedulable" : "NOT schedulable",
                static_cast<long long>(edf.evaluations));
    if (edf.witness)
        std::printf("  demand %lld exceeds the interval %lld\n",
                    static_cast<long long>(edf.witness->demand), static_cast<long long>(edf.witness->t));

    // Headroom: the largest factor every WCET may be multiplied by (in 1/1000) and stay
    // schedulable under each policy.
    const auto fp_test = [](std::span<const ks::task> s) { return ks::fp_schedulable(s); };
    const auto edf_test = [](std::span<const ks::task> s) { return ks::edf_qpa(s).schedulable; };
    const auto fp_scale = ks::max_scaling(by_priority, fp_test);
    const auto edf_scale = ks::max_scaling(set, edf_test);
    std::printf("\nevery WCET may grow by a factor of %.3f under FP, %.3f under EDF\n",
                fp_scale ? static_cast<double>(*fp_scale) / 1000 : 0.0,
                edf_scale ? static_cast<double>(*edf_scale) / 1000 : 0.0);
    const std::size_t control = 1;  // control_law's priority under DM
    if (const auto c = ks::max_wcet(by_priority, control, fp_test))
        std::printf("%s alone may take up to %lld µs (budgeted %lld)\n", names[order[control]].c_str(),
                    static_cast<long long>(*c), static_cast<long long>(by_priority[control].wcet));

    // Cross-check: a simulated schedule from the critical instant must not miss a
    // deadline that the exact analysis promised (blocking is not simulated, so the
    // simulated responses may be lower).
    const ks::simulation_result sim =
        ks::simulate(by_priority, ks::sim_policy::fixed_priority, 1'000'000,
                     {.pattern = ks::release_pattern::critical_instant});
    std::printf("\nsimulated 1 s from the critical instant: %lld deadline misses\n",
                static_cast<long long>(sim.deadline_misses));
    bool consistent = !(fp.schedulable && sim.any_miss());
    for (std::size_t k = 0; k < by_priority.size(); ++k) {
        const auto& r = fp.tasks[k].response_time;
        const auto observed = sim.tasks[k].max_response;
        std::printf("  %-14s simulated worst %6lld µs, analysed %s\n", names[order[k]].c_str(),
                    static_cast<long long>(observed), r ? std::to_string(*r).c_str() : "unbounded");
        if (r && observed > *r) consistent = false;  // the analysis is an upper bound
    }
    std::printf("%s\n", consistent ? "analysis and simulation agree"
                                   : "analysis and simulation DISAGREE: please report this");
    return fp.schedulable && consistent ? 0 : 1;
}
