#include <keel/sched/edf.hpp>

#include <boost/multiprecision/cpp_int.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <queue>
#include <stdexcept>
#include <string>

namespace keel::sched {
namespace {

using detail::checked_add;
using detail::checked_mul;
using detail::checked_sub;

constexpr time_value time_max = std::numeric_limits<time_value>::max();
__extension__ typedef __int128 wide;  // exact La with the hyperperiod as denominator

/// One task reduced to what EDF needs: C, T and the effective deadline D' = D - J.
struct edf_task {
    time_value c;
    time_value t;
    time_value d;
    time_value j;
};

void check_task(const task& tk, std::size_t i) {
    auto fail = [&](const char* field, const char* rule, time_value v) {
        throw std::invalid_argument("edf: task \"t" + std::to_string(i + 1) + "\": " + field + " " +
                                    std::to_string(v) + " " + rule);
    };
    if (tk.wcet <= 0) fail("wcet", "must be positive", tk.wcet);
    if (tk.period <= 0) fail("period", "must be positive", tk.period);
    if (tk.deadline <= 0) fail("deadline", "must be positive", tk.deadline);
    if (tk.jitter < 0) fail("jitter", "must not be negative", tk.jitter);
    if (tk.blocking < 0) fail("blocking", "must not be negative", tk.blocking);
}

std::vector<edf_task> prepare(std::span<const task> tasks) {
    std::vector<edf_task> out;
    out.reserve(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        check_task(tasks[i], i);
        out.push_back({tasks[i].wcet, tasks[i].period,
                       checked_sub(tasks[i].deadline, tasks[i].jitter, "EDF deadline minus jitter"),
                       tasks[i].jitter});
    }
    return out;
}

time_value dbf(const std::vector<edf_task>& ts, time_value t) {
    time_value sum = 0;
    for (const auto& x : ts) {
        if (t < x.d) continue;
        const time_value jobs = checked_sub(t, x.d, "EDF demand bound") / x.t + 1;
        sum = checked_add(sum, checked_mul(jobs, x.c, "EDF demand bound"), "EDF demand bound");
    }
    return sum;
}

/// The largest absolute deadline d = D' + k T (k >= 0) with d < x; nullopt if none.
std::optional<time_value> deadline_below(const std::vector<edf_task>& ts, time_value x) {
    std::optional<time_value> best;
    for (const auto& e : ts) {
        if (e.d >= x) continue;
        const time_value k = (x - 1 - e.d) / e.t;  // x - 1 - d >= 0, no overflow (d > 0 here)
        const time_value d = e.d + k * e.t;        // <= x - 1
        if (!best || d > *best) best = d;
    }
    return best;
}

/// Exact sign of sum C/T - 1 (for the rare sums within 1e-9 of 1).
int exact_utilization_vs_one(const std::vector<edf_task>& ts) {
    using boost::multiprecision::cpp_int;
    cpp_int num = 0;
    cpp_int den = 1;
    for (const auto& e : ts) {
        num = num * e.t + cpp_int(e.c) * den;
        den *= e.t;
        const cpp_int g = boost::multiprecision::gcd(num, den);
        if (g > 1) {
            num /= g;
            den /= g;
        }
    }
    return num < den ? -1 : (num == den ? 0 : 1);
}

std::optional<time_value> checked_lcm(const std::vector<edf_task>& ts) {
    time_value l = 1;
    for (const auto& e : ts) {
        const time_value g = std::gcd(l, e.t);
        time_value r = 0;
        if (__builtin_mul_overflow(l / g, e.t, &r) || r > time_max / 2) return std::nullopt;
        l = r;
    }
    return l;
}

/// ceil(La) exactly, with the hyperperiod P as common denominator (U < 1 given).
std::optional<time_value> exact_la(const std::vector<edf_task>& ts, time_value p, time_value max_d) {
    wide num = 0;
    wide work = 0;  // sum C_i P / T_i = U P
    for (const auto& e : ts) {
        const wide share = static_cast<wide>(e.c) * (p / e.t);  // < 2^126
        wide term = 0;
        if (__builtin_mul_overflow(static_cast<wide>(e.t - e.d), share, &term)) return std::nullopt;
        if (__builtin_add_overflow(num, term, &num)) return std::nullopt;
        work += share;
    }
    const wide den = static_cast<wide>(p) - work;  // > 0 because U < 1
    if (den <= 0) return std::nullopt;
    if (num <= 0) return max_d;
    const wide q = num / den + (num % den != 0 ? 1 : 0);
    if (q > time_max / 2) return std::nullopt;
    return std::max(max_d, static_cast<time_value>(q));
}

/// A safe upper bound on ceil(La) from doubles (U clearly below 1 given).
std::optional<time_value> approx_la(const std::vector<edf_task>& ts, double u, time_value max_d) {
    double num = 0;
    double mag = 0;
    for (const auto& e : ts) {
        const double term = (static_cast<double>(e.t) - static_cast<double>(e.d)) *
                            (static_cast<double>(e.c) / static_cast<double>(e.t));
        num += term;
        mag += std::fabs(term);
    }
    const double den = 1.0 - u;
    if (den < 1e-7) return std::nullopt;
    // Rounding errors are far below these margins (n * 2^-53 relative per sum).
    const double bound = (num + 1e-9 * mag) / (den - 1e-12) * (1.0 + 1e-9) + 2.0;
    if (!(bound < 4e18)) return std::nullopt;
    if (bound <= static_cast<double>(max_d)) return max_d;
    return std::max(max_d, static_cast<time_value>(std::ceil(bound)));
}

struct horizon_info {
    edf_bounds bounds;
    time_value d_min = 0;
    time_value d_max = 0;
};

horizon_info compute_horizon(const std::vector<edf_task>& ts) {
    horizon_info h;
    edf_bounds& b = h.bounds;
    h.d_min = time_max;
    h.d_max = 0;
    double u = 0;
    for (const auto& e : ts) {
        h.d_min = std::min(h.d_min, e.d);
        h.d_max = std::max(h.d_max, e.d);
        u += static_cast<double>(e.c) / static_cast<double>(e.t);
    }
    if (u > 1.0 + 1e-9)
        b.utilization_vs_one = 1;
    else if (u < 1.0 - 1e-9)
        b.utilization_vs_one = -1;
    else
        b.utilization_vs_one = exact_utilization_vs_one(ts);
    if (b.utilization_vs_one > 0) return h;

    const std::optional<time_value> p = checked_lcm(ts);
    if (p && *p <= time_max / 2 - h.d_max) b.hyperperiod_bound = h.d_max + *p;
    if (b.utilization_vs_one < 0) {
        if (p) {
            b.la = exact_la(ts, *p, h.d_max);
            b.la_exact = b.la.has_value();
        }
        if (!b.la) b.la = approx_la(ts, u, h.d_max);
    }
    std::optional<time_value> cap;
    if (b.la) cap = b.la;
    if (b.hyperperiod_bound && (!cap || *b.hyperperiod_bound < *cap)) cap = b.hyperperiod_bound;

    // Synchronous busy period, jitter bunching the first jobs: w = sum ceil((w + J)/T) C.
    // Abandoned once it reaches the cap (the cap is then the smaller bound), or after
    // 10^5 steps when a cap exists (its only use is a shorter horizon).
    time_value w = 0;
    for (const auto& e : ts) w = checked_add(w, e.c, "EDF busy period");
    const std::int64_t max_steps = cap ? 100'000 : 10'000'000;
    for (std::int64_t step = 0;; ++step) {
        if (cap && (w >= *cap || step == max_steps)) break;
        if (step == max_steps)
            throw analysis_overflow(
                "keel::sched: EDF busy period did not close within 10^7 steps and no other "
                "horizon bound fits in 64 bits");
        time_value next = 0;
        for (const auto& e : ts) {
            const time_value released = detail::ceil_div(checked_add(w, e.j, "EDF busy period"), e.t);
            next = checked_add(next, checked_mul(released, e.c, "EDF busy period"), "EDF busy period");
        }
        if (next == w) {
            b.busy_period = w;
            break;
        }
        w = next;
    }
    b.horizon = cap.value_or(time_max);
    if (b.busy_period && *b.busy_period < b.horizon) b.horizon = *b.busy_period;
    return h;
}

}  // namespace

time_value demand_bound(std::span<const task> tasks, time_value t) { return dbf(prepare(tasks), t); }

edf_bounds edf_horizon(std::span<const task> tasks) {
    const auto ts = prepare(tasks);
    for (const auto& e : ts)
        if (e.d <= 0) return edf_bounds{};
    return compute_horizon(ts).bounds;
}

namespace {

/// Shared start of both tests: the trivial verdicts (D' <= 0, U > 1) or the horizon.
struct start {
    std::vector<edf_task> ts;
    horizon_info info;
    std::optional<edf_result> done;
};

start begin(std::span<const task> tasks) {
    start s;
    s.ts = prepare(tasks);
    for (const auto& e : s.ts) {
        if (e.d <= 0) {
            edf_result r;
            r.schedulable = false;
            r.witness = demand_witness{0, dbf(s.ts, 0)};
            r.evaluations = 1;
            s.done = r;
            return s;
        }
    }
    if (s.ts.empty()) {
        s.done = edf_result{};
        return s;
    }
    s.info = compute_horizon(s.ts);
    if (s.info.bounds.utilization_vs_one > 0) {
        // U > 1: h(t) > U t - sum U_i D'_i grows past t; double t until it does.
        edf_result r;
        r.schedulable = false;
        time_value t = std::max<time_value>(s.info.d_max, 1);
        for (;;) {
            const time_value h = dbf(s.ts, t);
            ++r.evaluations;
            if (h > t) {
                const time_value d = *deadline_below(s.ts, checked_add(t, 1));
                r.witness = demand_witness{d, h};
                r.horizon = t;
                break;
            }
            t = checked_mul(t, 2, "EDF overload witness search");
        }
        s.done = r;
    }
    return s;
}

}  // namespace

edf_result edf_pdc(std::span<const task> tasks) {
    start s = begin(tasks);
    edf_result r;
    time_value limit = s.info.bounds.horizon;
    if (s.done) {
        // U > 1: the doubling search found a failing deadline; scanning up to it gives the
        // first one, as for U <= 1. (D' <= 0 and the empty set are final.)
        if (!s.done->witness || s.info.bounds.utilization_vs_one <= 0) return *s.done;
        limit = checked_add(s.done->witness->t, 1);
        r.evaluations = s.done->evaluations;
    }
    r.horizon = limit;
    // Min-heap of each task's next absolute deadline.
    using entry = std::pair<time_value, std::size_t>;
    std::priority_queue<entry, std::vector<entry>, std::greater<>> next;
    for (std::size_t i = 0; i < s.ts.size(); ++i)
        if (s.ts[i].d < limit) next.push({s.ts[i].d, i});
    while (!next.empty()) {
        const time_value d = next.top().first;
        while (!next.empty() && next.top().first == d) {
            const std::size_t i = next.top().second;
            next.pop();
            const time_value nd = checked_add(d, s.ts[i].t, "EDF deadline enumeration");
            if (nd < limit) next.push({nd, i});
        }
        const time_value h = dbf(s.ts, d);
        ++r.evaluations;
        if (h > d) {
            r.schedulable = false;
            r.witness = demand_witness{d, h};
            break;
        }
    }
    return r;
}

edf_result edf_qpa(std::span<const task> tasks) {
    start s = begin(tasks);
    if (s.done) return *s.done;
    edf_result r;
    r.horizon = s.info.bounds.horizon;
    std::optional<time_value> t = deadline_below(s.ts, r.horizon);
    if (!t) return r;  // no deadline below the horizon: nothing can fail
    const time_value d_min = s.info.d_min;
    for (;;) {
        const time_value h = dbf(s.ts, *t);
        ++r.evaluations;
        r.steps.emplace_back(*t, h);
        if (h <= d_min) return r;
        if (h > *t) {
            r.schedulable = false;
            r.witness = demand_witness{*deadline_below(s.ts, *t + 1), h};
            return r;
        }
        // h <= t: move left; t strictly decreases, so the search ends.
        t = h < *t ? std::optional<time_value>(h) : deadline_below(s.ts, *t);
        if (!t) return r;
    }
}

}  // namespace keel::sched
