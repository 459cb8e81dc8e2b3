// keel-sched generate: random task sets (keel::sched::generate_task_set) written in the
// input schema, so that they feed analyze, sensitivity and simulate directly.

#include "cli.hpp"

#include <keel/sched/generate.hpp>
#include <keel/sched/priority_assignment.hpp>

#include <boost/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace keel::sched::cli {

namespace json = boost::json;

namespace {

utilization_method method_of(const std::string& name) {
    if (name == "uunifast") return utilization_method::uunifast;
    if (name == "uunifast-discard") return utilization_method::uunifast_discard;
    if (name == "randfixedsum") return utilization_method::randfixedsum;
    if (name == "dirichlet-rescale") return utilization_method::dirichlet_rescale;
    throw input_error("generate: --method: unknown method '" + name +
                      "' (known: uunifast, uunifast-discard, randfixedsum, dirichlet-rescale)");
}

deadline_kind deadlines_of(const std::string& name) {
    if (name == "implicit") return deadline_kind::implicit;
    if (name == "constrained") return deadline_kind::constrained;
    if (name == "arbitrary") return deadline_kind::arbitrary;
    throw input_error("generate: --deadlines: unknown kind '" + name +
                      "' (known: implicit, constrained, arbitrary)");
}

/// The set in the input schema, in the requested priority order (list order is
/// priority order, so no "priority" field), tasks named t1, t2, ... in that order.
json::object to_json(const task_set& set, const std::string& order) {
    std::vector<std::size_t> perm;
    if (order == "dm") {
        perm = deadline_monotonic(set.view());
    } else if (order == "rm") {
        perm = rate_monotonic(set.view());
    } else {
        for (std::size_t i = 0; i < set.size(); ++i)
            perm.push_back(i);
    }
    json::array tasks;
    for (std::size_t k = 0; k < perm.size(); ++k) {
        const task& t = set.tasks[perm[k]];
        tasks.emplace_back(json::object{{"name", "t" + std::to_string(k + 1)},
                                        {"wcet", t.wcet},
                                        {"period", t.period},
                                        {"deadline", t.deadline}});
    }
    return json::object{{"cores", 1}, {"tasks", std::move(tasks)}};
}

/// One task per line, for a reader; still one JSON document.
void print_readable(std::ostream& out, const json::object& doc) {
    out << "{\"cores\": 1, \"tasks\": [\n";
    const json::array& tasks = doc.at("tasks").as_array();
    for (std::size_t i = 0; i < tasks.size(); ++i)
        out << "  " << json::serialize(tasks[i]) << (i + 1 < tasks.size() ? ",\n" : "\n");
    out << "]}\n";
}

}  // namespace

int run_generate(const arguments& args, std::ostream& out) {
    check_arguments(args, "generate",
                    {"n", "utilization", "seed", "method", "period-min", "period-max",
                     "granularity", "deadlines", "count", "order", "min-task-utilization",
                     "max-task-utilization", "deadline-min-fraction", "arbitrary-max-factor"},
                    {}, 0);
    generator_options o;
    const std::int64_t n = parse_integer(args.required("n"), "--n");
    if (n <= 0 || n > 1'000'000) throw input_error("generate: --n must be in 1..1000000");
    o.n = static_cast<std::size_t>(n);
    o.utilization = parse_number(args.required("utilization"), "--utilization");
    if (o.utilization <= 0) throw input_error("generate: --utilization must be positive");
    o.method = method_of(args.value_or("method", "uunifast-discard"));
    o.deadlines = deadlines_of(args.value_or("deadlines", "implicit"));
    auto integer = [&](const char* name, std::int64_t fallback) {
        const auto it = args.options.find(name);
        return it == args.options.end() ? fallback
                                        : parse_integer(it->second, std::string("--") + name);
    };
    auto number = [&](const char* name, double fallback) {
        const auto it = args.options.find(name);
        return it == args.options.end() ? fallback
                                        : parse_number(it->second, std::string("--") + name);
    };
    o.period_min = integer("period-min", o.period_min);
    o.period_max = integer("period-max", o.period_max);
    o.granularity = integer("granularity", o.granularity);
    o.min_task_utilization = number("min-task-utilization", o.min_task_utilization);
    o.max_task_utilization = number("max-task-utilization", o.max_task_utilization);
    o.deadline_min_fraction = number("deadline-min-fraction", o.deadline_min_fraction);
    o.arbitrary_max_factor = number("arbitrary-max-factor", o.arbitrary_max_factor);
    const std::int64_t seed = integer("seed", 1);
    const std::int64_t count = integer("count", 1);
    if (count <= 0) throw input_error("generate: --count must be positive");
    const std::string order = args.value_or("order", "dm");
    if (order != "dm" && order != "rm" && order != "none")
        throw input_error("generate: --order: unknown order '" + order + "' (known: dm, rm, none)");

    try {
        for (std::int64_t k = 0; k < count; ++k) {
            // Set k is drawn from seed + k: any one set can be regenerated alone.
            const auto s = static_cast<std::uint64_t>(seed) + static_cast<std::uint64_t>(k);
            const json::object doc = to_json(generate_task_set(o, s), order);
            if (count == 1)
                print_readable(out, doc);
            else
                out << json::serialize(doc) << '\n';
        }
    } catch (const std::invalid_argument& e) {
        throw input_error(e.what());
    }
    return exit_ok;
}

}  // namespace keel::sched::cli
