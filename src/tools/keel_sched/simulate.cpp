// keel-sched simulate: a preemptive uniprocessor schedule of the task set
// (keel::sched::simulate), per task the worst observed response and the misses.

#include "cli.hpp"

#include <keel/sched/simulate.hpp>

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace keel::sched::cli {

namespace json = boost::json;

namespace {

json::value or_null(const std::optional<time_value>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

std::string text_of(const std::optional<time_value>& v) {
    return v ? std::to_string(*v) : std::string("-");
}

}  // namespace

int run_simulate(const arguments& args, std::ostream& out) {
    check_arguments(args, "simulate", {"horizon", "policy", "release", "seed"}, {"json"}, 1);
    if (args.positional.empty()) throw input_error("simulate: missing FILE (a path, or -)");
    const time_value horizon = parse_integer(args.required("horizon"), "--horizon");
    if (horizon <= 0) throw input_error("simulate: --horizon must be positive");
    const std::string policy_name = args.value_or("policy", "fp");
    sim_policy policy = sim_policy::fixed_priority;
    if (policy_name == "edf")
        policy = sim_policy::edf;
    else if (policy_name != "fp")
        throw input_error("simulate: --policy: unknown policy '" + policy_name +
                          "' (known: fp, edf)");
    const std::string release = args.value_or("release", "synchronous");
    sim_options options;
    if (release == "critical-instant")
        options.pattern = release_pattern::critical_instant;
    else if (release == "random")
        options.pattern = release_pattern::random;
    else if (release != "synchronous")
        throw input_error("simulate: --release: unknown pattern '" + release +
                          "' (known: synchronous, critical-instant, random)");
    if (const auto s = args.options.find("seed"); s != args.options.end())
        options.seed = static_cast<std::uint64_t>(parse_integer(s->second, "--seed"));

    const system sys = read_system(args.positional[0]);
    const task_set& set = sys.tasks;
    simulation_result r;
    try {
        r = simulate(set.view(), policy, horizon, options);
    } catch (const std::invalid_argument& e) {
        throw input_error(with_task_names(set, e.what()));
    }

    if (args.has_flag("json")) {
        json::object doc;
        doc["policy"] = policy_name;
        doc["release"] = release;
        doc["horizon"] = r.end;
        doc["deadline_misses"] = r.deadline_misses;
        doc["first_miss"] = or_null(r.first_miss);
        doc["first_miss_task"] =
            r.first_miss_task ? json::value(set.name_of(*r.first_miss_task)) : json::value(nullptr);
        json::array tasks;
        for (std::size_t i = 0; i < set.size(); ++i) {
            const sim_task_stats& t = r.tasks[i];
            tasks.emplace_back(json::object{{"name", set.name_of(i)},
                                            {"max_response", t.max_response},
                                            {"first_job_response", or_null(t.first_job_response)},
                                            {"jobs_released", t.jobs_released},
                                            {"jobs_completed", t.jobs_completed},
                                            {"deadline_misses", t.deadline_misses},
                                            {"first_miss", or_null(t.first_miss)}});
        }
        doc["tasks"] = std::move(tasks);
        out << json::serialize(doc) << '\n';
    } else {
        out << "simulate " << policy_name << ", " << release << " release, [0, " << r.end
            << "): " << r.deadline_misses << " deadline miss" << (r.deadline_misses == 1 ? "" : "es");
        if (r.first_miss)
            out << ", first at " << *r.first_miss << " (task \""
                << set.name_of(r.first_miss_task.value_or(0)) << "\")";
        out << '\n';
        std::vector<std::vector<std::string>> table{{"task", "C", "T", "D", "J", "max response",
                                                     "first job", "released", "completed",
                                                     "misses", "first miss"}};
        for (std::size_t i = 0; i < set.size(); ++i) {
            const task& k = set.tasks[i];
            const sim_task_stats& t = r.tasks[i];
            table.push_back({set.name_of(i), std::to_string(k.wcet), std::to_string(k.period),
                             std::to_string(k.deadline), std::to_string(k.jitter),
                             std::to_string(t.max_response), text_of(t.first_job_response),
                             std::to_string(t.jobs_released), std::to_string(t.jobs_completed),
                             std::to_string(t.deadline_misses), text_of(t.first_miss)});
        }
        print_table(out, table);
    }
    return r.any_miss() ? exit_unschedulable : exit_ok;
}

}  // namespace keel::sched::cli
