#pragma once

/// Multi-rate schedule randomisation against timing-inference attacks, after MAARS
/// (Sain, Adhikary, Koley & Dey, "MAARS: Multi-Rate Attack-Aware Randomized Scheduling
/// for Securing Real-time Systems", arXiv 2408.00341, ICCPS 2025). docs/sched/randomize.md.
///
/// Control tasks may run at any of several admissible periods. This header finds the
/// period combinations under which the set is schedulable by preemptive fixed priority
/// (part 1's exact RTA, fp.hpp), measures how predictable a victim task's start times are
/// under each combination, and switches between combinations at run time, only at
/// instants where every earlier job has completed (the safe-switch rule; the proof is in
/// the docs). A small event-driven simulator records every job's start time so that an
/// attacker that observes the victim's past starts can be evaluated.
///
/// Conventions: tasks in priority order (index 0 highest); integer ticks; a task with
/// deadline 0 has an implicit deadline (D = the period it currently runs at).

#include <keel/sched/generate.hpp>
#include <keel/sched/task.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace keel::sched {

/// A task with several admissible periods (a control task that stays stable and meets
/// its performance goal at any of them). periods: distinct, positive, at least one.
/// deadline: 0 for implicit (D = the period in force), else a fixed relative deadline
/// > 0. A plain aggregate.
struct multirate_task {
    time_value wcet = 0;
    std::vector<time_value> periods;
    time_value deadline = 0;
};

/// Tasks in priority order plus optional names (empty, or one per task).
struct multirate_system {
    std::vector<multirate_task> tasks;
    std::vector<std::string> names;

    /// Throws std::invalid_argument naming the task ("task 2" or its name) and the field
    /// (wcet, periods, periods[k], deadline, names) of the first problem: non-positive
    /// wcet, no periods, a non-positive or repeated period, a negative deadline.
    void validate() const;
    /// The number of period combinations, prod_i |periods_i| (saturates at SIZE_MAX).
    [[nodiscard]] std::size_t combination_count() const noexcept;
    /// The plain task set under `choice` (choice[i] indexes tasks[i].periods): T_i the
    /// chosen period, D_i the fixed deadline or T_i. Throws std::invalid_argument on a
    /// choice of the wrong size or out of range.
    [[nodiscard]] std::vector<task> instantiate(std::span<const std::size_t> choice) const;
};

/// One schedulable combination with its evidence. choice[i] indexes tasks[i].periods;
/// periods[i] is that period; response_times[i] is the exact FP worst-case response time
/// (all <= the deadlines); utilization is sum C_i / T_i.
struct period_combination {
    std::vector<std::size_t> choice;
    std::vector<time_value> periods;
    std::vector<time_value> response_times;
    double utilization = 0;
};

/// Options of enumerate_schedulable. max_combinations: stop once this many schedulable
/// combinations are found (the result is then `truncated`).
struct enumeration_options {
    std::size_t max_combinations = 10'000;
};

/// The schedulable combinations in lexicographic order of `choice`, with evidence of the
/// work: rta_calls counts single-task RTAs run; rejected counts the unschedulable
/// combinations, each prefix that makes its last task miss adding all its completions at
/// once (they are never examined). Unless truncated, combinations.size() + rejected ==
/// total. truncated: more than max_combinations are schedulable (combinations holds the
/// first max_combinations in order).
struct enumeration_result {
    std::vector<period_combination> combinations;
    bool truncated = false;
    std::int64_t rta_calls = 0;
    std::size_t rejected = 0;
    std::size_t total = 0;  ///< combination_count() of the system
};

/// All period combinations under which every task meets its deadline under preemptive FP
/// (part 1's exact RTA, fp.hpp). Depth-first in priority order: task i's response time
/// depends only on its own choice and those of tasks 0..i-1, so once a prefix makes some
/// task miss, every completion of that prefix misses too and the subtree is skipped (exact
/// pruning, no combination lost). Throws std::invalid_argument (validate) and
/// analysis_overflow. Thread-safe (pure). Cost: at most sum over prefixes of one RTA;
/// at worst prod |periods_i| RTAs.
[[nodiscard]] enumeration_result enumerate_schedulable(const multirate_system& system,
                                                       const enumeration_options& options = {});

/// Every combination (each choice vector), in lexicographic order: the brute-force
/// reference the enumeration is tested and benchmarked against. Throws
/// std::invalid_argument (validate). Cost: prod |periods_i| vectors.
[[nodiscard]] std::vector<std::vector<std::size_t>> every_choice(const multirate_system& system);

/// One job of a simulated run. start: first instant it ran (nullopt: never ran);
/// finish: completion (nullopt: unfinished at the horizon). combination: the index (in
/// the randomiser's list) in force at its release.
struct job_record {
    std::size_t task = 0;
    time_value release = 0;
    time_value absolute_deadline = 0;
    std::optional<time_value> start;
    std::optional<time_value> finish;
    std::size_t combination = 0;
};

/// A run: every job released in [0, horizon) in release order per task (jobs of all tasks
/// interleaved by release time); misses counts jobs finished after their deadline or
/// unfinished at the horizon with deadline <= horizon; switches lists (time, new
/// combination index) for each switch made, the initial choice at time 0 included.
struct multirate_trace {
    std::vector<job_record> jobs;
    std::int64_t misses = 0;
    std::vector<std::pair<time_value, std::size_t>> switches;
    std::int64_t safe_points = 0;  ///< instants where a switch was allowed
};

/// The run-time randomiser: holds a pool of schedulable combinations (indices into a
/// list) and, at each safe point, picks one uniformly at random (seeded). O(1) per
/// decision, no allocation after construction. Not thread-safe (one per scheduler).
class schedule_randomizer {
public:
    /// pool: indices of the combinations it may pick (non-empty); min_dwell: a safe point
    /// less than min_dwell ticks after the last switch keeps the current combination.
    /// Throws std::invalid_argument for an empty pool or negative min_dwell.
    schedule_randomizer(std::vector<std::size_t> pool, std::uint64_t seed,
                        time_value min_dwell = 0);
    /// The combination to run from safe point `now` on, given the current one.
    std::size_t decide(time_value now, std::size_t current) noexcept;
    [[nodiscard]] const std::vector<std::size_t>& pool() const noexcept { return _pool; }

private:
    std::vector<std::size_t> _pool;
    rng _rng;
    time_value _min_dwell;
    std::optional<time_value> _last_switch;
};

/// Simulates preemptive FP over [0, horizon) with strictly periodic releases at the
/// periods of the combination in force, starting synchronously at 0 with
/// combinations[initial]. When `randomizer` is given, at every safe point t (every job
/// released before t has completed: t = 0 and each instant the processor goes idle) it
/// may switch; after a switch at t each task's next release is max(t, r_last + T_new)
/// (r_last its last release; t for a task not yet released), so jobs of one task stay at
/// least the new period apart. Jobs run for exactly their WCET. Throws
/// std::invalid_argument (empty list, initial out of range, horizon <= 0) and
/// analysis_overflow. Thread-safe (pure apart from the randomiser passed in). Cost:
/// O(jobs * n).
[[nodiscard]] multirate_trace simulate_multirate(const multirate_system& system,
                                                 std::span<const period_combination> combinations,
                                                 std::size_t initial, time_value horizon,
                                                 schedule_randomizer* randomizer = nullptr);

/// How predictable the victim's start is within one combination's repeating schedule.
/// The schedule is the synchronous periodic FP schedule over one hyperperiod H (it
/// repeats from H on: constrained deadlines all met, so the processor is idle at H). Each
/// victim job k starts at offset o_k = start_k - release_k. vulnerability = max over x of
/// |{k : x <= o_k <= x + window}| / jobs: the success probability of the best attacker
/// that knows the victim's release times (period and phase) and guesses its start within
/// `window` ticks; 1 means every job starts at the same offset, 1/jobs is the least.
/// It is 2^(-min-entropy) of the offset distribution when window = 0.
struct schedule_vulnerability {
    double vulnerability = 0;
    time_value hyperperiod = 0;
    std::int64_t victim_jobs = 0;
    time_value likeliest_offset = 0;  ///< the x that attains the maximum (smallest such)
};

/// The vulnerability of `combination` for task `victim`. Throws std::invalid_argument
/// (victim out of range, window < 0, a hyperperiod above max_hyperperiod) and
/// analysis_overflow. Cost: one simulated hyperperiod, O(jobs * n).
[[nodiscard]] schedule_vulnerability vulnerability_of(const multirate_system& system,
                                                      const period_combination& combination,
                                                      std::size_t victim, time_value window = 0,
                                                      time_value max_hyperperiod = 10'000'000);

/// The attacker of the evaluation: it has seen the victim's past start times s_0..s_{k-1}
/// and predicts s_k. It works on the gaps g_j = s_j - s_{j-1}: it finds the most recent
/// earlier occurrence of the longest suffix of the gap sequence (up to `context` gaps)
/// and predicts the gap that followed it; with no match, the last gap. A periodic
/// schedule is learned exactly once one period of its gap pattern plus `context` gaps has
/// been seen. Returns nullopt with fewer than two starts. Cost: O(k * context).
[[nodiscard]] std::optional<time_value> predict_next_start(std::span<const time_value> starts,
                                                           std::size_t context = 8);

/// Attacker success over a run: for each victim job k >= training (in order), predict
/// its start from the starts of jobs 0..k-1 and count a hit when |prediction - start| <=
/// tolerance. rate = hits / predictions (0 when none).
struct attack_result {
    std::int64_t predictions = 0;
    std::int64_t hits = 0;
    double rate = 0;
};

/// The victim's start times in `trace` (jobs that started, in order).
[[nodiscard]] std::vector<time_value> start_times(const multirate_trace& trace, std::size_t victim);

/// Evaluates the attacker over `starts` (see attack_result). Throws std::invalid_argument
/// for tolerance < 0. Cost: O(starts^2 * context) at worst.
[[nodiscard]] attack_result evaluate_attack(std::span<const time_value> starts, std::size_t training,
                                            time_value tolerance = 0, std::size_t context = 8);

/// The randomiser's pool, attack-aware: the indices of the combinations whose
/// vulnerability (for `victim`, `window`) is at most the `fraction`-quantile of all of
/// them (fraction in (0, 1]; at least one index), least vulnerable first.
/// vulnerabilities[k] is filled for every combination. Throws std::invalid_argument for
/// an empty list or a fraction outside (0, 1].
[[nodiscard]] std::vector<std::size_t> attack_aware_pool(const multirate_system& system,
                                                         std::span<const period_combination> combinations,
                                                         std::size_t victim, time_value window,
                                                         double fraction,
                                                         std::vector<double>& vulnerabilities);

/// What generate_multirate_system draws: n tasks, nominal utilisation u (at the first,
/// shortest, admissible periods), periods from `period_menu` (each task's nominal period
/// drawn uniformly, its other admissible periods the menu entries in (T, max_stretch T],
/// at most `alternatives` of them, shortest first), implicit deadlines.
struct multirate_generator_options {
    std::size_t n = 5;
    double utilization = 0.5;
    std::vector<time_value> period_menu{20, 30, 40, 60, 120};
    double max_stretch = 3.0;
    std::size_t alternatives = 2;
};

/// A multi-rate system drawn from `seed` (UUniFast-Discard utilisations, C = max(1,
/// round(u_i T_i))), tasks in rate-monotonic order of their nominal periods. Same seed,
/// same system. Throws std::invalid_argument on impossible options.
[[nodiscard]] multirate_system generate_multirate_system(const multirate_generator_options& options,
                                                         std::uint64_t seed);

}  // namespace keel::sched
