#pragma once

// keel-sched: the command-line face of keel::sched. Private to the tool: the library
// is usable without it (and without JSON).

#include <keel/sched/experiment.hpp>
#include <keel/sched/task.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <ostream>
#include <span>
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
/// Refuses cores != 1 (the part-1 analyses are uniprocessor); json_input.hpp reads
/// multi-core sets and schema extensions.
[[nodiscard]] system read_system(const std::string& path);

/// Whether `--name` is a switch (takes no value) for every command: json, scaling,
/// solve, progress, no-progress, quiet, verbose, help. Any other `--name` takes the next
/// argument as its value (or `--name=value`), unless it is the last argument or the
/// next one starts with "--": then it is a switch too. Defined in main.cpp.
[[nodiscard]] bool is_switch(const std::string& name);

/// Refuses what a command does not take: an option or a switch not listed, or more
/// than `max_positional` positional arguments (input_error naming it). Defined in input.cpp.
void check_arguments(const arguments& args, const std::string& command,
                     const std::vector<std::string>& options,
                     const std::vector<std::string>& switches, std::size_t max_positional);

/// A decimal integer (input_error naming `what` when it is not one or is out of range).
[[nodiscard]] std::int64_t parse_integer(const std::string& text, const std::string& what);
/// A finite decimal number (input_error naming `what` otherwise).
[[nodiscard]] double parse_number(const std::string& text, const std::string& what);

/// The option --name as an integer (parse_integer's error naming "--name" otherwise), or
/// `fallback` when it is absent. Defined in input.cpp.
[[nodiscard]] std::int64_t integer_option(const arguments& args, const std::string& name,
                                          std::int64_t fallback);
/// The option --name as a number, or `fallback` when it is absent. Defined in input.cpp.
[[nodiscard]] double number_option(const arguments& args, const std::string& name,
                                   double fallback);

/// Prints `rows` as a left-aligned table, columns two spaces apart (row 0: the header).
/// Defined in input.cpp.
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows);

/// A library message with the task set's names: "task 2 (priority index 1)" and
/// "task \"t2\"" (the library's positional names) become "task \"<name of task 2>\"".
[[nodiscard]] std::string with_task_names(const task_set& set, const std::string& message);

/// The uniprocessor set-level test `name` (fp-rta, fp-points, edf-pdc, edf-qpa, ll-bound,
/// hyperbolic) as a predicate on a task set in priority order; input_error for an
/// unknown name. The library's std::invalid_argument (a precondition) propagates.
/// Defined in analyze.cpp.
[[nodiscard]] bool test_accepts(const std::string& name, std::span<const task> tasks);
/// input_error unless `name` is one of the tests above.
void check_test_name(const std::string& name);

/// The options `sweep --family NAME` shares with every family, parsed by sweep.cpp.
/// tests: --tests a,b (empty: the family's default list, in its order).
struct family_sweep_common {
    std::vector<std::string> tests;
    std::size_t sets = 100;
    std::uint64_t seed = 1;
    std::size_t threads = 0;
    sweep_progress progress;
};

/// A family's experiment: the table, and the plot's title.
struct family_sweep_result {
    sweep_result result;
    std::string title;
};

/// A family of analyses on a model richer than part 1's uniprocessor task set
/// (multi-core, weakly-hard, spin locks, ROS 2 chains, schedule randomisation).
/// analyze(test, args, out): reads args.positional[0]; returns exit_ok or
/// exit_unschedulable; input_error names the task and field. analyze.cpp has checked
/// the option names against analyze_options (plus --test and --json) before the call;
/// sweep.cpp checks sweep_options (plus the common ones) and writes CSV, plot, table.
struct analysis_family {
    std::string name;
    std::string summary;
    std::vector<std::string> tests;
    std::vector<std::string> analyze_options;
    int (*analyze)(const std::string& test, const arguments& args, std::ostream& out) = nullptr;
    std::vector<std::string> sweep_options;
    family_sweep_result (*sweep)(const arguments& args,
                                 const family_sweep_common& common) = nullptr;
};

/// Experiment options over `points` with common's sets, seed and threads. Defined in
/// sweep.cpp.
[[nodiscard]] experiment_options family_experiment(const family_sweep_common& common,
                                                   std::vector<double> points,
                                                   std::string axis = "utilization");

/// The registered families (each source file registers its own at start-up, so the
/// commands need not know them), sorted by name when listed. Defined in analyze.cpp.
[[nodiscard]] std::vector<analysis_family>& analysis_families();
/// The registered families sorted by name (for listings). Defined in analyze.cpp.
[[nodiscard]] std::vector<const analysis_family*> families_by_name();
/// The family that answers `test`, or nullptr.
[[nodiscard]] const analysis_family* family_of_test(const std::string& test);
/// The family called `name`, or nullptr.
[[nodiscard]] const analysis_family* find_family(const std::string& name);

/// Registers a family: `const family_registration registered{analysis_family{...}};`
/// at namespace scope in the family's source file.
struct family_registration {
    explicit family_registration(analysis_family family);
};

// The commands (each in its own source file). Each writes to `out` and returns an exit status.
int run_analyze(const arguments& args, std::ostream& out);
int run_sensitivity(const arguments& args, std::ostream& out);
int run_constraints(const arguments& args, std::ostream& out);
int run_generate(const arguments& args, std::ostream& out);
int run_simulate(const arguments& args, std::ostream& out);
int run_sweep(const arguments& args, std::ostream& out);

}  // namespace keel::sched::cli
