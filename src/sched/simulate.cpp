#include <keel/sched/generate.hpp>
#include <keel/sched/simulate.hpp>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace keel::sched {

namespace {

using detail::checked_add;
using detail::checked_mul;

constexpr time_value never = std::numeric_limits<time_value>::max();

struct job {
    time_value key;       // EDF: absolute deadline; FP: task index (ties below)
    std::size_t task;
    std::int64_t index;   // job number k within its task
    time_value arrival;
    time_value deadline;  // absolute
    time_value remaining;
};

/// Heap order: the job that should run is the "largest" for std heap functions.
bool runs_later(const job& a, const job& b) {
    if (a.key != b.key) return a.key > b.key;
    if (a.task != b.task) return a.task > b.task;
    return a.index > b.index;
}

/// Per-task release generator: arrivals o + k T, releases per the pattern.
struct source {
    time_value offset = 0;    // arrival of job 0
    std::int64_t next_k = 0;
    time_value arrival = 0;   // of job next_k
    time_value release = 0;   // of job next_k; never when no more jobs before the horizon
    time_value last_release = 0;
};

}  // namespace

simulation_result simulate(std::span<const task> tasks, sim_policy policy, time_value horizon,
                           const sim_options& options) {
    if (horizon <= 0) throw std::invalid_argument("simulate: horizon must be positive");
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const task& t = tasks[i];
        if (!is_well_formed(t))
            throw std::invalid_argument("simulate: task \"t" + std::to_string(i + 1) +
                                        "\" is not well formed (C, T, D > 0; J, B >= 0)");
    }
    const std::size_t n = tasks.size();
    simulation_result res;
    res.end = horizon;
    res.tasks.resize(n);
    rng random(options.seed);

    time_value bunch = 0;  // the critical instant o = max J
    if (options.pattern == release_pattern::critical_instant)
        for (const auto& t : tasks) bunch = std::max(bunch, t.jitter);

    std::vector<source> src(n);
    auto plan = [&](std::size_t i) {
        source& s = src[i];
        const task& t = tasks[i];
        s.arrival = checked_add(s.offset, checked_mul(s.next_k, t.period, "simulation arrival"),
                                "simulation arrival");
        if (s.arrival >= horizon) {
            s.release = never;
            return;
        }
        time_value r = s.arrival;
        switch (options.pattern) {
            case release_pattern::synchronous: break;
            case release_pattern::critical_instant: r = std::max(s.arrival, bunch); break;
            case release_pattern::random: {
                const auto delay = static_cast<time_value>(random.below(static_cast<std::uint64_t>(t.jitter) + 1));
                r = std::max(checked_add(s.arrival, delay, "simulation release"), s.last_release);
                break;
            }
        }
        s.release = r >= horizon ? never : r;
    };
    for (std::size_t i = 0; i < n; ++i) {
        if (options.pattern == release_pattern::critical_instant) src[i].offset = bunch - tasks[i].jitter;
        plan(i);
    }

    std::vector<job> ready;
    auto record_miss = [&](std::size_t i, time_value deadline) {
        auto& st = res.tasks[i];
        ++st.deadline_misses;
        ++res.deadline_misses;
        if (!st.first_miss || deadline < *st.first_miss) st.first_miss = deadline;
        if (!res.first_miss || deadline < *res.first_miss ||
            (deadline == *res.first_miss && i < *res.first_miss_task)) {
            res.first_miss = deadline;
            res.first_miss_task = i;
        }
    };

    time_value now = 0;
    for (;;) {
        // Release every job due by now.
        time_value next_release = never;
        for (std::size_t i = 0; i < n; ++i) {
            source& s = src[i];
            while (s.release <= now) {
                const task& t = tasks[i];
                const time_value deadline = checked_add(s.arrival, t.deadline, "simulation deadline");
                const time_value key = policy == sim_policy::edf ? deadline : static_cast<time_value>(i);
                ready.push_back({key, i, s.next_k, s.arrival, deadline, t.wcet});
                std::push_heap(ready.begin(), ready.end(), runs_later);
                ++res.tasks[i].jobs_released;
                s.last_release = s.release;
                ++s.next_k;
                plan(i);
            }
            next_release = std::min(next_release, s.release);
        }
        if (ready.empty()) {
            if (next_release == never) break;
            now = next_release;
            continue;
        }
        job& top = ready.front();
        const time_value finish = checked_add(now, top.remaining, "simulation completion");
        const time_value until = std::min({finish, next_release, horizon});
        top.remaining -= until - now;
        now = until;
        if (top.remaining == 0) {
            auto& st = res.tasks[top.task];
            const time_value response = now - top.arrival;
            st.max_response = std::max(st.max_response, response);
            if (top.index == 0) st.first_job_response = response;
            ++st.jobs_completed;
            if (now > top.deadline) record_miss(top.task, top.deadline);
            std::pop_heap(ready.begin(), ready.end(), runs_later);
            ready.pop_back();
        }
        if (now >= horizon) break;
    }
    for (const job& j : ready)
        if (j.deadline <= horizon) record_miss(j.task, j.deadline);
    return res;
}

}  // namespace keel::sched
