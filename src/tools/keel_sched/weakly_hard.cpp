// keel-sched family "weakly-hard": weakly-hard (m, K) tasks on m identical cores under
// the two-class global job-level fixed-priority scheduler (weakly_hard.hpp).
//   analyze --test wh-jlfp FILE [--json]   tasks carry "m" and "K" (both or neither:
//                                          absent means hard, (0, 1)); "cores" >= 1.
//   sweep --family weakly-hard             schedulability ratio against utilisation for
//                                          wh-jlfp and the hard global tests.
// docs/sched/weakly_hard.md.
#include "cli.hpp"
#include "json_input.hpp"

#include <keel/sched/generate.hpp>
#include <keel/sched/global.hpp>
#include <keel/sched/priority_assignment.hpp>
#include <keel/sched/weakly_hard.hpp>

#include <boost/json.hpp>

#include <string>
#include <vector>

namespace keel::sched::cli {

namespace {

namespace json = boost::json;

// wh-jlfp, then the hard global baselines (every job meets its deadline) of global.hpp:
// G-RM by Bertogna-Cirinei and by Guan et al., G-EDF accepted by any of GFB, BCL, RTA.
const std::vector<std::string> family_tests{"wh-jlfp", "hard-g-rm-bc", "hard-g-rm-guan", "hard-g-edf"};

/// A hard global baseline's verdict on `ts` (tasks in rank order).
bool hard_baseline(const std::string& test, std::span<const task> ts, std::size_t cores) {
    if (test == "hard-g-rm-bc") return global_fp_rta_bc(ts, cores).schedulable;
    if (test == "hard-g-rm-guan") return global_fp_rta_guan(ts, cores).schedulable;
    return global_edf_gfb(ts, cores).schedulable || global_edf_bcl(ts, cores).schedulable ||
           global_edf_rta(ts, cores).schedulable;
}

std::string tolerable_text(std::int64_t c) {
    return c == unbounded_misses ? std::string("unbounded") : std::to_string(c);
}

int analyze_wh(const std::string& test, const arguments& args, std::ostream& out) {
    const json_system in = read_json_system(args.positional.at(0), schema_extension{{}, {"m", "K"}, true});
    const task_set& set = in.sys.tasks;
    if (test != "wh-jlfp") {
        bool ok = false;
        try {
            ok = hard_baseline(test, set.view(), static_cast<std::size_t>(in.sys.cores));
        } catch (const std::invalid_argument& e) {
            throw input_error(with_task_names(set, e.what()));
        }
        if (args.has_flag("json")) {
            json::object doc;
            doc["test"] = test;
            doc["schedulable"] = ok;
            doc["cores"] = in.sys.cores;
            out << json::serialize(doc) << '\n';
        } else {
            out << test << " on " << in.sys.cores << " cores: " << (ok ? "schedulable" : "not shown schedulable")
                << " (every job meets its deadline; m and K are not used)\n";
        }
        return ok ? exit_ok : exit_unschedulable;
    }
    const json::array& doc_tasks = in.document.at("tasks").as_array();
    std::vector<weakly_hard_constraint> constraints;
    for (std::size_t k = 0; k < set.size(); ++k) {
        const std::size_t src = in.source_index[k];
        const json::object& o = doc_tasks.at(src).as_object();
        const std::string where = "task " + std::to_string(src) + " (\"" + set.name_of(k) + "\")";
        const bool has_m = o.contains("m"), has_k = o.contains("K");
        if (has_m != has_k)
            throw input_error(where + ": give both \"m\" and \"K\" (at most m misses in any K consecutive jobs), or neither");
        weakly_hard_constraint c{0, 1};
        if (has_m) {
            c.m = integer_field(o.at("m"), where, "m");
            c.K = integer_field(o.at("K"), where, "K");
            if (c.K < 1) throw input_error(where + ": field \"K\": must be >= 1");
            if (c.m < 0 || c.m > c.K) throw input_error(where + ": field \"m\": must be in [0, K]");
        }
        constraints.push_back(c);
    }
    wh_result r;
    try {
        r = wh_jlfp_rta(set.view(), constraints, static_cast<std::size_t>(in.sys.cores));
    } catch (const std::invalid_argument& e) {
        throw input_error(with_task_names(set, e.what()));
    }
    if (args.has_flag("json")) {
        json::object doc;
        doc["test"] = "wh-jlfp";
        doc["schedulable"] = r.schedulable;
        doc["cores"] = static_cast<std::int64_t>(r.cores);
        json::array tasks;
        for (std::size_t k = 0; k < set.size(); ++k) {
            const wh_task_result& t = r.tasks[k];
            json::object o;
            o["name"] = set.name_of(k);
            o["m"] = constraints[k].m;
            o["K"] = constraints[k].K;
            o["tolerable_consecutive_misses"] =
                t.tolerable == unbounded_misses ? json::value(nullptr) : json::value(t.tolerable);
            o["satisfied"] = t.satisfied;
            o["urgent_response"] = t.urgent_response ? json::value(*t.urgent_response) : json::value(nullptr);
            o["urgent_period"] = t.urgent_period;
            json::array it;
            for (time_value v : t.iterations) it.push_back(v);
            o["iterations"] = std::move(it);
            tasks.push_back(std::move(o));
        }
        doc["tasks"] = std::move(tasks);
        out << json::serialize(doc) << '\n';
    } else {
        std::vector<std::vector<std::string>> rows{
            {"task", "C", "T", "D", "m", "K", "tolerable", "urgent R", "satisfied"}};
        for (std::size_t k = 0; k < set.size(); ++k) {
            const task& t = set.tasks[k];
            const wh_task_result& w = r.tasks[k];
            rows.push_back({set.name_of(k), std::to_string(t.wcet), std::to_string(t.period),
                            std::to_string(t.deadline), std::to_string(constraints[k].m),
                            std::to_string(constraints[k].K), tolerable_text(w.tolerable),
                            w.urgent_response ? std::to_string(*w.urgent_response) : std::string("-"),
                            w.satisfied ? "yes" : "no"});
        }
        print_table(out, rows);
        out << "wh-jlfp on " << r.cores << " core" << (r.cores == 1 ? "" : "s") << ": "
            << (r.schedulable ? "every (m, K) constraint holds" : "not shown to hold for every task") << '\n';
    }
    return r.schedulable ? exit_ok : exit_unschedulable;
}

family_sweep_result sweep_wh(const arguments& args, const family_sweep_common& common) {
    const std::int64_t cores = integer_option(args, "cores", 2);
    if (cores < 1 || cores > 1024) throw input_error("sweep --family weakly-hard: --cores must be in [1, 1024]");
    const std::int64_t n = integer_option(args, "n", 10);
    if (n < 1 || n > 10'000) throw input_error("sweep --family weakly-hard: --n must be in [1, 10000]");
    const weakly_hard_constraint constraint{integer_option(args, "m", 1), integer_option(args, "K", 2)};
    if (!is_well_formed(constraint))
        throw input_error("sweep --family weakly-hard: --m and --K must satisfy K >= 1 and 0 <= m <= K");
    const auto c = static_cast<double>(cores);
    const double u_min = number_option(args, "u-min", 0.25 * c);
    const double u_max = number_option(args, "u-max", c);
    const double u_step = number_option(args, "u-step", 0.05 * c);
    if (!(u_step > 0) || !(u_min > 0) || u_min > u_max)
        throw input_error("sweep --family weakly-hard: need 0 < --u-min <= --u-max and --u-step > 0");
    if (u_max > static_cast<double>(n))
        throw input_error("sweep --family weakly-hard: --u-max above --n (each task's utilisation is at most 1)");
    const time_value period_min = integer_option(args, "period-min", 10);
    const time_value period_max = integer_option(args, "period-max", 1000);
    if (period_min < 1 || period_max < period_min)
        throw input_error("sweep --family weakly-hard: need 1 <= --period-min <= --period-max");

    experiment_options options = family_experiment(common, axis_points(u_min, u_max, u_step));
    const std::vector<std::string> tests = common.tests.empty() ? family_tests : common.tests;

    const auto cores_n = static_cast<std::size_t>(cores);
    const auto trial = [&](double point, std::uint64_t seed, std::span<trial_outcome> outcomes) {
        generator_options g;
        g.n = static_cast<std::size_t>(n);
        g.utilization = point;
        g.method = utilization_method::randfixedsum;
        g.min_task_utilization = 0.0;
        g.max_task_utilization = 1.0;
        g.period_min = period_min;
        g.period_max = period_max;
        g.deadlines = deadline_kind::implicit;
        std::vector<task> ts = generate_task_set(g, seed).tasks;
        ts = apply_priority_order(ts, rate_monotonic(ts));
        const std::vector<weakly_hard_constraint> cs(ts.size(), constraint);
        for (std::size_t k = 0; k < tests.size(); ++k) {
            const std::string& t = tests[k];
            const bool ok = t == "wh-jlfp" ? wh_jlfp_rta(ts, cs, cores_n).schedulable
                                           : hard_baseline(t, ts, cores_n);
            outcomes[k] = ok ? trial_outcome::accepted : trial_outcome::rejected;
        }
    };
    family_sweep_result r;
    r.result = run_experiment(tests, trial, options, common.progress);
    r.title = "weakly-hard (m=" + std::to_string(constraint.m) + ", K=" + std::to_string(constraint.K) +
              "), n=" + std::to_string(n) + ", " + std::to_string(cores) + " cores, implicit deadlines, RM ranks";
    return r;
}

const family_registration registered{analysis_family{
    "weakly-hard",
    "weakly-hard (m, K) tasks, global two-class job-level fixed priorities (Moyano et al. 2024)",
    family_tests,
    {},
    analyze_wh,
    {"cores", "n", "m", "K", "u-min", "u-max", "u-step", "period-min", "period-max"},
    sweep_wh}};

}  // namespace

}  // namespace keel::sched::cli
