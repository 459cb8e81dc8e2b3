#pragma once

/// Weakly-hard real-time tasks on m identical cores under global job-level
/// fixed-priority scheduling with two priority classes, after Moyano, Hammadeh, Saidi
/// and Lüdtke, "Global Scheduling of Weakly-Hard Real-Time Tasks using Job-Level
/// Priority Classes" (arXiv 2410.01528, 2024; ACM TECS 2026). docs/sched/weakly_hard.md.
///
/// Conventions (exact):
/// - A weakly-hard constraint (m, K) means: in ANY window of K consecutive jobs of the
///   task, at most m jobs miss their deadline (Bernat, Burns & Llamosí 2001 write this
///   `\overline{(m, K)}`; it is NOT Hamdaoui & Ramanathan's "(m,k)-firm", which counts
///   deadlines MET). 0 <= m <= K, K >= 1; m = K constrains nothing; m = 0 is hard.
/// - "At most m consecutive misses" (Bernat's `\overline{<m>}`) is the same as (m, m + 1).
/// - A job that misses its deadline is aborted at that deadline (the usual weakly-hard
///   execution model, and the analysis relies on it).
/// - Scheduler: a job released while its task has already missed `tolerable` deadlines
///   in a row (the job's miss would break the constraint) is URGENT, any other job is
///   NORMAL. Every urgent job has a higher priority than every normal job; inside a
///   class, jobs are ordered by their task's rank (index 0 highest, e.g. rate
///   monotonic). `tolerable` is the task's tolerable consecutive misses
///   (tolerable_consecutive_misses below).
///
/// The paper's full text was not available to this implementation: the class rule above
/// is the one its abstract states ("leverages the tolerable continuous deadline misses
/// to assign priorities to jobs"), and the analysis (wh_jlfp_rta) is derived here from
/// first principles on top of the limited carry-in global fixed-priority RTA of Guan et
/// al. (RTSS 2009); see the docs for the proof sketch.

#include <keel/sched/task.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <vector>

namespace keel::sched {

/// At most `m` deadline misses in any window of `K` consecutive jobs. A literal type.
struct weakly_hard_constraint {
    std::int64_t m = 0;
    std::int64_t K = 1;

    friend constexpr bool operator==(const weakly_hard_constraint&,
                                     const weakly_hard_constraint&) = default;
};

/// "Unbounded" tolerable consecutive misses (the constraint allows every job to miss).
inline constexpr std::int64_t unbounded_misses = std::numeric_limits<std::int64_t>::max();

/// The constraint "at most c consecutive misses", i.e. (c, c + 1). c >= 0.
constexpr weakly_hard_constraint consecutive_misses_constraint(std::int64_t c) noexcept {
    return {c, c + 1};
}

/// Whether 0 <= m <= K and K >= 1.
constexpr bool is_well_formed(const weakly_hard_constraint& c) noexcept {
    return c.K >= 1 && c.m >= 0 && c.m <= c.K;
}

/// The most misses a sequence with at most c consecutive misses can have in a window of
/// K consecutive jobs: K - floor(K / (c + 1)) (every c + 1 consecutive jobs hold a met
/// one, and the pattern c misses, 1 met, c misses, ... reaches the bound). c >= 0, K >= 1;
/// c = unbounded_misses gives K.
constexpr std::int64_t window_misses_of_consecutive(std::int64_t c, std::int64_t K) noexcept {
    if (c >= K) return K;
    return K - K / (c + 1);
}

/// The largest c such that every sequence with at most c consecutive misses satisfies
/// `constraint` (a sufficient, and for K = m + 1 exact, translation of a window
/// constraint into the consecutive form the scheduler uses): unbounded_misses when m = K
/// (nothing is constrained), 0 when m = 0 (hard). Precondition: is_well_formed. O(log K).
constexpr std::int64_t tolerable_consecutive_misses(const weakly_hard_constraint& constraint) noexcept {
    if (constraint.m >= constraint.K) return unbounded_misses;
    // window_misses_of_consecutive is non-decreasing in c; c = 0 always fits (0 <= m).
    std::int64_t lo = 0, hi = constraint.K - 1;
    while (lo < hi) {
        const std::int64_t mid = lo + (hi - lo + 1) / 2;
        if (window_misses_of_consecutive(mid, constraint.K) <= constraint.m) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/// Watches a task's job outcomes (met / missed, in job order) against a constraint.
/// O(1) per outcome, no allocation after construction (a ring of K outcomes). Over a
/// finite sequence shorter than K the one window is the whole sequence. Not
/// synchronised: one per task per thread.
class weakly_hard_monitor {
public:
    /// Throws std::invalid_argument unless is_well_formed(constraint).
    explicit weakly_hard_monitor(weakly_hard_constraint constraint);

    /// Records the next job's outcome.
    void record(bool met) noexcept;

    [[nodiscard]] std::int64_t jobs() const noexcept { return _jobs; }
    [[nodiscard]] std::int64_t misses() const noexcept { return _misses; }
    /// Misses in the last min(K, jobs) outcomes.
    [[nodiscard]] std::int64_t window_misses() const noexcept { return _window_misses; }
    /// The current run of misses (0 after a met job).
    [[nodiscard]] std::int64_t consecutive_misses() const noexcept { return _run; }
    [[nodiscard]] std::int64_t max_consecutive_misses() const noexcept { return _max_run; }
    /// The most misses seen in any window of K consecutive jobs so far.
    [[nodiscard]] std::int64_t max_window_misses() const noexcept { return _max_window; }
    /// Whether no window so far held more than m misses.
    [[nodiscard]] bool satisfied() const noexcept { return !_first_violation.has_value(); }
    /// The index (0-based) of the job that first made a window exceed m misses.
    [[nodiscard]] std::optional<std::int64_t> first_violation() const noexcept { return _first_violation; }
    [[nodiscard]] weakly_hard_constraint constraint() const noexcept { return _constraint; }

private:
    weakly_hard_constraint _constraint;
    std::vector<unsigned char> _ring;  // 1 = missed, the last K outcomes
    std::size_t _head = 0;
    std::int64_t _jobs = 0, _misses = 0, _window_misses = 0, _run = 0, _max_run = 0, _max_window = 0;
    std::optional<std::int64_t> _first_violation;
};

/// Checks a whole outcome sequence against `constraint`: `is_met(outcome)` tells whether
/// each job met its deadline (the default takes values convertible to bool, true = met,
/// e.g. std::vector<bool>; for global_simulate's job_outcome pass
/// [](job_outcome o) { return o == job_outcome::met; }). O(length). Throws as the monitor.
template <class Range, class IsMet = bool (*)(bool)>
[[nodiscard]] weakly_hard_monitor check_outcomes(const Range& outcomes, weakly_hard_constraint constraint,
                                                 IsMet is_met = [](bool met) { return met; }) {
    weakly_hard_monitor monitor(constraint);
    for (const auto& outcome : outcomes) monitor.record(static_cast<bool>(is_met(outcome)));
    return monitor;
}

// ---------------------------------------------------------------------------------
// Runtime: the job-level priority decision.

/// The two job classes. urgent < normal: urgent jobs run first.
enum class wh_job_class : unsigned char { urgent = 0, normal = 1 };

/// The class of a job released after `consecutive_misses` misses in a row of its task,
/// whose task tolerates `tolerable` consecutive misses: urgent iff one more miss would
/// break the constraint. O(1).
constexpr wh_job_class wh_classify(std::int64_t consecutive_misses, std::int64_t tolerable) noexcept {
    return tolerable != unbounded_misses && consecutive_misses >= tolerable ? wh_job_class::urgent
                                                                          : wh_job_class::normal;
}

/// The job's priority key (lower = higher priority) for a task of rank `rank` among `n`
/// tasks: rank for an urgent job, n + rank for a normal one. Distinct for distinct
/// (class, task), so with D <= T and abort-at-deadline no two ready jobs tie. O(1).
constexpr std::int64_t wh_job_priority(std::size_t rank, std::size_t n, std::int64_t consecutive_misses,
                                       std::int64_t tolerable) noexcept {
    const auto r = static_cast<std::int64_t>(rank);
    return wh_classify(consecutive_misses, tolerable) == wh_job_class::urgent
               ? r
               : static_cast<std::int64_t>(n) + r;
}

/// Per-task state a scheduler keeps for the job-level priorities: each task's
/// tolerable consecutive misses and its current run of misses. on_release and
/// on_outcome are O(1), noexcept and never allocate (the arrays are sized at
/// construction). Not synchronised: the scheduler's lock covers it.
class wh_priority_state {
public:
    /// tolerable[i]: task i's tolerable consecutive misses (>= 0; unbounded_misses for
    /// none), tasks in rank order. Throws std::invalid_argument naming a negative entry.
    explicit wh_priority_state(std::span<const std::int64_t> tolerable);

    /// The priority key of the job of `task` released now (lower = higher priority).
    /// Precondition: task < size().
    [[nodiscard]] std::int64_t on_release(std::size_t task) const noexcept {
        return wh_job_priority(task, _tolerable.size(), _run[task], _tolerable[task]);
    }
    /// Records that the task's latest job met (completed by its deadline) or missed it.
    void on_outcome(std::size_t task, bool met) noexcept {
        _run[task] = met ? 0 : (_run[task] == unbounded_misses ? _run[task] : _run[task] + 1);
    }
    [[nodiscard]] std::int64_t consecutive_misses(std::size_t task) const noexcept { return _run[task]; }
    [[nodiscard]] std::size_t size() const noexcept { return _tolerable.size(); }
    /// Every run of misses back to 0.
    void reset() noexcept;

private:
    std::vector<std::int64_t> _tolerable;
    std::vector<std::int64_t> _run;
};

// ---------------------------------------------------------------------------------
// Analysis.

/// The verdict for one task, with its evidence.
/// - tolerable: the tolerable consecutive misses the scheduler and analysis use
///   (tolerable_consecutive_misses of the constraint).
/// - satisfied: in every schedule (sporadic releases, any execution times up to C),
///   every urgent job of the task meets its deadline, hence the task never misses more
///   than `tolerable` deadlines in a row and meets its constraint.
/// - urgent_response: the bound on an urgent job's response time (the fixed point), when
///   it is <= D; nullopt when the iteration passed D, or when the task is never urgent
///   (tolerable = unbounded_misses).
/// - iterations: the fixed-point iterates R^0 = C, R^1, ... (the last one passes D when
///   the task fails).
/// - urgent_period: the minimum distance between two urgent jobs of the task that the
///   analysis of the lower-ranked tasks assumes ((tolerable + 1) T when satisfied, T
///   otherwise; saturates at INT64_MAX).
/// A plain value.
struct wh_task_result {
    std::int64_t tolerable = 0;
    bool satisfied = false;
    std::optional<time_value> urgent_response;
    std::vector<time_value> iterations;
    time_value urgent_period = 0;
};

/// The verdict for the set: schedulable when every task's constraint holds. A plain value.
struct wh_result {
    bool schedulable = false;
    std::size_t cores = 1;
    std::vector<wh_task_result> tasks;
};

/// Sufficient schedulability test of the two-class job-level fixed-priority scheduler on
/// `cores` identical cores, global preemptive, jobs aborted at their deadline.
/// tasks: in rank order (index 0 highest inside each class), constrained deadlines
/// C <= D <= T, no jitter, no blocking; constraints[i] is task i's.
/// For each task k in rank order, an urgent job of k is interfered with only by urgent
/// jobs of tasks i < k. Once task i is shown satisfied, its urgent jobs are at least
/// (tolerable_i + 1) T_i apart and each completes within its bound R_i; otherwise any
/// job of i may be urgent and runs at most until its deadline (period T_i, "response"
/// D_i). With those per-task (C_i, P_i, R_i), the bound is the limited carry-in global
/// FP response time of Guan et al. (RTSS 2009): at most cores - 1 tasks carry in,
///   R = C_k + floor( Omega(R) / cores ),   cap = R - C_k + 1,
///   Omega(L) = sum_{i<k} min(NC_i(L), cap) + the cores - 1 largest positive
///              min(CI_i(L), cap) - min(NC_i(L), cap),
///   NC_i(L) = floor(L/P_i) C_i + min(L mod P_i, C_i),
///   CI_i(L) = floor(y/P_i) C_i + C_i + [y mod P_i - (P_i - R_i)]_0^{C_i-1},  y = [L - C_i]_0,
/// iterated from R = C_k; the task is satisfied iff the fixed point is <= D_k. Every
/// task satisfied under the Bertogna & Cirinei (RTSS 2007) bound is satisfied here too.
/// Hard tasks (m = 0) make this exactly Guan et al.'s global FP RTA.
/// Throws std::invalid_argument (sizes differ, cores == 0, a task not well formed or with
/// C > D, D > T, jitter or blocking; a malformed constraint; naming "task i" and the
/// field) or analysis_overflow. Thread-safe (pure). O(n^2 * iterations).
[[nodiscard]] wh_result wh_jlfp_rta(std::span<const task> tasks,
                                    std::span<const weakly_hard_constraint> constraints,
                                    std::size_t cores);

}  // namespace keel::sched
