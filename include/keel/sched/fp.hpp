#pragma once

/// Fixed-priority (FP) preemptive scheduling on one processor: exact response-time
/// analysis (RTA) with release jitter, blocking and arbitrary deadlines, and the
/// Bini–Buttazzo scheduling-points test. docs/sched.md, section "Fixed priority".
///
/// Conventions: tasks come in priority order (index 0 is the highest priority); a
/// response time is measured from the task's ARRIVAL, so it includes the task's own
/// release jitter (R_i = J_i + w_i); B_i is the worst-case blocking by lower-priority
/// tasks (it is counted once per busy period, as in the analysis of Tindell, Burns and
/// Wellings 1994).

#include <keel/sched/detail/checked.hpp>
#include <keel/sched/task.hpp>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace keel::sched {

/// The verdict of the exact RTA for one task, with its evidence.
/// - schedulable: response_time exists and response_time <= deadline.
/// - response_time: the worst-case response time over all jobs of the level-i busy
///   period, from arrival (includes J_i); nullopt when the level-i busy period never
///   ends (the utilisation of the task and the higher-priority ones is above 1, or is
///   exactly 1 with some blocking or jitter), or when the analysis passed the horizon
///   set in fp_options (then horizon_reached is true).
/// - busy_period: length of the level-i busy period, blocking B_i included (0 when
///   unbounded or past the horizon).
/// - jobs_examined: jobs of task i in the busy period, all analysed (1 for most
///   constrained-deadline tasks; more when D > T or jitter makes jobs overlap).
/// - worst_job: index q (0-based) of the job that gives response_time.
/// - iterations: certificate, the fixed-point iterates w^0, w^1, ..., w^k of the worst
///   job's completion time measured from the release of job 0 (w^k = w^{k-1} is listed
///   once). Job 0 starts from w^0 = B_i + C_i (the textbook start); job q > 0 starts from
///   the completion of job q - 1 plus C_i, a lower bound of its fixed point.
/// A plain value; not synchronised.
struct fp_task_result {
    bool schedulable = false;
    std::optional<time_value> response_time;
    time_value busy_period = 0;
    std::int64_t jobs_examined = 0;
    std::int64_t worst_job = 0;
    std::vector<time_value> iterations;
    bool horizon_reached = false;
};

/// Options of fp_rta. horizon: the analysis of a task gives up (response_time nullopt,
/// horizon_reached true, unschedulable) once a completion time w passes it. The default
/// never gives up: with a utilisation of exactly 1 the busy period is the hyperperiod,
/// which can be astronomically long; a horizon bounds the work. A plain value.
struct fp_options {
    time_value horizon = INT64_MAX;
};

/// The verdict for a task set: schedulable when every task is; tasks[i] is task i's
/// result (in the priority order given). A plain value; not synchronised.
struct fp_result {
    bool schedulable = false;
    std::vector<fp_task_result> tasks;
};

/// The verdict of the scheduling-points test (Bini & Buttazzo 2004): task i is
/// schedulable iff some point t of P_{i-1}(D_i) has W_i(t) = B_i + C_i +
/// sum_{j<i} ceil(t/T_j) C_j <= t. passing_point[i] is the smallest such t (the
/// certificate), nullopt when none; points_evaluated counts W_i evaluations over all
/// tasks. A plain value; not synchronised.
struct fp_points_result {
    bool schedulable = false;
    std::vector<std::optional<time_value>> passing_point;
    std::int64_t points_evaluated = 0;
};

namespace detail {

[[noreturn]] void throw_invalid_task(const char* analysis, std::size_t index, const char* field,
                                     time_value value, const char* requirement);

/// Throws std::invalid_argument naming the task (by priority index) and field when a
/// task is not well formed.
constexpr void check_task(const char* analysis, std::size_t index, const task& t) {
    if (t.wcet <= 0) throw_invalid_task(analysis, index, "wcet", t.wcet, "must be positive");
    if (t.period <= 0) throw_invalid_task(analysis, index, "period", t.period, "must be positive");
    if (t.deadline <= 0)
        throw_invalid_task(analysis, index, "deadline", t.deadline, "must be positive");
    if (t.jitter < 0)
        throw_invalid_task(analysis, index, "jitter", t.jitter, "must not be negative");
    if (t.blocking < 0)
        throw_invalid_task(analysis, index, "blocking", t.blocking, "must not be negative");
}

/// Exact sign of sum_j C_j/T_j - 1 over `tasks` (run time: arbitrary precision).
int utilization_compare_one_exact(std::span<const task> tasks, const task& last);

__extension__ typedef __int128 int128;

constexpr int128 gcd128(int128 a, int128 b) {
    while (b != 0) {
        const int128 r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/// Exact sign of sum C/T - 1 in 128-bit fractions, for constant evaluation; throws
/// analysis_overflow when a reduced denominator passes 2^125.
constexpr int utilization_compare_one_128(std::span<const task> hp, const task& last) {
    // Reached only when the sum is within 1e-9 of 1, so every term is below ~1 and the
    // numerator stays below ~2 * the denominator: 2^125 leaves room for the addition.
    constexpr int128 limit = int128{1} << 125;
    int128 num = 0, den = 1;
    auto add = [&](const task& t) {
        const int128 c = t.wcet, p = t.period;
        const int128 g = gcd128(den, p);
        if (den / g > limit / p) throw_overflow("exact utilisation (128-bit)");
        const int128 l = den / g * p;  // lcm(den, p)
        num = num * (l / den) + c * (l / p);
        den = l;
        const int128 r = gcd128(num, den);
        num /= r;
        den /= r;
        if (num > limit) throw_overflow("exact utilisation (128-bit)");
    };
    for (const task& t : hp)
        add(t);
    add(last);
    return num < den ? -1 : (num == den ? 0 : 1);
}

/// Sign of sum_{j in hp and last} C_j/T_j - 1, exact. A double estimate decides when it
/// is clearly away from 1 (rounding error is below n * 2^-52); near 1 the exact path.
constexpr int utilization_compare_one(std::span<const task> hp, const task& last) {
    double u = static_cast<double>(last.wcet) / static_cast<double>(last.period);
    for (const task& t : hp)
        u += static_cast<double>(t.wcet) / static_cast<double>(t.period);
    const double tolerance = 1e-9 + static_cast<double>(hp.size() + 1) * 1e-15;
    if (u < 1.0 - tolerance) return -1;
    if (u > 1.0 + tolerance) return 1;
    if (std::is_constant_evaluated()) return utilization_compare_one_128(hp, last);
    return utilization_compare_one_exact(hp, last);
}

/// Does nothing: the constant-evaluable analysis keeps no certificate.
struct no_recorder {
    constexpr void begin_job() noexcept {}
    constexpr void iterate(time_value) noexcept {}
    constexpr void worst_job() noexcept {}
};

/// Interference of the higher-priority tasks in a window of length w after the
/// critical instant: sum_j ceil((w + J_j) / T_j) C_j, every step checked.
constexpr time_value fp_interference(std::span<const task> hp, time_value w) {
    time_value sum = 0;
    for (const task& t : hp) {
        const time_value jobs =
            ceil_div(checked_add(w, t.jitter, "RTA window plus jitter"), t.period);
        sum =
            checked_add(sum, checked_mul(jobs, t.wcet, "RTA interference"), "RTA interference sum");
    }
    return sum;
}

/// What the analysis of one task yields (the certificate aside).
struct fp_task_outcome {
    std::optional<time_value> response_time;
    bool horizon_reached = false;
    bool missed_early = false;  // stopped at the first job past the deadline
    time_value busy_period = 0;
    std::int64_t jobs = 0;
    std::int64_t worst_job = 0;
};

/// Exact RTA of task `t` under the higher-priority tasks `hp` (any order), arbitrary
/// deadlines (Lehoczky 1990; with jitter and blocking, Tindell, Burns & Wellings 1994):
///   w(q) = B + (q+1) C + sum_{j in hp} ceil((w(q) + J_j) / T_j) C_j,
///   R(q) = w(q) - q T + J, for q = 0, 1, ... while w(q) + J > (q+1) T
/// (the next job arrives before job q completes: the level-i busy period goes on).
/// horizon: give up once w passes it. stop_on_miss: return at the first job whose
/// response passes D (response_time is then that job's, a lower bound of the worst).
template <class Recorder>
constexpr fp_task_outcome fp_analyse(std::span<const task> hp, const task& t, Recorder& rec,
                                     time_value horizon = INT64_MAX, bool stop_on_miss = false) {
    fp_task_outcome out;
    const int u = utilization_compare_one(hp, t);
    if (u > 0) return out;
    if (u == 0) {
        // U = 1: ceil(x) >= x makes the busy-period equation's right side exceed L for
        // every L once there is blocking or jitter: the busy period never ends.
        bool any_jitter = t.jitter > 0 || t.blocking > 0;
        for (const task& h : hp)
            any_jitter = any_jitter || h.jitter > 0;
        if (any_jitter) return out;
    }
    time_value worst = 0;
    time_value w = checked_add(t.blocking, t.wcet, "RTA start");
    for (std::int64_t q = 0;; ++q) {
        rec.begin_job();
        // Iterate from a lower bound of the least fixed point up to it.
        for (;;) {
            rec.iterate(w);
            const time_value own = checked_mul(q + 1, t.wcet, "RTA own demand");
            const time_value next = checked_add(checked_add(t.blocking, own, "RTA own demand"),
                                                fp_interference(hp, w), "RTA demand");
            if (next == w) break;
            w = next;
            if (w > horizon) {
                out.horizon_reached = true;
                return out;
            }
        }
        const time_value release = checked_mul(q, t.period, "RTA job release");
        const time_value r =
            checked_add(checked_sub(w, release, "RTA response"), t.jitter, "RTA response");
        if (q == 0 || r > worst) {
            worst = r;
            out.worst_job = q;
            rec.worst_job();
        }
        if (stop_on_miss && r > t.deadline) {
            out.missed_early = true;
            out.response_time = r;
            out.jobs = q + 1;
            return out;
        }
        const time_value next_arrival = checked_mul(q + 1, t.period, "RTA next arrival");
        if (checked_add(w, t.jitter, "RTA busy period") <= next_arrival) {
            out.jobs = q + 1;
            out.busy_period = w;
            break;
        }
        w = checked_add(w, t.wcet, "RTA next job start");
    }
    out.response_time = worst;
    return out;
}

}  // namespace detail

/// Exact worst-case response time of task i (priority order, index 0 highest), from
/// its arrival; nullopt when its level-i busy period is unbounded. Same answer as
/// fp_rta(tasks).tasks[i].response_time; usable in constant expressions (an overflow
/// or an invalid task then fails to compile). Throws std::invalid_argument naming the
/// task for a malformed task or i out of range, analysis_overflow on overflow.
/// Thread-safe (pure). Cost: O(i) per fixed-point iteration, pseudo-polynomial overall;
/// no allocation.
constexpr std::optional<time_value> fp_response_time(std::span<const task> by_priority,
                                                     std::size_t i) {
    if (i >= by_priority.size())
        detail::throw_invalid_task("fp_response_time", i, "index", static_cast<time_value>(i),
                                   "is past the last task");
    for (std::size_t j = 0; j <= i; ++j)
        detail::check_task("fp_response_time", j, by_priority[j]);
    detail::no_recorder rec;
    return detail::fp_analyse(by_priority.first(i), by_priority[i], rec).response_time;
}

/// Whether every task meets its deadline (R_i <= D_i) under preemptive FP in the given
/// order; exact, jitter and blocking included, arbitrary deadlines. Usable in
/// static_assert over a constexpr task table. Stops at the first job that misses its
/// deadline. Thread-safe (pure). Cost: at most fp_response_time for every task; no
/// allocation.
constexpr bool fp_schedulable(std::span<const task> by_priority) {
    for (std::size_t i = 0; i < by_priority.size(); ++i) {
        detail::check_task("fp_schedulable", i, by_priority[i]);
        detail::no_recorder rec;
        const auto r =
            detail::fp_analyse(by_priority.first(i), by_priority[i], rec, INT64_MAX, true)
                .response_time;
        if (!r || *r > by_priority[i].deadline) return false;
    }
    return true;
}

/// Exact RTA of every task, with certificates (see fp_task_result). Throws
/// std::invalid_argument naming the task for a malformed task, analysis_overflow when a
/// step leaves 64-bit time. Thread-safe (pure). Cost: pseudo-polynomial; one vector
/// per task for its certificate.
[[nodiscard]] fp_result fp_rta(std::span<const task> by_priority, const fp_options& options = {});

/// Exact RTA of one task `t` placed just below the tasks `higher` (in any order: the
/// analysis depends only on the set). What Audsley's assignment asks of a level.
/// Throws as fp_rta. Thread-safe (pure). Cost: as one task of fp_rta.
[[nodiscard]] fp_task_result fp_rta_task(std::span<const task> higher, const task& t);

/// The scheduling-points test (Bini & Buttazzo, IEEE TC 2004): exact for constrained
/// deadlines without jitter; blocking is a constant term of W_i. Throws
/// std::invalid_argument naming the task when a task has D > T or J > 0 (use fp_rta).
/// Thread-safe (pure). Cost: |P_{i-1}(D_i)| evaluations of O(i) per task; the point
/// set is built with duplicates removed (at most the sum over j < i of D_i / T_j + 1).
[[nodiscard]] fp_points_result fp_scheduling_points(std::span<const task> by_priority);

/// The scheduling points P_{i-1}(D_i) of task i, sorted and without duplicates:
/// P_0(t) = {t}, P_j(t) = P_{j-1}(floor(t / T_j) T_j) U P_{j-1}(t) (zero dropped), with
/// the higher-priority tasks indexed by increasing period as in the paper (whatever
/// their priority order: peeling in priority order loses points when priorities are
/// not rate-monotonic; see src/sched/fp.cpp).
[[nodiscard]] std::vector<time_value> fp_points_of(std::span<const task> by_priority,
                                                   std::size_t i);

}  // namespace keel::sched
