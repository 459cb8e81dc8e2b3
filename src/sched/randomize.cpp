#include <keel/sched/randomize.hpp>

#include <keel/sched/detail/checked.hpp>
#include <keel/sched/fp.hpp>
#include <keel/sched/generate.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <unordered_set>

namespace keel::sched {

namespace {

std::string task_label(const multirate_system& s, std::size_t i) {
    if (i < s.names.size()) return "task \"" + s.names[i] + "\"";
    return "task " + std::to_string(i);
}

[[noreturn]] void fail(const multirate_system& s, std::size_t i, const std::string& field,
                       time_value v, const char* rule) {
    throw std::invalid_argument("multi-rate system: " + task_label(s, i) + ": " + field + " " +
                                std::to_string(v) + " " + rule);
}

}  // namespace

void multirate_system::validate() const {
    if (!names.empty() && names.size() != tasks.size())
        throw std::invalid_argument("multi-rate system: " + std::to_string(names.size()) +
                                    " names for " + std::to_string(tasks.size()) + " tasks");
    std::unordered_set<std::string_view> seen;
    for (const auto& n : names)
        if (!seen.insert(n).second)
            throw std::invalid_argument("multi-rate system: two tasks are named \"" + n + "\"");
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const multirate_task& t = tasks[i];
        if (t.wcet <= 0) fail(*this, i, "wcet", t.wcet, "must be positive");
        if (t.periods.empty())
            throw std::invalid_argument("multi-rate system: " + task_label(*this, i) +
                                        ": periods must list at least one period");
        for (std::size_t k = 0; k < t.periods.size(); ++k) {
            const std::string field = "periods[" + std::to_string(k) + "]";
            if (t.periods[k] <= 0) fail(*this, i, field, t.periods[k], "must be positive");
            for (std::size_t j = 0; j < k; ++j)
                if (t.periods[j] == t.periods[k])
                    fail(*this, i, field, t.periods[k], "repeats an earlier period");
        }
        if (t.deadline < 0)
            fail(*this, i, "deadline", t.deadline, "must not be negative (0: implicit)");
    }
}

std::size_t multirate_system::combination_count() const noexcept {
    std::size_t total = 1;
    for (const auto& t : tasks) {
        if (t.periods.empty()) return 0;
        if (total > std::numeric_limits<std::size_t>::max() / t.periods.size())
            return std::numeric_limits<std::size_t>::max();
        total *= t.periods.size();
    }
    return total;
}

std::vector<task> multirate_system::instantiate(std::span<const std::size_t> choice) const {
    if (choice.size() != tasks.size())
        throw std::invalid_argument("multi-rate system: a choice of " +
                                    std::to_string(choice.size()) + " periods for " +
                                    std::to_string(tasks.size()) + " tasks");
    std::vector<task> out(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        if (choice[i] >= tasks[i].periods.size())
            fail(*this, i, "periods", static_cast<time_value>(choice[i]),
                 "index chosen is past the last period");
        const time_value p = tasks[i].periods[choice[i]];
        out[i] = task{tasks[i].wcet, p, tasks[i].deadline == 0 ? p : tasks[i].deadline, 0, 0};
    }
    return out;
}

enumeration_result enumerate_schedulable(const multirate_system& system,
                                         const enumeration_options& options) {
    system.validate();
    enumeration_result out;
    out.total = system.combination_count();
    const std::size_t n = system.tasks.size();
    if (n == 0) {
        out.combinations.push_back({});
        return out;
    }
    // suffix[i]: combinations of tasks i..n-1 (what a pruned prefix at depth i-1 skips).
    std::vector<std::size_t> suffix(n + 1, 1);
    for (std::size_t i = n; i-- > 0;) {
        const std::size_t k = system.tasks[i].periods.size();
        suffix[i] = suffix[i + 1] > std::numeric_limits<std::size_t>::max() / k
                        ? std::numeric_limits<std::size_t>::max()
                        : suffix[i + 1] * k;
    }
    std::vector<task> prefix;
    std::vector<std::size_t> choice;
    std::vector<time_value> responses;
    prefix.reserve(n);
    choice.reserve(n);
    responses.reserve(n);
    bool stop = false;
    // Depth-first in priority order: task i's RTA sees only tasks 0..i-1, so its verdict
    // is final once its prefix is fixed.
    auto visit = [&](auto& self, std::size_t i) -> void {
        if (i == n) {
            if (out.combinations.size() >= options.max_combinations) {
                out.truncated = true;
                stop = true;
                return;
            }
            period_combination c;
            c.choice = choice;
            c.response_times = responses;
            c.periods.reserve(n);
            for (std::size_t j = 0; j < n; ++j) {
                c.periods.push_back(prefix[j].period);
                c.utilization += static_cast<double>(prefix[j].wcet) /
                                 static_cast<double>(prefix[j].period);
            }
            out.combinations.push_back(std::move(c));
            return;
        }
        const multirate_task& mt = system.tasks[i];
        for (std::size_t k = 0; k < mt.periods.size() && !stop; ++k) {
            const time_value p = mt.periods[k];
            const task t{mt.wcet, p, mt.deadline == 0 ? p : mt.deadline, 0, 0};
            ++out.rta_calls;
            // The allocation-free exact RTA (fp.hpp), stopping at the first late job.
            detail::check_task("enumerate_schedulable", i, t);
            detail::no_recorder rec;
            const detail::fp_task_outcome r =
                detail::fp_analyse(std::span<const task>(prefix), t, rec, INT64_MAX, true);
            if (!r.response_time || *r.response_time > t.deadline) {
                out.rejected =
                    suffix[i + 1] > std::numeric_limits<std::size_t>::max() - out.rejected
                        ? std::numeric_limits<std::size_t>::max()
                        : out.rejected + suffix[i + 1];
                continue;
            }
            prefix.push_back(t);
            choice.push_back(k);
            responses.push_back(*r.response_time);
            self(self, i + 1);
            prefix.pop_back();
            choice.pop_back();
            responses.pop_back();
        }
    };
    visit(visit, 0);
    return out;
}

std::vector<std::vector<std::size_t>> every_choice(const multirate_system& system) {
    system.validate();
    std::vector<std::vector<std::size_t>> out{{}};
    for (const multirate_task& t : system.tasks) {
        std::vector<std::vector<std::size_t>> next;
        next.reserve(out.size() * t.periods.size());
        for (const auto& c : out)
            for (std::size_t k = 0; k < t.periods.size(); ++k) {
                next.push_back(c);
                next.back().push_back(k);
            }
        out = std::move(next);
    }
    return out;
}

schedule_randomizer::schedule_randomizer(std::vector<std::size_t> pool, std::uint64_t seed,
                                         time_value min_dwell)
    : _pool(std::move(pool)), _rng(seed), _min_dwell(min_dwell) {
    if (_pool.empty()) throw std::invalid_argument("schedule_randomizer: the pool is empty");
    if (min_dwell < 0)
        throw std::invalid_argument("schedule_randomizer: min_dwell " + std::to_string(min_dwell) +
                                    " must not be negative");
}

std::size_t schedule_randomizer::decide(time_value now, std::size_t current) noexcept {
    if (_last_switch && now - *_last_switch < _min_dwell) return current;
    const std::size_t next = _pool[static_cast<std::size_t>(_rng.below(_pool.size()))];
    if (next != current || !_last_switch) _last_switch = now;
    return next;
}

multirate_trace simulate_multirate(const multirate_system& system,
                                   std::span<const period_combination> combinations,
                                   std::size_t initial, time_value horizon,
                                   schedule_randomizer* randomizer) {
    system.validate();
    if (combinations.empty())
        throw std::invalid_argument("simulate_multirate: no period combination given");
    if (initial >= combinations.size())
        throw std::invalid_argument("simulate_multirate: initial combination " +
                                    std::to_string(initial) + " is past the last of " +
                                    std::to_string(combinations.size()));
    if (horizon <= 0)
        throw std::invalid_argument("simulate_multirate: horizon " + std::to_string(horizon) +
                                    " must be positive");
    const std::size_t n = system.tasks.size();
    for (const auto& c : combinations)
        if (c.periods.size() != n)
            throw std::invalid_argument("simulate_multirate: a combination of " +
                                        std::to_string(c.periods.size()) + " periods for " +
                                        std::to_string(n) + " tasks");
    multirate_trace out;
    std::size_t current = initial;
    if (randomizer) {
        current = randomizer->decide(0, initial);
        if (current >= combinations.size())
            throw std::invalid_argument("simulate_multirate: the randomiser's pool names "
                                        "combination " + std::to_string(current) +
                                        ", past the list");
        ++out.safe_points;
    }
    out.switches.emplace_back(0, current);
    if (n == 0) return out;

    std::vector<time_value> next_release(n, 0);
    std::vector<std::optional<time_value>> last_release(n);
    std::vector<std::deque<std::size_t>> ready(n);
    std::vector<time_value> remaining;
    std::size_t pending = 0;
    auto period_of = [&](std::size_t i) { return combinations[current].periods[i]; };
    auto deadline_of = [&](std::size_t i) {
        return system.tasks[i].deadline == 0 ? period_of(i) : system.tasks[i].deadline;
    };
    auto judge = [&](const job_record& j) {
        if (j.finish ? *j.finish > j.absolute_deadline : j.absolute_deadline <= horizon)
            ++out.misses;
    };

    time_value t = 0;
    for (;;) {
        // Releases at t (the safe-point decision for t, if any, came before them).
        for (std::size_t i = 0; i < n; ++i) {
            if (next_release[i] != t || t >= horizon) continue;
            job_record j;
            j.task = i;
            j.release = t;
            j.absolute_deadline = detail::checked_add(t, deadline_of(i), "job deadline");
            j.combination = current;
            ready[i].push_back(out.jobs.size());
            out.jobs.push_back(j);
            remaining.push_back(system.tasks[i].wcet);
            ++pending;
            last_release[i] = t;
            next_release[i] = detail::checked_add(t, period_of(i), "next release");
        }
        if (t >= horizon) break;
        time_value next_event = horizon;
        for (std::size_t i = 0; i < n; ++i)
            next_event = std::min(next_event, next_release[i]);
        std::size_t h = n;
        for (std::size_t i = 0; i < n && h == n; ++i)
            if (!ready[i].empty()) h = i;
        if (h == n) {  // idle until the next release
            t = next_event;
            continue;
        }
        const std::size_t id = ready[h].front();
        job_record& job = out.jobs[id];
        if (!job.start) job.start = t;
        const time_value until =
            std::min(next_event, detail::checked_add(t, remaining[id], "job completion"));
        remaining[id] -= until - t;
        t = until;
        if (remaining[id] != 0) continue;
        job.finish = t;
        judge(job);
        ready[h].pop_front();
        --pending;
        // Safe point: every job released before t has completed (releases at t are not
        // processed yet). A switch here starts a fresh busy period under the new periods.
        if (pending == 0 && randomizer && t < horizon) {
            ++out.safe_points;
            const std::size_t chosen = randomizer->decide(t, current);
            if (chosen >= combinations.size())
                throw std::invalid_argument("simulate_multirate: the randomiser's pool names "
                                            "combination " + std::to_string(chosen) +
                                            ", past the list");
            if (chosen != current) {
                current = chosen;
                out.switches.emplace_back(t, current);
                for (std::size_t i = 0; i < n; ++i)
                    next_release[i] =
                        last_release[i]
                            ? std::max(t, detail::checked_add(*last_release[i], period_of(i),
                                                              "next release"))
                            : t;
            }
        }
    }
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t id : ready[i])
            judge(out.jobs[id]);
    return out;
}

schedule_vulnerability vulnerability_of(const multirate_system& system,
                                        const period_combination& combination,
                                        std::size_t victim, time_value window,
                                        time_value max_hyperperiod) {
    system.validate();
    if (victim >= system.tasks.size())
        throw std::invalid_argument("vulnerability_of: victim " + std::to_string(victim) +
                                    " is past the last task");
    if (window < 0)
        throw std::invalid_argument("vulnerability_of: window " + std::to_string(window) +
                                    " must not be negative");
    const std::vector<task> tasks = system.instantiate(combination.choice);
    time_value h = 1;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        if (tasks[i].deadline > tasks[i].period)
            fail(system, i, "deadline", tasks[i].deadline,
                 "exceeds the period: the schedule need not repeat every hyperperiod");
        const time_value g = std::gcd(h, tasks[i].period);
        h = detail::checked_mul(h / g, tasks[i].period, "hyperperiod");
        if (h > max_hyperperiod)
            throw std::invalid_argument("vulnerability_of: the hyperperiod passes " +
                                        std::to_string(max_hyperperiod) + " ticks");
    }
    schedule_vulnerability out;
    out.hyperperiod = h;
    const multirate_trace trace =
        simulate_multirate(system, std::span(&combination, 1), 0, h, nullptr);
    std::vector<time_value> offsets;
    for (const job_record& j : trace.jobs)
        if (j.task == victim && j.start) offsets.push_back(*j.start - j.release);
    out.victim_jobs = static_cast<std::int64_t>(offsets.size());
    if (offsets.empty()) return out;
    std::sort(offsets.begin(), offsets.end());
    std::size_t best = 0, lo = 0;
    for (std::size_t hi = 0; hi < offsets.size(); ++hi) {
        while (offsets[hi] - offsets[lo] > window)
            ++lo;
        if (hi - lo + 1 > best) {
            best = hi - lo + 1;
            out.likeliest_offset = offsets[lo];
        }
    }
    out.vulnerability = static_cast<double>(best) / static_cast<double>(offsets.size());
    return out;
}

std::optional<time_value> predict_next_start(std::span<const time_value> starts,
                                             std::size_t context) {
    const std::size_t k = starts.size();
    if (k < 2) return std::nullopt;
    // gaps[j] = starts[j+1] - starts[j], m gaps.
    const std::size_t m = k - 1;
    auto gap = [&](std::size_t j) { return starts[j + 1] - starts[j]; };
    const std::size_t longest = std::min(context, m - 1);
    for (std::size_t len = longest; len >= 1; --len) {
        // An earlier window ending at e (e + 1 <= m - 1, so its successor is known) that
        // equals the last `len` gaps; the most recent one wins.
        for (std::size_t e = m - 1; e-- > len - 1;) {
            bool same = true;
            for (std::size_t d = 0; d < len && same; ++d)
                same = gap(e - d) == gap(m - 1 - d);
            if (same) return starts[k - 1] + gap(e + 1);
        }
    }
    return starts[k - 1] + gap(m - 1);
}

std::vector<time_value> start_times(const multirate_trace& trace, std::size_t victim) {
    std::vector<time_value> out;
    for (const job_record& j : trace.jobs)
        if (j.task == victim && j.start) out.push_back(*j.start);
    return out;
}

attack_result evaluate_attack(std::span<const time_value> starts, std::size_t training,
                              time_value tolerance, std::size_t context) {
    if (tolerance < 0)
        throw std::invalid_argument("evaluate_attack: tolerance " + std::to_string(tolerance) +
                                    " must not be negative");
    attack_result out;
    for (std::size_t k = std::max<std::size_t>(training, 2); k < starts.size(); ++k) {
        const auto p = predict_next_start(starts.first(k), context);
        ++out.predictions;
        if (p && (*p > starts[k] ? *p - starts[k] : starts[k] - *p) <= tolerance) ++out.hits;
    }
    if (out.predictions > 0)
        out.rate = static_cast<double>(out.hits) / static_cast<double>(out.predictions);
    return out;
}

std::vector<std::size_t> attack_aware_pool(const multirate_system& system,
                                           std::span<const period_combination> combinations,
                                           std::size_t victim, time_value window, double fraction,
                                           std::vector<double>& vulnerabilities) {
    if (combinations.empty())
        throw std::invalid_argument("attack_aware_pool: no period combination given");
    if (!(fraction > 0.0 && fraction <= 1.0))
        throw std::invalid_argument("attack_aware_pool: fraction " + std::to_string(fraction) +
                                    " must be in (0, 1]");
    vulnerabilities.assign(combinations.size(), 0.0);
    for (std::size_t k = 0; k < combinations.size(); ++k)
        vulnerabilities[k] = vulnerability_of(system, combinations[k], victim, window).vulnerability;
    std::vector<std::size_t> order(combinations.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return vulnerabilities[a] < vulnerabilities[b];
    });
    const auto keep = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(order.size()) - 1e-9)));
    // Ties with the last kept value stay in: the quantile is a vulnerability level.
    std::size_t end = keep;
    while (end < order.size() && vulnerabilities[order[end]] == vulnerabilities[order[keep - 1]])
        ++end;
    order.resize(end);
    return order;
}

multirate_system generate_multirate_system(const multirate_generator_options& options,
                                           std::uint64_t seed) {
    if (options.n == 0) throw std::invalid_argument("generate_multirate_system: n must be positive");
    if (options.period_menu.empty())
        throw std::invalid_argument("generate_multirate_system: period_menu is empty");
    for (time_value p : options.period_menu)
        if (p <= 0)
            throw std::invalid_argument("generate_multirate_system: period_menu entry " +
                                        std::to_string(p) + " must be positive");
    if (!(options.max_stretch >= 1.0))
        throw std::invalid_argument("generate_multirate_system: max_stretch must be >= 1");
    rng r(seed);
    const std::vector<double> u = uunifast_discard(options.n, options.utilization, 1.0, r);
    std::vector<time_value> menu = options.period_menu;
    std::sort(menu.begin(), menu.end());
    menu.erase(std::unique(menu.begin(), menu.end()), menu.end());
    multirate_system s;
    s.tasks.resize(options.n);
    for (std::size_t i = 0; i < options.n; ++i) {
        const time_value nominal = menu[static_cast<std::size_t>(r.below(menu.size()))];
        multirate_task& t = s.tasks[i];
        t.periods.push_back(nominal);
        for (time_value p : menu)
            if (p > nominal && static_cast<double>(p) <= options.max_stretch * static_cast<double>(nominal) &&
                t.periods.size() <= options.alternatives)
                t.periods.push_back(p);
        t.wcet = std::max<time_value>(
            1, static_cast<time_value>(std::llround(u[i] * static_cast<double>(nominal))));
    }
    std::stable_sort(s.tasks.begin(), s.tasks.end(),
                     [](const multirate_task& a, const multirate_task& b) {
                         return a.periods.front() < b.periods.front();
                     });
    return s;
}

}  // namespace keel::sched
