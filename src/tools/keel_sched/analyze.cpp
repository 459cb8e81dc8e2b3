// keel-sched analyze: one schedulability test on a task set, with its certificate,
// as a table or as JSON (docs/sched.md, "The command-line tool keel-sched").

#include "cli.hpp"

#include <keel/sched/edf.hpp>
#include <keel/sched/fp.hpp>
#include <keel/sched/priority_assignment.hpp>
#include <keel/sched/utilization.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace keel::sched::cli {

namespace json = boost::json;

namespace {

const std::vector<std::string> test_names{"fp-rta",   "fp-points", "edf-pdc",
                                          "edf-qpa",  "ll-bound",  "hyperbolic"};

std::string uniprocessor_test_names() {
    std::string known;
    for (const auto& t : test_names)
        known += (known.empty() ? "" : ", ") + t;
    return known;
}

json::value or_null(const std::optional<time_value>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

std::string text_of(const std::optional<time_value>& v, const char* none = "-") {
    return v ? std::to_string(*v) : std::string(none);
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

/// The task's name and numbers: the first columns of every table.
std::vector<std::string> task_columns(const task_set& set, std::size_t i) {
    const task& t = set.tasks[i];
    return {set.name_of(i),           std::to_string(t.wcet),   std::to_string(t.period),
            std::to_string(t.deadline), std::to_string(t.jitter), std::to_string(t.blocking)};
}

std::vector<std::string> header(std::vector<std::string> extra) {
    std::vector<std::string> h{"task", "C", "T", "D", "J", "B"};
    h.insert(h.end(), extra.begin(), extra.end());
    return h;
}

json::object task_json(const task_set& set, std::size_t i, const std::optional<time_value>& r,
                       bool ok) {
    json::object o;
    o["name"] = set.name_of(i);
    o["response_time"] = or_null(r);
    o["schedulable"] = ok;
    o["deadline"] = set.tasks[i].deadline;
    return o;
}

int report(std::ostream& out, bool as_json, json::object& doc,
           const std::vector<std::vector<std::string>>& table, const std::string& summary) {
    const bool ok = doc.at("schedulable").as_bool();
    if (as_json) {
        out << json::serialize(doc) << '\n';
    } else {
        out << summary << '\n';
        print_table(out, table);
    }
    return ok ? exit_ok : exit_unschedulable;
}

std::string verdict_line(const std::string& test, bool ok, const rational& u) {
    return test + ": " + (ok ? "schedulable" : "NOT schedulable") + " (U = " + u.to_string() +
           " = " + fixed(u.to_double(), 4) + ")";
}

int analyze_fp_rta(const task_set& set, const arguments& args, std::ostream& out, bool as_json) {
    fp_options options;
    if (const auto h = args.options.find("horizon"); h != args.options.end()) {
        options.horizon = parse_integer(h->second, "--horizon");
        if (options.horizon <= 0) throw input_error("--horizon must be positive");
    }
    const fp_result r = fp_rta(set.view(), options);
    json::object doc;
    doc["test"] = "fp-rta";
    doc["schedulable"] = r.schedulable;
    const rational u = utilization(set.view());
    doc["utilization"] = u.to_string();
    json::array tasks;
    std::vector<std::vector<std::string>> table{
        header({"R", "busy", "jobs", "worst", "iterations", "ok"})};
    for (std::size_t i = 0; i < set.size(); ++i) {
        const fp_task_result& t = r.tasks[i];
        json::object o = task_json(set, i, t.response_time, t.schedulable);
        o["busy_period"] = t.response_time ? json::value(t.busy_period) : json::value(nullptr);
        o["jobs_examined"] = t.jobs_examined;
        o["worst_job"] = t.worst_job;
        json::array it;
        std::string its;
        for (const time_value w : t.iterations) {
            it.emplace_back(w);
            its += (its.empty() ? "" : ",") + std::to_string(w);
        }
        o["iterations"] = std::move(it);
        if (t.horizon_reached) o["horizon_reached"] = true;
        tasks.emplace_back(std::move(o));
        auto row = task_columns(set, i);
        row.insert(row.end(),
                   {text_of(t.response_time, t.horizon_reached ? "horizon" : "unbounded"),
                    t.response_time ? std::to_string(t.busy_period) : "-",
                    std::to_string(t.jobs_examined), std::to_string(t.worst_job), its,
                    t.schedulable ? "yes" : "NO"});
        table.push_back(std::move(row));
    }
    doc["tasks"] = std::move(tasks);
    return report(out, as_json, doc, table, verdict_line("fp-rta", r.schedulable, u));
}

int analyze_fp_points(const task_set& set, std::ostream& out, bool as_json) {
    const fp_points_result r = fp_scheduling_points(set.view());
    json::object doc;
    doc["test"] = "fp-points";
    doc["schedulable"] = r.schedulable;
    const rational u = utilization(set.view());
    doc["utilization"] = u.to_string();
    doc["points_evaluated"] = r.points_evaluated;
    json::array tasks;
    std::vector<std::vector<std::string>> table{header({"passing point", "ok"})};
    for (std::size_t i = 0; i < set.size(); ++i) {
        const bool ok = r.passing_point[i].has_value();
        json::object o = task_json(set, i, std::nullopt, ok);
        o["passing_point"] = or_null(r.passing_point[i]);
        tasks.emplace_back(std::move(o));
        auto row = task_columns(set, i);
        row.insert(row.end(), {text_of(r.passing_point[i], "none"), ok ? "yes" : "NO"});
        table.push_back(std::move(row));
    }
    doc["tasks"] = std::move(tasks);
    return report(out, as_json, doc, table,
                  verdict_line("fp-points", r.schedulable, u) + ", " +
                      std::to_string(r.points_evaluated) + " points evaluated");
}

int analyze_edf(const task_set& set, const std::string& test, std::ostream& out, bool as_json) {
    const edf_result r = test == "edf-qpa" ? edf_qpa(set.view()) : edf_pdc(set.view());
    json::object doc;
    doc["test"] = test;
    doc["schedulable"] = r.schedulable;
    const rational u = utilization(set.view());
    doc["utilization"] = u.to_string();
    if (r.witness) {
        json::object w;
        w["t"] = r.witness->t;
        w["demand"] = r.witness->demand;
        doc["witness"] = std::move(w);
    } else {
        doc["witness"] = nullptr;
    }
    doc["evaluations"] = r.evaluations;
    doc["horizon"] = r.horizon;
    if (test == "edf-qpa") {
        json::array steps;
        for (const auto& [t, h] : r.steps)
            steps.emplace_back(json::object{{"t", t}, {"demand", h}});
        doc["steps"] = std::move(steps);
    }
    json::array tasks;
    std::vector<std::vector<std::string>> table{header({})};
    for (std::size_t i = 0; i < set.size(); ++i) {
        tasks.emplace_back(task_json(set, i, std::nullopt, r.schedulable));
        table.push_back(task_columns(set, i));
    }
    doc["tasks"] = std::move(tasks);
    std::string summary = verdict_line(test, r.schedulable, u) + ", " +
                          std::to_string(r.evaluations) + " demand evaluations, horizon " +
                          std::to_string(r.horizon);
    if (r.witness)
        summary += "\nwitness: demand h(" + std::to_string(r.witness->t) + ") = " +
                   std::to_string(r.witness->demand) + " > " + std::to_string(r.witness->t);
    if (test == "edf-qpa" && !as_json) {
        summary += "\nQPA steps (t, h(t)):";
        for (const auto& [t, h] : r.steps)
            summary += " (" + std::to_string(t) + ", " + std::to_string(h) + ")";
    }
    return report(out, as_json, doc, table, summary);
}

int analyze_bound(const task_set& set, const std::string& test, std::ostream& out,
                  bool as_json) {
    const bool ok = test == "ll-bound" ? liu_layland_bound_holds(set.view())
                                       : hyperbolic_bound_holds(set.view());
    json::object doc;
    doc["test"] = test;
    doc["schedulable"] = ok;
    const rational u = utilization(set.view());
    doc["utilization"] = u.to_string();
    // Sufficient tests for rate-monotonic priorities: the file's order is not used.
    doc["priorities"] = "rate-monotonic";
    doc["sufficient_only"] = true;
    // Only sufficient: a failed bound says nothing about schedulability.
    std::string summary = test + ": " + (ok ? "schedulable" : "bound not met, inconclusive") +
                          " (U = " + u.to_string() + " = " + fixed(u.to_double(), 4) + ")";
    if (test == "ll-bound") {
        const double bound = liu_layland_bound(set.size());
        doc["bound"] = bound;
        summary += ", bound n(2^(1/n) - 1) = " + fixed(bound, 4);
    } else {
        summary += ", bound prod(U_i + 1) <= 2";
    }
    summary += "; a sufficient test for rate-monotonic priorities";
    json::array tasks;
    std::vector<std::vector<std::string>> table{header({"U_i"})};
    for (std::size_t i = 0; i < set.size(); ++i) {
        tasks.emplace_back(task_json(set, i, std::nullopt, ok));
        auto row = task_columns(set, i);
        row.push_back(rational(set.tasks[i].wcet, set.tasks[i].period).to_string());
        table.push_back(std::move(row));
    }
    doc["tasks"] = std::move(tasks);
    return report(out, as_json, doc, table, summary);
}

/// The set reordered by a priority assignment (--assign): dm, rm or audsley (Audsley's
/// OPA with the exact RTA); nullopt when Audsley finds no feasible order.
std::optional<task_set> assign_priorities(const task_set& set, const std::string& how) {
    std::optional<std::vector<std::size_t>> order;
    if (how == "dm")
        order = deadline_monotonic(set.view());
    else if (how == "rm")
        order = rate_monotonic(set.view());
    else if (how == "audsley")
        order = audsley(set.view());
    else
        throw input_error("analyze: --assign: unknown assignment '" + how +
                          "' (known: dm, rm, audsley)");
    if (!order) return std::nullopt;
    task_set out;
    out.tasks = apply_priority_order(set.view(), *order);
    for (const std::size_t i : *order)
        out.names.push_back(set.name_of(i));
    return out;
}

}  // namespace

void check_test_name(const std::string& name) {
    for (const auto& t : test_names)
        if (t == name) return;
    const analysis_family* family = family_of_test(name);
    throw input_error("unknown test '" + name + "' (known: " + uniprocessor_test_names() +
                      (family ? "; '" + name + "' is a test of the family '" + family->name +
                                    "', which only analyze --test " + name + " and sweep --family " +
                                    family->name + " run"
                              : std::string("")) +
                      ")");
}

std::vector<analysis_family>& analysis_families() {
    static std::vector<analysis_family> families;
    return families;
}

std::vector<const analysis_family*> families_by_name() {
    std::vector<const analysis_family*> families;
    for (const analysis_family& f : analysis_families())
        families.push_back(&f);
    std::sort(families.begin(), families.end(),
              [](const auto* a, const auto* b) { return a->name < b->name; });
    return families;
}

family_registration::family_registration(analysis_family family) {
    analysis_families().push_back(std::move(family));
}

const analysis_family* family_of_test(const std::string& test) {
    for (const analysis_family& f : analysis_families())
        for (const std::string& t : f.tests)
            if (t == test) return &f;
    return nullptr;
}

const analysis_family* find_family(const std::string& name) {
    for (const analysis_family& f : analysis_families())
        if (f.name == name) return &f;
    return nullptr;
}

bool test_accepts(const std::string& name, std::span<const task> tasks) {
    if (name == "fp-rta") return fp_schedulable(tasks);
    if (name == "fp-points") return fp_scheduling_points(tasks).schedulable;
    if (name == "edf-pdc") return edf_pdc(tasks).schedulable;
    if (name == "edf-qpa") return edf_qpa(tasks).schedulable;
    if (name == "ll-bound") return liu_layland_bound_holds(tasks);
    if (name == "hyperbolic") return hyperbolic_bound_holds(tasks);
    check_test_name(name);
    return false;
}

namespace {

/// Every test analyze knows, for the "unknown test" message.
std::string all_test_names() {
    std::string known = uniprocessor_test_names();
    for (const analysis_family* f : families_by_name())
        for (const std::string& t : f->tests)
            known += ", " + t;
    return known;
}

int analyze_family(const analysis_family& family, const std::string& test, const arguments& args,
                   std::ostream& out) {
    std::vector<std::string> options{"test"};
    options.insert(options.end(), family.analyze_options.begin(), family.analyze_options.end());
    check_arguments(args, "analyze --test " + test, options, {"json"}, 1);
    try {
        return family.analyze(test, args, out);
    } catch (const std::invalid_argument& e) {
        throw input_error("analyze --test " + test + ": " + e.what());
    }
}

}  // namespace

int run_analyze(const arguments& args, std::ostream& out) {
    const std::string test = args.value_or("test", "fp-rta");
    if (const analysis_family* family = family_of_test(test)) {
        if (args.positional.empty()) throw input_error("analyze: missing FILE (a path, or -)");
        return analyze_family(*family, test, args, out);
    }
    check_arguments(args, "analyze", {"test", "horizon", "assign"}, {"json"}, 1);
    if (args.positional.empty()) throw input_error("analyze: missing FILE (a path, or -)");
    if (std::find(test_names.begin(), test_names.end(), test) == test_names.end())
        throw input_error("unknown test '" + test + "' (known: " + all_test_names() + ")");
    if (args.options.contains("horizon") && test != "fp-rta")
        throw input_error("analyze: --horizon applies to --test fp-rta only");
    const bool fixed_priority = test == "fp-rta" || test == "fp-points";
    if (args.options.contains("assign") && !fixed_priority)
        throw input_error("analyze: --assign applies to --test fp-rta and fp-points only");
    system sys = read_system(args.positional[0]);
    const bool as_json = args.has_flag("json");
    try {
        if (const auto how = args.options.find("assign"); how != args.options.end()) {
            std::optional<task_set> assigned = assign_priorities(sys.tasks, how->second);
            if (!assigned) {
                // Audsley: at some level no task passes, so no order passes the RTA.
                if (as_json)
                    out << json::serialize(json::object{{"test", test},
                                                        {"assign", how->second},
                                                        {"schedulable", false},
                                                        {"tasks", json::array{}}})
                        << '\n';
                else
                    out << test << " with --assign audsley: NOT schedulable (no priority order "
                                   "passes the exact RTA)\n";
                return exit_unschedulable;
            }
            sys.tasks = std::move(*assigned);
        }
        if (test == "fp-rta") return analyze_fp_rta(sys.tasks, args, out, as_json);
        if (test == "fp-points") return analyze_fp_points(sys.tasks, out, as_json);
        if (test == "edf-pdc" || test == "edf-qpa") return analyze_edf(sys.tasks, test, out, as_json);
        return analyze_bound(sys.tasks, test, out, as_json);
    } catch (const std::invalid_argument& e) {
        // A precondition of the test (fp-points: D <= T, no jitter; bounds: D = T, ...).
        std::string what = with_task_names(sys.tasks, e.what());
        if (const auto at = what.find("use fp_rta"); at != std::string::npos)
            what.replace(at, 10, "use --test fp-rta");
        throw input_error("analyze --test " + test + ": " + what);
    }
}

}  // namespace keel::sched::cli
