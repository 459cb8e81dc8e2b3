// keel-sched family "global": sporadic tasks on m identical cores under global fixed
// priority (tasks in the file's priority order) and global EDF (global.hpp).
//   analyze --test g-fp-bc|g-fp-guan|g-edf-gfb|g-edf-bcl|g-edf-rta FILE [--json]
//                                  the part-1 schema with "cores" >= 1
//   sweep --family global          schedulability ratio against total utilisation
// docs/sched/global.md.
#include "cli.hpp"
#include "json_input.hpp"

#include <keel/sched/generate.hpp>
#include <keel/sched/global.hpp>
#include <keel/sched/priority_assignment.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace keel::sched::cli {

namespace {

namespace json = boost::json;

const std::vector<std::string> family_tests{"g-fp-bc", "g-fp-guan", "g-edf-gfb", "g-edf-bcl",
                                            "g-edf-rta"};

json::value optional_json(const std::optional<time_value>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

/// The fields every --json answer of the family starts with.
json::object verdict_document(const std::string& test, bool schedulable, std::size_t cores) {
    json::object doc;
    doc["test"] = test;
    doc["schedulable"] = schedulable;
    doc["cores"] = static_cast<std::int64_t>(cores);
    return doc;
}

std::string optional_text(const std::optional<time_value>& v) {
    return v ? std::to_string(*v) : std::string("-");
}

int report_rta(const std::string& test, const task_set& set, std::size_t cores,
               const global_rta_result& r, bool as_json, std::ostream& out) {
    const bool guan = test == "g-fp-guan";
    if (as_json) {
        json::object doc = verdict_document(test, r.schedulable, cores);
        doc["rounds"] = r.rounds;
        doc["failed_task"] =
            r.failed_task ? json::value(set.name_of(*r.failed_task)) : json::value(nullptr);
        json::array tasks;
        for (std::size_t k = 0; k < set.size(); ++k) {
            const global_task_bound& b = r.tasks[k];
            json::object o;
            o["name"] = set.name_of(k);
            o["schedulable"] = b.schedulable;
            o["response_bound"] = optional_json(b.response_bound);
            o["exceeded_at"] = optional_json(b.exceeded_at);
            o["slack"] = b.slack;
            o["iterations"] = b.iterations;
            if (guan) {
                json::array carry;
                for (std::size_t i : b.carry_in)
                    carry.push_back(json::value(set.name_of(i)));
                o["carry_in"] = std::move(carry);
            }
            tasks.push_back(std::move(o));
        }
        doc["tasks"] = std::move(tasks);
        out << json::serialize(doc) << '\n';
    } else {
        std::vector<std::vector<std::string>> rows{
            {"task", "C", "T", "D", "R bound", "slack", "iterations", "verdict"}};
        if (guan) rows[0].push_back("carry-in");
        for (std::size_t k = 0; k < set.size(); ++k) {
            const task& t = set.tasks[k];
            const global_task_bound& b = r.tasks[k];
            std::string verdict = b.schedulable ? "ok" : "not analysed";
            if (b.exceeded_at)
                verdict = "exceeds D (" + std::to_string(*b.exceeded_at) + ")";
            else if (!b.schedulable && r.failed_task && test == "g-edf-rta")
                verdict = "-";
            rows.push_back({set.name_of(k), std::to_string(t.wcet), std::to_string(t.period),
                            std::to_string(t.deadline), optional_text(b.response_bound),
                            b.response_bound ? std::to_string(b.slack) : "-",
                            std::to_string(b.iterations), verdict});
            if (guan) {
                std::string carry;
                for (std::size_t i : b.carry_in)
                    carry += (carry.empty() ? "" : ",") + set.name_of(i);
                rows.back().push_back(carry.empty() ? "-" : carry);
            }
        }
        print_table(out, rows);
        out << test << " on " << cores
            << " cores: " << (r.schedulable ? "schedulable" : "not shown schedulable");
        if (r.rounds > 1) out << " (" << r.rounds << " rounds of slack iteration)";
        out << '\n';
    }
    return r.schedulable ? exit_ok : exit_unschedulable;
}

int analyze_global(const std::string& test, const arguments& args, std::ostream& out) {
    const json_system in = read_json_system(args.positional.at(0), schema_extension{{}, {}, true});
    const task_set& set = in.sys.tasks;
    const auto cores = static_cast<std::size_t>(in.sys.cores);
    const bool as_json = args.has_flag("json");
    try {
        if (test == "g-fp-bc")
            return report_rta(test, set, cores, global_fp_rta_bc(set.view(), cores), as_json, out);
        if (test == "g-fp-guan")
            return report_rta(test, set, cores, global_fp_rta_guan(set.view(), cores), as_json,
                              out);
        if (test == "g-edf-rta")
            return report_rta(test, set, cores, global_edf_rta(set.view(), cores), as_json, out);
        if (test == "g-edf-gfb") {
            const gfb_result r = global_edf_gfb(set.view(), cores);
            if (as_json) {
                json::object doc = verdict_document(test, r.schedulable, cores);
                doc["load"] = r.load;
                doc["bound"] = r.bound;
                doc["heaviest"] =
                    set.size() == 0 ? json::value(nullptr) : json::value(set.name_of(r.heaviest));
                out << json::serialize(doc) << '\n';
            } else {
                char line[160];
                std::snprintf(line, sizeof line, "sum of C/D %.6f %s m - (m-1) max C/D = %.6f",
                              r.load, r.schedulable ? "<=" : ">", r.bound);
                out << line << '\n'
                    << test << " on " << cores
                    << " cores: " << (r.schedulable ? "schedulable" : "not shown schedulable")
                    << '\n';
            }
            return r.schedulable ? exit_ok : exit_unschedulable;
        }
        const bcl_result r = global_edf_bcl(set.view(), cores);
        if (as_json) {
            json::object doc = verdict_document(test, r.schedulable, cores);
            json::array tasks;
            for (std::size_t k = 0; k < set.size(); ++k) {
                json::object o;
                o["name"] = set.name_of(k);
                o["schedulable"] = r.tasks[k].schedulable;
                o["interference"] = r.tasks[k].interference;
                o["limit"] = r.tasks[k].limit;
                tasks.push_back(std::move(o));
            }
            doc["tasks"] = std::move(tasks);
            out << json::serialize(doc) << '\n';
        } else {
            std::vector<std::vector<std::string>> rows{
                {"task", "C", "T", "D", "interference", "limit", "verdict"}};
            for (std::size_t k = 0; k < set.size(); ++k) {
                const task& t = set.tasks[k];
                rows.push_back({set.name_of(k), std::to_string(t.wcet), std::to_string(t.period),
                                std::to_string(t.deadline), std::to_string(r.tasks[k].interference),
                                std::to_string(r.tasks[k].limit),
                                r.tasks[k].schedulable ? "ok" : "fails"});
            }
            print_table(out, rows);
            out << test << " on " << cores
                << " cores: " << (r.schedulable ? "schedulable" : "not shown schedulable") << '\n';
        }
        return r.schedulable ? exit_ok : exit_unschedulable;
    } catch (const std::invalid_argument& e) {
        throw input_error(with_task_names(set, e.what()));
    }
}

bool accepts(const std::string& test, std::span<const task> ts, std::size_t cores) {
    if (test == "g-fp-bc") return global_fp_rta_bc(ts, cores).schedulable;
    if (test == "g-fp-guan") return global_fp_rta_guan(ts, cores).schedulable;
    if (test == "g-edf-gfb") return global_edf_gfb(ts, cores).schedulable;
    if (test == "g-edf-bcl") return global_edf_bcl(ts, cores).schedulable;
    return global_edf_rta(ts, cores).schedulable;
}

family_sweep_result sweep_global(const arguments& args, const family_sweep_common& common) {
    const std::string who = "sweep --family global: ";
    const std::int64_t cores = integer_option(args, "cores", 4);
    if (cores < 1 || cores > 1024) throw input_error(who + "--cores must be in [1, 1024]");
    const std::int64_t n = integer_option(args, "n", 5 * cores);
    if (n < 1 || n > 10'000) throw input_error(who + "--n must be in [1, 10000]");
    const auto m = static_cast<double>(cores);
    const double u_min = number_option(args, "u-min", 0.25 * m);
    const double u_max = number_option(args, "u-max", m);
    const double u_step = number_option(args, "u-step", 0.05 * m);
    if (!(u_step > 0) || !(u_min > 0) || u_min > u_max)
        throw input_error(who + "need 0 < --u-min <= --u-max and --u-step > 0");
    if (u_max > static_cast<double>(n))
        throw input_error(who + "--u-max above --n (each task's utilisation is at most 1)");
    const std::string deadlines = args.value_or("deadlines", "implicit");
    if (deadlines != "implicit" && deadlines != "constrained")
        throw input_error(who + "--deadlines must be implicit or constrained, not '" + deadlines +
                          "'");
    const std::string priorities = args.value_or("priorities", "dm");
    if (priorities != "dm" && priorities != "rm")
        throw input_error(who + "--priorities must be dm or rm, not '" + priorities + "'");
    const time_value period_min = integer_option(args, "period-min", 10);
    const time_value period_max = integer_option(args, "period-max", 1000);
    if (period_min < 1 || period_max < period_min)
        throw input_error(who + "need 1 <= --period-min <= --period-max");
    const std::vector<std::string> tests = common.tests.empty() ? family_tests : common.tests;

    experiment_options options = family_experiment(common, axis_points(u_min, u_max, u_step));
    const auto cores_n = static_cast<std::size_t>(cores);
    const bool constrained = deadlines == "constrained";
    const bool rm = priorities == "rm";
    const auto trial = [&](double point, std::uint64_t seed, std::span<trial_outcome> outcomes) {
        generator_options g;
        g.n = static_cast<std::size_t>(n);
        g.utilization = point;
        g.method = utilization_method::randfixedsum;  // per-task U in [0, 1]
        g.min_task_utilization = 0.0;
        g.max_task_utilization = 1.0;
        g.period_min = period_min;
        g.period_max = period_max;
        g.deadlines = constrained ? deadline_kind::constrained : deadline_kind::implicit;
        std::vector<task> ts = generate_task_set(g, seed).tasks;
        ts = apply_priority_order(ts, rm ? rate_monotonic(ts) : deadline_monotonic(ts));
        for (std::size_t k = 0; k < tests.size(); ++k)
            outcomes[k] =
                accepts(tests[k], ts, cores_n) ? trial_outcome::accepted : trial_outcome::rejected;
    };
    family_sweep_result r;
    r.result = run_experiment(tests, trial, options, common.progress);
    r.title = "global, n=" + std::to_string(n) + ", " + std::to_string(cores) + " cores, " +
              deadlines + " deadlines, " + (rm ? "RM" : "DM") + " priorities for G-FP";
    return r;
}

const family_registration registered{
    analysis_family{"global",
                    "m identical cores: global FP RTA (Bertogna-Cirinei 2007, Guan et al. 2009), "
                    "global EDF (GFB, BCL, RTA)",
                    family_tests,
                    {},
                    analyze_global,
                    {"cores", "n", "u-min", "u-max", "u-step", "deadlines", "priorities",
                     "period-min", "period-max"},
                    sweep_global}};

}  // namespace

}  // namespace keel::sched::cli
