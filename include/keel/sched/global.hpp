#pragma once

/// Global scheduling on m identical cores: sufficient schedulability tests for global
/// fixed priority (G-FP) and global EDF (G-EDF). docs/sched/global.md.
///
/// Model: sporadic tasks with constrained deadlines (C <= D <= T), no release jitter,
/// no blocking, independent, fully preemptive, free migration, discrete time (integer
/// ticks: a job executes in whole ticks, which is what the "+1" terms below rely on).
/// Fixed-priority tests take the tasks in priority order (index 0 highest). Every test
/// throws std::invalid_argument naming the task ("task 3") and field for a task that is
/// malformed, has D > T, a jitter or a blocking term (none of these analyses covers
/// them), and for cores == 0; analysis_overflow when a bound leaves 64 bits. A task with
/// C > D is accepted as input and found unschedulable. All functions are pure and
/// thread-safe.
///
/// The tests (all sufficient, none exact):
/// - global_fp_rta_bc: Bertogna & Cirinei, "Response-time analysis for globally scheduled
///   symmetric multiprocessor platforms", RTSS 2007. Interference of a higher-priority
///   task i on task k in a window of length x is min(W_i(x), x - C_k + 1), where the
///   workload with carry-in W_i(x) = N C_i + min(C_i, x + R_i - C_i - N T_i),
///   N = floor((x + R_i - C_i) / T_i), uses the response-time bound R_i of task i;
///   R_k = C_k + floor(sum / m), iterated from C_k to the least fixed point.
/// - global_fp_rta_guan: Guan, Stigge, Yi & Yu, "New response time bounds for fixed
///   priority multiprocessor scheduling", RTSS 2009: at most m - 1 higher-priority tasks
///   carry work into the window; the others contribute the non-carry-in workload
///   W^NC(x) = floor(x/T) C + min(x mod T, C). The carry-in workload is
///   W^CI(x) = floor([x - C]_0 / T) C + C + [[x - C]_0 mod T - (T - R)]_0^{C - 1}; the
///   m - 1 largest (positive) differences I^CI - I^NC are added. Dominates BC.
/// - global_edf_gfb: Goossens, Funk & Baruah, "Priority-driven scheduling of periodic
///   task systems on multiprocessors", Real-Time Systems 25(2-3), 2003: sum of densities
///   C/D <= m - (m - 1) max C/D (for D = T, the utilisation bound). Exact rational test.
/// - global_edf_bcl: Bertogna, Cirinei & Lipari, "Improved schedulability analysis of
///   EDF on multiprocessor platforms", ECRTS 2005 (discrete-time form as in their TPDS
///   2009 paper): task k passes when sum_{i != k} min(I_i, D_k - C_k + 1) <
///   m (D_k - C_k + 1), with I_i = N C_i + min(C_i, [D_k - N T_i]_0),
///   N = floor((D_k - D_i) / T_i) + 1 (jobs of i with deadline inside k's window).
/// - global_edf_rta: Bertogna & Cirinei RTSS 2007, the EDF version with slack
///   iteration: interference min(W_i(x), I^EDF_i, x - C_k + 1) with the EDF bound
///   I^EDF_i = floor(D_k / T_i) C_i + min(C_i, [D_k mod T_i - (D_i - R_i)]_0) (the slack
///   D_i - R_i of task i shrinks its last job's share). All bounds start at C and are
///   raised together, round after round, until no bound changes (the least fixed
///   point, as in the Prosa formalisation of this test) or one passes its deadline.

#include <keel/sched/detail/checked.hpp>
#include <keel/sched/task.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace keel::sched {

/// One task's verdict from a global response-time analysis, with its evidence.
/// - schedulable: response_bound exists and is <= deadline.
/// - response_bound: the bound R_k (from arrival); nullopt when the iteration passed D_k
///   (then exceeded_at holds the first iterate above D_k) or the task was not analysed
///   (a higher-priority task already failed: FP bounds need every R_i of hp(k)).
/// - slack: D_k - R_k when bounded, else 0.
/// - iterations: fixed-point steps spent on this task (over all rounds).
/// - carry_in: Guan only: the tasks given carry-in at the final iterate (at most m - 1,
///   those with the largest positive difference I^CI - I^NC), by index.
/// A plain value.
struct global_task_bound {
    bool schedulable = false;
    std::optional<time_value> response_bound;
    std::optional<time_value> exceeded_at;
    time_value slack = 0;
    std::int64_t iterations = 0;
    std::vector<std::size_t> carry_in;
};

/// A set's verdict from a global RTA. rounds: FP tests analyse in priority order in one
/// round; the EDF RTA counts its rounds of slack iteration (the last one changes no
/// bound when the set is schedulable). failed_task: the first task found over its
/// deadline. A plain value.
struct global_rta_result {
    bool schedulable = false;
    std::vector<global_task_bound> tasks;
    std::int64_t rounds = 0;
    std::optional<std::size_t> failed_task;
};

/// GFB's verdict: load = sum of C/D (densities; utilisations when D = T), bound =
/// m - (m - 1) max C/D, both rounded to double for display; the comparison itself is
/// exact. heaviest: the task of maximum density (lowest index on a tie).
struct gfb_result {
    bool schedulable = false;
    double load = 0;
    double bound = 0;
    std::size_t heaviest = 0;
};

/// BCL's evidence for one task: interference = sum_{i != k} min(I_i, D_k - C_k + 1),
/// limit = m (D_k - C_k + 1); schedulable iff interference < limit (and C_k <= D_k).
struct bcl_task {
    bool schedulable = false;
    time_value interference = 0;
    time_value limit = 0;
};

/// BCL's verdict: schedulable iff every task passes. A plain value.
struct bcl_result {
    bool schedulable = false;
    std::vector<bcl_task> tasks;
};

/// Bertogna–Cirinei RTA for global FP (see the file comment). O(n^2 * iterations).
[[nodiscard]] global_rta_result global_fp_rta_bc(std::span<const task> tasks, std::size_t cores);

/// Guan et al. limited carry-in RTA for global FP. O(n^2 log n * iterations).
[[nodiscard]] global_rta_result global_fp_rta_guan(std::span<const task> tasks, std::size_t cores);

/// GFB density bound for global EDF. O(n).
[[nodiscard]] gfb_result global_edf_gfb(std::span<const task> tasks, std::size_t cores);

/// BCL interference test for global EDF. O(n^2).
[[nodiscard]] bcl_result global_edf_bcl(std::span<const task> tasks, std::size_t cores);

/// Bertogna–Cirinei RTA for global EDF with slack iteration. O(n^2 * iterations).
[[nodiscard]] global_rta_result global_edf_rta(std::span<const task> tasks, std::size_t cores);

}  // namespace keel::sched
