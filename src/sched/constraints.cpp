#include <keel/sched/constraints.hpp>
#include <keel/sched/detail/checked.hpp>
#include <keel/sched/fp.hpp>
#include <keel/sched/utilization.hpp>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>

#if defined(KEEL_WITH_COINOR)
#include <coin/Cbc_C_Interface.h>
#endif

namespace keel::sched {

namespace {

using detail::int128;

[[noreturn]] void fail_task(const char* analysis, const task_set& s, std::size_t i,
                            const std::string& what) {
    throw std::invalid_argument(std::string(analysis) + ": task '" + s.name_of(i) + "' (index " +
                                std::to_string(i) + "): " + what);
}

/// Checks the set (free tasks' WCETs aside) and `free`; returns task -> variable map
/// (SIZE_MAX for fixed tasks).
std::vector<std::size_t> check_and_map(const char* analysis, const task_set& s,
                                       std::span<const std::size_t> free) {
    if (!s.names.empty() && s.names.size() != s.tasks.size())
        throw std::invalid_argument(std::string(analysis) + ": " + std::to_string(s.names.size()) +
                                    " names for " + std::to_string(s.tasks.size()) + " tasks");
    if (free.empty())
        throw std::invalid_argument(std::string(analysis) +
                                    ": no free task (nothing to solve for)");
    std::vector<std::size_t> var(s.size(), SIZE_MAX);
    for (std::size_t k = 0; k < free.size(); ++k) {
        if (free[k] >= s.size())
            throw std::invalid_argument(std::string(analysis) + ": free task index " +
                                        std::to_string(free[k]) + " is past the last task (" +
                                        std::to_string(s.size()) + " tasks)");
        if (var[free[k]] != SIZE_MAX) fail_task(analysis, s, free[k], "listed twice as free");
        var[free[k]] = k;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        const task& t = s.tasks[i];
        if (var[i] == SIZE_MAX && t.wcet <= 0)
            fail_task(analysis, s, i, "wcet " + std::to_string(t.wcet) + " must be positive");
        if (t.period <= 0)
            fail_task(analysis, s, i, "period " + std::to_string(t.period) + " must be positive");
        if (t.deadline <= 0)
            fail_task(analysis, s, i,
                      "deadline " + std::to_string(t.deadline) + " must be positive");
        if (t.jitter < 0)
            fail_task(analysis, s, i,
                      "jitter " + std::to_string(t.jitter) + " must not be negative");
        if (t.blocking < 0)
            fail_task(analysis, s, i,
                      "blocking " + std::to_string(t.blocking) + " must not be negative");
    }
    return var;
}

constraint_system make_system(constraint_test test, const task_set& s,
                              std::span<const std::size_t> free) {
    constraint_system sys;
    sys.test = test;
    for (const std::size_t i : free) {
        sys.task_index.push_back(i);
        sys.names.push_back(s.name_of(i));
        sys.lower_bound.push_back(1);
        sys.upper_bound.push_back(s.tasks[i].deadline);
    }
    return sys;
}

/// Collects the non-zero coefficients of `coef` (dense, per variable) into `out`.
void sparse_terms(const std::vector<std::int64_t>& coef, std::vector<linear_term>& out) {
    out.clear();
    for (std::size_t k = 0; k < coef.size(); ++k)
        if (coef[k] != 0) out.push_back({k, coef[k]});
}

/// Adds `alt` to `group` unless it can never hold within the bounds; returns true when it
/// holds for every value within the bounds (the group is then redundant).
bool offer_alternative(const constraint_system& sys, linear_inequality&& alt,
                       constraint_group& group) {
    int128 lo = 0, hi = 0;  // coefficients are non-negative: extremes at the bounds
    for (const linear_term& term : alt.terms) {
        lo += int128{term.coefficient} * sys.lower_bound[term.variable];
        hi += int128{term.coefficient} * sys.upper_bound[term.variable];
    }
    if (hi <= alt.rhs) return true;
    if (lo <= alt.rhs) group.alternatives.push_back(std::move(alt));
    return false;
}

}  // namespace

std::size_t constraint_system::inequalities() const noexcept {
    std::size_t n = 0;
    for (const constraint_group& g : groups)
        n += g.alternatives.size();
    return n;
}

bool constraint_system::satisfied_by(std::span<const std::int64_t> wcet) const {
    if (wcet.size() != names.size())
        throw std::invalid_argument(
            "constraint_system::satisfied_by: " + std::to_string(wcet.size()) + " values for " +
            std::to_string(names.size()) + " free tasks");
    for (std::size_t k = 0; k < wcet.size(); ++k)
        if (wcet[k] < lower_bound[k] || wcet[k] > upper_bound[k]) return false;
    for (const constraint_group& g : groups) {
        const bool any = std::any_of(g.alternatives.begin(), g.alternatives.end(),
                                     [&](const linear_inequality& a) {
                                         int128 sum = 0;
                                         for (const linear_term& term : a.terms)
                                             sum += int128{term.coefficient} * wcet[term.variable];
                                         return sum <= a.rhs;
                                     });
        if (!any) return false;
    }
    return true;
}

constraint_system fp_constraints(const task_set& s, std::span<const std::size_t> free) {
    static constexpr const char* what = "fp_constraints";
    const std::vector<std::size_t> var = check_and_map(what, s, free);
    for (std::size_t i = 0; i < s.size(); ++i) {
        const task& t = s.tasks[i];
        if (t.deadline > t.period)
            fail_task(what, s, i,
                      "deadline " + std::to_string(t.deadline) + " exceeds the period " +
                          std::to_string(t.period) +
                          " (the scheduling-point form needs constrained deadlines)");
        if (t.jitter != 0)
            fail_task(what, s, i,
                      "jitter " + std::to_string(t.jitter) +
                          " must be 0 (the scheduling-point form has no jitter)");
    }
    constraint_system sys = make_system(constraint_test::fp, s, free);
    // The point sets depend on periods and deadlines only: give the free tasks a
    // placeholder WCET so fp_points_of's validation passes.
    std::vector<task> shape(s.tasks);
    for (const std::size_t i : free)
        shape[i].wcet = 1;
    std::vector<std::int64_t> coef(free.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        // A task with no free task at or above it has a fixed verdict: still encoded
        // (as an always-true group, dropped, or an empty one), so the system is exact.
        const task& ti = s.tasks[i];
        constraint_group group;
        group.label = "task " + s.name_of(i) + " (priority index " + std::to_string(i) +
                      "): some scheduling point t in P_" + std::to_string(i) + "(" +
                      std::to_string(ti.deadline) + ") has demand <= t";
        bool redundant = false;
        for (const time_value t : fp_points_of(shape, i)) {
            std::fill(coef.begin(), coef.end(), 0);
            time_value rhs = detail::checked_sub(t, ti.blocking, "constraint right side");
            if (var[i] != SIZE_MAX)
                coef[var[i]] += 1;
            else
                rhs = detail::checked_sub(rhs, ti.wcet, "constraint right side");
            for (std::size_t j = 0; j < i; ++j) {
                const task& tj = s.tasks[j];
                const time_value jobs = detail::ceil_div(t, tj.period);
                if (var[j] != SIZE_MAX)
                    coef[var[j]] = jobs;
                else
                    rhs = detail::checked_sub(
                        rhs, detail::checked_mul(jobs, tj.wcet, "constraint right side"),
                        "constraint right side");
            }
            linear_inequality alt;
            sparse_terms(coef, alt.terms);
            alt.rhs = rhs;
            alt.label = s.name_of(i) + " at t=" + std::to_string(t);
            if (offer_alternative(sys, std::move(alt), group)) {
                redundant = true;
                break;
            }
        }
        if (!redundant) sys.groups.push_back(std::move(group));
    }
    return sys;
}

namespace {

/// The smallest integer k >= 0 with k >= r (r >= 0, r <= limit given).
std::int64_t ceil_of(const rational& r, std::int64_t limit) {
    std::int64_t lo = 0, hi = limit;
    while (lo < hi) {
        const std::int64_t mid = lo + (hi - lo) / 2;
        if (rational(mid) >= r)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

}  // namespace

constraint_system edf_constraints(const task_set& s, std::span<const std::size_t> free,
                                  std::int64_t cap_num, std::int64_t cap_den) {
    static constexpr const char* what = "edf_constraints";
    if (cap_den <= 0 || cap_num <= 0 || cap_num >= cap_den)
        throw std::invalid_argument("edf_constraints: utilisation cap " + std::to_string(cap_num) +
                                    "/" + std::to_string(cap_den) +
                                    " must lie strictly between 0 and 1");
    const std::vector<std::size_t> var = check_and_map(what, s, free);
    constraint_system sys = make_system(constraint_test::edf, s, free);
    const std::int64_t g = std::gcd(cap_num, cap_den);
    sys.utilization_cap_num = cap_num / g;
    sys.utilization_cap_den = cap_den / g;
    const std::int64_t p = sys.utilization_cap_num, q = sys.utilization_cap_den;

    // Jitter shortens the deadline (edf.hpp). D' <= 0: h(0) >= C > 0, never schedulable.
    std::vector<time_value> dprime(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        dprime[i] = s.tasks[i].deadline - s.tasks[i].jitter;
        if (dprime[i] <= 0) {
            constraint_group never;
            never.label = "task " + s.name_of(i) +
                          ": deadline minus jitter <= 0, demand exceeds supply at t = 0";
            sys.groups.push_back(std::move(never));
            return sys;
        }
    }

    // (1) the utilisation cap, times M = lcm(q, free periods).
    {
        time_value m = q;
        for (const std::size_t i : free) {
            const time_value t = s.tasks[i].period;
            m = detail::checked_mul(m / std::gcd(m, t), t, "utilisation-cap multiplier");
        }
        std::vector<task> fixed;
        for (std::size_t i = 0; i < s.size(); ++i)
            if (var[i] == SIZE_MAX) fixed.push_back(s.tasks[i]);
        const time_value budget = m / q * p;  // M * U_max, an integer: q divides M
        const rational used = rational(m) * utilization(fixed);
        constraint_group cap;
        cap.label = "utilisation cap: sum C_i/T_i <= " + std::to_string(p) + "/" +
                    std::to_string(q) + " (times " + std::to_string(m) + ")";
        if (used <= rational(budget)) {
            linear_inequality alt;
            for (std::size_t k = 0; k < free.size(); ++k)
                alt.terms.push_back({k, m / s.tasks[free[k]].period});
            alt.rhs = budget - ceil_of(used, budget);  // floor(M U_max - M U_fixed)
            alt.label = "utilisation cap";
            if (!offer_alternative(sys, std::move(alt), cap)) sys.groups.push_back(std::move(cap));
        } else {
            sys.groups.push_back(std::move(cap));  // the fixed tasks alone pass the cap
        }
    }

    // (2) demand at every absolute deadline up to H (see the header for why H suffices).
    time_value d_max = 0, gap = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        d_max = std::max(d_max, dprime[i]);
        gap = std::max(gap, s.tasks[i].period - dprime[i]);
    }
    const int128 la = (int128{gap} * p + (q - p) - 1) / (q - p);
    const int128 h = std::max<int128>(d_max, la) + 1;
    if (h > INT64_MAX / 2) detail::throw_overflow("EDF constraint horizon");
    sys.horizon = static_cast<time_value>(h);
    int128 count = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (dprime[i] <= sys.horizon) count += (sys.horizon - dprime[i]) / s.tasks[i].period + 1;
    constexpr int128 max_points = 10'000'000;
    if (count > max_points)
        throw std::invalid_argument(
            "edf_constraints: " +
            std::to_string(static_cast<long long>(std::min<int128>(count, INT64_MAX))) +
            " deadlines below the horizon " + std::to_string(sys.horizon) +
            " (more than 10^7): lower the utilisation cap");
    std::vector<time_value> points;
    points.reserve(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < s.size(); ++i)
        for (time_value t = dprime[i]; t <= sys.horizon; t += s.tasks[i].period)
            points.push_back(t);
    std::sort(points.begin(), points.end());
    points.erase(std::unique(points.begin(), points.end()), points.end());

    std::vector<std::int64_t> coef(free.size());
    for (const time_value t : points) {
        std::fill(coef.begin(), coef.end(), 0);
        time_value rhs = t;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (t < dprime[i]) continue;
            const time_value jobs = (t - dprime[i]) / s.tasks[i].period + 1;
            if (var[i] != SIZE_MAX)
                coef[var[i]] = jobs;
            else
                rhs = detail::checked_sub(
                    rhs, detail::checked_mul(jobs, s.tasks[i].wcet, "demand right side"),
                    "demand right side");
        }
        constraint_group group;
        group.label = "demand at t=" + std::to_string(t);
        linear_inequality alt;
        sparse_terms(coef, alt.terms);
        alt.rhs = rhs;
        alt.label = group.label;
        if (!offer_alternative(sys, std::move(alt), group)) sys.groups.push_back(std::move(group));
    }
    return sys;
}

namespace {

std::string lp_name(const std::string& name) {
    std::string out = "C_";
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        out += ok ? c : '_';
    }
    return out;
}

std::string comment_text(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    std::replace(s.begin(), s.end(), '\r', ' ');
    return s;
}

std::string number(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

std::vector<double> weights_or_ones(const constraint_system& sys, std::span<const double> w,
                                    const char* what) {
    if (w.empty()) return std::vector<double>(sys.variables(), 1.0);
    if (w.size() != sys.variables())
        throw std::invalid_argument(std::string(what) + ": " + std::to_string(w.size()) +
                                    " weights for " + std::to_string(sys.variables()) +
                                    " free tasks");
    for (std::size_t k = 0; k < w.size(); ++k)
        if (!std::isfinite(w[k]))
            throw std::invalid_argument(std::string(what) + ": the weight of '" + sys.names[k] +
                                        "' is not a finite number");
    return {w.begin(), w.end()};
}

/// The big-M of an alternative: its largest violation within the bounds.
std::int64_t big_m(const constraint_system& sys, const linear_inequality& a) {
    int128 hi = 0;
    for (const linear_term& term : a.terms)
        hi += int128{term.coefficient} * sys.upper_bound[term.variable];
    if (hi > INT64_MAX) detail::throw_overflow("big-M of a disjunction");
    return static_cast<std::int64_t>(hi - a.rhs);  // hi >= rhs + 1 (kept alternatives)
}

/// Writes "name: terms" wrapping long rows (the LP format limits line length).
class lp_row {
public:
    explicit lp_row(std::string& out) : _out(out) {}
    void term(std::int64_t coef, const std::string& var) { add(std::to_string(coef), var); }
    void term(double coef, const std::string& var) { add(number(coef), var); }

private:
    void add(const std::string& coef, const std::string& var) {
        if (_count > 0) _out += (_count % 8 == 0) ? "\n   + " : " + ";
        _out += coef;
        _out += ' ';
        _out += var;
        ++_count;
    }
    std::string& _out;
    std::size_t _count = 0;
};

}  // namespace

std::string to_lp(const constraint_system& sys, std::span<const double> weights) {
    const std::vector<double> w = weights_or_ones(sys, weights, "to_lp");
    std::vector<std::string> names;
    std::unordered_set<std::string> used;
    for (std::size_t k = 0; k < sys.variables(); ++k) {
        std::string n = lp_name(sys.names[k]);
        if (!used.insert(n).second) {
            n += "_" + std::to_string(k);
            used.insert(n);
        }
        names.push_back(std::move(n));
    }
    std::string out;
    out += "\\ keel::sched linear constraints: ";
    out += sys.test == constraint_test::fp ? "fixed priority (scheduling points)"
                                           : "EDF (processor demand)";
    out += "\n\\ " + std::to_string(sys.variables()) + " free WCETs, " +
           std::to_string(sys.groups.size()) + " groups, " + std::to_string(sys.inequalities()) +
           " inequalities\n";
    if (sys.test == constraint_test::edf)
        out += "\\ includes the utilisation cap U <= " + std::to_string(sys.utilization_cap_num) +
               "/" + std::to_string(sys.utilization_cap_den) + "; deadlines up to " +
               std::to_string(sys.horizon) + "\n";
    for (std::size_t k = 0; k < sys.variables(); ++k)
        out += "\\ " + names[k] + " = WCET of task '" + comment_text(sys.names[k]) + "' (index " +
               std::to_string(sys.task_index[k]) + ")\n";
    out += "Maximize\n obj: ";
    {
        lp_row row(out);
        for (std::size_t k = 0; k < sys.variables(); ++k)
            row.term(w[k], names[k]);
    }
    out += "\nSubject To\n";
    std::vector<std::string> binaries;
    for (std::size_t g = 0; g < sys.groups.size(); ++g) {
        const constraint_group& group = sys.groups[g];
        const std::string gname = "g" + std::to_string(g);
        out += "\\ " + comment_text(group.label) + "\n";
        if (group.alternatives.empty()) {
            out += " " + gname + "_never: 0 " + names[0] + " >= 1\n";
            continue;
        }
        auto write_terms = [&](lp_row& row, const linear_inequality& a) {
            for (const linear_term& term : a.terms)
                row.term(term.coefficient, names[term.variable]);
        };
        if (group.alternatives.size() == 1) {
            const linear_inequality& a = group.alternatives[0];
            out += " " + gname + ": ";
            lp_row row(out);
            write_terms(row, a);
            out += " <= " + std::to_string(a.rhs) + "\n";
            continue;
        }
        std::vector<std::string> ys;
        for (std::size_t a = 0; a < group.alternatives.size(); ++a) {
            const linear_inequality& alt = group.alternatives[a];
            const std::string y = "y_" + std::to_string(g) + "_" + std::to_string(a);
            const std::int64_t m = big_m(sys, alt);
            out += " " + gname + "_a" + std::to_string(a) + ": ";
            lp_row row(out);
            write_terms(row, alt);
            row.term(m, y);
            out += " <= " + std::to_string(alt.rhs + m) + "\n";  // = sum coef * ub, fits
            ys.push_back(y);
        }
        out += " " + gname + "_any: ";
        {
            lp_row row(out);
            for (const std::string& y : ys)
                row.term(std::int64_t{1}, y);
        }
        out += " >= 1\n";
        binaries.insert(binaries.end(), ys.begin(), ys.end());
    }
    out += "Bounds\n";
    for (std::size_t k = 0; k < sys.variables(); ++k)
        out += " " + std::to_string(sys.lower_bound[k]) + " <= " + names[k] +
               " <= " + std::to_string(sys.upper_bound[k]) + "\n";
    out += "General\n";
    for (std::size_t k = 0; k < sys.variables(); ++k)
        out += " " + names[k] + "\n";
    if (!binaries.empty()) {
        out += "Binary\n";
        for (const std::string& y : binaries)
            out += " " + y + "\n";
    }
    out += "End\n";
    return out;
}

bool constraint_solver_available() noexcept {
#if defined(KEEL_WITH_COINOR)
    return true;
#else
    return false;
#endif
}

solve_result maximize_weighted_wcet(const constraint_system& sys, std::span<const double> weights) {
    const std::vector<double> w = weights_or_ones(sys, weights, "maximize_weighted_wcet");
    solve_result result;
    for (const constraint_group& g : sys.groups)
        if (g.alternatives.empty()) {
            result.status = solve_status::infeasible;
            result.message = "unsatisfiable whatever the free WCETs: " + g.label;
            return result;
        }
#if defined(KEEL_WITH_COINOR)
    struct model_deleter {
        void operator()(Cbc_Model* m) const { Cbc_deleteModel(m); }
    };
    std::unique_ptr<Cbc_Model, model_deleter> model(Cbc_newModel());
    Cbc_Model* m = model.get();
    Cbc_setLogLevel(m, 0);
    const int n = static_cast<int>(sys.variables());
    for (std::size_t k = 0; k < sys.variables(); ++k) {
        const std::string name = "C" + std::to_string(k);
        Cbc_addCol(m, name.c_str(), static_cast<double>(sys.lower_bound[k]),
                   static_cast<double>(sys.upper_bound[k]), w[k], 1, 0, nullptr, nullptr);
    }
    int next_col = n;
    std::vector<int> cols;
    std::vector<double> vals;
    for (std::size_t g = 0; g < sys.groups.size(); ++g) {
        const constraint_group& group = sys.groups[g];
        const bool single = group.alternatives.size() == 1;
        std::vector<int> ys;
        for (const linear_inequality& a : group.alternatives) {
            cols.clear();
            vals.clear();
            for (const linear_term& term : a.terms) {
                cols.push_back(static_cast<int>(term.variable));
                vals.push_back(static_cast<double>(term.coefficient));
            }
            double rhs = static_cast<double>(a.rhs);
            if (!single) {
                const std::int64_t bm = big_m(sys, a);
                const std::string y = "y" + std::to_string(next_col);
                Cbc_addCol(m, y.c_str(), 0.0, 1.0, 0.0, 1, 0, nullptr, nullptr);
                cols.push_back(next_col);
                vals.push_back(static_cast<double>(bm));
                rhs += static_cast<double>(bm);
                ys.push_back(next_col++);
            }
            Cbc_addRow(m, "", static_cast<int>(cols.size()), cols.data(), vals.data(), 'L', rhs);
        }
        if (!single) {
            const std::vector<double> ones(ys.size(), 1.0);
            Cbc_addRow(m, "", static_cast<int>(ys.size()), ys.data(), ones.data(), 'G', 1.0);
        }
    }
    Cbc_setObjSense(m, -1.0);
    Cbc_solve(m);
    if (Cbc_isProvenInfeasible(m)) {
        result.status = solve_status::infeasible;
        result.message = "CBC proved the system infeasible";
        return result;
    }
    if (!Cbc_isProvenOptimal(m)) {
        result.status = solve_status::failed;
        result.message =
            "CBC stopped without proving optimality (status " + std::to_string(Cbc_status(m)) + ")";
        return result;
    }
    const double* x = Cbc_getColSolution(m);
    result.wcet.resize(sys.variables());
    result.objective = 0;
    for (std::size_t k = 0; k < sys.variables(); ++k) {
        result.wcet[k] = static_cast<std::int64_t>(std::llround(x[k]));
        result.objective += w[k] * static_cast<double>(result.wcet[k]);
    }
    if (!sys.satisfied_by(result.wcet)) {
        result.status = solve_status::failed;
        result.message = "CBC's rounded optimum fails the exact check (numerical trouble)";
        return result;
    }
    result.status = solve_status::optimal;
    return result;
#else
    result.status = solve_status::unavailable;
    result.message =
        "no solver: keel was built without COIN-OR CBC (configure with KEEL_WITH_COINOR=ON "
        "and coinor-libcbc-dev installed); export the system with to_lp and solve it elsewhere";
    return result;
#endif
}

}  // namespace keel::sched
