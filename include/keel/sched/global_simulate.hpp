#pragma once

/// keel::sched global simulator: m identical cores, one ready queue, global preemptive
/// scheduling, to cross-check the global analyses (global.hpp) and to run job-level
/// policies such as the weakly-hard priority assignment. docs/sched/global.md.
///
/// Model. Integer time; events are job releases, job completions and (with
/// abort_at_deadline) job deadlines, so the cost does not depend on the tick size.
/// At every instant the (at most) m highest-priority eligible jobs run, one per core;
/// a task's jobs run in order (job k+1 is eligible only once job k completed or was
/// dropped), so a task never runs on two cores at once. Migration and preemption are
/// free. Jobs always execute for exactly their WCET; jitter and blocking are not
/// simulated (the global analyses refuse them).

#include <keel/sched/simulate.hpp>
#include <keel/sched/task.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace keel::sched {

/// Which jobs run.
/// - fixed_priority: task index order (index 0 highest), jobs of a task in order.
/// - edf: earliest absolute deadline first; ties to the lower task index.
/// - job_level: the value job_priority returned at the job's release (lower value =
///   higher priority), fixed for the job's lifetime; ties to the lower task index.
enum class global_policy { fixed_priority, edf, job_level };

/// A job as a job_priority callback sees it at its release.
/// consecutive_misses: how many of this task's most recent jobs judged before this
/// release (completed, or dropped/late at their deadline) missed in a row (0 when the
/// last judged job met its deadline or none was judged yet). A job whose deadline is
/// this release instant is judged before the release.
struct released_job {
    std::size_t task = 0;
    std::int64_t job = 0;  ///< index within the task, from 0
    time_value arrival = 0;
    time_value release = 0;  ///< equal to arrival (no jitter simulated)
    time_value absolute_deadline = 0;
    std::int64_t consecutive_misses = 0;
};

/// Job-level priority: called once per released job, in release order (ties: task
/// index order); lower value = higher priority. May keep state; called from the
/// simulating thread only.
using job_priority = std::function<std::int64_t(const released_job&)>;

/// How arrivals are drawn.
/// - synchronous: every task arrives at 0, then strictly periodically (gap T).
/// - random_sporadic: the first arrival of task i is uniform in [0, floor(extra * T_i)],
///   each later gap is T_i + a uniform draw in [0, floor(extra * T_i)] with probability
///   1/2 and exactly T_i otherwise (dense bursts are kept likely). Seeded with the
///   part-1 rng (generate.hpp), so reproducible for a given seed.
enum class global_release { synchronous, random_sporadic };

/// The outcome of one judged job, in job order.
enum class job_outcome : unsigned char { met, missed };

/// Simulation options. A plain aggregate.
/// - cores: m >= 1. horizon > 0: jobs arriving before it are simulated; the run stops
///   at it; an unfinished job counts as missed iff its deadline is <= horizon.
/// - abort_at_deadline: a job not complete at its absolute deadline is dropped there
///   and counted missed (the weakly-hard model); otherwise it runs late to completion.
/// - record_outcomes: fill global_simulation_result::outcomes.
/// - stop_at_first_miss: end the run at the first judged miss (result.end is then the
///   time of that judgement); for soundness checks that only need "any miss".
struct global_sim_options {
    std::size_t cores = 1;
    time_value horizon = 0;
    global_policy policy = global_policy::fixed_priority;
    job_priority priority;  ///< required for job_level
    global_release pattern = global_release::synchronous;
    std::uint64_t seed = 0;
    double sporadic_extra = 0.5;  ///< random_sporadic gap spread, >= 0
    bool abort_at_deadline = false;
    bool record_outcomes = false;
    bool stop_at_first_miss = false;
};

/// Whole-run observations. tasks[i] as in simulate() (response times from arrival;
/// with abort_at_deadline a dropped job has no response time and is counted in
/// deadline_misses, not in jobs_completed). outcomes[i]: task i's judged jobs in order
/// (empty unless record_outcomes). dropped: jobs aborted at their deadline.
/// A plain value.
struct global_simulation_result {
    std::vector<sim_task_stats> tasks;
    std::vector<std::vector<job_outcome>> outcomes;
    std::int64_t deadline_misses = 0;
    std::int64_t dropped = 0;
    std::optional<time_value> first_miss;        ///< earliest missed absolute deadline
    std::optional<std::size_t> first_miss_task;  ///< its task (lowest index on a tie)
    time_value end = 0;
    [[nodiscard]] bool any_miss() const noexcept { return deadline_misses > 0; }
};

/// Simulates `tasks` on options.cores identical cores. Throws std::invalid_argument
/// (a malformed task named by index, cores == 0, horizon <= 0, job_level without a
/// callback, sporadic_extra < 0) or analysis_overflow (a time past 2^63); exceptions of
/// the callback propagate. Thread-safe for distinct option objects (the callback is the
/// caller's). Cost: O(events * n log n), events <= 3 * jobs; O(n + pending jobs) memory
/// (plus the outcome vectors).
global_simulation_result simulate_global(std::span<const task> tasks,
                                         const global_sim_options& options);

}  // namespace keel::sched
