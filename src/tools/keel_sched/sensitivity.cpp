// keel-sched sensitivity: the largest WCET of one task, or the largest common WCET
// scaling factor, that a test still accepts (keel::sched::max_wcet / max_scaling).

#include "cli.hpp"

#include <keel/sched/sensitivity.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>

namespace keel::sched::cli {

namespace json = boost::json;

int run_sensitivity(const arguments& args, std::ostream& out) {
    check_arguments(args, "sensitivity", {"task", "test", "resolution"}, {"json", "scaling"}, 1);
    if (args.positional.empty()) throw input_error("sensitivity: missing FILE (a path, or -)");
    const std::string test = args.value_or("test", "fp-rta");
    check_test_name(test);
    const bool scaling = args.has_flag("scaling");
    if (scaling == args.options.contains("task"))
        throw input_error("sensitivity: give either --task NAME or --scaling");
    if (!scaling && args.options.contains("resolution"))
        throw input_error("sensitivity: --resolution applies to --scaling only");
    const system sys = read_system(args.positional[0]);
    const task_set& set = sys.tasks;
    const bool as_json = args.has_flag("json");
    const set_test accepts = [&test](std::span<const task> s) { return test_accepts(test, s); };

    json::object doc;
    doc["test"] = test;
    try {
        if (!scaling) {
            const std::string& name = args.required("task");
            std::size_t index = set.size();
            for (std::size_t i = 0; i < set.size(); ++i)
                if (set.name_of(i) == name) index = i;
            if (index == set.size())
                throw input_error("sensitivity: --task: no task is named \"" + name + "\"");
            const std::optional<time_value> c = max_wcet(set.view(), index, accepts);
            doc["task"] = name;
            doc["max_wcet"] = c ? json::value(*c) : json::value(nullptr);
            doc["wcet"] = set.tasks[index].wcet;
            if (as_json) {
                out << json::serialize(doc) << '\n';
            } else if (c) {
                out << test << ": task \"" << name << "\" can take a WCET up to " << *c
                    << " (now " << set.tasks[index].wcet << ", deadline "
                    << set.tasks[index].deadline << ")\n";
            } else {
                out << test << ": the set fails even with task \"" << name
                    << "\"'s WCET at 1: no WCET keeps it schedulable\n";
            }
            return c ? exit_ok : exit_unschedulable;
        }
        std::int64_t resolution = 1000;
        if (const auto r = args.options.find("resolution"); r != args.options.end()) {
            resolution = parse_integer(r->second, "--resolution");
            if (resolution <= 0) throw input_error("--resolution must be positive");
        }
        const std::optional<std::int64_t> k = max_scaling(set.view(), accepts, resolution);
        doc["resolution"] = resolution;
        doc["max_scaling_k"] = k ? json::value(*k) : json::value(nullptr);
        doc["max_scaling"] = k ? json::value(static_cast<double>(*k) / static_cast<double>(resolution))
                               : json::value(nullptr);
        if (as_json) {
            out << json::serialize(doc) << '\n';
        } else if (k) {
            char factor[64];
            std::snprintf(factor, sizeof factor, "%.6g",
                          static_cast<double>(*k) / static_cast<double>(resolution));
            out << test << ": every WCET can be scaled by " << *k << "/" << resolution << " = "
                << factor << " (rounded up per task) and the set stays schedulable\n";
        } else {
            out << test << ": the set fails even with every WCET scaled by 1/" << resolution
                << "\n";
        }
        return k ? exit_ok : exit_unschedulable;
    } catch (const std::invalid_argument& e) {
        throw input_error(with_task_names(set, e.what()));
    }
}

}  // namespace keel::sched::cli
