#pragma once

/// Schedulability experiments: the ratio of generated task sets that each test accepts,
/// against utilisation, run in parallel. docs/sched.md, "Experiments (sweep)".

#include <keel/sched/generate.hpp>
#include <keel/sched/task.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

namespace keel::sched {

/// A named set-level test, e.g. {"edf-qpa", [](auto s) { return edf_qpa(s).schedulable; }}.
/// It receives the generated set in generation order (a fixed-priority test chooses its
/// own priority order) and must be thread-safe: it runs on several threads at once.
struct named_test {
    std::string name;
    std::function<bool(std::span<const task>)> test;
};

/// What sweep draws and runs. A plain aggregate.
/// - generator: n, methods, periods, deadlines (its `utilization` is set per point).
/// - u_min, u_max, u_step: the points u_min + k u_step, k = 0, 1, ... while
///   <= u_max (+ 1e-9 for rounding); u_step > 0.
/// - sets_per_point: task sets drawn at each point (the same sets for every test).
/// - seed: set s of point k is generated from a seed mixed from (seed, k, s), so the
///   result does not depend on the thread count or the scheduling of the work.
/// - threads: 0 for oneTBB's default (all cores), otherwise that many.
struct sweep_options {
    generator_options generator;
    double u_min = 0.5;
    double u_max = 1.0;
    double u_step = 0.05;
    std::size_t sets_per_point = 100;
    std::uint64_t seed = 1;
    std::size_t threads = 0;
};

/// One point of the x axis (a utilisation in sweep(); whatever the experiment's axis
/// names in run_experiment()): for each test (in the order given), how many of `sets`
/// sets it accepted, and how many times it threw (analysis_overflow and the like: such
/// a run counts as not accepted).
struct sweep_point {
    double value = 0;
    std::size_t sets = 0;
    std::vector<std::size_t> accepted;
    std::vector<std::size_t> errors;
};

/// The sweep's table; `axis` names the x values (the CSV's first column). A plain value.
struct sweep_result {
    std::string axis = "utilization";
    std::vector<std::string> tests;
    std::vector<sweep_point> points;
};

/// Progress: (sets done, sets in total) over all points. Called from worker threads,
/// never two calls at once, with `done` increasing; at least once at the end.
using sweep_progress = std::function<void(std::size_t done, std::size_t total)>;

/// The points first + k step, k = 0, 1, ... while <= last (+ 1e-9 for rounding),
/// computed as first + k step so that many points do not drift. Throws
/// std::invalid_argument for step <= 0 or first > last (or a non-finite bound).
[[nodiscard]] std::vector<double> axis_points(double first, double last, double step);

/// The utilisation points of `options` (see sweep_options). Throws std::invalid_argument
/// for u_step <= 0, u_min <= 0 or u_min > u_max.
[[nodiscard]] std::vector<double> sweep_utilizations(const sweep_options& options);

/// Runs every test on sets_per_point generated sets at each utilisation, in parallel
/// (oneTBB; one task per set, all tests on it). Deterministic for a given seed and
/// options whatever the thread count. Throws std::invalid_argument for no tests, a test
/// without a callable, two tests with one name, zero sets or bad points; exceptions of
/// the generator (impossible options) propagate. Cost: points * sets * (generation +
/// the tests), divided over the threads.
[[nodiscard]] sweep_result sweep(std::span<const named_test> tests, const sweep_options& options,
                                 const sweep_progress& progress = {});

/// What one trial tells of one test.
enum class trial_outcome : unsigned char { rejected, accepted, error };

/// One trial of an experiment: draws a system at x = `point` from `seed` (the same
/// system for the same (point, seed)), runs every test on it and writes outcomes[k] for
/// test k (all start as `error`). Called from several threads at once. An exception
/// marks every test of the trial `error`.
using experiment_trial =
    std::function<void(double point, std::uint64_t seed, std::span<trial_outcome> outcomes)>;

/// What run_experiment draws. A plain aggregate.
/// - axis: the name of the x values (the CSV's first column, the plot's x label).
/// - points: the x values, in order.
/// - sets_per_point, seed, threads: as in sweep_options (trial s of point k gets a seed
///   mixed from (seed, k, s)).
struct experiment_options {
    std::string axis = "utilization";
    std::vector<double> points;
    std::size_t sets_per_point = 100;
    std::uint64_t seed = 1;
    std::size_t threads = 0;
};

/// Runs sets_per_point trials at each point, in parallel (oneTBB), and counts each
/// test's outcomes. The general form of sweep(), for experiments whose systems are not
/// plain task sets (multi-core, resources, chains) or whose x axis is not utilisation.
/// Deterministic for a given seed whatever the thread count. Throws
/// std::invalid_argument for no tests, a test named twice or with an empty name, no
/// trial, no points or zero sets. Cost: points * sets * the trial, over the threads.
[[nodiscard]] sweep_result run_experiment(std::span<const std::string> tests,
                                          const experiment_trial& trial,
                                          const experiment_options& options,
                                          const sweep_progress& progress = {});

/// CSV: a header "<axis>,sets,<test>,...,<test>_errors,..." then one row per point
/// with the ratios accepted/sets (6 decimals), then the error counts. Test names are
/// written as given (the CLI's are plain words).
void write_csv(const sweep_result& result, std::ostream& out);

}  // namespace keel::sched
