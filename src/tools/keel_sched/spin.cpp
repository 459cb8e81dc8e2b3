// keel-sched family "spin": spin locks on partitioned fixed-priority multiprocessors
// (spin_locks.hpp).
//   analyze --test msrp|pwlp|frap FILE [--json]   tasks carry "core" and
//                     "critical_sections"; the top level "resources" (names).
//   sweep --family spin    schedulability ratio of msrp, pwlp, frap against an axis
//                          (--axis utilization|cs-max|resources|access-probability).
// docs/sched/spin_locks.md.
#include "cli.hpp"
#include "json_input.hpp"

#include <keel/sched/spin_locks.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace keel::sched::cli {

namespace {

namespace json = boost::json;

// msrp-flow / pwlp-flow: FRAP's flow bound with MSRP's / PWLP's fixed levels; they split
// FRAP's gain into the tighter bound and the flexible levels.
const std::vector<std::string> family_tests{"msrp", "pwlp", "frap", "msrp-flow", "pwlp-flow"};

struct spin_input {
    spin_system sys;
    std::vector<std::string> resource_names;
};

spin_input read_spin(const std::string& path) {
    const json_system in = read_json_system(
        path, schema_extension{{"resources"}, {"core", "critical_sections"}, true});
    const task_set& set = in.sys.tasks;
    spin_input out;
    spin_system& s = out.sys;
    s.cores = static_cast<std::size_t>(in.sys.cores);
    // "resources": a list of names.
    std::map<std::string, std::size_t> by_name;
    if (const auto* r = in.document.if_contains("resources")) {
        if (!r->is_array())
            throw input_error("field \"resources\": must be a list of resource names");
        for (const json::value& v : r->as_array()) {
            if (!v.is_string())
                throw input_error("field \"resources\": every entry must be a name (string)");
            const std::string name(v.as_string());
            if (!by_name.emplace(name, out.resource_names.size()).second)
                throw input_error("field \"resources\": '" + name + "' is listed twice");
            out.resource_names.push_back(name);
        }
    }
    s.resources = out.resource_names.size();
    const json::array& doc_tasks = in.document.at("tasks").as_array();
    for (std::size_t k = 0; k < set.size(); ++k) {
        const std::size_t src = in.source_index[k];
        const json::object& o = doc_tasks.at(src).as_object();
        const std::string where = "task " + std::to_string(src) + " (\"" + set.name_of(k) + "\")";
        s.tasks.push_back(set.tasks[k]);
        s.names.push_back(set.name_of(k));
        s.priority.push_back(static_cast<std::int64_t>(k));
        std::int64_t core = 0;
        if (o.contains("core")) {
            core = integer_field(o.at("core"), where, "core");
            if (core < 0 || core >= in.sys.cores)
                throw input_error(where + ": field \"core\": " + std::to_string(core) +
                                  " is not in [0, " + std::to_string(in.sys.cores) + ")");
        } else if (in.sys.cores > 1) {
            throw input_error(where + ": field \"core\" is missing (the system has " +
                              std::to_string(in.sys.cores) + " cores)");
        }
        s.core.push_back(static_cast<std::size_t>(core));
        std::vector<critical_section> sections;
        if (const auto* cs = o.if_contains("critical_sections")) {
            if (!cs->is_array())
                throw input_error(where +
                                  ": field \"critical_sections\": must be a list of "
                                  "{\"resource\", \"length\", \"count\"}");
            std::size_t idx = 0;
            for (const json::value& v : cs->as_array()) {
                const std::string at = where + ": critical_sections[" + std::to_string(idx++) + "]";
                if (!v.is_object()) throw input_error(at + ": must be an object");
                const json::object& e = v.as_object();
                for (const auto& kv : e)
                    if (kv.key() != "resource" && kv.key() != "length" && kv.key() != "count")
                        throw input_error(at + ": unknown field \"" + std::string(kv.key()) + "\"");
                if (!e.contains("resource") || !e.at("resource").is_string())
                    throw input_error(
                        at + ": field \"resource\": must name a resource of \"resources\"");
                const std::string rn(e.at("resource").as_string());
                const auto f = by_name.find(rn);
                if (f == by_name.end())
                    throw input_error(at + ": field \"resource\": '" + rn +
                                      "' is not in \"resources\"");
                if (!e.contains("length")) throw input_error(at + ": field \"length\" is missing");
                critical_section sec;
                sec.resource = f->second;
                sec.length = integer_field(e.at("length"), at, "length");
                sec.count = e.contains("count") ? integer_field(e.at("count"), at, "count") : 1;
                sections.push_back(sec);
            }
        }
        s.sections.push_back(std::move(sections));
    }
    try {
        s.validate();
    } catch (const std::invalid_argument& e) {
        // The library names tasks by position in priority order; give the names.
        std::string msg = e.what();
        for (std::size_t k = s.tasks.size(); k-- > 0;) {
            const std::string tag =
                "task " + std::to_string(k + 1) + " (index " + std::to_string(k) + ")";
            const auto p = msg.find(tag);
            if (p != std::string::npos) msg.replace(p, tag.size(), "task \"" + s.names[k] + "\"");
        }
        throw input_error(msg);
    }
    return out;
}

/// The name of the task whose priority is `level` on `core` (levels are priority indices).
std::string level_name(const spin_system& s, std::size_t core, std::int64_t level) {
    for (std::size_t i = 0; i < s.tasks.size(); ++i)
        if (s.core[i] == core && s.priority[i] == level) return s.names[i];
    return std::to_string(level);
}

/// evidence = false for sweeps: FRAP then skips flows where the per-request bound decides.
spin_result run_test(const std::string& test, const spin_system& s, bool evidence = true) {
    if (test == "msrp") return msrp_analysis(s);
    if (test == "pwlp") return pwlp_analysis(s);
    if (test == "msrp-flow" || test == "pwlp-flow") {
        const bool high = test == "msrp-flow";
        if (!evidence) {  // the per-request bound decides when it accepts (never below the flow
                          // bound)
            spin_result quick = high ? msrp_analysis(s) : pwlp_analysis(s);
            if (quick.schedulable) return quick;
        }
        return frap_analysis(s, high ? msrp_levels(s) : pwlp_levels(s));
    }
    return frap(s, evidence);
}

int analyze_spin(const std::string& test, const arguments& args, std::ostream& out) {
    const spin_input in = read_spin(args.positional.at(0));
    const spin_system& s = in.sys;
    spin_result r;
    try {
        r = run_test(test, s);
    } catch (const std::invalid_argument& e) {
        throw input_error(e.what());
    }
    if (args.has_flag("json")) {
        json::object doc;
        doc["test"] = test;
        doc["schedulable"] = r.schedulable;
        doc["cores"] = static_cast<std::int64_t>(s.cores);
        json::array res;
        for (std::size_t k = 0; k < s.resources; ++k) {
            json::object o;
            o["name"] = in.resource_names[k];
            o["global"] = s.is_global(k);
            res.push_back(std::move(o));
        }
        doc["resources"] = std::move(res);
        if (test == "frap") doc["assignments_tried"] = r.assignments_tried;
        json::array tasks;
        for (std::size_t i = 0; i < s.tasks.size(); ++i) {
            const spin_task_result& t = r.tasks[i];
            json::object o;
            o["name"] = s.names[i];
            o["core"] = static_cast<std::int64_t>(s.core[i]);
            o["schedulable"] = t.schedulable;
            o["response_time"] =
                t.response_time ? json::value(*t.response_time) : json::value(nullptr);
            o["own_spin"] = t.own_spin;
            o["arrival_blocking"] = t.arrival_blocking;
            o["spin_in_window"] = t.spin_in_window;
            o["iterations"] = t.iterations;
            o["flow_solves"] = t.flow_solves;
            json::object levels;
            for (const critical_section& cs : s.sections[i])
                if (s.is_global(cs.resource))
                    levels[in.resource_names[cs.resource]] =
                        level_name(s, s.core[i], r.levels[i][cs.resource]);
            o["spin_levels"] = std::move(levels);
            tasks.push_back(std::move(o));
        }
        doc["tasks"] = std::move(tasks);
        out << json::serialize(doc) << '\n';
    } else {
        std::vector<std::vector<std::string>> rows{
            {"task", "core", "C", "T", "D", "own spin", "blocking", "R", "ok", "spins at"}};
        for (std::size_t i = 0; i < s.tasks.size(); ++i) {
            const spin_task_result& t = r.tasks[i];
            std::string levels;
            for (const critical_section& cs : s.sections[i])
                if (s.is_global(cs.resource))
                    levels += (levels.empty() ? "" : " ") + in.resource_names[cs.resource] + "@" +
                              level_name(s, s.core[i], r.levels[i][cs.resource]);
            rows.push_back({s.names[i], std::to_string(s.core[i]), std::to_string(s.tasks[i].wcet),
                            std::to_string(s.tasks[i].period), std::to_string(s.tasks[i].deadline),
                            std::to_string(t.own_spin), std::to_string(t.arrival_blocking),
                            t.response_time ? std::to_string(*t.response_time) : std::string("-"),
                            t.schedulable ? "yes" : "no", levels.empty() ? "-" : levels});
        }
        print_table(out, rows);
        out << test << " on " << s.cores << " core" << (s.cores == 1 ? "" : "s") << ": "
            << (r.schedulable ? "schedulable" : "not shown schedulable") << '\n';
    }
    return r.schedulable ? exit_ok : exit_unschedulable;
}

family_sweep_result sweep_spin(const arguments& args, const family_sweep_common& common) {
    const std::string where = "sweep --family spin: ";
    spin_generator_options g;
    const std::int64_t cores = integer_option(args, "cores", 4);
    const std::int64_t n = integer_option(args, "tasks-per-core", 5);
    const std::int64_t resources = integer_option(args, "resources", 4);
    if (cores < 1 || cores > 256) throw input_error(where + "--cores must be in [1, 256]");
    if (n < 1 || n > 1000) throw input_error(where + "--tasks-per-core must be in [1, 1000]");
    if (resources < 0 || resources > 1000)
        throw input_error(where + "--resources must be in [0, 1000]");
    g.cores = static_cast<std::size_t>(cores);
    g.tasks_per_core = static_cast<std::size_t>(n);
    g.resources = static_cast<std::size_t>(resources);
    g.utilization = number_option(args, "utilization", 0.5);
    g.access_probability = number_option(args, "access-probability", 0.5);
    g.max_requests = integer_option(args, "max-requests", 3);
    g.cs_min = integer_option(args, "cs-min", 5);
    g.cs_max = integer_option(args, "cs-max", 50);
    g.period_min = integer_option(args, "period-min", 1000);
    g.period_max = integer_option(args, "period-max", 100000);
    if (g.period_min < 1 || g.period_max < g.period_min)
        throw input_error(where + "need 1 <= --period-min <= --period-max");
    const std::string axis = args.value_or("axis", "utilization");
    double from = 0, to = 0, step = 0;
    if (axis == "utilization") {
        from = 0.1, to = 0.9, step = 0.1;
    } else if (axis == "cs-max") {
        from = 10, to = 200, step = 20;
    } else if (axis == "resources") {
        from = 1, to = 16, step = 3;
    } else if (axis == "access-probability") {
        from = 0.1, to = 1.0, step = 0.1;
    } else {
        throw input_error(where + "--axis: '" + axis +
                          "' is not one of utilization, cs-max, resources, access-probability");
    }
    from = number_option(args, "from", from);
    to = number_option(args, "to", to);
    step = number_option(args, "step", step);
    if (!(step > 0) || from > to) throw input_error(where + "need --from <= --to and --step > 0");
    experiment_options options = family_experiment(common, axis_points(from, to, step), axis);
    // Check the whole range once, so that a bad option is a usage error, not trial errors.
    for (double x : options.points) {
        spin_generator_options h = g;
        if (axis == "utilization") h.utilization = x;
        if (axis == "cs-max") h.cs_max = std::llround(x);
        if (axis == "resources")
            h.resources = static_cast<std::size_t>(std::llround(std::max(0.0, x)));
        if (axis == "access-probability") h.access_probability = x;
        try {
            (void)generate_spin_system(h, 1);
        } catch (const std::invalid_argument& e) {
            throw input_error(where + e.what());
        }
    }
    const std::vector<std::string> tests = common.tests.empty() ? family_tests : common.tests;
    const auto trial = [&](double point, std::uint64_t seed, std::span<trial_outcome> outcomes) {
        spin_generator_options h = g;
        if (axis == "utilization") h.utilization = point;
        if (axis == "cs-max") h.cs_max = std::llround(point);
        if (axis == "resources") h.resources = static_cast<std::size_t>(std::llround(point));
        if (axis == "access-probability") h.access_probability = point;
        const spin_system s = generate_spin_system(h, seed);
        for (std::size_t k = 0; k < tests.size(); ++k)
            outcomes[k] = run_test(tests[k], s, false).schedulable ? trial_outcome::accepted
                                                                   : trial_outcome::rejected;
    };
    family_sweep_result r;
    r.result = run_experiment(tests, trial, options, common.progress);
    r.title = "spin locks: " + std::to_string(cores) + " cores x " + std::to_string(n) +
              " tasks, " + (axis == "resources" ? std::string("x") : std::to_string(resources)) +
              " resources, cs [" + std::to_string(g.cs_min) + ", " +
              (axis == "cs-max" ? std::string("x") : std::to_string(g.cs_max)) + "], axis " + axis;
    return r;
}

const family_registration registered{analysis_family{
    "spin",
    "spin locks on partitioned FP multiprocessors: MSRP, PWLP, FRAP (Zhao et al., arXiv "
    "2408.13772)",
    family_tests,
    {},
    analyze_spin,
    {"cores", "tasks-per-core", "resources", "utilization", "access-probability", "max-requests",
     "cs-min", "cs-max", "period-min", "period-max", "axis", "from", "to", "step"},
    sweep_spin}};

}  // namespace

}  // namespace keel::sched::cli
