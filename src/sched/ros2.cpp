#include <keel/sched/ros2.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace keel::sched {

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("ros2: " + what); }

std::string callback_label(const ros2_system& s, std::size_t k) {
    return "callback " + std::to_string(k) + " '" + s.callbacks[k].name + "'";
}
std::string chain_label(const ros2_system& s, std::size_t c) {
    return "chain " + std::to_string(c) + " '" + s.chains[c].name + "'";
}

using detail::ceil_div;
using detail::checked_add;
using detail::checked_mul;

/// What every callback's fixed point needs, precomputed once per analysis.
struct prepared {
    std::size_t m = 1;
    std::vector<time_value> wcet, period;
    std::vector<std::size_t> group;
    std::vector<bool> mutex;       // per callback: its group is mutually exclusive
    std::vector<std::int64_t> prio;  // chain priority
    std::vector<std::size_t> chain, position;
    std::vector<std::size_t> pred;   // predecessor in the chain, or npos
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    /// j before c in the priority-driven executor's order: chain priority, then the later
    /// position in the chain, then callback index (ros2_priority_before).
    bool higher(std::size_t j, std::size_t c) const {
        if (prio[j] != prio[c]) return prio[j] < prio[c];
        if (position[j] != position[c]) return position[j] > position[c];
        return j < c;
    }
};

/// Jobs of callback j, other than those of the chain instance under analysis (released
/// at r, the window's start), that can execute in [r, r + x): their chain releases lie in
/// (r - E_j, r + x), at most ceil((x + E_j) / T_j); in the analysed chain the instance at
/// r itself is one of them, and the others are at r + kT, k != 0, with kT < x (k >= 1) or
/// |k| T < E_j (k <= -1): at most ceil(x/T) - 1 + ceil(E_j/T) - 1.
std::int64_t jobs_in_window(const prepared& p, const std::vector<time_value>& e, std::size_t j,
                            std::size_t chain, time_value x) {
    std::int64_t n = ceil_div(checked_add(x, e[j], "ros2 window"), p.period[j]);
    if (p.chain[j] == chain)
        n = std::min(n - 1, ceil_div(x, p.period[j]) - 1 + ceil_div(e[j], p.period[j]) - 1);
    return std::max<std::int64_t>(n, 0);
}

/// Sum of the `count` largest lower-priority execution chunks that can be running at once
/// beside a job of c: the jobs of one chain X run one after another within an instance,
/// and at most ceil(E_X / T_X) of its instances are in flight at any time (E_X its
/// end-to-end bound), so X adds min(m, ceil(E_X / T_X)) chunks of its largest WCET among
/// its callbacks below c. Callbacks of group `skip` (npos: none) are left out.
time_value lower_priority_blocking(const prepared& p, const ros2_system& s, const std::vector<time_value>& e,
                                   std::size_t c, std::size_t skip, std::size_t count) {
    std::vector<time_value> chunks;
    for (std::size_t x = 0; x < s.chains.size(); ++x) {
        time_value largest = 0;
        for (std::size_t j : s.chains[x].callbacks)
            if (j != c && p.higher(c, j) && p.group[j] != skip) largest = std::max(largest, p.wcet[j]);
        if (largest == 0) continue;
        const std::size_t last = s.chains[x].callbacks.back();
        const auto in_flight = static_cast<std::size_t>(ceil_div(e[last], p.period[last]));
        chunks.insert(chunks.end(), std::min(p.m, in_flight), largest);
    }
    const std::size_t take = std::min(count, chunks.size());
    std::partial_sort(chunks.begin(), chunks.begin() + static_cast<std::ptrdiff_t>(take), chunks.end(),
                      std::greater<>());
    time_value b = 0;
    for (std::size_t i = 0; i < take; ++i) b = checked_add(b, chunks[i], "ros2 blocking");
    return b;
}

/// Least x > base with m (x - base) > f(x) (f nondecreasing), by
/// x <- base + floor(f(x) / m) + 1 from `start` (any value at most that least x, e.g.
/// base + 1, or the previous round's answer); nullopt once x passes `limit`.
template <class F>
std::optional<time_value> least_window(time_value m, time_value base, time_value start, time_value limit, F&& f) {
    time_value x = std::max(start, checked_add(base, 1, "ros2 window"));
    for (;;) {
        const time_value next = checked_add(base, checked_add(f(x) / m, 1, "ros2 window"), "ros2 window");
        if (next == x) return x;
        if (next > limit) return std::nullopt;
        x = next;
    }
}

}  // namespace

const char* to_string(ros2_executor executor) noexcept {
    return executor == ros2_executor::default_executor ? "default" : "priority";
}

void ros2_system::validate() const {
    if (threads == 0) bad("threads must be >= 1");
    std::unordered_set<std::string> names;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const std::string label = "group " + std::to_string(g) + " '" + groups[g].name + "'";
        if (groups[g].name.empty()) bad("group " + std::to_string(g) + ": empty name");
        if (!names.insert(groups[g].name).second) bad(label + ": name used twice");
    }
    names.clear();
    for (std::size_t k = 0; k < callbacks.size(); ++k) {
        const ros2_callback& cb = callbacks[k];
        const std::string label = callback_label(*this, k);
        if (cb.name.empty()) bad("callback " + std::to_string(k) + ": empty name");
        if (!names.insert(cb.name).second) bad(label + ": name used twice");
        if (cb.wcet <= 0) bad(label + ": wcet must be > 0");
        if (cb.group >= groups.size()) bad(label + ": group index out of range");
        if (cb.kind == ros2_callback_kind::timer) {
            if (cb.period <= 0) bad(label + ": a timer needs a period > 0");
            if (cb.phase < 0 || cb.phase >= cb.period) bad(label + ": phase must be in [0, period)");
        } else {
            if (cb.period != 0) bad(label + ": a subscription has no period (its predecessor releases it)");
            if (cb.phase != 0) bad(label + ": a subscription has no phase");
        }
    }
    names.clear();
    std::vector<int> seen(callbacks.size(), 0);
    for (std::size_t c = 0; c < chains.size(); ++c) {
        const ros2_chain& ch = chains[c];
        const std::string label = chain_label(*this, c);
        if (ch.name.empty()) bad("chain " + std::to_string(c) + ": empty name");
        if (!names.insert(ch.name).second) bad(label + ": name used twice");
        if (ch.callbacks.empty()) bad(label + ": no callbacks");
        if (ch.deadline <= 0) bad(label + ": deadline must be > 0");
        for (std::size_t i = 0; i < ch.callbacks.size(); ++i) {
            const std::size_t k = ch.callbacks[i];
            if (k >= callbacks.size()) bad(label + ": callback index " + std::to_string(k) + " out of range");
            const bool timer = callbacks[k].kind == ros2_callback_kind::timer;
            if (i == 0 && !timer) bad(label + ": must start with a timer, not " + callback_label(*this, k));
            if (i > 0 && timer) bad(label + ": " + callback_label(*this, k) + " is a timer after the chain's start");
            if (++seen[k] > 1) bad(callback_label(*this, k) + ": in more than one chain (or twice in " + label + ")");
        }
    }
    for (std::size_t k = 0; k < callbacks.size(); ++k)
        if (seen[k] == 0) bad(callback_label(*this, k) + ": in no chain");
}

std::vector<std::pair<std::size_t, std::size_t>> ros2_system::chain_positions() const {
    std::vector<std::pair<std::size_t, std::size_t>> out(callbacks.size(), {0, 0});
    for (std::size_t c = 0; c < chains.size(); ++c)
        for (std::size_t i = 0; i < chains[c].callbacks.size(); ++i) out[chains[c].callbacks[i]] = {c, i};
    return out;
}

time_value ros2_system::chain_period(std::size_t chain) const {
    return callbacks.at(chains.at(chain).callbacks.at(0)).period;
}

ros2_result ros2_analyze(const ros2_system& s, ros2_executor executor, const ros2_analysis_options& options) {
    s.validate();
    const std::size_t n = s.callbacks.size();
    prepared p;
    p.m = s.threads;
    p.wcet.resize(n);
    p.period.resize(n);
    p.group.resize(n);
    p.mutex.resize(n);
    p.prio.resize(n);
    p.pred.assign(n, prepared::npos);
    p.chain.resize(n);
    p.position.resize(n);
    time_value limit = options.limit;
    for (std::size_t c = 0; c < s.chains.size(); ++c) {
        const ros2_chain& ch = s.chains[c];
        const time_value t = s.chain_period(c);
        if (options.limit <= 0) limit = std::max(limit, checked_mul(16, std::max(t, ch.deadline), "ros2 limit"));
        for (std::size_t i = 0; i < ch.callbacks.size(); ++i) {
            const std::size_t k = ch.callbacks[i];
            p.wcet[k] = s.callbacks[k].wcet;
            p.period[k] = t;
            p.group[k] = s.callbacks[k].group;
            p.mutex[k] = s.groups[p.group[k]].kind == ros2_group_kind::mutually_exclusive;
            p.prio[k] = ch.priority;
            p.chain[k] = c;
            p.position[k] = i;
            if (i > 0) p.pred[k] = ch.callbacks[i - 1];
        }
    }
    const auto m = static_cast<time_value>(p.m);

    // Completion bounds start at the chain prefixes' WCET sums (below the least fixed point).
    std::vector<time_value> e(n, 0);
    for (const ros2_chain& ch : s.chains) {
        time_value sum = 0;
        for (std::size_t k : ch.callbacks) e[k] = sum = checked_add(sum, p.wcet[k], "ros2 chain");
    }

    ros2_result r;
    r.callbacks.resize(n);
    r.chains.resize(s.chains.size());
    // Work of the jobs `take` selects in a window of length x opened by an instance of
    // `chain`, without that instance: per job at most min(C, x) (a job runs on one thread),
    // per chain X at most x per instance of X that overlaps the window (an instance's
    // callbacks run one after another).
    const auto sum_work = [&](std::size_t chain, time_value x, auto&& take) {
        time_value w = 0;
        for (std::size_t cx = 0; cx < s.chains.size(); ++cx) {
            time_value wx = 0;
            for (std::size_t j : s.chains[cx].callbacks)
                if (take(j))
                    wx = checked_add(wx, checked_mul(jobs_in_window(p, e, j, chain, x), std::min(p.wcet[j], x),
                                                     "ros2 workload"), "ros2 workload");
            if (wx == 0) continue;
            const std::int64_t instances = jobs_in_window(p, e, s.chains[cx].callbacks.back(), chain, x);
            w = checked_add(w, std::min(wx, checked_mul(instances, x, "ros2 workload")), "ros2 workload");
        }
        return w;
    };
    // Priority-driven: the lower-priority work that may be running when callback c is
    // released, and again each time c's mutually exclusive group g falls idle: the m
    // largest chunks (outside g when g is mutually exclusive, g's own being counted in G).
    // Recomputed each round (it grows with the end-to-end bounds).
    std::vector<time_value> blocking(n, 0);
    bool changed = true;
    bool over = false;
    std::vector<char> hop_group(s.groups.size(), 0), interfering(n, 0);
    std::vector<std::int64_t> group_jobs(s.groups.size(), 0);
    while (changed && !over) {
        changed = false;
        ++r.iterations;
        if (executor == ros2_executor::priority_driven)
            for (std::size_t c = 0; c < n; ++c)
                blocking[c] = lower_priority_blocking(p, s, e, c, p.mutex[c] ? p.group[c] : prepared::npos, p.m);
        for (std::size_t ci = 0; ci < s.chains.size() && !over; ++ci) {
            const ros2_chain& ch = s.chains[ci];
            time_value base = 0, blocked = 0, prev_x = 0;
            std::fill(hop_group.begin(), hop_group.end(), 0);
            std::fill(interfering.begin(), interfering.end(), 0);
            // The bound of the prefix ending at callback k (the whole chain's instance
            // from its release to k's completion; docs/sched/ros2.md, "Analysis").
            for (std::size_t i = 0; i < ch.callbacks.size(); ++i) {
                const std::size_t k = ch.callbacks[i];
                base = checked_add(base, p.wcet[k], "ros2 chain");
                // Lower bounds of the least x: the previous round's (the inputs only grew)
                // and the predecessor's plus C_k (k's inequality dominates the predecessor's).
                time_value start = checked_add(e[k], 1, "ros2 window");
                if (i > 0) start = std::max(start, checked_add(prev_x, p.wcet[k], "ros2 window"));
                std::optional<time_value> x;
                if (executor == ros2_executor::default_executor) {
                    // m (x - sum C) > I(x) + (m - 1) X(x): all other work, mutually
                    // exclusive work once more.
                    x = least_window(m, base, start, limit, [&](time_value len) {
                        const time_value all = sum_work(ci, len, [](std::size_t) { return true; });
                        const time_value mx = sum_work(ci, len, [&](std::size_t j) { return p.mutex[j]; });
                        return checked_add(all, checked_mul(m - 1, mx, "ros2 workload"), "ros2 workload");
                    });
                } else {
                    // m (x - sum C) > m G(x) + HP'(x) + min(sum_h B_h + sum_{exclusive h} N_{g_h}(x) B_h, LP(x)).
                    if (p.mutex[k]) hop_group[p.group[k]] = 1;
                    for (std::size_t j = 0; j < n; ++j)
                        if (p.chain[j] == ci || p.higher(j, k)) interfering[j] = 1;
                    blocked = checked_add(blocked, blocking[k], "ros2 blocking");
                    const std::size_t upto = i;
                    x = least_window(m, base, start, limit, [&](time_value len) {
                        const time_value g =
                            sum_work(ci, len, [&](std::size_t j) { return p.mutex[j] && hop_group[p.group[j]] != 0; });
                        // Hop groups' work is in m G already (it runs only while they are busy).
                        const time_value hp = sum_work(ci, len, [&](std::size_t j) {
                            return interfering[j] != 0 && !(p.mutex[j] && hop_group[p.group[j]] != 0);
                        });
                        // Lower-priority work in pending instants: started before a hop's
                        // release (B_h) or before a hop group fell idle (N_g B_h), and in any
                        // case no more than all such work in the window.
                        time_value lp = blocked;
                        std::fill(group_jobs.begin(), group_jobs.end(), 0);
                        for (std::size_t j = 0; j < n; ++j)
                            if (p.mutex[j] && hop_group[p.group[j]] != 0)
                                group_jobs[p.group[j]] = checked_add(group_jobs[p.group[j]],
                                                                     jobs_in_window(p, e, j, ci, len), "ros2 workload");
                        for (std::size_t h = 0; h <= upto; ++h) {
                            const std::size_t kh = ch.callbacks[h];
                            if (!p.mutex[kh] || blocking[kh] == 0) continue;
                            lp = checked_add(lp, checked_mul(group_jobs[p.group[kh]], blocking[kh], "ros2 workload"),
                                             "ros2 workload");
                        }
                        const time_value lp_window = sum_work(ci, len, [&](std::size_t j) {
                            return interfering[j] == 0 && !(p.mutex[j] && hop_group[p.group[j]] != 0);
                        });
                        const time_value f = checked_add(checked_mul(m, g, "ros2 workload"), hp, "ros2 workload");
                        return checked_add(f, std::min(lp, lp_window), "ros2 workload");
                    });
                }
                if (!x) {
                    over = true;
                    break;
                }
                prev_x = *x;
                const time_value done = *x - 1;  // integer time: completion < release + x
                const time_value jitter = i == 0 ? 0 : e[ch.callbacks[i - 1]];
                r.callbacks[k] = {jitter, done - jitter - p.wcet[k], done};
                if (done > e[k]) {  // monotone: bounds only grow towards the least fixed point
                    e[k] = done;
                    changed = true;
                }
            }
        }
    }
    r.converged = !over;
    r.schedulable = r.converged;
    for (std::size_t c = 0; c < s.chains.size(); ++c) {
        const ros2_chain& ch = s.chains[c];
        ros2_chain_bound& b = r.chains[c];
        b.arbitrary_deadline = ch.deadline > s.chain_period(c);
        if (r.converged) {
            b.end_to_end = e[ch.callbacks.back()];
            b.schedulable = *b.end_to_end <= ch.deadline;
        }
        r.schedulable = r.schedulable && b.schedulable;
    }
    return r;
}

ros2_system ros2_generate(const ros2_generator_options& o, std::uint64_t seed) {
    if (o.chains == 0) bad("generator: chains must be >= 1");
    if (o.threads == 0) bad("generator: threads must be >= 1");
    if (o.min_chain_length == 0 || o.min_chain_length > o.max_chain_length)
        bad("generator: need 1 <= min_chain_length <= max_chain_length");
    if (!(o.mutex_probability >= 0 && o.mutex_probability <= 1)) bad("generator: mutex_probability outside [0, 1]");
    if (!(o.arbitrary_max_factor >= 1)) bad("generator: arbitrary_max_factor must be >= 1");
    rng r(seed);
    const std::vector<double> chain_u = uunifast_discard(o.chains, o.utilization, o.max_chain_utilization, r);
    const std::vector<time_value> periods = periods_log_uniform(o.chains, o.period_min, o.period_max, o.granularity, r);
    ros2_system s;
    s.threads = o.threads;
    const std::size_t groups = o.groups == 0 ? o.chains : o.groups;
    for (std::size_t g = 0; g < groups; ++g)
        s.groups.push_back({"g" + std::to_string(g), r.uniform01() < o.mutex_probability
                                                        ? ros2_group_kind::mutually_exclusive
                                                        : ros2_group_kind::reentrant});
    for (std::size_t c = 0; c < o.chains; ++c) {
        const std::size_t len = o.min_chain_length + r.below(o.max_chain_length - o.min_chain_length + 1);
        const std::vector<double> u = len == 1 ? std::vector<double>{chain_u[c]} : uunifast(len, chain_u[c], r);
        const time_value t = periods[c];
        ros2_chain ch;
        ch.name = "ch" + std::to_string(c);
        for (std::size_t i = 0; i < len; ++i) {
            ros2_callback cb;
            cb.name = "cb" + std::to_string(s.callbacks.size());
            cb.kind = i == 0 ? ros2_callback_kind::timer : ros2_callback_kind::subscription;
            cb.wcet = std::max<time_value>(1, std::llround(u[i] * static_cast<double>(t)));
            cb.period = i == 0 ? t : 0;
            cb.group = static_cast<std::size_t>(r.below(groups));
            ch.callbacks.push_back(s.callbacks.size());
            s.callbacks.push_back(std::move(cb));
        }
        const double f = r.uniform01();
        const double td = static_cast<double>(t);
        switch (o.deadlines) {
            case deadline_kind::implicit: ch.deadline = t; break;
            case deadline_kind::constrained: ch.deadline = std::llround(td / 2 + f * (td - td / 2)); break;
            case deadline_kind::arbitrary: ch.deadline = std::llround(td + f * (o.arbitrary_max_factor - 1) * td); break;
        }
        ch.deadline = std::max<time_value>(ch.deadline, 1);
        s.chains.push_back(std::move(ch));
    }
    // Deadline-monotonic chain priorities (ties by chain index).
    std::vector<std::size_t> order(o.chains);
    for (std::size_t c = 0; c < o.chains; ++c) order[c] = c;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return s.chains[a].deadline < s.chains[b].deadline; });
    for (std::size_t rank = 0; rank < order.size(); ++rank) s.chains[order[rank]].priority = static_cast<std::int64_t>(rank);
    return s;
}

}  // namespace keel::sched
