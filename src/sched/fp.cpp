#include <keel/sched/fp.hpp>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>
#include <utility>

namespace keel::sched {

namespace detail {

void throw_invalid_task(const char* analysis, std::size_t index, const char* field,
                        time_value value, const char* requirement) {
    throw std::invalid_argument(std::string(analysis) + ": task " + std::to_string(index + 1) +
                                " (priority index " + std::to_string(index) + "): " + field + " " +
                                std::to_string(value) + " " + requirement);
}

namespace {

/// Keeps the iterates of the current job and, separately, those of the worst job so far.
struct vector_recorder {
    std::vector<time_value>* worst;
    std::vector<time_value> current;
    void begin_job() { current.clear(); }
    void iterate(time_value w) { current.push_back(w); }
    void worst_job() { worst->swap(current); }
};

}  // namespace

}  // namespace detail

namespace {

fp_task_result analyse_recorded(std::span<const task> hp, const task& t, time_value horizon) {
    fp_task_result r;
    detail::vector_recorder rec{&r.iterations, {}};
    const auto out = detail::fp_analyse(hp, t, rec, horizon);
    r.horizon_reached = out.horizon_reached;
    r.response_time = out.response_time;
    r.busy_period = out.busy_period;
    r.jobs_examined = out.jobs;
    r.worst_job = out.worst_job;
    r.schedulable = out.response_time && *out.response_time <= t.deadline;
    if (!out.response_time) r.iterations.clear();
    return r;
}

}  // namespace

fp_result fp_rta(std::span<const task> by_priority, const fp_options& options) {
    for (std::size_t i = 0; i < by_priority.size(); ++i)
        detail::check_task("fp_rta", i, by_priority[i]);
    fp_result result;
    result.schedulable = true;
    result.tasks.reserve(by_priority.size());
    for (std::size_t i = 0; i < by_priority.size(); ++i) {
        result.tasks.push_back(
            analyse_recorded(by_priority.first(i), by_priority[i], options.horizon));
        result.schedulable = result.schedulable && result.tasks.back().schedulable;
    }
    return result;
}

fp_task_result fp_rta_task(std::span<const task> higher, const task& t) {
    for (std::size_t i = 0; i < higher.size(); ++i)
        detail::check_task("fp_rta_task", i, higher[i]);
    detail::check_task("fp_rta_task", higher.size(), t);
    return analyse_recorded(higher, t, INT64_MAX);
}

namespace {

void check_points_model(std::span<const task> by_priority) {
    for (std::size_t i = 0; i < by_priority.size(); ++i) {
        const task& t = by_priority[i];
        detail::check_task("fp_scheduling_points", i, t);
        if (t.deadline > t.period)
            detail::throw_invalid_task("fp_scheduling_points", i, "deadline", t.deadline,
                                       "exceeds the period (the test needs D <= T; use fp_rta)");
        if (t.jitter != 0)
            detail::throw_invalid_task("fp_scheduling_points", i, "jitter", t.jitter,
                                       "must be 0 (the test ignores jitter; use fp_rta)");
    }
}

/// Reused between tasks so that building a point set allocates only while it grows.
struct point_buffers {
    std::vector<time_value> points, floors, merged, periods;
};

void points_into(std::span<const task> by_priority, std::size_t i, point_buffers& b) {
    b.points.assign(1, by_priority[i].deadline);
    // Bini & Buttazzo index the higher-priority tasks by increasing period (their
    // setting is rate-monotonic). Peeling them in priority order instead loses points
    // when priorities are not rate-monotonic: (C,T) = (1,19), (4,12), (67,387),
    // (59,185) above C=16, B=14, D=566 passes at t = 360 = 30*12 only (W(360) = 354),
    // and priority-order peeling never generates 360. So the recursion
    // P_j(t) = P_{j-1}(floor(t/T_j) T_j) U P_{j-1}(t) peels the periods from the
    // largest down, merging duplicates at every level (the point sets stay sorted).
    b.periods.clear();
    for (std::size_t k = 0; k < i; ++k)
        b.periods.push_back(by_priority[k].period);
    std::sort(b.periods.begin(), b.periods.end());
    for (std::size_t k = b.periods.size(); k-- > 0;) {
        const time_value p = b.periods[k];
        b.floors.clear();
        for (const time_value t : b.points) {
            const time_value f = t / p * p;
            if (f > 0) b.floors.push_back(f);
        }
        // floors is sorted (flooring to multiples is monotone): a linear merge.
        b.merged.resize(b.points.size() + b.floors.size());
        const auto end = std::merge(b.points.begin(), b.points.end(), b.floors.begin(),
                                    b.floors.end(), b.merged.begin());
        b.merged.erase(std::unique(b.merged.begin(), end), b.merged.end());
        b.points.swap(b.merged);
    }
}

}  // namespace

std::vector<time_value> fp_points_of(std::span<const task> by_priority, std::size_t i) {
    check_points_model(by_priority);
    if (i >= by_priority.size())
        detail::throw_invalid_task("fp_points_of", i, "index", static_cast<time_value>(i),
                                   "is past the last task");
    point_buffers b;
    points_into(by_priority, i, b);
    return std::move(b.points);
}

fp_points_result fp_scheduling_points(std::span<const task> by_priority) {
    check_points_model(by_priority);
    fp_points_result result;
    result.schedulable = true;
    result.passing_point.resize(by_priority.size());
    point_buffers b;
    for (std::size_t i = 0; i < by_priority.size(); ++i) {
        const task& ti = by_priority[i];
        points_into(by_priority, i, b);
        const time_value own = detail::checked_add(ti.blocking, ti.wcet, "scheduling-point demand");
        for (const time_value t : b.points) {
            ++result.points_evaluated;
            time_value w = own;
            for (std::size_t j = 0; j < i && w <= t; ++j) {
                const task& tj = by_priority[j];
                w = detail::checked_add(w,
                                        detail::checked_mul(detail::ceil_div(t, tj.period), tj.wcet,
                                                            "scheduling-point demand"),
                                        "scheduling-point demand");
            }
            if (w <= t) {
                result.passing_point[i] = t;
                break;
            }
        }
        result.schedulable = result.schedulable && result.passing_point[i].has_value();
    }
    return result;
}

}  // namespace keel::sched
