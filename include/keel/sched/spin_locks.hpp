#pragma once

/// Spin-based resource sharing on partitioned fixed-priority multiprocessors: the
/// blocking bounds and response-time analyses of MSRP (Gai, Lipari & Di Natale, RTSS
/// 2001), PWLP (preemptable waiting locking protocol; Afshar et al. 2014) and FRAP
/// (flexible resource accessing protocol; Zhao, Xu, Chen, Su & Chang, arXiv 2408.13772),
/// FRAP's blocking bound solved as a min-cost max-flow problem, a spin-priority
/// assignment, and a tick-level simulator of the three protocols.
/// docs/sched/spin_locks.md gives the exact rules and formulas.
///
/// Protocol model (shared by the three; they differ only in the spin priority):
/// - each task is bound to one core; cores schedule their tasks by preemptive fixed
///   priority (smaller `priority` value = higher priority, unique within a core);
/// - a resource used from two or more cores is global: a request joins the resource's
///   FIFO queue and the job busy-waits (spins) until it is at the head and the resource
///   is free; a resource used from one core only is local (no spinning);
/// - a global section runs non-preemptively; sections are not nested;
/// - a local resource follows the stack resource policy, as in Gai et al.: its section
///   runs at the resource's ceiling (the highest priority of its users), and a job starts
///   only when its priority is above the highest ceiling of the resources held on its core;
/// - while spinning for resource k, task i runs at its spin level P_i^k (a priority
///   value <= its own): only tasks with a priority value strictly below P_i^k preempt it;
///   a job preempted while spinning leaves the queue and requests again when it resumes.
///   MSRP: P_i^k at or above every priority of the core (non-preemptive spinning);
///   PWLP: P_i^k = the task's own priority; FRAP: anything in between, per task and
///   resource.

#include <keel/sched/task.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace keel::sched {

/// One kind of critical section of a task: each job makes `count` requests of
/// `resource`, each holding it for at most `length` ticks (included in the task's wcet).
struct critical_section {
    std::size_t resource = 0;
    time_value length = 0;
    std::int64_t count = 0;

    friend bool operator==(const critical_section&, const critical_section&) = default;
};

/// A partitioned system with shared resources. tasks[i] runs on core[i] with local
/// priority priority[i] (smaller = higher, unique within the core) and makes the
/// requests sections[i]; resources are numbered 0 .. resources - 1. Jitter and blocking
/// of the tasks must be 0 (the analyses compute the blocking). names: empty or one per
/// task. A plain aggregate; not synchronised.
struct spin_system {
    std::size_t cores = 1;
    std::size_t resources = 0;
    std::vector<task> tasks;
    std::vector<std::size_t> core;
    std::vector<std::int64_t> priority;
    std::vector<std::vector<critical_section>> sections;
    std::vector<std::string> names;

    /// Throws std::invalid_argument naming the task (by index, "task 3") and the field
    /// at the first problem: a malformed task (task_set rules), jitter or blocking not 0,
    /// a core out of range, two tasks of one core with one priority, a section with a
    /// resource out of range, a length or count not positive, one resource listed twice
    /// by a task, or sections whose total count * length exceeds the wcet; also sizes of
    /// core / priority / sections / names that differ from the task count, and zero
    /// cores. O(n log n + sections).
    void validate() const;

    /// Whether resource k is used by tasks of two or more cores. O(n + sections).
    [[nodiscard]] bool is_global(std::size_t resource) const;

    /// The name of task i: its given name, or "t<i+1>".
    [[nodiscard]] std::string name_of(std::size_t i) const;
};

/// Spin levels: level[i][k] is the priority value at which task i spins for resource k
/// (read only where task i requests k). A job spinning at level p is preempted only by
/// tasks of a priority value < p; every level of task i must be <= priority[i].
using spin_levels = std::vector<std::vector<std::int64_t>>;

/// MSRP's levels: every task spins at the highest priority of its core (non-preemptive
/// spinning). O(n * resources).
[[nodiscard]] spin_levels msrp_levels(const spin_system& system);
/// PWLP's levels: every task spins at its own priority. O(n * resources).
[[nodiscard]] spin_levels pwlp_levels(const spin_system& system);

/// The spin-lock analysis to run: MSRP, PWLP or FRAP.
enum class spin_protocol : unsigned char { msrp, pwlp, frap };

/// The verdict for one task, with its evidence.
/// - response_time: the bound (from release; jobs of a level-i busy period all
///   analysed), nullopt when it passed the deadline (the analysis stops there: then
///   schedulable is false) or the busy period did not end within the job limit.
/// - own_spin: the per-job spin bound of the task's own requests, sum_k N_i^k S^k
///   (S^k = sum over the other cores of their longest section on k).
/// - arrival_blocking: MSRP/PWLP: the blocking term B_i; FRAP: the lower-priority part
///   the flow chose in the worst window (section plus its spin).
/// - spin_in_window: FRAP: the flow bound of all spinning in the worst window (own,
///   higher-priority, repeated and lower-priority attempts); MSRP/PWLP: the sum of the
///   per-request spin terms in that window.
/// - iterations: fixed-point steps over all jobs; flow_solves: min-cost flow problems
///   solved (FRAP only).
struct spin_task_result {
    bool schedulable = false;
    std::optional<time_value> response_time;
    time_value own_spin = 0;
    time_value arrival_blocking = 0;
    time_value spin_in_window = 0;
    std::int64_t jobs_examined = 0;
    std::int64_t iterations = 0;
    std::int64_t flow_solves = 0;
};

/// The verdict for the system (schedulable when every task is) and the levels used.
/// tasks[i] is task i's result (task order of the system). A plain value.
struct spin_result {
    spin_protocol protocol = spin_protocol::msrp;
    bool schedulable = false;
    std::vector<spin_task_result> tasks;
    spin_levels levels;
    /// FRAP's assignment: how many level vectors it tried.
    std::int64_t assignments_tried = 0;
};

/// MSRP (Gai et al. 2001): R_i = C_i + s_i + B_i + sum_{hp j} ceil(R_i/T_j)(C_j + s_j),
/// s_x = sum_k N_x^k S^k, B_i = the longest region of a lower-priority task of the core
/// that task i cannot preempt (a global section with its spin, S^k + L, or a local
/// section whose resource's ceiling is at or above i's priority).
/// Throws std::invalid_argument (validate) or analysis_overflow. Thread-safe (pure).
/// Cost: one fixed-point iteration O(n) per step, per task.
[[nodiscard]] spin_result msrp_analysis(const spin_system& system);

/// PWLP (spin at the own priority, preemptable, request cancelled on preemption):
/// R_i = C_i + s_i + B_i + sum_{hp j} ceil(R_i/T_j)(C_j + s_j + E_ij), B_i = the longest
/// lower-priority global section, or local one with a ceiling at or above i (no spin),
/// E_ij = the longest S^k of a resource that a task of priority between i (included)
/// and j (excluded) requests: the spin that a preemption by j wastes and that must be
/// repeated. Throws and costs as msrp_analysis.
[[nodiscard]] spin_result pwlp_analysis(const spin_system& system);

/// The per-request ("classic") bound for arbitrary levels: MSRP's and PWLP's formulas
/// are its two extremes. B_i = the longest lower-priority region that task i cannot
/// preempt (a global section, plus S^k when the task spins for k at a level <=
/// priority[i]; a local section whose resource's ceiling is <= priority[i]);
/// E_ij = the longest S^k over the sections of task i and of higher-priority tasks whose
/// level j preempts (a lower-priority spinner preempted in the window does not spin again
/// in it: its lost attempt is inside B_i). Throws std::invalid_argument
/// for levels of the wrong shape or a level above (numerically greater than) the task's
/// priority. Thread-safe (pure).
[[nodiscard]] spin_result spin_classic_analysis(const spin_system& system,
                                                const spin_levels& levels);

/// FRAP's analysis for given levels: in a level-i window of length t, the spin of all
/// attempts on the core (own and higher-priority requests, one repeated attempt per
/// higher-priority arrival that preempts a spinner, the lower-priority region's
/// attempt) is bounded by a maximum-weight matching of those attempts to the requests
/// that other cores can issue in the window (ceil((t + D_x)/T_x) N_x^k for remote task
/// x), each attempt being blocked by at most one request of each other core (FIFO), each
/// remote request counted at most once. Where the attempts go (which resource a
/// preemption hits, which lower-priority region blocks) is chosen adversarially by a
/// min-cost max-flow (Boost.Graph successive shortest paths). Never above
/// spin_classic_analysis for the same levels. Throws as spin_classic_analysis.
/// Thread-safe (pure). Cost: one flow problem per fixed-point step.
[[nodiscard]] spin_result frap_analysis(const spin_system& system, const spin_levels& levels);

/// FRAP with its spin-level assignment (keel's: docs/sched/spin_locks.md): tries MSRP's
/// and PWLP's levels, then, from PWLP's, raises the levels of the highest-priority
/// failing task one priority step at a time until all pass or no raise is left.
/// Returns the first passing assignment, or the last tried. Accepts every system that
/// frap_analysis accepts with MSRP's or PWLP's levels. evidence = false (experiments):
/// a core that the per-request bound already accepts with the levels tried is accepted
/// without solving flows (same verdict: the flow bound is never above it), and its
/// tasks' results are the per-request ones. Thread-safe (pure). Cost: up to n * n + 2
/// frap_analysis runs of one core, per core.
[[nodiscard]] spin_result frap(const spin_system& system, bool evidence = true);

/// What simulate_spin does.
/// - horizon: ticks simulated from 0.
/// - sporadic: releases at T plus a random delay in [0, max_delay] drawn from seed;
///   otherwise periodic from offset 0 (all synchronous).
/// - random_layout: each job's critical sections are placed at random points of its
///   execution (from seed); otherwise evenly spaced.
/// - stop_at_first_miss: stop the run at the first deadline miss.
struct spin_sim_options {
    time_value horizon = 10'000;
    bool sporadic = false;
    time_value max_delay = 0;
    bool random_layout = false;
    std::uint64_t seed = 1;
    bool stop_at_first_miss = false;
};

/// What the simulation saw: per task, the largest response time of a completed job
/// and the number of deadline misses (a job still running at its deadline counts as a
/// miss at its deadline); the largest single-attempt and per-job spin observed.
struct spin_sim_result {
    std::vector<time_value> max_response;
    std::vector<std::int64_t> misses;
    std::vector<time_value> max_job_spin;
    bool any_miss = false;
};

/// Tick-level simulation of the protocol given by `levels` (msrp_levels, pwlp_levels or
/// FRAP's): the rules in the header comment, FIFO queues, ties between requests of one
/// tick by core index, lock handed over at the next tick. Each job runs exactly its wcet
/// and holds each section exactly its length. Throws std::invalid_argument as the
/// analyses. Thread-safe (pure). Cost: O(horizon * (cores + live jobs)).
[[nodiscard]] spin_sim_result simulate_spin(const spin_system& system, const spin_levels& levels,
                                            const spin_sim_options& options = {});

/// What generate_spin_system draws (an experiment in the shape of Zhao et al.'s; the
/// parameters are keel's, docs/sched/spin_locks.md).
/// - cores, tasks_per_core; per core UUniFast utilisation `utilization` (per core),
///   periods log-uniform in [period_min, period_max], implicit deadlines,
///   rate-monotonic priorities;
/// - resources global resources; each task uses each resource with probability
///   access_probability, with 1..max_requests requests per job, each of length uniform
///   in [cs_min, cs_max]; when the sections exceed the wcet, the wcet is raised to them.
struct spin_generator_options {
    std::size_t cores = 4;
    std::size_t tasks_per_core = 5;
    double utilization = 0.5;
    time_value period_min = 1000;
    time_value period_max = 100000;
    std::size_t resources = 4;
    double access_probability = 0.5;
    std::int64_t max_requests = 3;
    time_value cs_min = 5;
    time_value cs_max = 50;
};

/// A system drawn from seed (deterministic). Throws std::invalid_argument on impossible
/// options. O(cores * tasks_per_core * resources).
[[nodiscard]] spin_system generate_spin_system(const spin_generator_options& options,
                                               std::uint64_t seed);

}  // namespace keel::sched
