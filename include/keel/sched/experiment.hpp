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

/// One utilisation point: for each test (in the order given), how many of `sets`
/// sets it accepted, and how many times it threw (analysis_overflow and the like: such
/// a run counts as not accepted).
struct sweep_point {
    double utilization = 0;
    std::size_t sets = 0;
    std::vector<std::size_t> accepted;
    std::vector<std::size_t> errors;
};

/// The sweep's table. A plain value.
struct sweep_result {
    std::vector<std::string> tests;
    std::vector<sweep_point> points;
};

/// Progress: (sets done, sets in total) over all points. Called from worker threads,
/// never two calls at once, with `done` increasing; at least once at the end.
using sweep_progress = std::function<void(std::size_t done, std::size_t total)>;

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

/// CSV: a header "utilization,sets,<test>,...,<test>_errors,..." then one row per point
/// with the ratios accepted/sets (6 decimals), then the error counts. Test names are
/// written as given (the CLI's are plain words).
void write_csv(const sweep_result& result, std::ostream& out);

}  // namespace keel::sched
