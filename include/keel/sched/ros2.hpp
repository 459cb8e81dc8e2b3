#pragma once

/// ROS 2 processing chains on a multi-threaded executor: the system model, response-time
/// analyses of the chains under the default executor and under a priority-driven
/// executor, and a seeded random-system generator. The simulator that checks the
/// analyses is in ros2_simulate.hpp. docs/sched/ros2.md gives the exact model, the
/// proofs' outline and the sources (Sobhani, Choi & Kim, RTAS 2023, arXiv 2408.08440,
/// for the problem and the evaluation shape; the bounds here are derived from first
/// principles, see the doc).
///
/// Model (all times in integer ticks):
/// - A callback is a timer (released every `period`, at a phase in [0, period)) or a
///   subscription (released when its predecessor in its chain completes: the message is
///   published at completion and delivered at once). Every job of a callback runs; a
///   callback's jobs start in release order (keep-all queues, no dropped messages).
/// - A chain is a timer followed by subscriptions; every callback belongs to exactly one
///   chain. Instance n of a chain is released with job n of its timer; its end-to-end
///   latency is the time from that release to the completion of its last callback. The
///   chain's deadline may be constrained (D <= T) or arbitrary (D > T).
/// - A callback group is mutually exclusive (at most one of its callbacks runs at a
///   time) or reentrant (no restriction, a callback may even run in parallel with
///   itself). Every callback is in one group.
/// - The executor has `threads` threads; a callback runs to completion on one thread
///   (non-preemptive at the executor level; each thread is assumed to have a core).

#include <keel/sched/detail/checked.hpp>
#include <keel/sched/generate.hpp>
#include <keel/sched/task.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace keel::sched {

/// What starts a callback's jobs.
enum class ros2_callback_kind : unsigned char { timer, subscription };

/// A callback group's concurrency rule.
enum class ros2_group_kind : unsigned char { mutually_exclusive, reentrant };

/// Which executor behaviour is analysed or simulated (ros2_simulate.hpp gives the rules).
/// - default_executor: rclcpp's MultiThreadedExecutor: a shared ready set refreshed only
///   at polling points (when it is empty and a thread is idle); threads take its entries
///   in the fixed default order (timers before subscriptions, then callback index),
///   skipping entries whose mutually exclusive group is busy.
/// - priority_driven: every idle thread takes the pending callback of highest priority
///   (chain priority; within equal chain priorities the later position in a chain first,
///   then callback index) whose group allows it, the ready set refreshed at every decision.
enum class ros2_executor : unsigned char { default_executor, priority_driven };

/// One callback. `period` is the timer's period (0 for a subscription); `group` indexes
/// ros2_system::groups. A plain aggregate.
struct ros2_callback {
    std::string name;
    ros2_callback_kind kind = ros2_callback_kind::timer;
    time_value wcet = 0;
    time_value period = 0;
    time_value phase = 0;  ///< timer only: first release; the analyses hold for any phase
    std::size_t group = 0;
};

/// One callback group. A plain aggregate.
struct ros2_group {
    std::string name;
    ros2_group_kind kind = ros2_group_kind::mutually_exclusive;
};

/// One chain: callback indices in order (a timer, then subscriptions), its end-to-end
/// deadline and its priority for the priority-driven executor (smaller is higher; see
/// ros2_executor for ties). Its period is its timer's. A plain aggregate.
struct ros2_chain {
    std::string name;
    std::vector<std::size_t> callbacks;
    time_value deadline = 0;
    std::int64_t priority = 0;
};

/// A whole system. A plain aggregate; not synchronised.
struct ros2_system {
    std::size_t threads = 1;
    std::vector<ros2_callback> callbacks;
    std::vector<ros2_group> groups;
    std::vector<ros2_chain> chains;

    /// Throws std::invalid_argument naming the callback ("callback 2 'lidar'"), group or
    /// chain and the field: threads == 0; wcet <= 0; a timer without a period > 0 or with
    /// a phase outside [0, period); a subscription with a period or phase; a group index
    /// out of range; a chain that is empty, does not start with a timer, has a timer
    /// after its start, or a callback index out of range; a callback in no chain or in
    /// two; deadline <= 0; names empty or used twice (per kind). O(callbacks + chains).
    void validate() const;

    /// The chain of each callback and its position in it (valid after validate()).
    [[nodiscard]] std::vector<std::pair<std::size_t, std::size_t>> chain_positions() const;
    /// The chain's period (its timer's).
    [[nodiscard]] time_value chain_period(std::size_t chain) const;
};

/// Options of ros2_analyze. A plain aggregate.
/// - limit: the holistic iteration gives up (no bound established) once a callback's
///   completion bound passes it; 0 means 16 * max over chains of max(deadline, period).
struct ros2_analysis_options {
    time_value limit = 0;
};

/// Per-callback evidence. A plain value.
/// - release_jitter: bound on (its release - its chain instance's release): 0 for the
///   timer, the predecessor's completion bound otherwise.
/// - completion: E_k, bound on (its completion - the chain instance's release), from the
///   analysis of the chain prefix ending at it (docs/sched/ros2.md, "Analysis").
/// - waiting: completion - release_jitter - wcet (>= 0): the delay the bound attributes
///   to this callback.
struct ros2_callback_bound {
    time_value release_jitter = 0;
    time_value waiting = 0;
    time_value completion = 0;
};

/// Per-chain verdict. `end_to_end` is the bound on every instance's latency (nullopt when
/// the iteration passed the limit); schedulable iff it exists and is <= the deadline.
struct ros2_chain_bound {
    bool schedulable = false;
    std::optional<time_value> end_to_end;
    bool arbitrary_deadline = false;  ///< deadline > period
};

/// The analysis result: the verdict and its evidence. `callbacks` are valid when
/// `converged` (a fixed point was reached below the limit). `iterations` counts the
/// global holistic rounds. A plain value.
struct ros2_result {
    bool schedulable = false;
    bool converged = false;
    std::int64_t iterations = 0;
    std::vector<ros2_callback_bound> callbacks;
    std::vector<ros2_chain_bound> chains;
};

/// Response-time analysis of every chain under `executor` (docs/sched/ros2.md, "Analysis").
/// Each chain prefix is bounded as a whole (its callbacks' delays paid once), holistically:
/// completion bounds start at the prefixes' WCET sums and all prefixes are re-analysed with
/// the current bounds of the others until the least fixed point. Sound for any timer phases
/// and any execution times up to the WCETs; arbitrary deadlines allowed. Validates the
/// system first (std::invalid_argument); analysis_overflow on a time past 2^63.
/// Thread-safe (pure). Cost per round: O(callbacks * chain length * callbacks) per
/// fixed-point step.
[[nodiscard]] ros2_result ros2_analyze(const ros2_system& system, ros2_executor executor,
                                       const ros2_analysis_options& options = {});

/// What ros2_generate draws. A plain aggregate.
/// - chains, min/max_chain_length: chain count and lengths (uniform).
/// - utilization: total utilisation over all callbacks (not normalised by threads),
///   split over the chains by UUniFast-Discard (each chain <= max_chain_utilization),
///   then over a chain's callbacks by UUniFast.
/// - period_min/max, granularity: chain periods log-uniform (periods_log_uniform).
/// - deadlines: implicit (D = T), constrained (D uniform in [T/2, T]) or arbitrary
///   (D uniform in [T, arbitrary_max_factor * T]).
/// - groups: group count (0: one per chain); each callback joins a group drawn uniformly;
///   each group is mutually exclusive with probability mutex_probability.
/// - priorities: deadline-monotonic (shorter deadline first, ties by chain index).
struct ros2_generator_options {
    std::size_t threads = 4;
    std::size_t chains = 5;
    std::size_t min_chain_length = 2;
    std::size_t max_chain_length = 5;
    double utilization = 2.0;
    double max_chain_utilization = 1.0;
    time_value period_min = 100;
    time_value period_max = 1000;
    time_value granularity = 10;
    deadline_kind deadlines = deadline_kind::implicit;
    double arbitrary_max_factor = 2.0;
    std::size_t groups = 0;
    double mutex_probability = 0.5;
};

/// A random system drawn from `seed` (deterministic for (options, seed)); timer phases 0.
/// WCET = max(1, round(u * T)). Throws std::invalid_argument on impossible options.
[[nodiscard]] ros2_system ros2_generate(const ros2_generator_options& options, std::uint64_t seed);

/// "default" / "priority" (the CLI's and the docs' names).
[[nodiscard]] const char* to_string(ros2_executor executor) noexcept;

}  // namespace keel::sched
