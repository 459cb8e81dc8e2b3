#pragma once

// keel-sched: the command-line face of keel::sched. Private to the tool: the library
// is usable without it (and without JSON).

#include <keel/sched/task.hpp>

#include <map>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace keel::sched::cli {

/// Exit statuses: 0 done (for analyze: the set is schedulable), 1 unschedulable (or
/// nothing satisfies the request), 2 bad input or usage (the message names the task
/// and the field, or the option), 3 an analysis could not finish (overflow, solver).
inline constexpr int exit_ok = 0;
inline constexpr int exit_unschedulable = 1;
inline constexpr int exit_bad_input = 2;
inline constexpr int exit_failed = 3;

/// Bad input or usage: printed as "keel-sched: <what>", exit status 2.
class input_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// One command line after the command name: positional arguments, `--name value`
/// options and `--flag` switches (which names are switches is the command's to say).
struct arguments {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;
    std::vector<std::string> flags;

    [[nodiscard]] bool has_flag(const std::string& name) const;
    /// The option's value, or throws input_error naming the missing option.
    [[nodiscard]] const std::string& required(const std::string& name) const;
    [[nodiscard]] std::string value_or(const std::string& name, std::string fallback) const;
};

/// A task set read from a JSON file ("-" for standard input), in priority order for
/// fixed-priority tests (see docs/sched.md for the schema and conventions), with the
/// number of cores the file gives. Throws input_error naming the task and the field.
struct system {
    task_set tasks;
    std::int64_t cores = 1;
};
[[nodiscard]] system read_system(const std::string& path);

// The commands (each in its own source file). Each writes to `out` and returns an exit status.
int run_analyze(const arguments& args, std::ostream& out);
int run_sensitivity(const arguments& args, std::ostream& out);
int run_constraints(const arguments& args, std::ostream& out);
int run_generate(const arguments& args, std::ostream& out);
int run_simulate(const arguments& args, std::ostream& out);
int run_sweep(const arguments& args, std::ostream& out);

}  // namespace keel::sched::cli
