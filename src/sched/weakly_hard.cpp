// Weakly-hard (m, K) tasks under global two-class job-level fixed priorities: the
// outcome monitor, the scheduler state and the response-time analysis of urgent jobs.
#include <keel/sched/detail/checked.hpp>
#include <keel/sched/weakly_hard.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace keel::sched {

namespace {

std::string task_label(std::size_t i) { return "task " + std::to_string(i); }

/// a * b, or INT64_MAX when it does not fit (a distance that large means "at most one
/// job in any window the analysis looks at", which is what saturation gives).
time_value saturating_mul(time_value a, time_value b) noexcept {
    time_value r = 0;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

/// Bertogna–Cirinei workload bound of a sporadic sequence (WCET c, minimum distance p,
/// every job done within r of its release) in any window of length L.
time_value workload(time_value L, time_value c, time_value p, time_value r) {
    using detail::checked_add;
    using detail::checked_mul;
    using detail::checked_sub;
    const time_value span = checked_sub(checked_add(L, r, "wh workload"), c, "wh workload");
    const time_value jobs = span / p;  // span >= L >= 0
    const time_value body = checked_mul(jobs, c, "wh workload");
    const time_value tail = span - jobs * p;  // fits: jobs * p <= span
    return checked_add(body, std::min(c, tail), "wh workload");
}

}  // namespace

weakly_hard_monitor::weakly_hard_monitor(weakly_hard_constraint constraint) : _constraint(constraint) {
    if (!is_well_formed(constraint))
        throw std::invalid_argument("keel::sched: weakly-hard constraint needs K >= 1 and 0 <= m <= K (m = " +
                                    std::to_string(constraint.m) + ", K = " + std::to_string(constraint.K) + ")");
    _ring.assign(static_cast<std::size_t>(constraint.K), 0);
}

void weakly_hard_monitor::record(bool met) noexcept {
    const unsigned char miss = met ? 0 : 1;
    _window_misses += miss - _ring[_head];  // the outcome K jobs back leaves the window
    _ring[_head] = miss;
    _head = _head + 1 == _ring.size() ? 0 : _head + 1;
    ++_jobs;
    _misses += miss;
    _run = met ? 0 : _run + 1;
    _max_run = std::max(_max_run, _run);
    _max_window = std::max(_max_window, _window_misses);
    if (!_first_violation && _window_misses > _constraint.m) _first_violation = _jobs - 1;
}

wh_priority_state::wh_priority_state(std::span<const std::int64_t> tolerable)
    : _tolerable(tolerable.begin(), tolerable.end()), _run(tolerable.size(), 0) {
    for (std::size_t i = 0; i < _tolerable.size(); ++i)
        if (_tolerable[i] < 0)
            throw std::invalid_argument("keel::sched: " + task_label(i) +
                                        ": tolerable consecutive misses must be >= 0");
}

void wh_priority_state::reset() noexcept { std::fill(_run.begin(), _run.end(), 0); }

wh_result wh_jlfp_rta(std::span<const task> tasks, std::span<const weakly_hard_constraint> constraints,
                      std::size_t cores) {
    if (tasks.size() != constraints.size())
        throw std::invalid_argument("keel::sched: wh_jlfp_rta needs one constraint per task (" +
                                    std::to_string(tasks.size()) + " tasks, " +
                                    std::to_string(constraints.size()) + " constraints)");
    if (cores == 0) throw std::invalid_argument("keel::sched: wh_jlfp_rta needs at least one core");
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const task& t = tasks[i];
        const auto bad = [&](const char* field, const char* why) {
            throw std::invalid_argument("keel::sched: " + task_label(i) + ": " + field + " " + why);
        };
        if (t.wcet <= 0) bad("wcet", "must be > 0");
        if (t.period <= 0) bad("period", "must be > 0");
        if (t.deadline <= 0) bad("deadline", "must be > 0");
        if (t.wcet > t.deadline) bad("wcet", "must be <= deadline");
        if (t.deadline > t.period) bad("deadline", "must be <= period (constrained deadlines)");
        if (t.jitter != 0) bad("jitter", "must be 0 (not analysed for weakly-hard tasks)");
        if (t.blocking != 0) bad("blocking", "must be 0 (not analysed for weakly-hard tasks)");
        if (!is_well_formed(constraints[i])) bad("m/K", "must satisfy K >= 1 and 0 <= m <= K");
    }

    wh_result result;
    result.cores = cores;
    result.tasks.resize(tasks.size());
    const auto m = static_cast<time_value>(cores);
    for (std::size_t k = 0; k < tasks.size(); ++k) {
        const task& t = tasks[k];
        wh_task_result& out = result.tasks[k];
        out.tolerable = tolerable_consecutive_misses(constraints[k]);
        if (out.tolerable == unbounded_misses) {
            // Never urgent: never interferes with an urgent job, nothing to guarantee.
            out.satisfied = true;
            out.urgent_period = INT64_MAX;
            continue;
        }
        time_value R = t.wcet;
        out.iterations.push_back(R);
        for (;;) {
            time_value sum = 0;
            const time_value cap = R - t.wcet + 1;  // interference counts only while k waits
            for (std::size_t i = 0; i < k; ++i) {
                const wh_task_result& hp = result.tasks[i];
                if (hp.tolerable == unbounded_misses) continue;
                const time_value r_i = hp.satisfied ? *hp.urgent_response : tasks[i].deadline;
                const time_value w = workload(R, tasks[i].wcet, hp.urgent_period, r_i);
                sum = detail::checked_add(sum, std::min(w, cap), "wh interference");
            }
            const time_value next = detail::checked_add(t.wcet, sum / m, "wh response");
            if (next == R) break;
            R = next;
            out.iterations.push_back(R);
            if (R > t.deadline) break;
        }
        out.satisfied = R <= t.deadline;
        if (out.satisfied) out.urgent_response = R;
        out.urgent_period = out.satisfied ? saturating_mul(out.tolerable + 1, t.period) : t.period;
    }
    result.schedulable = std::all_of(result.tasks.begin(), result.tasks.end(),
                                     [](const wh_task_result& r) { return r.satisfied; });
    return result;
}

}  // namespace keel::sched
