// keel-sched family "ros2": processing chains of ROS 2 callbacks on a multi-threaded
// executor (ros2.hpp), under the default executor and the priority-driven one.
//   analyze --test ros2-default|ros2-priority FILE [--json]
//       {"threads": n, "groups": [...], "callbacks": [...], "chains": [...]}
//   sweep --family ros2    schedulability ratio against total utilisation, both executors
// docs/sched/ros2.md.
#include "cli.hpp"
#include "json_input.hpp"

#include <keel/sched/ros2.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace keel::sched::cli {

namespace {

namespace json = boost::json;

const std::vector<std::string> family_tests{"ros2-default", "ros2-priority"};

ros2_executor executor_of(const std::string& test) {
    return test == "ros2-default" ? ros2_executor::default_executor : ros2_executor::priority_driven;
}

const json::object& object_at(const json::value& v, const std::string& where) {
    if (!v.is_object()) throw input_error(where + ": must be an object");
    return v.as_object();
}

const json::array& array_field(const json::object& o, const std::string& where, const char* field) {
    const json::value* v = o.if_contains(field);
    if (v == nullptr || !v->is_array()) throw input_error(where + ": field \"" + field + "\" must be an array");
    return v->as_array();
}

std::string string_field(const json::object& o, const std::string& where, const char* field) {
    const json::value* v = o.if_contains(field);
    if (v == nullptr || !v->is_string()) throw input_error(where + ": field \"" + field + "\" must be a string");
    return std::string(v->as_string());
}

void only_fields(const json::object& o, const std::string& where, std::initializer_list<const char*> allowed) {
    for (const auto& kv : o) {
        const bool known = std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return kv.key() == a; });
        if (!known) throw input_error(where + ": unknown field \"" + std::string(kv.key()) + "\"");
    }
}

/// A required integer field (input_error naming `where` and the field).
std::int64_t integer_at(const json::object& o, const std::string& where, const char* field) {
    const json::value* v = o.if_contains(field);
    if (v == nullptr) throw input_error(where + ": field \"" + field + "\" is missing");
    return integer_field(*v, where, field);
}

std::int64_t integer_or(const json::object& o, const std::string& where, const char* field, std::int64_t fallback) {
    return o.contains(field) ? integer_at(o, where, field) : fallback;
}

/// The ros2 schema (docs/sched/ros2.md, "Input"). input_error names the element and field.
ros2_system read_ros2(const std::string& path) {
    const json::value doc = read_json_file(path);
    const json::object& top = object_at(doc, path);
    only_fields(top, path, {"threads", "groups", "callbacks", "chains"});
    ros2_system s;
    const std::int64_t threads = integer_at(top, path, "threads");
    if (threads < 1 || threads > 4096) throw input_error(path + ": field \"threads\" must be in [1, 4096]");
    s.threads = static_cast<std::size_t>(threads);

    std::map<std::string, std::size_t> group_index, callback_index;
    const json::array& groups = array_field(top, path, "groups");
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const std::string where = "group " + std::to_string(g);
        const json::object& o = object_at(groups[g], where);
        only_fields(o, where, {"name", "kind"});
        ros2_group grp;
        grp.name = string_field(o, where, "name");
        const std::string kind = string_field(o, where + " '" + grp.name + "'", "kind");
        if (kind == "mutually_exclusive") grp.kind = ros2_group_kind::mutually_exclusive;
        else if (kind == "reentrant") grp.kind = ros2_group_kind::reentrant;
        else throw input_error(where + " '" + grp.name + "': field \"kind\" must be mutually_exclusive or reentrant");
        group_index.emplace(grp.name, g);
        s.groups.push_back(std::move(grp));
    }
    const json::array& callbacks = array_field(top, path, "callbacks");
    for (std::size_t k = 0; k < callbacks.size(); ++k) {
        std::string where = "callback " + std::to_string(k);
        const json::object& o = object_at(callbacks[k], where);
        only_fields(o, where, {"name", "kind", "wcet", "period", "phase", "group"});
        ros2_callback cb;
        cb.name = string_field(o, where, "name");
        where += " '" + cb.name + "'";
        const std::string kind = string_field(o, where, "kind");
        if (kind == "timer") cb.kind = ros2_callback_kind::timer;
        else if (kind == "subscription") cb.kind = ros2_callback_kind::subscription;
        else throw input_error(where + ": field \"kind\" must be timer or subscription");
        cb.wcet = integer_at(o, where, "wcet");
        cb.period = integer_or(o, where, "period", 0);
        cb.phase = integer_or(o, where, "phase", 0);
        const std::string group = string_field(o, where, "group");
        const auto g = group_index.find(group);
        if (g == group_index.end()) throw input_error(where + ": field \"group\": no group named '" + group + "'");
        cb.group = g->second;
        callback_index.emplace(cb.name, k);
        s.callbacks.push_back(std::move(cb));
    }
    const json::array& chains = array_field(top, path, "chains");
    for (std::size_t c = 0; c < chains.size(); ++c) {
        std::string where = "chain " + std::to_string(c);
        const json::object& o = object_at(chains[c], where);
        only_fields(o, where, {"name", "callbacks", "deadline", "priority"});
        ros2_chain ch;
        ch.name = string_field(o, where, "name");
        where += " '" + ch.name + "'";
        for (const json::value& v : array_field(o, where, "callbacks")) {
            if (!v.is_string()) throw input_error(where + ": field \"callbacks\" must list callback names");
            const auto k = callback_index.find(std::string(v.as_string()));
            if (k == callback_index.end())
                throw input_error(where + ": field \"callbacks\": no callback named '" + std::string(v.as_string()) + "'");
            ch.callbacks.push_back(k->second);
        }
        ch.deadline = integer_at(o, where, "deadline");
        ch.priority = integer_or(o, where, "priority", static_cast<std::int64_t>(c));
        s.chains.push_back(std::move(ch));
    }
    try {
        s.validate();
    } catch (const std::invalid_argument& e) {
        throw input_error(path + ": " + e.what());
    }
    return s;
}

json::value optional_json(const std::optional<time_value>& v) { return v ? json::value(*v) : json::value(nullptr); }

int analyze_ros2(const std::string& test, const arguments& args, std::ostream& out) {
    const ros2_system s = read_ros2(args.positional.at(0));
    const ros2_result r = ros2_analyze(s, executor_of(test));
    const auto pos = s.chain_positions();
    if (args.has_flag("json")) {
        json::object doc;
        doc["test"] = test;
        doc["schedulable"] = r.schedulable;
        doc["threads"] = static_cast<std::int64_t>(s.threads);
        doc["converged"] = r.converged;
        doc["iterations"] = r.iterations;
        json::array chains;
        for (std::size_t c = 0; c < s.chains.size(); ++c) {
            json::object o;
            o["name"] = s.chains[c].name;
            o["period"] = s.chain_period(c);
            o["deadline"] = s.chains[c].deadline;
            o["arbitrary_deadline"] = r.chains[c].arbitrary_deadline;
            o["end_to_end"] = optional_json(r.chains[c].end_to_end);
            o["schedulable"] = r.chains[c].schedulable;
            chains.push_back(std::move(o));
        }
        doc["chains"] = std::move(chains);
        json::array cbs;
        for (std::size_t k = 0; k < s.callbacks.size(); ++k) {
            json::object o;
            o["name"] = s.callbacks[k].name;
            o["chain"] = s.chains[pos[k].first].name;
            if (r.converged) {
                o["release_jitter"] = r.callbacks[k].release_jitter;
                o["waiting"] = r.callbacks[k].waiting;
                o["completion"] = r.callbacks[k].completion;
            } else {
                o["release_jitter"] = nullptr;
                o["waiting"] = nullptr;
                o["completion"] = nullptr;
            }
            cbs.push_back(std::move(o));
        }
        doc["callbacks"] = std::move(cbs);
        out << json::serialize(doc) << '\n';
    } else {
        std::vector<std::vector<std::string>> rows{{"chain", "callbacks", "T", "D", "end-to-end bound", "verdict"}};
        for (std::size_t c = 0; c < s.chains.size(); ++c) {
            std::string list;
            for (std::size_t k : s.chains[c].callbacks)
                list += (list.empty() ? "" : ">") + s.callbacks[k].name +
                        (r.converged ? "@" + std::to_string(r.callbacks[k].completion) : "");
            const auto& b = r.chains[c];
            rows.push_back({s.chains[c].name, list, std::to_string(s.chain_period(c)),
                            std::to_string(s.chains[c].deadline), b.end_to_end ? std::to_string(*b.end_to_end) : "-",
                            b.schedulable ? "ok" : (b.end_to_end ? "exceeds D" : "no bound")});
        }
        print_table(out, rows);
        out << test << " on " << s.threads << " threads: " << (r.schedulable ? "schedulable" : "not shown schedulable");
        if (!r.converged) out << " (no fixed point below the limit)";
        out << '\n';
    }
    return r.schedulable ? exit_ok : exit_unschedulable;
}

family_sweep_result sweep_ros2(const arguments& args, const family_sweep_common& common) {
    const std::string who = "sweep --family ros2: ";
    ros2_generator_options g;
    // --threads is the common option (the sweep's worker threads); the executor's is this.
    const std::int64_t threads = integer_option(args, "executor-threads", 4);
    if (threads < 1 || threads > 1024) throw input_error(who + "--executor-threads must be in [1, 1024]");
    g.threads = static_cast<std::size_t>(threads);
    const std::int64_t chains = integer_option(args, "chains", 5);
    if (chains < 1 || chains > 1000) throw input_error(who + "--chains must be in [1, 1000]");
    g.chains = static_cast<std::size_t>(chains);
    const std::int64_t lmin = integer_option(args, "min-length", 2), lmax = integer_option(args, "max-length", 5);
    if (lmin < 1 || lmax < lmin || lmax > 100) throw input_error(who + "need 1 <= --min-length <= --max-length <= 100");
    g.min_chain_length = static_cast<std::size_t>(lmin);
    g.max_chain_length = static_cast<std::size_t>(lmax);
    const std::int64_t groups = integer_option(args, "groups", 0);
    if (groups < 0 || groups > 1000) throw input_error(who + "--groups must be in [0, 1000]");
    g.groups = static_cast<std::size_t>(groups);
    g.mutex_probability = number_option(args, "mutex", 0.5);
    if (!(g.mutex_probability >= 0 && g.mutex_probability <= 1)) throw input_error(who + "--mutex must be in [0, 1]");
    g.period_min = integer_option(args, "period-min", 100);
    g.period_max = integer_option(args, "period-max", 1000);
    if (g.period_min < 1 || g.period_max < g.period_min) throw input_error(who + "need 1 <= --period-min <= --period-max");
    g.granularity = std::min<time_value>(10, g.period_min);
    const std::string deadlines = args.value_or("deadlines", "implicit");
    if (deadlines == "implicit") g.deadlines = deadline_kind::implicit;
    else if (deadlines == "constrained") g.deadlines = deadline_kind::constrained;
    else if (deadlines == "arbitrary") g.deadlines = deadline_kind::arbitrary;
    else throw input_error(who + "--deadlines must be implicit, constrained or arbitrary, not '" + deadlines + "'");
    const auto m = static_cast<double>(threads);
    const double u_min = number_option(args, "u-min", 0.05 * m);
    const double u_max = number_option(args, "u-max", 0.5 * m);
    const double u_step = number_option(args, "u-step", 0.05 * m);
    if (!(u_step > 0) || !(u_min > 0) || u_min > u_max)
        throw input_error(who + "need 0 < --u-min <= --u-max and --u-step > 0");
    if (u_max > static_cast<double>(chains))
        throw input_error(who + "--u-max above --chains (each chain's utilisation is at most 1)");
    const std::vector<std::string> tests = common.tests.empty() ? family_tests : common.tests;

    experiment_options options = family_experiment(common, axis_points(u_min, u_max, u_step));
    const auto trial = [&](double point, std::uint64_t seed, std::span<trial_outcome> outcomes) {
        ros2_generator_options o = g;
        o.utilization = point;
        const ros2_system s = ros2_generate(o, seed);
        for (std::size_t k = 0; k < tests.size(); ++k)
            outcomes[k] = ros2_analyze(s, executor_of(tests[k])).schedulable ? trial_outcome::accepted
                                                                             : trial_outcome::rejected;
    };
    family_sweep_result r;
    r.result = run_experiment(tests, trial, options, common.progress);
    r.title = "ros2, " + std::to_string(chains) + " chains of " + std::to_string(lmin) + "-" + std::to_string(lmax) +
              " callbacks, " + std::to_string(threads) + " threads, " + deadlines + " deadlines";
    return r;
}

const family_registration registered{analysis_family{
    "ros2",
    "ROS 2 callback chains on a multi-threaded executor: default vs priority-driven (after Sobhani et al. 2023)",
    family_tests,
    {},
    analyze_ros2,
    {"executor-threads", "chains", "min-length", "max-length", "groups", "mutex", "period-min", "period-max", "deadlines",
     "u-min", "u-max", "u-step"},
    sweep_ros2}};

}  // namespace

}  // namespace keel::sched::cli
