#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace keel::sched {

/// Time in integer ticks. The unit is the user's (ns, µs, ms): analyses never convert.
/// Every analysis checks each arithmetic step (see analysis_overflow).
using time_value = std::int64_t;

/// A sporadic (or periodic) task on one processor.
/// - wcet: worst-case execution time C > 0.
/// - period: period or minimum inter-arrival time T > 0.
/// - deadline: relative deadline D > 0; constrained when D <= T, arbitrary when D > T.
/// - jitter: release jitter J >= 0 (a job may be released up to J after its arrival).
/// - blocking: worst-case blocking B >= 0 by lower-priority tasks (resource sharing).
/// A literal type, so task tables can be checked in constant expressions.
/// Fixed-priority analyses take tasks in priority order: index 0 is the highest.
struct task {
    time_value wcet = 0;
    time_value period = 0;
    time_value deadline = 0;
    time_value jitter = 0;
    time_value blocking = 0;

    friend constexpr bool operator==(const task&, const task&) = default;
};

/// Whether the task's numbers are meaningful (C, T, D > 0; J, B >= 0). Analyses that
/// need more (C <= D, constrained deadlines) say so in their own preconditions.
constexpr bool is_well_formed(const task& t) noexcept {
    return t.wcet > 0 && t.period > 0 && t.deadline > 0 && t.jitter >= 0 && t.blocking >= 0;
}

/// A task set with names: what the CLI reads and what reports print. `tasks` is in
/// priority order for fixed-priority analyses (index 0 highest); `names` is empty or
/// holds one name per task. A plain aggregate; not synchronised.
struct task_set {
    std::vector<task> tasks;
    std::vector<std::string> names;

    /// The name of task i: its given name, or "t<i+1>" when the set is unnamed.
    [[nodiscard]] std::string name_of(std::size_t i) const;

    /// Throws std::invalid_argument naming the first task and field that is not well
    /// formed (zero or negative wcet/period/deadline, negative jitter/blocking), or a
    /// names list whose size differs from the task list, or two tasks with one name.
    void validate() const;

    [[nodiscard]] std::span<const task> view() const noexcept { return tasks; }
    [[nodiscard]] std::size_t size() const noexcept { return tasks.size(); }
};

}  // namespace keel::sched
