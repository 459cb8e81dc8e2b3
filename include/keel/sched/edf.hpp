#pragma once

#include <keel/sched/detail/checked.hpp>
#include <keel/sched/task.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

/// keel::sched EDF: exact uniprocessor tests for preemptive earliest-deadline-first
/// scheduling of sporadic tasks with arbitrary deadlines and release jitter.
///
/// Demand bound: h(t) = sum_i max(0, floor((t - (D_i - J_i)) / T_i) + 1) * C_i, the
/// execution of all jobs that are released (after their jitter) and due inside any
/// window of length t. Jitter therefore acts as a deadline shortened by J_i (Spuri
/// 1996; Zhang & Burns 2009). The set is EDF-schedulable iff h(t) <= t for
/// every t > 0 (Baruah, Rosier & Howell 1990); it suffices to check the absolute
/// deadlines d = (D_i - J_i) + k*T_i below a horizon L (see edf_horizon).
/// Blocking (task::blocking) is ignored by these tests: they assume independent
/// tasks (no SRP term); a set with blocking is analysed as if B = 0.
namespace keel::sched {

/// A point where demand exceeds supply: h(t) > t. `t` is an absolute deadline of the
/// synchronous (critical-instant) arrival pattern, so a simulation of that pattern
/// misses a deadline at or before t.
struct demand_witness {
    time_value t = 0;
    time_value demand = 0;
    friend bool operator==(const demand_witness&, const demand_witness&) = default;
};

/// How the EDF horizon was found (edf_horizon). A plain value.
struct edf_bounds {
    /// Sign of U - 1, decided exactly (a double sum decides when it is clearly away from
    /// 1; within 1e-9 of 1 the sum is recomputed with big integers).
    int utilization_vs_one = -1;
    /// ceil(La), La = max(max_i D'_i, sum_i (T_i - D'_i) U_i / (1 - U)) (George, Rivierre
    /// & Spuri 1996; Zhang & Burns 2009), D' = D - J; U < 1 only. Exact when
    /// the hyperperiod fits in 63 bits (the flag says so), otherwise a safe upper bound
    /// computed in double with a margin. nullopt when U >= 1 or too large.
    std::optional<time_value> la;
    bool la_exact = false;
    /// Length of the synchronous busy period (all tasks released together, each first
    /// job delayed by its full jitter): the least w = sum_i ceil((w + J_i)/T_i) C_i.
    /// nullopt when the iteration passed the other bounds before converging, or ran
    /// 10^5 steps while another bound was available (it only shortens the horizon).
    std::optional<time_value> busy_period;
    /// max_i D'_i + lcm(T): valid for U <= 1 (h(t + P) = h(t) + U P beyond the largest
    /// deadline); nullopt when the lcm does not fit in 63 bits.
    std::optional<time_value> hyperperiod_bound;
    /// The horizon L used: the smallest of the valid bounds above. Deadlines d < L are
    /// checked (no deadline >= L can fail once the bounds hold). 0 when U > 1.
    time_value horizon = 0;
};

/// Verdict of an EDF test with its evidence. A plain value; not synchronised.
struct edf_result {
    bool schedulable = true;
    /// When unschedulable: a point with h(t) > t. PDC gives the FIRST failing deadline;
    /// QPA gives the failing point its backward search reached (the largest failing
    /// deadline below the horizon), normalised to the largest deadline <= the QPA t
    /// (h is constant between deadlines). When U > 1, QPA gives the deadline reached by
    /// doubling t from max D' until h(t) > t (a failing one, not necessarily the first);
    /// PDC then scans the deadlines up to it for the first. When some D_i - J_i <= 0:
    /// t = 0, demand = h(0) > 0.
    std::optional<demand_witness> witness;
    /// Demand-bound evaluations (each is O(n)): PDC: deadline points checked; QPA:
    /// iterations of its backward search; U > 1: doubling steps (plus, for PDC, the
    /// points scanned up to the doubling witness).
    std::int64_t evaluations = 0;
    /// The horizon L (edf_bounds::horizon; for U > 1: QPA, the doubling point; PDC, one
    /// past the doubling witness, the end of its scan).
    time_value horizon = 0;
    /// QPA certificate: every (t, h(t)) evaluated, in order. A schedulable QPA run ends
    /// with h(t) <= min_i D'_i; an unschedulable one with h(t) > t. Empty for PDC.
    std::vector<std::pair<time_value, time_value>> steps;
};

/// h(t), jitter-aware (deadline D_i - J_i). O(n), overflow-checked (analysis_overflow).
/// Throws std::invalid_argument naming the task when a task is not well formed.
/// Thread-safe (pure).
time_value demand_bound(std::span<const task> tasks, time_value t);

/// The horizon computation shared by both tests (see edf_bounds). O(n) plus the busy
/// period iteration (each step O(n)), capped by La / the hyperperiod bound. Throws
/// analysis_overflow when no bound fits in 64 bits. Returns a default edf_bounds (horizon
/// 0) when some D_i - J_i <= 0: the tests then answer at t = 0 without a horizon.
/// Thread-safe (pure).
edf_bounds edf_horizon(std::span<const task> tasks);

/// Processor demand criterion: h(d) <= d for every absolute deadline d < L, in
/// increasing order, stopping at the first failure. Cost: O(points * n) with
/// points = sum_i ceil((L - D'_i) / T_i), roughly n / (1 - U). Thread-safe (pure).
/// Throws std::invalid_argument (malformed task) or analysis_overflow.
edf_result edf_pdc(std::span<const task> tasks);

/// Quick Processor-demand Analysis (Zhang & Burns 2009):
/// t = max{d < L}; while h(t) <= t and h(t) > d_min: t = h(t) if h(t) < t, else the
/// largest deadline below t. Schedulable iff it ends with h(t) <= d_min. Same verdict
/// as edf_pdc, usually with a few dozen evaluations. Thread-safe (pure).
edf_result edf_qpa(std::span<const task> tasks);

}  // namespace keel::sched
