#pragma once

/// A discrete-event simulator of a ROS 2 multi-threaded executor running the chains of a
/// ros2_system, for both executor behaviours, to check ros2_analyze (a bound must never
/// be exceeded by a simulated latency). docs/sched/ros2.md, "Simulator".
///
/// Rules, applied at every event instant t (integer time) in this order:
/// 1. Completions at t: the thread becomes idle; a mutually exclusive group becomes free;
///    the completed job's successor in its chain is released at t (one message queued),
///    or, for a chain's last callback, the instance's latency is recorded.
/// 2. Timer releases at t: one job queued per release (phase + n * period).
/// 3. Dispatch, while some thread is idle:
///    - default_executor: take the first entry of the ready set, in the default order
///      (timers before subscriptions, then callback index), whose group is not a busy
///      mutually exclusive group; the entry leaves the set and the callback's oldest
///      queued job starts. If no entry is takeable: when the ready set is empty, poll
///      (the set becomes every callback with a queued job) and retry; otherwise the idle
///      threads wait for the next event. A callback has at most one entry, so jobs queued
///      after a poll wait for the next poll.
///    - priority_driven: the callback of highest priority (its chain's priority, then the
///      later position in its chain, then callback index) with a queued job and a group
///      that allows it starts its oldest job.
///    A reentrant group never blocks; a mutually exclusive one blocks while any of its
///    callbacks runs.
/// Chain instances released before `horizon` are simulated to completion (the run drains),
/// so every instance is judged.

#include <keel/sched/ros2.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace keel::sched {

/// Execution times: every job takes its WCET, or a seeded uniform draw in [1, WCET].
enum class ros2_execution : unsigned char { wcet, random };

/// Simulation options. A plain aggregate.
/// - horizon: chain instances released before it are simulated.
/// - random_phases: timer phases drawn uniformly in [0, period) (else the system's).
/// - seed: for random phases and random execution times.
struct ros2_sim_options {
    time_value horizon = 0;
    ros2_execution execution = ros2_execution::wcet;
    bool random_phases = false;
    std::uint64_t seed = 0;
};

/// Per-chain observations. A plain value.
struct ros2_sim_chain {
    std::int64_t instances = 0;
    time_value max_latency = 0;
    std::int64_t deadline_misses = 0;
};

/// Whole-run observations; callbacks[k].max_completion is the largest (completion - chain
/// instance release) seen for callback k, comparable with ros2_callback_bound::completion.
struct ros2_sim_result {
    std::vector<ros2_sim_chain> chains;
    std::vector<time_value> max_completion;
    std::int64_t jobs = 0;
    time_value end = 0;  ///< last completion
    [[nodiscard]] bool any_miss() const noexcept {
        for (const auto& c : chains)
            if (c.deadline_misses > 0) return true;
        return false;
    }
};

/// Runs the executor on `system` (validated first: std::invalid_argument; horizon <= 0
/// too). Thread-safe (pure). Cost: O(jobs * callbacks) time, O(pending jobs) memory.
[[nodiscard]] ros2_sim_result ros2_simulate(const ros2_system& system, ros2_executor executor,
                                            const ros2_sim_options& options);

}  // namespace keel::sched
