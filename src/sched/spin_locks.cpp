// Spin-lock protocols on partitioned FP multiprocessors: model checks, the per-request
// (MSRP / PWLP) bounds, FRAP's flow bound and its level assignment. The derivations of
// every term are in docs/sched/spin_locks.md, section "Analysis".

#include <keel/sched/detail/checked.hpp>
#include <keel/sched/spin_locks.hpp>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/successive_shortest_path_nonnegative_weights.hpp>

// After successive_shortest_path: find_flow_cost.hpp relies on its includes.
#include <boost/graph/find_flow_cost.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

namespace keel::sched {

using detail::ceil_div;
using detail::checked_add;
using detail::checked_mul;

namespace {

[[noreturn]] void bad_task(std::size_t i, const std::string& field, const std::string& what) {
    throw std::invalid_argument("spin_system: task " + std::to_string(i + 1) + " (index " +
                                std::to_string(i) + "): " + field + " " + what);
}

}  // namespace

std::string spin_system::name_of(std::size_t i) const {
    if (i < names.size()) return names[i];
    return "t" + std::to_string(i + 1);
}

bool spin_system::is_global(std::size_t resource) const {
    std::size_t first = cores;
    for (std::size_t i = 0; i < sections.size() && i < core.size(); ++i)
        for (const critical_section& s : sections[i])
            if (s.resource == resource) {
                if (first == cores)
                    first = core[i];
                else if (core[i] != first)
                    return true;
            }
    return false;
}

void spin_system::validate() const {
    if (cores == 0) throw std::invalid_argument("spin_system: cores must be at least 1");
    const std::size_t n = tasks.size();
    if (core.size() != n || priority.size() != n || sections.size() != n)
        throw std::invalid_argument(
            "spin_system: core, priority and sections need one entry "
            "per task (" +
            std::to_string(n) + " tasks)");
    if (!names.empty() && names.size() != n)
        throw std::invalid_argument("spin_system: names needs one entry per task or none");
    std::set<std::pair<std::size_t, std::int64_t>> seen;
    for (std::size_t i = 0; i < n; ++i) {
        const task& t = tasks[i];
        if (t.wcet <= 0) bad_task(i, "wcet", std::to_string(t.wcet) + " must be positive");
        if (t.period <= 0) bad_task(i, "period", std::to_string(t.period) + " must be positive");
        if (t.deadline <= 0)
            bad_task(i, "deadline", std::to_string(t.deadline) + " must be positive");
        if (t.jitter != 0) bad_task(i, "jitter", "must be 0 (the spin analyses assume none)");
        if (t.blocking != 0)
            bad_task(i, "blocking", "must be 0 (the spin analyses compute the blocking)");
        if (core[i] >= cores)
            bad_task(i, "core",
                     std::to_string(core[i]) + " is not below cores = " + std::to_string(cores));
        if (!seen.emplace(core[i], priority[i]).second)
            bad_task(i, "priority",
                     std::to_string(priority[i]) + " is used by another task of core " +
                         std::to_string(core[i]));
        time_value total = 0;
        std::set<std::size_t> used;
        for (std::size_t s = 0; s < sections[i].size(); ++s) {
            const critical_section& cs = sections[i][s];
            const std::string field = "critical_sections[" + std::to_string(s) + "].";
            if (cs.resource >= resources)
                bad_task(i, field + "resource",
                         std::to_string(cs.resource) +
                             " is not below resources = " + std::to_string(resources));
            if (cs.length <= 0)
                bad_task(i, field + "length", std::to_string(cs.length) + " must be positive");
            if (cs.count <= 0)
                bad_task(i, field + "count", std::to_string(cs.count) + " must be positive");
            if (!used.insert(cs.resource).second)
                bad_task(i, field + "resource",
                         std::to_string(cs.resource) + " is listed twice (merge the sections)");
            total = checked_add(total, checked_mul(cs.count, cs.length, "section time"),
                                "section time");
        }
        if (total > t.wcet)
            bad_task(
                i, "critical_sections",
                "total " + std::to_string(total) + " exceeds the wcet " + std::to_string(t.wcet));
    }
    for (std::size_t a = 0; a < names.size(); ++a)
        for (std::size_t b = a + 1; b < names.size(); ++b)
            if (names[a] == names[b]) bad_task(b, "name", "'" + names[b] + "' is used twice");
}

spin_levels msrp_levels(const spin_system& system) {
    std::vector<std::int64_t> top(system.cores, std::numeric_limits<std::int64_t>::max());
    for (std::size_t i = 0; i < system.tasks.size(); ++i)
        top[system.core[i]] = std::min(top[system.core[i]], system.priority[i]);
    spin_levels levels(system.tasks.size());
    for (std::size_t i = 0; i < system.tasks.size(); ++i)
        levels[i].assign(system.resources, top[system.core[i]]);
    return levels;
}

spin_levels pwlp_levels(const spin_system& system) {
    spin_levels levels(system.tasks.size());
    for (std::size_t i = 0; i < system.tasks.size(); ++i)
        levels[i].assign(system.resources, system.priority[i]);
    return levels;
}

namespace {

/// What every analysis needs of a validated system: per core its tasks, per resource
/// whether it is global, L[q][k] (longest section of k on core q), S(c, k).
struct spin_context {
    const spin_system& sys;
    std::vector<bool> global;
    std::vector<std::vector<time_value>> longest;  // [core][resource]
    std::vector<std::vector<std::size_t>> on_core;
    std::vector<time_value> own_spin;  // per task, sum_k N^k S(c, k)
    std::vector<std::int64_t> ceiling;  // per resource, the highest priority of its users

    explicit spin_context(const spin_system& s) : sys(s) {
        s.validate();
        global.resize(s.resources);
        for (std::size_t k = 0; k < s.resources; ++k)
            global[k] = s.is_global(k);
        longest.assign(s.cores, std::vector<time_value>(s.resources, 0));
        on_core.resize(s.cores);
        ceiling.assign(s.resources, std::numeric_limits<std::int64_t>::max());
        for (std::size_t i = 0; i < s.tasks.size(); ++i) {
            on_core[s.core[i]].push_back(i);
            for (const critical_section& cs : s.sections[i]) {
                longest[s.core[i]][cs.resource] =
                    std::max(longest[s.core[i]][cs.resource], cs.length);
                ceiling[cs.resource] = std::min(ceiling[cs.resource], s.priority[i]);
            }
        }
        own_spin.resize(s.tasks.size());
        for (std::size_t i = 0; i < s.tasks.size(); ++i) {
            time_value sum = 0;
            for (const critical_section& cs : s.sections[i])
                sum = checked_add(sum,
                                  checked_mul(cs.count, spin(s.core[i], cs.resource), "own spin"),
                                  "own spin");
            own_spin[i] = sum;
        }
    }

    /// S(c, k): one attempt of core c for k waits at most for one section of each other
    /// core (FIFO, one queued request per core at a time).
    [[nodiscard]] time_value spin(std::size_t c, std::size_t k) const {
        if (!global[k]) return 0;
        time_value sum = 0;
        for (std::size_t q = 0; q < sys.cores; ++q)
            if (q != c) sum = checked_add(sum, longest[q][k], "spin bound");
        return sum;
    }

    [[nodiscard]] bool higher(std::size_t j, std::size_t i) const {
        return sys.priority[j] < sys.priority[i];
    }

    /// Whether a lower-priority section on resource k can block task i: a global section
    /// runs non-preemptively (always); a local one runs at k's ceiling under the SRP
    /// (only when the ceiling is at or above i's priority).
    [[nodiscard]] bool blocks(std::size_t k, std::size_t i) const {
        return global[k] || ceiling[k] <= sys.priority[i];
    }
};

void check_levels(const spin_system& sys, const spin_levels& levels) {
    if (levels.size() != sys.tasks.size())
        throw std::invalid_argument("spin levels: need one row per task (" +
                                    std::to_string(sys.tasks.size()) + "), got " +
                                    std::to_string(levels.size()));
    for (std::size_t i = 0; i < levels.size(); ++i) {
        if (levels[i].size() != sys.resources)
            bad_task(i, "spin_levels",
                     "needs one level per resource (" + std::to_string(sys.resources) + ")");
        for (std::size_t k = 0; k < sys.resources; ++k)
            if (levels[i][k] > sys.priority[i])
                bad_task(i, "spin_levels[" + std::to_string(k) + "]",
                         std::to_string(levels[i][k]) + " is below the task's priority " +
                             std::to_string(sys.priority[i]) + " (must be <= it)");
    }
}

constexpr std::int64_t job_limit = 100'000;

/// Busy-period RTA of task i with a demand function demand(q, w) (the work of jobs 0..q
/// of task i and everything else in a window of length w, nondecreasing in w). Stops at
/// the first job past the deadline.
template <class Demand>
void busy_period_rta(const task& t, spin_task_result& r, Demand&& demand) {
    time_value w = t.wcet;
    time_value worst = 0;
    for (std::int64_t q = 0;; ++q) {
        for (;;) {
            ++r.iterations;
            const time_value next = demand(q, w);
            if (next <= w) break;
            w = next;
            const time_value release = checked_mul(q, t.period, "job release");
            if (w - release > t.deadline) {  // past the deadline: stop
                r.response_time.reset();
                r.jobs_examined = q + 1;
                r.schedulable = false;
                return;
            }
        }
        const time_value response = w - checked_mul(q, t.period, "job release");
        worst = std::max(worst, response);
        if (w <= checked_mul(q + 1, t.period, "next release") || q + 1 >= job_limit) {
            r.jobs_examined = q + 1;
            if (q + 1 >= job_limit && w > checked_mul(q + 1, t.period, "next release")) {
                r.response_time.reset();
                r.schedulable = false;
                return;
            }
            break;
        }
        w = checked_add(w, t.wcet, "next job");
    }
    r.response_time = worst;
    r.schedulable = worst <= t.deadline;
}

/// The classic per-request terms of task i under `levels`.
struct classic_terms {
    time_value blocking = 0;
    std::vector<time_value> extra;  // per hp task (index in hp): E_ij
    std::vector<std::size_t> hp;
};

classic_terms classic_terms_of(const spin_context& ctx, const spin_levels& levels, std::size_t i) {
    const spin_system& s = ctx.sys;
    const std::size_t c = s.core[i];
    classic_terms out;
    for (std::size_t l : ctx.on_core[c]) {
        if (l == i) continue;
        if (ctx.higher(l, i)) {
            out.hp.push_back(l);
            continue;
        }
        for (const critical_section& cs : s.sections[l]) {
            if (!ctx.blocks(cs.resource, i)) continue;
            time_value region = cs.length;
            if (ctx.global[cs.resource] && levels[l][cs.resource] <= s.priority[i])
                region = checked_add(region, ctx.spin(c, cs.resource), "blocking");
            out.blocking = std::max(out.blocking, region);
        }
    }
    for (std::size_t j : out.hp) {
        time_value e = 0;
        for (std::size_t x : ctx.on_core[c]) {
            if (x != i && !ctx.higher(x, i)) continue;
            for (const critical_section& cs : s.sections[x])
                if (ctx.global[cs.resource] && s.priority[j] < levels[x][cs.resource])
                    e = std::max(e, ctx.spin(c, cs.resource));
        }
        out.extra.push_back(e);
    }
    return out;
}

spin_task_result classic_task(const spin_context& ctx, const spin_levels& levels, std::size_t i) {
    const spin_system& system = ctx.sys;
    const classic_terms terms = classic_terms_of(ctx, levels, i);
    spin_task_result r;
    r.own_spin = ctx.own_spin[i];
    r.arrival_blocking = terms.blocking;
    const task& ti = system.tasks[i];
    const time_value own = checked_add(ti.wcet, ctx.own_spin[i], "inflated wcet");
    time_value window_spin = 0;
    busy_period_rta(ti, r, [&](std::int64_t q, time_value w) {
        time_value d = checked_add(checked_mul(q + 1, own, "own demand"), terms.blocking, "demand");
        window_spin = checked_mul(q + 1, ctx.own_spin[i], "own spin");
        for (std::size_t h = 0; h < terms.hp.size(); ++h) {
            const std::size_t j = terms.hp[h];
            const time_value jobs = ceil_div(w, system.tasks[j].period);
            const time_value spin = checked_add(ctx.own_spin[j], terms.extra[h], "spin");
            d = checked_add(d,
                            checked_mul(jobs, checked_add(system.tasks[j].wcet, spin, "hp"), "hp"),
                            "demand");
            window_spin = checked_add(window_spin, checked_mul(jobs, spin, "hp"), "spin");
        }
        return d;
    });
    r.spin_in_window = window_spin;
    return r;
}

spin_result classic(const spin_system& system, const spin_levels& levels, spin_protocol p) {
    const spin_context ctx(system);
    check_levels(system, levels);
    spin_result result;
    result.protocol = p;
    result.levels = levels;
    result.schedulable = true;
    result.tasks.resize(system.tasks.size());
    for (std::size_t i = 0; i < system.tasks.size(); ++i) {
        result.tasks[i] = classic_task(ctx, levels, i);
        result.schedulable = result.schedulable && result.tasks[i].schedulable;
    }
    return result;
}

// ---------------------------------------------------------------------------------------
// FRAP: the flow bound.

using flow_traits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
using flow_graph = boost::adjacency_list<
    boost::vecS, boost::vecS, boost::directedS, boost::no_property,
    boost::property<
        boost::edge_capacity_t, long,
        boost::property<boost::edge_residual_capacity_t, long,
                        boost::property<boost::edge_reverse_t, flow_traits::edge_descriptor,
                                        boost::property<boost::edge_weight_t, double>>>>>;

/// Costs are doubles (integers well below 2^53, so exact): Boost's successive shortest
/// paths adds the distance of vertices the source no longer reaches (the "infinite"
/// maximum of the distance type) to their potentials, which overflows a signed integer
/// type (undefined behaviour, reported by UBSan) but stays +inf in floating point.
class flow_builder {
public:
    explicit flow_builder(std::size_t vertices) : _g(vertices) {}
    void arc(std::size_t u, std::size_t v, long capacity, long cost) {
        auto cap = boost::get(boost::edge_capacity, _g);
        auto rev = boost::get(boost::edge_reverse, _g);
        auto weight = boost::get(boost::edge_weight, _g);
        const auto e = boost::add_edge(u, v, _g).first;
        const auto r = boost::add_edge(v, u, _g).first;
        cap[e] = capacity;
        cap[r] = 0;
        weight[e] = static_cast<double>(cost);
        weight[r] = -static_cast<double>(cost);
        rev[e] = r;
        rev[r] = e;
    }
    /// Runs successive shortest paths; returns (flow value, cost).
    std::pair<long, long> solve(std::size_t source, std::size_t sink) {
        boost::successive_shortest_path_nonnegative_weights(_g, source, sink);
        const auto cost = static_cast<long>(std::llround(boost::find_flow_cost(_g)));
        auto cap = boost::get(boost::edge_capacity, _g);
        auto res = boost::get(boost::edge_residual_capacity, _g);
        long flow = 0;
        for (auto [it, end] = boost::out_edges(source, _g); it != end; ++it)
            if (cap[*it] > 0) flow += cap[*it] - res[*it];
        return {flow, cost};
    }

private:
    flow_graph _g;
};

/// Per core, per global resource: the remote requests one attempt can meet.
struct frap_core_data {
    // For resource k, per remote core q: (length, tasks' per-job count, T, D) of remote
    // tasks, sorted by length, longest first.
    struct remote {
        time_value length;
        std::int64_t count;
        time_value period, deadline;
    };
    std::vector<std::vector<std::vector<remote>>> remote_of;  // [k][q]
};

frap_core_data core_data(const spin_context& ctx, std::size_t c) {
    const spin_system& s = ctx.sys;
    frap_core_data d;
    d.remote_of.assign(s.resources, std::vector<std::vector<frap_core_data::remote>>(s.cores));
    for (std::size_t x = 0; x < s.tasks.size(); ++x) {
        if (s.core[x] == c) continue;
        for (const critical_section& cs : s.sections[x])
            if (ctx.global[cs.resource])
                d.remote_of[cs.resource][s.core[x]].push_back(
                    {cs.length, cs.count, s.tasks[x].period, s.tasks[x].deadline});
    }
    for (auto& per_k : d.remote_of)
        for (auto& per_q : per_k)
            std::sort(per_q.begin(), per_q.end(),
                      [](const auto& a, const auto& b) { return a.length > b.length; });
    return d;
}

/// The flow bound for task i, job q, window w: returns (total spin + lower-priority
/// region, that region's share).
struct frap_bound {
    time_value total = 0;
    time_value region = 0;
};

frap_bound frap_window(const spin_context& ctx, const frap_core_data& cd, const spin_levels& levels,
                       std::size_t i, std::int64_t q, time_value w, std::int64_t& solves) {
    const spin_system& s = ctx.sys;
    const std::size_t c = s.core[i];
    const std::size_t nk = s.resources;
    std::vector<std::size_t> hp;
    std::vector<std::size_t> lp;
    for (std::size_t x : ctx.on_core[c]) {
        if (x == i) continue;
        (ctx.higher(x, i) ? hp : lp).push_back(x);
    }
    // Direct attempts per resource.
    std::vector<std::int64_t> direct(nk, 0);
    for (const critical_section& cs : s.sections[i])
        if (ctx.global[cs.resource])
            direct[cs.resource] = checked_add(direct[cs.resource],
                                              checked_mul(q + 1, cs.count, "attempts"), "attempts");
    std::vector<std::int64_t> arrivals(hp.size());
    for (std::size_t h = 0; h < hp.size(); ++h) {
        arrivals[h] = ceil_div(w, s.tasks[hp[h]].period);
        for (const critical_section& cs : s.sections[hp[h]])
            if (ctx.global[cs.resource])
                direct[cs.resource] =
                    checked_add(direct[cs.resource], checked_mul(arrivals[h], cs.count, "attempts"),
                                "attempts");
    }
    // Remote supply, expanded lazily: gain of the a-th attempt of k (1-based) is the sum
    // over remote cores of the a-th longest request in the window.
    std::vector<std::vector<std::vector<std::pair<time_value, std::int64_t>>>> supply(nk);
    std::vector<std::int64_t> most(nk, 0);  // largest remote count over cores
    for (std::size_t k = 0; k < nk; ++k) {
        if (!ctx.global[k]) continue;
        supply[k].resize(s.cores);
        for (std::size_t qq = 0; qq < s.cores; ++qq) {
            if (qq == c) continue;
            std::int64_t total = 0;
            for (const auto& r : cd.remote_of[k][qq]) {
                const std::int64_t jobs =
                    ceil_div(checked_add(w, r.deadline, "remote window"), r.period);
                const std::int64_t n = checked_mul(jobs, r.count, "remote requests");
                supply[k][qq].emplace_back(r.length, n);
                total = checked_add(total, n, "remote requests");
            }
            most[k] = std::max(most[k], total);
        }
    }
    // The gain of the a-th attempt (1-based) is the sum over other cores of their a-th
    // longest request: piecewise constant in a. For a in [from, to) calls f(gain, count)
    // once per constant run, so that the work is per run, not per attempt.
    auto gains = [&](std::size_t k, std::int64_t from, std::int64_t to, auto&& f) {
        std::vector<std::size_t> idx(s.cores, 0);
        std::vector<std::int64_t> end(s.cores, 0);           // positions before the current entry
        auto settle = [&](std::size_t qq, std::int64_t a) {  // move to the entry holding a
            auto& v = supply[k][qq];
            while (idx[qq] < v.size() && end[qq] + v[idx[qq]].second < a) {
                end[qq] += v[idx[qq]].second;
                ++idx[qq];
            }
        };
        for (std::int64_t a = from; a < to;) {
            time_value g = 0;
            std::int64_t boundary = to - 1;
            for (std::size_t qq = 0; qq < s.cores; ++qq) {
                if (qq == c) continue;
                settle(qq, a);
                auto& v = supply[k][qq];
                if (idx[qq] >= v.size()) continue;
                g = checked_add(g, v[idx[qq]].first, "spin gain");
                boundary = std::min(boundary, end[qq] + v[idx[qq]].second);
            }
            f(g, boundary - a + 1);
            a = boundary + 1;
        }
    };
    time_value base = 0;
    for (std::size_t k = 0; k < nk; ++k) {
        if (!ctx.global[k] || direct[k] == 0) continue;
        gains(k, 1, std::min(direct[k], most[k]) + 1, [&](time_value g, std::int64_t count) {
            base = checked_add(base, checked_mul(g, count, "spin"), "spin");
        });
    }
    // Tokens: one repeated attempt per hp arrival that preempts a spinner; eligible
    // resources: those that task i or a higher-priority task spins for below j's level.
    std::vector<std::vector<std::size_t>> eligible(hp.size());
    std::int64_t tokens = 0;
    for (std::size_t h = 0; h < hp.size(); ++h) {
        std::vector<bool> ok(nk, false);
        for (std::size_t x : ctx.on_core[c]) {
            if (x != i && !ctx.higher(x, i)) continue;
            for (const critical_section& cs : s.sections[x])
                if (ctx.global[cs.resource] && s.priority[hp[h]] < levels[x][cs.resource])
                    ok[cs.resource] = true;
        }
        for (std::size_t k = 0; k < nk; ++k)
            if (ok[k] && most[k] > direct[k]) eligible[h].push_back(k);
        if (!eligible[h].empty()) tokens = checked_add(tokens, arrivals[h], "tokens");
    }
    // The lower-priority region: a section alone, or a section with one attempt of k.
    time_value cs_only = 0;
    std::vector<time_value> cs_with_spin(nk, -1);
    for (std::size_t l : lp)
        for (const critical_section& cs : s.sections[l]) {
            if (!ctx.blocks(cs.resource, i)) continue;
            cs_only = std::max(cs_only, cs.length);
            if (ctx.global[cs.resource] && levels[l][cs.resource] <= s.priority[i])
                cs_with_spin[cs.resource] = std::max(cs_with_spin[cs.resource], cs.length);
        }
    bool any_spin_region = false;
    for (std::size_t k = 0; k < nk; ++k)
        any_spin_region = any_spin_region || (cs_with_spin[k] >= 0 && most[k] > direct[k]);
    if (tokens == 0 && !any_spin_region) return {checked_add(base, cs_only, "spin"), cs_only};

    // Graph: 0 source, 1 sink, 2 blk, 3 cs-only, then hp tokens, then resources.
    const std::size_t source = 0, sink = 1, blk = 2, csonly = 3;
    const std::size_t first_tok = 4, first_res = first_tok + hp.size();
    flow_builder g(first_res + nk);
    time_value top_gain = 0, top_region = cs_only;
    for (std::size_t k = 0; k < nk; ++k)
        top_region = std::max(top_region, cs_with_spin[k]);
    // Gain arcs of each resource: attempts direct+1 ... up to what tokens can add, one
    // arc per run of equal gain (capacity: the run's length).
    std::vector<std::vector<std::pair<time_value, std::int64_t>>> unit(nk);
    const std::int64_t extra = tokens + 1;
    for (std::size_t k = 0; k < nk; ++k) {
        if (!ctx.global[k] || most[k] <= direct[k]) continue;
        const std::int64_t to = std::min(most[k], checked_add(direct[k], extra, "units")) + 1;
        gains(k, direct[k] + 1, to, [&](time_value gk, std::int64_t count) {
            unit[k].emplace_back(gk, count);
            top_gain = std::max(top_gain, gk);
        });
    }
    const long m1 = top_gain, m2 = top_region;  // shifts: every path has one arc of each layer
    for (std::size_t k = 0; k < nk; ++k) {
        if (!ctx.global[k]) continue;
        for (const auto& [gk, count] : unit[k])
            g.arc(first_res + k, sink, static_cast<long>(count), m1 - gk);
        g.arc(first_res + k, sink, static_cast<long>(extra), m1);  // attempts past the supply
    }
    g.arc(csonly, sink, 1, m1);
    for (std::size_t h = 0; h < hp.size(); ++h) {
        if (eligible[h].empty()) continue;
        g.arc(source, first_tok + h, static_cast<long>(arrivals[h]), 0);
        for (std::size_t k : eligible[h])
            g.arc(first_tok + h, first_res + k, static_cast<long>(arrivals[h]), m2);
    }
    if (!lp.empty()) {
        g.arc(source, blk, 1, 0);
        g.arc(blk, csonly, 1, m2 - cs_only);
        for (std::size_t k = 0; k < nk; ++k)
            if (cs_with_spin[k] >= 0 && ctx.global[k])
                g.arc(blk, first_res + k, 1, m2 - cs_with_spin[k]);
    }
    ++solves;
    const auto [flow, cost] = g.solve(source, sink);
    const time_value gain = flow * (m1 + m2) - cost;
    // The region's share is not separated by the flow; report the bound on it.
    return {checked_add(base, gain, "spin"), lp.empty() ? 0 : top_region};
}

/// FRAP analysis of the tasks of core c under `levels`; writes results of those tasks.
bool frap_core(const spin_context& ctx, const frap_core_data& cd, const spin_levels& levels,
               std::size_t c, std::vector<spin_task_result>& out) {
    const spin_system& s = ctx.sys;
    bool ok = true;
    for (std::size_t i : ctx.on_core[c]) {
        spin_task_result& r = out[i];
        r = {};
        r.own_spin = ctx.own_spin[i];
        std::vector<std::size_t> hp;
        for (std::size_t x : ctx.on_core[c])
            if (ctx.higher(x, i)) hp.push_back(x);
        frap_bound last;
        busy_period_rta(s.tasks[i], r, [&](std::int64_t q, time_value w) {
            time_value d = checked_mul(q + 1, s.tasks[i].wcet, "own demand");
            for (std::size_t j : hp)
                d = checked_add(
                    d, checked_mul(ceil_div(w, s.tasks[j].period), s.tasks[j].wcet, "hp demand"),
                    "demand");
            last = frap_window(ctx, cd, levels, i, q, w, r.flow_solves);
            return checked_add(d, last.total, "demand");
        });
        r.arrival_blocking = last.region;
        r.spin_in_window = last.total - last.region;
        ok = ok && r.schedulable;
    }
    return ok;
}

}  // namespace

spin_result spin_classic_analysis(const spin_system& system, const spin_levels& levels) {
    return classic(system, levels, spin_protocol::frap);
}

spin_result msrp_analysis(const spin_system& system) {
    system.validate();  // before msrp_levels reads the cores
    return classic(system, msrp_levels(system), spin_protocol::msrp);
}

spin_result pwlp_analysis(const spin_system& system) {
    system.validate();
    return classic(system, pwlp_levels(system), spin_protocol::pwlp);
}

spin_result frap_analysis(const spin_system& system, const spin_levels& levels) {
    const spin_context ctx(system);
    check_levels(system, levels);
    spin_result result;
    result.protocol = spin_protocol::frap;
    result.levels = levels;
    result.assignments_tried = 1;
    result.tasks.resize(system.tasks.size());
    result.schedulable = true;
    for (std::size_t c = 0; c < system.cores; ++c) {
        const frap_core_data cd = core_data(ctx, c);
        result.schedulable = frap_core(ctx, cd, levels, c, result.tasks) && result.schedulable;
    }
    return result;
}

spin_result frap(const spin_system& system, bool evidence) {
    const spin_context ctx(system);
    const spin_levels high = msrp_levels(system);
    const spin_levels low = pwlp_levels(system);
    spin_result result;
    result.protocol = spin_protocol::frap;
    result.tasks.resize(system.tasks.size());
    result.levels = low;
    result.schedulable = true;
    // A core's verdict depends only on its own tasks' levels: search each core alone.
    for (std::size_t c = 0; c < system.cores; ++c) {
        const frap_core_data cd = core_data(ctx, c);
        const auto& tasks = ctx.on_core[c];
        auto use = [&](const spin_levels& from) {
            for (std::size_t i : tasks)
                result.levels[i] = from[i];
        };
        std::vector<spin_task_result> scratch(system.tasks.size());
        auto attempt = [&]() {
            ++result.assignments_tried;
            // The per-request bound is never below the flow bound (same levels): when it
            // accepts the core, so does the flow bound; solve the flows only for evidence.
            bool quick = true;
            for (std::size_t i : tasks) {
                scratch[i] = classic_task(ctx, result.levels, i);
                quick = quick && scratch[i].schedulable;
            }
            const bool ok = (quick && !evidence) || frap_core(ctx, cd, result.levels, c, scratch);
            for (std::size_t i : tasks)
                result.tasks[i] = scratch[i];
            return ok;
        };
        use(high);
        if (attempt()) continue;
        use(low);
        if (attempt()) continue;
        // Raise the levels of the highest-priority failing task one step at a time.
        std::vector<std::int64_t> prios;
        for (std::size_t i : tasks)
            prios.push_back(system.priority[i]);
        std::sort(prios.begin(), prios.end());
        bool ok = false;
        const std::size_t limit = tasks.size() * tasks.size();
        for (std::size_t step = 0; step < limit && !ok; ++step) {
            std::size_t failing = system.tasks.size();
            for (std::size_t i : tasks)
                if (!result.tasks[i].schedulable && (failing == system.tasks.size() ||
                                                     system.priority[i] < system.priority[failing]))
                    failing = i;
            bool raised = false;
            for (std::size_t k = 0; k < system.resources; ++k) {
                std::int64_t& lv = result.levels[failing][k];
                const auto it = std::lower_bound(prios.begin(), prios.end(), lv);
                if (it != prios.begin()) {
                    lv = *std::prev(it);
                    raised = true;
                }
            }
            if (!raised) break;
            ok = attempt();
        }
        result.schedulable = result.schedulable && ok;
    }
    return result;
}

}  // namespace keel::sched
