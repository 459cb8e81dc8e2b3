#include <keel/sched/detail/checked.hpp>
#include <keel/sched/generate.hpp>
#include <keel/sched/global_simulate.hpp>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <stdexcept>
#include <string>

namespace keel::sched {

namespace {

using detail::checked_add;

constexpr time_value never = std::numeric_limits<time_value>::max();

struct pending_job {
    std::int64_t key;    // FP: task index; EDF: absolute deadline; job-level: callback
    std::int64_t index;  // job number within the task
    time_value arrival;
    time_value deadline;  // absolute
    time_value remaining;
};

struct task_state {
    time_value next_arrival = 0;  // never once at or past the horizon
    std::int64_t next_index = 0;
    time_value spread = 0;  // floor(extra * T) for random_sporadic
    std::int64_t consecutive_misses = 0;
    std::deque<pending_job> pending;
};

}  // namespace

global_simulation_result simulate_global(std::span<const task> tasks,
                                         const global_sim_options& options) {
    if (options.cores == 0)
        throw std::invalid_argument("simulate_global: cores must be at least 1");
    if (options.horizon <= 0)
        throw std::invalid_argument("simulate_global: horizon must be positive");
    if (options.policy == global_policy::job_level && !options.priority)
        throw std::invalid_argument("simulate_global: job_level policy needs a priority callback");
    if (!(options.sporadic_extra >= 0.0))
        throw std::invalid_argument("simulate_global: sporadic_extra must not be negative");
    for (std::size_t i = 0; i < tasks.size(); ++i)
        if (!is_well_formed(tasks[i]))
            throw std::invalid_argument("simulate_global: task " + std::to_string(i + 1) +
                                        " (index " + std::to_string(i) +
                                        ") is not well formed (wcet, period, deadline > 0)");

    const std::size_t n = tasks.size();
    const time_value horizon = options.horizon;
    const bool sporadic = options.pattern == global_release::random_sporadic;
    global_simulation_result res;
    res.tasks.resize(n);
    if (options.record_outcomes) res.outcomes.resize(n);
    rng random(options.seed);

    std::vector<task_state> state(n);
    for (std::size_t i = 0; i < n; ++i) {
        task_state& s = state[i];
        if (sporadic) {
            const double spread =
                std::floor(options.sporadic_extra * static_cast<double>(tasks[i].period));
            if (spread >= 0x1p62)
                throw analysis_overflow("keel::sched: simulate_global: sporadic spread past 2^62");
            s.spread = static_cast<time_value>(spread);
            s.next_arrival =
                static_cast<time_value>(random.below(static_cast<std::uint64_t>(s.spread) + 1));
        }
        if (s.next_arrival >= horizon) s.next_arrival = never;
    }
    auto advance_arrival = [&](std::size_t i) {
        task_state& s = state[i];
        time_value gap = tasks[i].period;
        if (sporadic && s.spread > 0 && (random.next() >> 63) != 0)
            gap = checked_add(
                gap,
                static_cast<time_value>(random.below(static_cast<std::uint64_t>(s.spread) + 1)),
                "simulation arrival");
        const time_value next = checked_add(s.next_arrival, gap, "simulation arrival");
        s.next_arrival = next >= horizon ? never : next;
    };

    bool stop = false;
    auto judge = [&](std::size_t i, const pending_job& j, bool missed) {
        task_state& s = state[i];
        if (options.record_outcomes)
            res.outcomes[i].push_back(missed ? job_outcome::missed : job_outcome::met);
        if (!missed) {
            s.consecutive_misses = 0;
            return;
        }
        ++s.consecutive_misses;
        auto& st = res.tasks[i];
        ++st.deadline_misses;
        ++res.deadline_misses;
        if (!st.first_miss || j.deadline < *st.first_miss) st.first_miss = j.deadline;
        if (!res.first_miss || j.deadline < *res.first_miss ||
            (j.deadline == *res.first_miss && i < *res.first_miss_task)) {
            res.first_miss = j.deadline;
            res.first_miss_task = i;
        }
        if (options.stop_at_first_miss) stop = true;
    };

    std::vector<std::size_t> eligible;
    eligible.reserve(n);
    auto runs_before = [&](std::size_t a, std::size_t b) {
        const pending_job& ja = state[a].pending.front();
        const pending_job& jb = state[b].pending.front();
        if (ja.key != jb.key) return ja.key < jb.key;
        return a < b;  // one head per task: the task index breaks every remaining tie
    };

    time_value now = 0;
    for (;;) {
        // Releases due now, in task index order.
        for (std::size_t i = 0; i < n; ++i) {
            task_state& s = state[i];
            while (s.next_arrival <= now) {
                const task& t = tasks[i];
                pending_job j{0, s.next_index, s.next_arrival,
                              checked_add(s.next_arrival, t.deadline, "simulation deadline"),
                              t.wcet};
                switch (options.policy) {
                    case global_policy::fixed_priority:
                        j.key = static_cast<std::int64_t>(i);
                        break;
                    case global_policy::edf:
                        j.key = j.deadline;
                        break;
                    case global_policy::job_level:
                        j.key = options.priority(released_job{i, j.index, j.arrival, j.arrival,
                                                              j.deadline, s.consecutive_misses});
                        break;
                }
                s.pending.push_back(j);
                ++res.tasks[i].jobs_released;
                ++s.next_index;
                advance_arrival(i);
            }
        }

        // The m highest-priority heads run until the next event.
        eligible.clear();
        time_value next_event = horizon;
        for (std::size_t i = 0; i < n; ++i) {
            const task_state& s = state[i];
            next_event = std::min(next_event, s.next_arrival);
            if (s.pending.empty()) continue;
            eligible.push_back(i);
            if (options.abort_at_deadline)
                next_event = std::min(next_event, s.pending.front().deadline);
        }
        const std::size_t running = std::min(options.cores, eligible.size());
        if (running < eligible.size())
            std::partial_sort(eligible.begin(),
                              eligible.begin() + static_cast<std::ptrdiff_t>(running),
                              eligible.end(), runs_before);
        for (std::size_t r = 0; r < running; ++r)
            next_event =
                std::min(next_event, checked_add(now, state[eligible[r]].pending.front().remaining,
                                                 "simulation completion"));
        const time_value delta = next_event - now;
        now = next_event;

        // Completions first (a job finishing exactly at its deadline meets it), then drops.
        for (std::size_t r = 0; r < running; ++r) {
            const std::size_t i = eligible[r];
            task_state& s = state[i];
            pending_job& j = s.pending.front();
            j.remaining -= delta;
            if (j.remaining > 0) continue;
            auto& st = res.tasks[i];
            const time_value response = now - j.arrival;
            st.max_response = std::max(st.max_response, response);
            if (j.index == 0) st.first_job_response = response;
            ++st.jobs_completed;
            const pending_job done = j;
            s.pending.pop_front();
            judge(i, done, now > done.deadline);
        }
        if (options.abort_at_deadline) {
            for (std::size_t i = 0; i < n; ++i) {
                task_state& s = state[i];
                while (!s.pending.empty() && s.pending.front().deadline <= now) {
                    const pending_job dropped = s.pending.front();
                    s.pending.pop_front();
                    ++res.dropped;
                    judge(i, dropped, true);
                }
            }
        }
        if (stop || now >= horizon) break;
    }
    res.end = now;
    if (!stop) {
        for (std::size_t i = 0; i < n && !stop; ++i)
            for (const pending_job& j : state[i].pending) {
                if (j.deadline > horizon) break;  // later jobs of the task have later deadlines
                judge(i, j, true);
                if (stop) break;
            }
    }
    return res;
}

}  // namespace keel::sched
