#include <keel/sched/fp.hpp>
#include <keel/sched/global.hpp>

#include <boost/multiprecision/cpp_int.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace keel::sched {

namespace {

using detail::checked_add;
using detail::checked_mul;
using detail::checked_sub;
using detail::floor_div;

/// The model every global test covers: well formed, D <= T, no jitter, no blocking.
void check_global(const char* analysis, std::span<const task> tasks, std::size_t cores) {
    if (cores == 0)
        throw std::invalid_argument(std::string(analysis) + ": cores must be at least 1");
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const task& t = tasks[i];
        detail::check_task(analysis, i, t);
        if (t.deadline > t.period)
            detail::throw_invalid_task(
                analysis, i, "deadline", t.deadline,
                "exceeds the period (global analyses need constrained deadlines)");
        if (t.jitter != 0)
            detail::throw_invalid_task(analysis, i, "jitter", t.jitter,
                                       "is not covered (global analyses need jitter 0)");
        if (t.blocking != 0)
            detail::throw_invalid_task(analysis, i, "blocking", t.blocking,
                                       "is not covered (global analyses need blocking 0)");
    }
}

time_value as_time(std::size_t m) {
    return static_cast<time_value>(m);
}

/// Bertogna–Cirinei workload of task i (response bound r) in a window of length x >= 0,
/// with one job carried in: N C + min(C, x + R - C - N T), N = floor((x + R - C) / T).
time_value workload_carry_in(const task& t, time_value r, time_value x) {
    const time_value span =
        checked_sub(checked_add(x, r, "global workload"), t.wcet, "global workload");
    const time_value n = floor_div(span, t.period);
    const time_value rest = span - n * t.period;  // in [0, T)
    return checked_add(checked_mul(n, t.wcet, "global workload"), std::min(t.wcet, rest),
                       "global workload");
}

/// Guan et al.'s non-carry-in workload: floor(x/T) C + min(x mod T, C).
time_value workload_nc(const task& t, time_value x) {
    return checked_add(checked_mul(x / t.period, t.wcet, "global workload"),
                       std::min(x % t.period, t.wcet), "global workload");
}

/// Guan et al.'s carry-in workload: floor([x-C]_0/T) C + C + [[x-C]_0 mod T - (T-R)]_0^{C-1}.
time_value workload_ci(const task& t, time_value r, time_value x) {
    const time_value y = std::max<time_value>(x - t.wcet, 0);
    const time_value alpha = std::clamp<time_value>(y % t.period - (t.period - r), 0, t.wcet - 1);
    return checked_add(checked_add(checked_mul(y / t.period, t.wcet, "global workload"), t.wcet,
                                   "global workload"),
                       alpha, "global workload");
}

/// The least fixed point of R = C_k + floor(omega(R) / m) from R = C_k, stopping once
/// R > D_k. omega must be monotone in R. Fills b (response_bound or exceeded_at).
template <class Omega>
void fixed_point(const task& k, std::size_t cores, time_value start, global_task_bound& b,
                 Omega&& omega) {
    time_value r = start;
    for (;;) {
        ++b.iterations;
        const time_value next =
            checked_add(k.wcet, omega(r) / as_time(cores), "global response time");
        if (next > k.deadline) {
            b.response_bound.reset();
            b.exceeded_at = next;
            b.schedulable = false;
            b.slack = 0;
            return;
        }
        if (next == r) break;
        r = next;
    }
    b.response_bound = r;
    b.exceeded_at.reset();
    b.schedulable = true;
    b.slack = k.deadline - r;
}

template <class Omega>
global_rta_result fp_rta(std::span<const task> tasks, std::size_t cores, Omega&& omega) {
    global_rta_result res;
    res.tasks.resize(tasks.size());
    res.rounds = 1;
    std::vector<time_value> bound(tasks.size(), 0);
    for (std::size_t k = 0; k < tasks.size(); ++k) {
        const task& tk = tasks[k];
        global_task_bound& b = res.tasks[k];
        if (tk.wcet > tk.deadline) {
            b.exceeded_at = tk.wcet;
        } else {
            fixed_point(tk, cores, tk.wcet, b, [&](time_value x) { return omega(k, x, bound, b); });
        }
        if (!b.schedulable) {
            res.failed_task = k;
            return res;  // lower-priority tasks need R_k: left unanalysed
        }
        bound[k] = *b.response_bound;
    }
    res.schedulable = true;
    return res;
}

}  // namespace

global_rta_result global_fp_rta_bc(std::span<const task> tasks, std::size_t cores) {
    check_global("global_fp_rta_bc", tasks, cores);
    return fp_rta(
        tasks, cores,
        [&](std::size_t k, time_value x, const std::vector<time_value>& r, global_task_bound&) {
            const time_value cap = x - tasks[k].wcet + 1;
            time_value sum = 0;
            for (std::size_t i = 0; i < k; ++i)
                sum = checked_add(sum, std::min(workload_carry_in(tasks[i], r[i], x), cap),
                                  "global interference");
            return sum;
        });
}

global_rta_result global_fp_rta_guan(std::span<const task> tasks, std::size_t cores) {
    check_global("global_fp_rta_guan", tasks, cores);
    std::vector<std::pair<time_value, std::size_t>> diff;
    return fp_rta(
        tasks, cores,
        [&](std::size_t k, time_value x, const std::vector<time_value>& r, global_task_bound& b) {
            const time_value cap = x - tasks[k].wcet + 1;
            time_value sum = 0;
            diff.clear();
            for (std::size_t i = 0; i < k; ++i) {
                const time_value nc = std::min(workload_nc(tasks[i], x), cap);
                const time_value ci = std::min(workload_ci(tasks[i], r[i], x), cap);
                sum = checked_add(sum, nc, "global interference");
                // At most m - 1 tasks carry in; a negative difference is never chosen.
                if (ci > nc) diff.emplace_back(ci - nc, i);
            }
            const std::size_t take = std::min(diff.size(), cores - 1);
            std::partial_sort(diff.begin(), diff.begin() + static_cast<std::ptrdiff_t>(take),
                              diff.end(), [](const auto& a, const auto& c) {
                                  return a.first != c.first ? a.first > c.first
                                                            : a.second < c.second;
                              });
            b.carry_in.clear();
            for (std::size_t j = 0; j < take; ++j) {
                sum = checked_add(sum, diff[j].first, "global interference");
                b.carry_in.push_back(diff[j].second);
            }
            std::sort(b.carry_in.begin(), b.carry_in.end());
            return sum;
        });
}

gfb_result global_edf_gfb(std::span<const task> tasks, std::size_t cores) {
    check_global("global_edf_gfb", tasks, cores);
    namespace mp = boost::multiprecision;
    gfb_result res;
    const auto m = static_cast<double>(cores);
    if (tasks.empty()) {
        res.schedulable = true;
        res.bound = m;
        return res;
    }
    // Heaviest task by exact comparison of C_i/D_i (cross-multiplied in 128 bits).
    std::size_t h = 0;
    for (std::size_t i = 1; i < tasks.size(); ++i) {
        const auto lhs = static_cast<detail::int128>(tasks[i].wcet) * tasks[h].deadline;
        const auto rhs = static_cast<detail::int128>(tasks[h].wcet) * tasks[i].deadline;
        if (lhs > rhs) h = i;
    }
    res.heaviest = h;
    double load = 0;
    for (const task& t : tasks)
        load += static_cast<double>(t.wcet) / static_cast<double>(t.deadline);
    const double lmax = static_cast<double>(tasks[h].wcet) / static_cast<double>(tasks[h].deadline);
    res.load = load;
    res.bound = m - (m - 1) * lmax;
    const double gap = res.bound - load;
    if (std::abs(gap) > 1e-9 * (m + load)) {
        res.schedulable = gap > 0;
        return res;
    }
    // Too close for doubles: sum C_i/D_i + (m - 1) C_h/D_h <= m, exactly.
    mp::cpp_rational sum = 0;
    for (const task& t : tasks)
        sum += mp::cpp_rational(t.wcet, t.deadline);
    sum +=
        mp::cpp_rational(as_time(cores) - 1) * mp::cpp_rational(tasks[h].wcet, tasks[h].deadline);
    res.schedulable = sum <= mp::cpp_rational(as_time(cores));
    return res;
}

bcl_result global_edf_bcl(std::span<const task> tasks, std::size_t cores) {
    check_global("global_edf_bcl", tasks, cores);
    bcl_result res;
    res.tasks.resize(tasks.size());
    res.schedulable = true;
    for (std::size_t k = 0; k < tasks.size(); ++k) {
        const task& tk = tasks[k];
        bcl_task& b = res.tasks[k];
        if (tk.wcet > tk.deadline) {
            res.schedulable = false;
            continue;
        }
        const time_value cap = tk.deadline - tk.wcet + 1;
        b.limit = checked_mul(as_time(cores), cap, "global interference limit");
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            if (i == k) continue;
            const task& ti = tasks[i];
            const time_value n = floor_div(tk.deadline - ti.deadline, ti.period) + 1;
            const time_value rest = std::max<time_value>(tk.deadline - n * ti.period, 0);
            const time_value bound = checked_add(checked_mul(n, ti.wcet, "global interference"),
                                                 std::min(ti.wcet, rest), "global interference");
            b.interference =
                checked_add(b.interference, std::min(bound, cap), "global interference");
        }
        b.schedulable = b.interference < b.limit;
        res.schedulable = res.schedulable && b.schedulable;
    }
    return res;
}

global_rta_result global_edf_rta(std::span<const task> tasks, std::size_t cores) {
    check_global("global_edf_rta", tasks, cores);
    const std::size_t n = tasks.size();
    global_rta_result res;
    res.tasks.resize(n);
    for (std::size_t k = 0; k < n; ++k)
        if (tasks[k].wcet > tasks[k].deadline) {
            res.tasks[k].exceeded_at = tasks[k].wcet;
            res.failed_task = k;
            return res;
        }
    // Every bound starts at C and only grows (the interference is monotone in every R_i):
    // the first bound over its deadline ends the test; otherwise rounds stop when a whole
    // round changes nothing, at the least fixed point.
    std::vector<time_value> bound(n);
    for (std::size_t k = 0; k < n; ++k)
        bound[k] = tasks[k].wcet;
    for (;;) {
        ++res.rounds;
        bool changed = false;
        for (std::size_t k = 0; k < n; ++k) {
            const task& tk = tasks[k];
            global_task_bound& b = res.tasks[k];
            fixed_point(tk, cores, bound[k], b, [&](time_value x) {
                const time_value cap = x - tk.wcet + 1;
                time_value sum = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    if (i == k) continue;
                    const task& ti = tasks[i];
                    const time_value slack_i = ti.deadline - bound[i];
                    const time_value edf = checked_add(
                        checked_mul(tk.deadline / ti.period, ti.wcet, "global interference"),
                        std::min(ti.wcet,
                                 std::max<time_value>(tk.deadline % ti.period - slack_i, 0)),
                        "global interference");
                    sum = checked_add(sum, std::min({workload_carry_in(ti, bound[i], x), edf, cap}),
                                      "global interference");
                }
                return sum;
            });
            if (!b.schedulable) {
                res.failed_task = k;
                for (auto& other : res.tasks) {
                    other.schedulable = false;  // every bound leaned on this one
                    other.response_bound.reset();
                    other.slack = 0;
                }
                return res;
            }
            if (*b.response_bound != bound[k]) {
                bound[k] = *b.response_bound;
                changed = true;
            }
        }
        if (!changed) break;
    }
    res.schedulable = true;
    return res;
}

}  // namespace keel::sched
