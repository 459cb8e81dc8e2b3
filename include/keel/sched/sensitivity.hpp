#pragma once

/// Sensitivity analysis without a solver: how much execution time a task set can take
/// and stay schedulable under a given exact test. docs/sched.md, "Fixed priority".

#include <keel/sched/task.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

namespace keel::sched {

/// A set-level schedulability test, e.g. `[](auto s) { return fp_schedulable(s); }`.
/// The searches below assume it is monotone in execution times: if it accepts a set,
/// it accepts the set with any WCET made smaller (true of every exact uniprocessor FP
/// and EDF test) and it refuses a task whose WCET exceeds its deadline.
using set_test = std::function<bool(std::span<const task>)>;

/// The largest WCET C of task i (the other tasks unchanged) for which `test` accepts
/// the set: exact, by binary search over the integers 1..D_i (test(C) true,
/// test(C + 1) false or C = D_i). nullopt when the set fails even with C_i = 1.
/// Throws std::invalid_argument when i is out of range or a task is not well formed;
/// analysis_overflow propagates from the test. Thread-safe if `test` is.
/// Cost: about log2(D_i) + 1 calls of `test`, one copy of the set.
[[nodiscard]] std::optional<time_value> max_wcet(std::span<const task> tasks, std::size_t i,
                                                 const set_test& test);

/// The largest common scaling factor k / resolution (k an integer >= 1) such that
/// `test` accepts the set with every WCET C_j replaced by ceil(C_j * k / resolution)
/// (rounded up, so the scaled set never under-states a WCET). k > resolution means the
/// set has room to grow; k < resolution that it must shrink. Exact for this rounding,
/// by binary search over k in 1..min_j floor(D_j * resolution / C_j) (beyond it some
/// scaled C_j exceeds D_j). nullopt when even k = 1 fails. Returns k.
/// Throws std::invalid_argument for resolution <= 0, an empty set or a malformed task;
/// analysis_overflow when C_j * k leaves 64 bits. Thread-safe if `test` is.
/// Cost: about log2(upper bound) + 1 calls of `test`.
[[nodiscard]] std::optional<std::int64_t> max_scaling(std::span<const task> tasks,
                                                      const set_test& test,
                                                      std::int64_t resolution = 1000);

}  // namespace keel::sched
