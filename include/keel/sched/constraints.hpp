#pragma once

/// Exact schedulability tests as linear constraints on unknown execution times (Bini,
/// "The Quest for the Minimum Execution Times", arXiv 2410.14381, after Bini & Di
/// Natale, MISTA 2009). A chosen set of "free" tasks has unknown integer WCETs; every
/// other task keeps its WCET. docs/sched.md, "Linear constraints and sensitivity".
///
/// - FP: task i is schedulable iff SOME scheduling point t of P_{i-1}(D_i) has
///   B_i + C_i + sum_{j<i} ceil(t/T_j) C_j <= t: one disjunction per task, a conjunction
///   over tasks (a union of polytopes). Constrained deadlines, no jitter.
/// - EDF: the set is schedulable iff h(t) <= t at every absolute deadline t: one
///   polytope, but the horizon up to which deadlines must be checked depends on the
///   unknowns. keel bounds it with an explicit utilisation cap U <= U_max < 1 (part of
///   the system): see edf_constraints.

#include <keel/sched/task.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace keel::sched {

/// coefficient * (free variable `variable`).
struct linear_term {
    std::size_t variable = 0;
    std::int64_t coefficient = 0;
    friend bool operator==(const linear_term&, const linear_term&) = default;
};

/// sum of terms <= rhs (terms sorted by variable, each variable at most once, every
/// coefficient non-zero). `label` says where it comes from (task and point).
struct linear_inequality {
    std::vector<linear_term> terms;
    std::int64_t rhs = 0;
    std::string label;
};

/// At least one alternative holds. One alternative: a plain inequality. NO
/// alternative: never satisfied (some fixed part already fails, whatever the unknowns).
struct constraint_group {
    std::vector<linear_inequality> alternatives;
    std::string label;
};

/// Which exact test a constraint_system encodes.
enum class constraint_test { fp, edf };

/// A conjunction of disjunctions of linear inequalities over integer variables, the
/// free WCETs, each in [lower_bound, upper_bound] (1 and D of its task: every analysis
/// refuses C > D). Constant parts (fixed tasks, blocking) are folded into the right-hand
/// sides; groups that hold for every value in the bounds are dropped.
/// A plain value; not synchronised.
struct constraint_system {
    constraint_test test = constraint_test::fp;
    /// Per free variable: the task's index in the set, its name, its bounds.
    std::vector<std::size_t> task_index;
    std::vector<std::string> names;
    std::vector<std::int64_t> lower_bound;
    std::vector<std::int64_t> upper_bound;
    /// All must hold.
    std::vector<constraint_group> groups;
    /// EDF only: the utilisation cap U_max = num/den the system includes, and the
    /// largest deadline it checks (see edf_constraints). 0 for FP.
    std::int64_t utilization_cap_num = 0;
    std::int64_t utilization_cap_den = 1;
    std::int64_t horizon = 0;

    [[nodiscard]] std::size_t variables() const noexcept { return names.size(); }
    /// Number of inequalities over all groups.
    [[nodiscard]] std::size_t inequalities() const noexcept;

    /// Whether the WCET vector `wcet` (one value per free variable, in order) satisfies
    /// every group and the bounds. Exact (128-bit sums). Throws std::invalid_argument
    /// when the size differs. Thread-safe (const). Cost: O(total terms).
    [[nodiscard]] bool satisfied_by(std::span<const std::int64_t> wcet) const;
};

/// The FP system of the set `tasks` (priority order, index 0 highest) with free tasks
/// `free` (indices, any order, no duplicates, at least one). Per task i that is free or
/// below a free task, the disjunction over t in P_{i-1}(D_i) (fp_points_of: periods
/// peeled in sorted order, which non-rate-monotonic priority orders need) of
///   [i free] C_i + sum_{j<i, j free} ceil(t/T_j) C_j
///       <= t - B_i - [i fixed] C_i - sum_{j<i, j fixed} ceil(t/T_j) C_j.
/// The free tasks' own `wcet` fields are ignored. Exact: a WCET vector satisfies the
/// system iff fp_rta accepts the set with those WCETs.
/// Throws std::invalid_argument naming the task when a task has D > T or J > 0 (the
/// scheduling-point form needs both), is malformed, or `free` is empty, out of range
/// or repeats a task; analysis_overflow when a coefficient or a side leaves 64 bits.
/// Thread-safe (pure). Cost: sum over tasks of |P_{i-1}(D_i)| * i.
[[nodiscard]] constraint_system fp_constraints(const task_set& tasks,
                                               std::span<const std::size_t> free);

/// The EDF system with utilisation cap U_max = cap_num / cap_den (0 < U_max < 1):
///   (1) sum_i C_i / T_i <= U_max, written with integer coefficients M / T_i for the
///       free tasks, M = lcm(cap_den, free periods), and right side
///       floor(M (U_max - U_fixed)) (exact, big rationals);
///   (2) for each absolute deadline t = D'_i + k T_i <= H (D' = D - J, jitter shortens
///       the deadline as in edf.hpp; blocking is ignored as edf.hpp does):
///       sum_i (floor((t - D'_i)/T_i) + 1)^+ C_i <= t, fixed tasks on the right.
/// The horizon H = max(max_i D'_i, ceil(max_i (T_i - D'_i)^+ U_max / (1 - U_max))) + 1
/// depends on T, D, J and U_max only: for any WCETs with U <= U_max < 1, h(t) > t needs
/// t < La = sum (T_i - D'_i) U_i / (1 - U) <= max (T_i - D'_i)^+ U / (1 - U), and U/(1-U)
/// grows with U (George, Rivierre & Spuri 1996). So a WCET vector satisfies the system
/// iff edf_qpa accepts the set AND U <= U_max: exact for that question, sound (never
/// accepts an unschedulable set) in general, and it excludes sets with U_max < U <= 1.
/// Throws std::invalid_argument for a cap outside (0, 1), a malformed task, or bad
/// `free`; analysis_overflow when M or a side leaves 64 bits. Thread-safe (pure).
/// Cost: O(n) per deadline below H, about n H / min T deadlines.
[[nodiscard]] constraint_system edf_constraints(const task_set& tasks,
                                                std::span<const std::size_t> free,
                                                std::int64_t cap_num = 99,
                                                std::int64_t cap_den = 100);

/// The system in CPLEX LP file format, maximising sum_k weights[k] * C_k (weights: one
/// per free variable, or empty for all 1). Variables C_<name> (non-[A-Za-z0-9_]
/// characters become '_'; a clash gets _<k> appended) are General (integer) within
/// their bounds. A group of several alternatives becomes binaries y_<g>_<a> with
/// sum_a y_<g>_<a> >= 1 and, per alternative, sum terms + M y <= rhs + M, where
/// M = sum_k coef_k * upper_bound_k - rhs (the alternative's largest violation within
/// the bounds; coefficients are non-negative): y = 1 forces the alternative, y = 0
/// leaves it slack. An empty group becomes the unsatisfiable row 0 C_0 >= 1. A comment
/// header maps variables to tasks. Throws std::invalid_argument for a weights size
/// mismatch or a weight that is not finite; analysis_overflow when an M leaves 64 bits.
/// Thread-safe (pure).
[[nodiscard]] std::string to_lp(const constraint_system& system,
                                std::span<const double> weights = {});

/// Whether this build of keel has a solver (COIN-OR CBC: KEEL_WITH_COINOR).
[[nodiscard]] bool constraint_solver_available() noexcept;

/// Outcome of maximize_weighted_wcet.
enum class solve_status {
    optimal,      ///< wcet holds an optimum, checked with satisfied_by
    infeasible,   ///< no WCET vector within the bounds satisfies the system
    unavailable,  ///< keel was built without KEEL_WITH_COINOR
    failed,       ///< the solver stopped without a proof, or its answer failed the exact check
};

/// What maximize_weighted_wcet found: its status and, when optimal, the WCETs.
struct solve_result {
    solve_status status = solve_status::failed;
    std::vector<std::int64_t> wcet;  ///< one per free variable (optimal only)
    double objective = 0;            ///< sum weights[k] * wcet[k]
    std::string message;             ///< why, when not optimal
};

/// Maximises sum_k weights[k] * C_k over the system (the big-M model of to_lp) with
/// COIN-OR CBC, then checks the rounded answer with satisfied_by (the solver works in
/// doubles); weights empty means all 1. Without CBC: status unavailable and a message
/// saying so. Throws std::invalid_argument for a weights size mismatch or a weight that
/// is not finite.
/// Thread-safe (a model per call). Cost: a mixed-integer program, exponential in the
/// number of disjunctions in the worst case.
[[nodiscard]] solve_result maximize_weighted_wcet(const constraint_system& system,
                                                  std::span<const double> weights = {});

}  // namespace keel::sched
