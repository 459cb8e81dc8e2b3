#pragma once

/// Priority assignment for fixed-priority scheduling: deadline-monotonic (Leung &
/// Whitehead 1982), rate-monotonic (Liu & Layland 1973) and Audsley's optimal priority
/// assignment (OPA; Audsley 1991/2001). docs/sched.md, section "Fixed priority".
///
/// Every function returns a permutation: element k is the index (in the input span) of
/// the task that gets priority k, element 0 being the highest. Reorder with
/// `apply_priority_order` before calling an FP analysis.

#include <keel/sched/fp.hpp>
#include <keel/sched/task.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <numeric>
#include <optional>
#include <span>
#include <vector>

namespace keel::sched {

namespace detail {

/// Task indices sorted by one field, ascending; ties keep input order.
inline std::vector<std::size_t> stable_order_by(std::span<const task> tasks,
                                                time_value task::*field) {
    std::vector<std::size_t> order(tasks.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return tasks[a].*field < tasks[b].*field;
    });
    return order;
}

}  // namespace detail

/// Deadline-monotonic order: shorter relative deadline first; ties keep input order
/// (stable). Optimal among fixed priorities for constrained deadlines without jitter
/// (Leung & Whitehead). Thread-safe (pure). Cost: O(n log n), one vector.
[[nodiscard]] inline std::vector<std::size_t> deadline_monotonic(std::span<const task> tasks) {
    return detail::stable_order_by(tasks, &task::deadline);
}

/// Rate-monotonic order: shorter period first; ties keep input order (stable). Optimal
/// for implicit deadlines (Liu & Layland). Thread-safe (pure). Cost: O(n log n).
[[nodiscard]] inline std::vector<std::size_t> rate_monotonic(std::span<const task> tasks) {
    return detail::stable_order_by(tasks, &task::period);
}

/// The tasks in the given priority order (order[k] = index of the task at priority k).
[[nodiscard]] inline std::vector<task> apply_priority_order(std::span<const task> tasks,
                                                            std::span<const std::size_t> order) {
    std::vector<task> out;
    out.reserve(order.size());
    for (const std::size_t i : order)
        out.push_back(tasks[i]);
    return out;
}

/// A per-task test for OPA: is `candidate` schedulable at the priority just below the
/// tasks `higher` (given in no particular order)? Audsley's algorithm is optimal for
/// a test that is OPA-compatible (Davis & Burns 2011): its verdict depends on the set
/// of higher-priority tasks, not on their relative order, and it does not get worse
/// when a higher-priority task moves below.
using opa_test = std::function<bool(std::span<const task> higher, const task& candidate)>;

/// The exact FP RTA (jitter, blocking, arbitrary deadlines) as an OPA test; it is
/// OPA-compatible (the RTA depends on the set of higher-priority tasks only).
[[nodiscard]] inline bool fp_rta_opa_test(std::span<const task> higher, const task& candidate) {
    return fp_rta_task(higher, candidate).schedulable;
}

/// Audsley's optimal priority assignment: from the lowest priority up, give the level
/// to a task that `test` accepts with all other unassigned tasks above it; nullopt when
/// at some level no task passes (then no order passes `test`, for an OPA-compatible
/// test). Candidates at a level are tried in reverse deadline-monotonic order (longest
/// deadline first, ties: later input index first), so a DM-schedulable set gets an
/// order close to DM. Thread-safe if `test` is. Cost: at most n(n+1)/2 calls of `test`.
[[nodiscard]] inline std::optional<std::vector<std::size_t>> audsley(
    std::span<const task> tasks, const opa_test& test = fp_rta_opa_test) {
    std::vector<std::size_t> unassigned = deadline_monotonic(tasks);  // candidates, highest first
    std::vector<std::size_t> order(tasks.size());
    std::vector<task> higher;
    higher.reserve(tasks.size());
    for (std::size_t level = tasks.size(); level-- > 0;) {
        bool found = false;
        for (std::size_t c = unassigned.size(); c-- > 0;) {
            higher.clear();
            for (std::size_t k = 0; k < unassigned.size(); ++k)
                if (k != c) higher.push_back(tasks[unassigned[k]]);
            if (test(higher, tasks[unassigned[c]])) {
                order[level] = unassigned[c];
                unassigned.erase(unassigned.begin() + static_cast<std::ptrdiff_t>(c));
                found = true;
                break;
            }
        }
        if (!found) return std::nullopt;
    }
    return order;
}

}  // namespace keel::sched
