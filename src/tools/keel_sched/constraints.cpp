// keel-sched constraints: the exact FP or EDF test as linear constraints on the WCETs
// of chosen free tasks (keel::sched::fp_constraints / edf_constraints), exported to the
// CPLEX LP format and, with --maximize, solved with COIN-OR CBC.

#include "cli.hpp"

#include <keel/sched/constraints.hpp>

#include <boost/json.hpp>

#include <cstdint>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

namespace keel::sched::cli {

namespace {

namespace json = boost::json;

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    std::string::size_type start = 0;
    for (;;) {
        const auto at = text.find(sep, start);
        parts.push_back(
            text.substr(start, at == std::string::npos ? std::string::npos : at - start));
        if (at == std::string::npos) return parts;
        start = at + 1;
    }
}

std::size_t task_named(const task_set& set, const std::string& name, const char* option) {
    for (std::size_t i = 0; i < set.size(); ++i)
        if (set.name_of(i) == name) return i;
    throw input_error(std::string("constraints: ") + option + ": no task is named \"" + name +
                      "\"");
}

/// "0.95" -> 95/100, "19/20" -> 19/20 (exact: no binary fraction in between).
std::pair<std::int64_t, std::int64_t> parse_cap(const std::string& text) {
    const std::string what = "constraints: --u-cap";
    std::int64_t num = 0, den = 1;
    if (const auto slash = text.find('/'); slash != std::string::npos) {
        num = parse_integer(text.substr(0, slash), what);
        den = parse_integer(text.substr(slash + 1), what);
    } else {
        const auto dot = text.find('.');
        const std::string whole = text.substr(0, dot);
        const std::string frac = dot == std::string::npos ? "" : text.substr(dot + 1);
        if (frac.size() > 12 || (whole.empty() && frac.empty()))
            throw input_error(what + ": '" + text + "' is not a decimal with at most 12 places");
        for (const char c : whole + frac)
            if (c < '0' || c > '9')
                throw input_error(what + ": '" + text + "' is not a decimal number");
        num = parse_integer((whole.empty() ? "0" : whole) + frac, what);
        for (std::size_t k = 0; k < frac.size(); ++k)
            den *= 10;
    }
    if (den <= 0 || num <= 0 || num >= den)
        throw input_error(what + ": '" + text + "' must lie strictly between 0 and 1");
    const std::int64_t g = std::gcd(num, den);
    return {num / g, den / g};
}

/// --maximize "2*a+b" or "a,b": one weight per free variable (0 when not named).
std::vector<double> parse_objective(const std::string& text, const constraint_system& sys) {
    std::vector<double> w(sys.variables(), 0.0);
    auto variable_of = [&](const std::string& name) {
        for (std::size_t k = 0; k < sys.variables(); ++k)
            if (sys.names[k] == name) return k;
        throw input_error("constraints: --maximize: \"" + name + "\" is not a free task (--free)");
    };
    const bool list = text.find('+') == std::string::npos && text.find('*') == std::string::npos;
    for (const std::string& part : split(text, list ? ',' : '+')) {
        if (part.empty())
            throw input_error("constraints: --maximize: empty term in '" + text + "'");
        const auto star = part.find('*');
        if (star == std::string::npos) {
            w[variable_of(part)] += 1.0;
        } else {
            w[variable_of(part.substr(star + 1))] +=
                parse_number(part.substr(0, star), "constraints: --maximize weight");
        }
    }
    return w;
}

const char* status_name(solve_status s) {
    switch (s) {
        case solve_status::optimal:
            return "optimal";
        case solve_status::infeasible:
            return "infeasible";
        case solve_status::unavailable:
            return "unavailable";
        case solve_status::failed:
            return "failed";
    }
    return "failed";
}

}  // namespace

int run_constraints(const arguments& args, std::ostream& out) {
    check_arguments(args, "constraints", {"free", "test", "lp", "maximize", "u-cap"}, {"json"}, 1);
    if (args.positional.empty()) throw input_error("constraints: missing FILE (a path, or -)");
    const std::string& test = args.required("test");
    if (test != "fp" && test != "edf")
        throw input_error("constraints: --test: '" + test + "' is not fp or edf");
    if (test == "fp" && args.options.contains("u-cap"))
        throw input_error("constraints: --u-cap applies to --test edf only");
    const auto cap = parse_cap(args.value_or("u-cap", "0.99"));
    const system input = read_system(args.positional[0]);
    const task_set& set = input.tasks;

    std::vector<std::size_t> free;
    for (const std::string& name : split(args.required("free"), ',')) {
        if (name.empty()) throw input_error("constraints: --free: empty task name");
        const std::size_t i = task_named(set, name, "--free");
        for (const std::size_t f : free)
            if (f == i) throw input_error("constraints: --free: \"" + name + "\" listed twice");
        free.push_back(i);
    }
    const constraint_system sys = test == "fp" ? fp_constraints(set, free)
                                               : edf_constraints(set, free, cap.first, cap.second);
    std::vector<std::int64_t> current;
    for (const std::size_t i : free)
        current.push_back(set.tasks[i].wcet);
    const bool current_ok = sys.satisfied_by(current);

    std::vector<double> weights(sys.variables(), 1.0);
    const bool maximize = args.options.contains("maximize");
    if (maximize) weights = parse_objective(args.required("maximize"), sys);

    if (const auto lp = args.options.find("lp"); lp != args.options.end()) {
        const std::string text = to_lp(sys, weights);
        if (lp->second == "-") {
            out << text;
        } else {
            std::ofstream file(lp->second);
            if (!(file << text) || !file.flush())
                throw input_error("constraints: --lp: cannot write '" + lp->second + "'");
        }
    }

    solve_result solved;
    if (maximize) solved = maximize_weighted_wcet(sys, weights);

    const bool as_json = args.has_flag("json");
    if (as_json) {
        json::object doc;
        doc["test"] = test;
        json::array names;
        for (const std::string& n : sys.names)
            names.emplace_back(n);
        doc["free"] = names;
        doc["groups"] = sys.groups.size();
        doc["inequalities"] = sys.inequalities();
        if (test == "edf") {
            doc["utilization_cap"] = std::to_string(sys.utilization_cap_num) + "/" +
                                     std::to_string(sys.utilization_cap_den);
            doc["horizon"] = sys.horizon;
        }
        doc["current_wcets_satisfy"] = current_ok;
        if (maximize) {
            json::object m;
            m["status"] = status_name(solved.status);
            if (solved.status == solve_status::optimal) {
                m["objective"] = solved.objective;
                json::object w;
                for (std::size_t k = 0; k < sys.variables(); ++k)
                    w[sys.names[k]] = solved.wcet[k];
                m["wcet"] = w;
            } else {
                m["message"] = solved.message;
            }
            doc["maximize"] = m;
        }
        out << json::serialize(doc) << '\n';
    } else if (args.value_or("lp", "") != "-") {
        out << "constraints (" << test << "): " << sys.variables() << " free WCETs, "
            << sys.groups.size() << " groups, " << sys.inequalities() << " inequalities";
        if (test == "edf")
            out << " (U <= " << sys.utilization_cap_num << "/" << sys.utilization_cap_den
                << ", deadlines up to " << sys.horizon << ")";
        out << "\nthe file's WCETs " << (current_ok ? "satisfy" : "violate") << " them\n";
        if (maximize) {
            if (solved.status == solve_status::optimal) {
                std::vector<std::vector<std::string>> rows{{"task", "max wcet", "now"}};
                for (std::size_t k = 0; k < sys.variables(); ++k)
                    rows.push_back({sys.names[k], std::to_string(solved.wcet[k]),
                                    std::to_string(set.tasks[sys.task_index[k]].wcet)});
                print_table(out, rows);
                out << "objective " << solved.objective << '\n';
            } else if (solved.status == solve_status::infeasible) {
                out << "maximize: infeasible: " << solved.message << '\n';
            }
        }
    }
    if (maximize) {
        if (solved.status == solve_status::infeasible) return exit_unschedulable;
        if (solved.status != solve_status::optimal) {
            // Also on stderr: stdout may hold only the LP text or the JSON.
            std::cerr << "keel-sched: constraints: --maximize: " << status_name(solved.status)
                      << ": " << solved.message << '\n';
            // With --lp the objective went into the LP file, to be solved elsewhere.
            const bool exported = args.options.contains("lp");
            return solved.status == solve_status::unavailable && exported ? exit_ok : exit_failed;
        }
    }
    return exit_ok;
}

}  // namespace keel::sched::cli
