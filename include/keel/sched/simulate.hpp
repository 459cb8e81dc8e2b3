#pragma once

#include <keel/sched/detail/checked.hpp>
#include <keel/sched/task.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

/// keel::sched simulator: a discrete-event, preemptive, uniprocessor scheduler run on
/// a task set, to cross-check the analyses (an exact "schedulable" must never be
/// contradicted by a simulated schedule). Integer time; events are job releases and
/// job completions only, so the cost is O(jobs * n) and independent of the tick size.
namespace keel::sched {

/// Which job runs. fixed_priority: the ready job of the lowest task index (index 0 is
/// the highest priority); jobs of one task run in arrival order. edf: the ready job with
/// the earliest absolute deadline (arrival + D); ties go to the lower task index, then
/// to the earlier arrival. Both are fully preemptive and work-conserving; blocking
/// (task::blocking) is not simulated (tasks are independent).
enum class sim_policy { fixed_priority, edf };

/// When each job is released relative to its arrival. Arrivals are strictly periodic
/// (inter-arrival exactly T, the densest sporadic pattern); job k of task i arrives at
/// a(i,k) = o_i + k*T_i and is released at some r in [a, a + J_i].
/// - synchronous: o_i = 0, r = a: no jitter at all (the task's J is ignored).
/// - critical_instant: every task's jobs are bunched at the common instant o = max_i J_i:
///   o_i = o - J_i and r = max(a, o), i.e. the first job of every task arrives J_i early
///   and is released late by its full jitter, together with any later job whose arrival
///   falls before o; after o every job is released at its arrival. Seen from o this is
///   the critical instant of both analyses: for FP, every higher-priority task releases
///   its first job at o and then as often as it may (the pattern behind
///   R_i = J_i + w_i); for EDF, the jobs released at or after o with deadlines up to
///   o + t carry exactly the demand h(t) of the jitter-aware demand bound (deadline
///   D - J), so h(t) > t forces a miss by o + t.
/// - random: o_i = 0, r = a + a uniform draw in [0, J_i] (seeded, reproducible), kept in
///   arrival order within a task (r = max(draw, previous release), still <= a + J_i).
enum class release_pattern { synchronous, critical_instant, random };

/// Simulation options. A plain aggregate.
struct sim_options {
    release_pattern pattern = release_pattern::synchronous;
    std::uint64_t seed = 0;  ///< for release_pattern::random
};

/// Per-task observations. Response times are measured from the job's ARRIVAL, so they
/// include the release delay (same convention as the analyses). A plain value.
struct sim_task_stats {
    time_value max_response = 0;                  ///< over completed jobs
    std::optional<time_value> first_job_response; ///< job 0, if it completed
    std::int64_t jobs_released = 0;
    std::int64_t jobs_completed = 0;
    std::int64_t deadline_misses = 0;            ///< completed late, or unfinished at the end past its deadline
    std::optional<time_value> first_miss;        ///< earliest absolute deadline missed
};

/// Whole-run observations. A plain value.
struct simulation_result {
    std::vector<sim_task_stats> tasks;
    std::int64_t deadline_misses = 0;
    std::optional<time_value> first_miss;          ///< earliest missed absolute deadline
    std::optional<std::size_t> first_miss_task;    ///< its task (lowest index on a tie)
    time_value end = 0;                            ///< the horizon simulated
    [[nodiscard]] bool any_miss() const noexcept { return deadline_misses > 0; }
};

/// Simulates [0, horizon): jobs arriving before `horizon` are generated; releases at or
/// after `horizon` are not processed; the run stops at `horizon`. A job still unfinished
/// then counts as a miss iff its absolute deadline is <= horizon (later ones are not
/// judged). Throws std::invalid_argument (malformed task, horizon <= 0) or
/// analysis_overflow (a time past 2^63). Thread-safe (pure); O((jobs) * n) time,
/// O(n + pending jobs) memory.
simulation_result simulate(std::span<const task> tasks, sim_policy policy, time_value horizon,
                           const sim_options& options = {});

}  // namespace keel::sched
