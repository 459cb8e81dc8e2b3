// Tick-level simulator of the spin-lock protocols (MSRP, PWLP, FRAP differ only in the
// spin levels) and the random system generator of the spin experiments.

#include <keel/sched/detail/checked.hpp>
#include <keel/sched/generate.hpp>
#include <keel/sched/spin_locks.hpp>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <stdexcept>
#include <string>

namespace keel::sched {

namespace {

struct segment {
    bool critical = false;
    std::size_t resource = 0;
    time_value left = 0;
};

struct sim_job {
    std::size_t task = 0;
    time_value release = 0;
    time_value deadline = 0;  // absolute
    std::vector<segment> segments;
    std::size_t at = 0;  // current segment
    bool started = false;  // has run (SRP's start rule applies only before)
    bool queued = false;
    bool in_section = false;
    bool missed = false;
    bool done = false;
    time_value spin = 0;
};

std::vector<segment> layout(const spin_system& s, std::size_t i, bool random, rng& r) {
    std::vector<std::size_t> order;
    time_value cs_total = 0;
    for (const critical_section& cs : s.sections[i])
        for (std::int64_t n = 0; n < cs.count; ++n) {
            order.push_back(cs.resource);
            cs_total += cs.length;
        }
    if (random)
        for (std::size_t a = order.size(); a > 1; --a)
            std::swap(order[a - 1], order[r.below(a)]);
    const time_value normal = s.tasks[i].wcet - cs_total;
    const std::size_t parts = order.size() + 1;
    std::vector<time_value> cut(parts, 0);
    if (random) {
        for (time_value u = 0; u < normal; ++u)
            ++cut[r.below(parts)];
    } else {
        for (std::size_t p = 0; p < parts; ++p)
            cut[p] = normal / static_cast<time_value>(parts) +
                     (static_cast<time_value>(p) < normal % static_cast<time_value>(parts) ? 1 : 0);
    }
    auto length_of = [&](std::size_t k) {
        for (const critical_section& cs : s.sections[i])
            if (cs.resource == k) return cs.length;
        return time_value{0};
    };
    std::vector<segment> out;
    for (std::size_t p = 0; p < parts; ++p) {
        if (cut[p] > 0) out.push_back({false, 0, cut[p]});
        if (p < order.size()) out.push_back({true, order[p], length_of(order[p])});
    }
    return out;
}

}  // namespace

spin_sim_result simulate_spin(const spin_system& system, const spin_levels& levels,
                              const spin_sim_options& options) {
    system.validate();
    if (levels.size() != system.tasks.size())
        throw std::invalid_argument("simulate_spin: need one level row per task");
    for (std::size_t i = 0; i < levels.size(); ++i)
        if (levels[i].size() != system.resources)
            throw std::invalid_argument("simulate_spin: task " + std::to_string(i + 1) +
                                        ": spin_levels needs one level per resource");
    for (std::size_t i = 0; i < levels.size(); ++i)
        for (std::int64_t lv : levels[i])
            if (lv > system.priority[i])
                throw std::invalid_argument("simulate_spin: task " + std::to_string(i + 1) +
                                            ": a spin level is below the task's priority");
    const std::size_t n = system.tasks.size();
    std::vector<bool> global(system.resources);
    for (std::size_t k = 0; k < system.resources; ++k)
        global[k] = system.is_global(k);
    // SRP ceiling of each local resource: the highest priority of its users (one core).
    std::vector<std::int64_t> ceiling(system.resources, std::numeric_limits<std::int64_t>::max());
    for (std::size_t i = 0; i < n; ++i)
        for (const critical_section& cs : system.sections[i])
            ceiling[cs.resource] = std::min(ceiling[cs.resource], system.priority[i]);

    rng r(options.seed);
    spin_sim_result out;
    out.max_response.assign(n, 0);
    out.misses.assign(n, 0);
    out.max_job_spin.assign(n, 0);

    std::vector<time_value> next_release(n, 0);
    if (options.sporadic)
        for (std::size_t i = 0; i < n; ++i)
            next_release[i] = static_cast<time_value>(
                r.below(static_cast<std::uint64_t>(system.tasks[i].period)));
    std::deque<sim_job> jobs;  // live jobs; ids stable via list of pointers below
    std::vector<std::vector<sim_job*>> ready(system.cores);
    std::vector<sim_job*> running(system.cores, nullptr);
    std::vector<std::deque<sim_job*>> queue(system.resources);
    std::vector<sim_job*> holder(system.resources, nullptr);

    auto effective = [&](const sim_job* j) {
        if (j->queued) return levels[j->task][j->segments[j->at].resource];
        if (j->in_section) {  // local (a global section is never preempted)
            return std::min(system.priority[j->task], ceiling[j->segments[j->at].resource]);
        }
        return system.priority[j->task];
    };
    auto in_global_section = [&](const sim_job* j) {
        return j->in_section && global[j->segments[j->at].resource];
    };
    auto dequeue = [&](sim_job* j) {
        auto& qd = queue[j->segments[j->at].resource];
        qd.erase(std::find(qd.begin(), qd.end(), j));
        j->queued = false;
    };

    for (time_value t = 0; t < options.horizon; ++t) {
        // 1. Releases.
        for (std::size_t i = 0; i < n; ++i)
            while (next_release[i] == t) {
                sim_job job;
                job.task = i;
                job.release = t;
                job.deadline = t + system.tasks[i].deadline;
                job.segments = layout(system, i, options.random_layout, r);
                jobs.push_back(std::move(job));
                ready[system.core[i]].push_back(&jobs.back());
                time_value gap = system.tasks[i].period;
                if (options.sporadic && options.max_delay > 0)
                    gap += static_cast<time_value>(
                        r.below(static_cast<std::uint64_t>(options.max_delay) + 1));
                next_release[i] = t + gap;
            }
        // 2. Scheduling decisions.
        for (std::size_t c = 0; c < system.cores; ++c) {
            sim_job* cur = running[c];
            if (cur && in_global_section(cur)) continue;  // non-preemptive section
            // SRP: the system ceiling is the highest ceiling of the local resources held on
            // the core; a job that has not started yet starts only strictly above it.
            std::int64_t system_ceiling = std::numeric_limits<std::int64_t>::max();
            for (const sim_job* j : ready[c])
                if (j->in_section && !global[j->segments[j->at].resource])
                    system_ceiling =
                        std::min(system_ceiling, ceiling[j->segments[j->at].resource]);
            sim_job* best = cur;
            for (sim_job* j : ready[c]) {
                if (j == cur) continue;
                if (!j->started && system.priority[j->task] >= system_ceiling) continue;
                if (!best) {
                    best = j;
                    continue;
                }
                const std::int64_t pj = effective(j), pb = effective(best);
                // Strictly higher preempts; among equals the running job (then the older).
                if (pj < pb || (pj == pb && best != cur && j->release < best->release)) best = j;
            }
            if (cur && best != cur && cur->queued) dequeue(cur);  // cancelled on preemption
            running[c] = best;
            if (best) best->started = true;
        }
        // 3. Requests of the running jobs (core order breaks ties of one tick).
        for (std::size_t c = 0; c < system.cores; ++c) {
            sim_job* j = running[c];
            if (!j || j->in_section || j->queued) continue;
            const segment& sg = j->segments[j->at];
            if (!sg.critical) continue;
            if (global[sg.resource]) {
                queue[sg.resource].push_back(j);
                j->queued = true;
            } else {
                j->in_section = true;
            }
        }
        // 4. Grants.
        for (std::size_t k = 0; k < system.resources; ++k)
            if (!holder[k] && !queue[k].empty()) {
                sim_job* j = queue[k].front();
                queue[k].pop_front();
                holder[k] = j;
                j->queued = false;
                j->in_section = true;
            }
        // 5. One tick of execution.
        for (std::size_t c = 0; c < system.cores; ++c) {
            sim_job* j = running[c];
            if (!j) continue;
            if (j->queued) {
                ++j->spin;
                continue;
            }
            segment& sg = j->segments[j->at];
            if (--sg.left > 0) continue;
            if (sg.critical) {
                j->in_section = false;
                if (global[sg.resource]) holder[sg.resource] = nullptr;
            }
            if (++j->at < j->segments.size()) continue;
            j->done = true;
            const std::size_t i = j->task;
            out.max_response[i] = std::max(out.max_response[i], t + 1 - j->release);
            out.max_job_spin[i] = std::max(out.max_job_spin[i], j->spin);
            auto& rc = ready[c];
            rc.erase(std::find(rc.begin(), rc.end(), j));
            running[c] = nullptr;
        }
        // 6. Deadline misses (counted once, the job goes on).
        for (sim_job& j : jobs)
            if (!j.done && !j.missed && j.deadline <= t + 1) {
                j.missed = true;
                ++out.misses[j.task];
                out.any_miss = true;
            }
        while (!jobs.empty() && jobs.front().done)
            jobs.pop_front();
        if (out.any_miss && options.stop_at_first_miss) break;
    }
    return out;
}

spin_system generate_spin_system(const spin_generator_options& o, std::uint64_t seed) {
    if (o.cores == 0 || o.tasks_per_core == 0)
        throw std::invalid_argument("generate_spin_system: cores and tasks_per_core must be >= 1");
    if (!(o.utilization > 0) || o.utilization > 1.0)
        throw std::invalid_argument("generate_spin_system: utilization per core must be in (0, 1]");
    if (o.cs_min <= 0 || o.cs_max < o.cs_min)
        throw std::invalid_argument("generate_spin_system: need 0 < cs_min <= cs_max");
    if (o.max_requests < 1)
        throw std::invalid_argument("generate_spin_system: max_requests must be >= 1");
    if (!(o.access_probability >= 0 && o.access_probability <= 1))
        throw std::invalid_argument("generate_spin_system: access_probability must be in [0, 1]");
    rng r(seed);
    spin_system s;
    s.cores = o.cores;
    s.resources = o.resources;
    for (std::size_t c = 0; c < o.cores; ++c) {
        const std::vector<double> u = uunifast(o.tasks_per_core, o.utilization, r);
        const std::vector<time_value> periods =
            periods_log_uniform(o.tasks_per_core, o.period_min, o.period_max, 1, r);
        std::vector<std::size_t> order(o.tasks_per_core);
        for (std::size_t a = 0; a < order.size(); ++a)
            order[a] = a;
        // Rate-monotonic priorities (ties by draw order).
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t a, std::size_t b) { return periods[a] < periods[b]; });
        std::vector<std::int64_t> prio(o.tasks_per_core);
        for (std::size_t rank = 0; rank < order.size(); ++rank)
            prio[order[rank]] = static_cast<std::int64_t>(rank + 1);
        for (std::size_t a = 0; a < o.tasks_per_core; ++a) {
            task t;
            t.period = periods[a];
            t.deadline = periods[a];
            t.wcet = std::max<time_value>(
                1, static_cast<time_value>(std::llround(u[a] * static_cast<double>(periods[a]))));
            std::vector<critical_section> cs;
            time_value total = 0;
            for (std::size_t k = 0; k < o.resources; ++k) {
                if (r.uniform01() >= o.access_probability) continue;
                critical_section sec;
                sec.resource = k;
                sec.count = 1 + static_cast<std::int64_t>(
                                    r.below(static_cast<std::uint64_t>(o.max_requests)));
                sec.length = o.cs_min + static_cast<time_value>(r.below(
                                            static_cast<std::uint64_t>(o.cs_max - o.cs_min + 1)));
                total += sec.count * sec.length;
                cs.push_back(sec);
            }
            t.wcet = std::max(t.wcet, total);
            s.tasks.push_back(t);
            s.core.push_back(c);
            s.priority.push_back(prio[a]);
            s.sections.push_back(std::move(cs));
        }
    }
    return s;
}

}  // namespace keel::sched
