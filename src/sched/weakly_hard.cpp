// Weakly-hard (m, K) tasks under global two-class job-level fixed priorities: the
// outcome monitor, the scheduler state and the response-time analysis of urgent jobs.
#include <keel/sched/detail/checked.hpp>
#include <keel/sched/weakly_hard.hpp>

#include <algorithm>
#include <functional>
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

/// Guan et al.'s non-carry-in workload of a sporadic sequence (WCET c, minimum distance
/// p >= c) in a window of length L whose jobs are all released inside it:
/// floor(L/p) c + min(L mod p, c).
time_value workload_nc(time_value L, time_value c, time_value p) {
    return detail::checked_add(detail::checked_mul(L / p, c, "wh workload"), std::min(L % p, c),
                               "wh workload");
}

/// Guan et al.'s carry-in workload of the same sequence (every job done within r of its
/// release, c <= r <= p) when one job released before the window is still pending at
/// its start and ran in the instant just before it (so it brings at most c - 1):
/// floor(y/p) c + c + [y mod p - (p - r)]_0^{c-1},  y = [L - c]_0.
time_value workload_ci(time_value L, time_value c, time_value p, time_value r) {
    const time_value y = std::max<time_value>(L - c, 0);
    const time_value alpha = std::clamp<time_value>(y % p - (p - r), 0, c - 1);
    return detail::checked_add(
        detail::checked_add(detail::checked_mul(y / p, c, "wh workload"), c, "wh workload"), alpha,
        "wh workload");
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
    std::vector<time_value> diff;  // carry-in minus non-carry-in workload, per task
    diff.reserve(tasks.size());
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
            diff.clear();
            for (std::size_t i = 0; i < k; ++i) {
                const wh_task_result& hp = result.tasks[i];
                if (hp.tolerable == unbounded_misses) continue;
                const time_value r_i = hp.satisfied ? *hp.urgent_response : tasks[i].deadline;
                const time_value p_i = hp.urgent_period;
                const time_value nc = std::min(workload_nc(R, tasks[i].wcet, p_i), cap);
                const time_value ci = std::min(workload_ci(R, tasks[i].wcet, p_i, r_i), cap);
                sum = detail::checked_add(sum, nc, "wh interference");
                if (ci > nc) diff.push_back(ci - nc);
            }
            // At most cores - 1 tasks carry an urgent job into the window: the largest gains.
            const std::size_t take = std::min(diff.size(), cores - 1);
            std::partial_sort(diff.begin(), diff.begin() + static_cast<std::ptrdiff_t>(take),
                              diff.end(), std::greater<>());
            for (std::size_t j = 0; j < take; ++j)
                sum = detail::checked_add(sum, diff[j], "wh interference");
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
