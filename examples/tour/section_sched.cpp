// Section 20, sched: an engine-control task set (examples/data/engine_control_tasks.txt)
// analysed with keel::sched's exact response-time analysis, next to the utilisation
// bounds a designer would otherwise use; then a sweep over random sets with the same
// automotive period distribution.
#include "console.hpp"
#include "tour.hpp"

#include <keel/sched/experiment.hpp>
#include <keel/sched/fp.hpp>
#include <keel/sched/generate.hpp>
#include <keel/sched/priority_assignment.hpp>
#include <keel/sched/sensitivity.hpp>
#include <keel/sched/utilization.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

using keel::sched::task;
using keel::sched::time_value;

struct period_share {
    time_value period = 0;
    double share = 0;
};

struct task_file {
    keel::sched::task_set set;
    std::vector<period_share> shares;
};

// Reads the `task` and `period_share` lines (format in the file's own comments).
task_file read_task_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open the task set " + path.string());
    task_file file;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        auto hash = line.find('#');
        if (hash != std::string::npos) line.erase(hash);
        std::istringstream words(line);
        std::string kind;
        if (!(words >> kind)) continue;
        auto bad = [&](const std::string& why) {
            return std::runtime_error(path.string() + ":" + std::to_string(number) + ": " + why);
        };
        if (kind == "task") {
            std::string name;
            task t;
            if (!(words >> name >> t.period >> t.wcet))
                throw bad("want: task <name> <period> <wcet> [<deadline>]");
            if (!(words >> t.deadline)) t.deadline = t.period;
            file.set.names.push_back(name);
            file.set.tasks.push_back(t);
        } else if (kind == "period_share") {
            period_share s;
            if (!(words >> s.period >> s.share) || s.period <= 0 || s.share <= 0) {
                throw bad("want: period_share <period > 0> <share > 0>");
            }
            file.shares.push_back(s);
        } else {
            throw bad("unknown line kind '" + kind + "'");
        }
        std::string extra;
        if (words >> extra) throw bad("unexpected '" + extra + "'");
    }
    try {
        file.set.validate();
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(path.string() + ": " + e.what());
    }
    if (file.set.tasks.empty()) throw std::runtime_error(path.string() + ": no tasks");
    if (file.shares.empty()) throw std::runtime_error(path.string() + ": no period_share lines");
    return file;
}

// The largest utilisation the set can be scaled to (every WCET times one factor) and
// still be accepted by `test`: what the test lets the designer use of the core.
double usable_utilization(std::span<const task> by_priority, const keel::sched::set_test& test,
                          double utilization) {
    constexpr std::int64_t resolution = 10000;
    auto k = keel::sched::max_scaling(by_priority, test, resolution);
    return k ? utilization * static_cast<double>(*k) / resolution : 0;
}

// A random set of `n` tasks at utilisation `u`, periods drawn from the shares.
std::vector<task> draw_automotive_set(std::size_t n, double u,
                                      const std::vector<period_share>& shares, std::uint64_t seed) {
    keel::sched::rng random(seed);
    auto utilizations = keel::sched::uunifast_discard(n, u, 1.0, random);
    double total = 0;
    for (const auto& s : shares)
        total += s.share;
    std::vector<task> tasks;
    for (double share : utilizations) {
        double pick = random.uniform01() * total;
        time_value period = shares.back().period;
        for (const auto& s : shares) {
            if (pick < s.share) {
                period = s.period;
                break;
            }
            pick -= s.share;
        }
        auto wcet = std::max<time_value>(
            1, static_cast<time_value>(share * static_cast<double>(period) + 0.5));
        tasks.push_back({wcet, period, period, 0, 0});
    }
    auto order = keel::sched::rate_monotonic(tasks);
    return keel::sched::apply_priority_order(tasks, order);
}

keel_tour::section_result run(const keel_tour::options& options, keel_tour::progress& progress) {
    keel_tour::section_result result;
    progress.step("reading the engine-control task set");
    auto file =
        read_task_file(options.data_dir / "engine_control_tasks.txt");
    auto order = keel::sched::rate_monotonic(file.set.tasks);
    auto by_priority = keel::sched::apply_priority_order(file.set.tasks, order);
    const std::size_t n = by_priority.size();
    const double u = keel::sched::utilization(by_priority).to_double();

    progress.step("exact response-time analysis of " + std::to_string(n) + " tasks");
    // Timed over repetitions: one analysis takes microseconds.
    keel::sched::fp_result rta;
    const int repetitions = 200;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < repetitions; ++i)
        rta = keel::sched::fp_rta(by_priority);
    double rta_us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count() /
        repetitions;
    const bool ll = keel::sched::liu_layland_bound_holds(by_priority);
    const bool hyperbolic = keel::sched::hyperbolic_bound_holds(by_priority);

    keel_tour::table responses{"Worst-case response times under rate-monotonic priorities (µs)",
                               {"task", "period", "wcet", "response time", "slack to deadline"},
                               {}};
    for (std::size_t i = 0; i < n; ++i) {
        const auto& t = by_priority[i];
        const auto& r = rta.tasks[i];
        responses.rows.push_back(
            {file.set.name_of(order[i]), std::to_string(t.period), std::to_string(t.wcet),
             r.response_time ? std::to_string(*r.response_time) : "unbounded",
             r.response_time ? keel_tour::format_fixed(
                                   100.0 * static_cast<double>(t.deadline - *r.response_time) /
                                       static_cast<double>(t.deadline),
                                   1) +
                                   " %"
                             : "-"});
    }
    result.tables.push_back(std::move(responses));

    progress.step("how far each test lets the set grow");
    auto exact_test = [](std::span<const task> s) { return keel::sched::fp_schedulable(s); };
    auto hyperbolic_test = [](std::span<const task> s) {
        return keel::sched::hyperbolic_bound_holds(s);
    };
    auto ll_test = [](std::span<const task> s) { return keel::sched::liu_layland_bound_holds(s); };
    const double usable_exact = usable_utilization(by_priority, exact_test, u);
    const double usable_hyperbolic = usable_utilization(by_priority, hyperbolic_test, u);
    const double usable_ll = usable_utilization(by_priority, ll_test, u);

    result.lines.push_back(std::to_string(n) +
                           " tasks of an engine controller, periods 1 ms to 1 s, utilisation " +
                           keel_tour::format_fixed(100 * u, 2) +
                           " % of one core (examples/data/engine_control_tasks.txt).");
    result.lines.push_back(
        "Liu & Layland bound (" +
        keel_tour::format_fixed(100 * keel::sched::liu_layland_bound(n), 1) + " % for " +
        std::to_string(n) + " tasks): " + (ll ? "accepts" : "cannot prove it") +
        "; hyperbolic bound: " + (hyperbolic ? "accepts" : "cannot prove it") +
        "; keel's exact RTA: " + (rta.schedulable ? "schedulable" : "NOT schedulable") + " (" +
        keel_tour::format_fixed(rta_us, 1) + " µs per analysis).");
    keel_tour::table headroom{
        "How far every WCET can grow together (one common factor) and still be proven schedulable",
        {"test", "accepts this set", "usable utilisation"},
        {{"Liu & Layland bound", ll ? "yes" : "no",
          keel_tour::format_fixed(100 * usable_ll, 1) + " %"},
         {"hyperbolic bound", hyperbolic ? "yes" : "no",
          keel_tour::format_fixed(100 * usable_hyperbolic, 1) + " %"},
         {"keel exact RTA (fp_schedulable)", rta.schedulable ? "yes" : "no",
          keel_tour::format_fixed(100 * usable_exact, 1) + " %"}}};
    result.tables.push_back(std::move(headroom));
    result.summary.push_back({"usable CPU for the engine-control set", "% of a core", "exact RTA",
                              100 * usable_exact, "hyperbolic bound", 100 * usable_hyperbolic,
                              true});

    // The sweep: random 20-task sets with the automotive period distribution.
    const std::vector<std::string> tests = {"exact RTA", "hyperbolic bound", "Liu & Layland bound"};
    keel::sched::experiment_options sweep;
    sweep.axis = "utilization";
    sweep.points = keel::sched::axis_points(0.60, 1.00, 0.02);
    sweep.sets_per_point = static_cast<std::size_t>(std::max(20.0, 1000 * options.scale));
    sweep.seed = 2015;
    const std::size_t sweep_tasks = 20;
    auto trial = [&](double point, std::uint64_t seed,
                     std::span<keel::sched::trial_outcome> outcomes) {
        auto set = draw_automotive_set(sweep_tasks, point, file.shares, seed);
        auto verdict = [](bool ok) {
            return ok ? keel::sched::trial_outcome::accepted : keel::sched::trial_outcome::rejected;
        };
        outcomes[0] = verdict(keel::sched::fp_schedulable(set));
        outcomes[1] = verdict(keel::sched::hyperbolic_bound_holds(set));
        outcomes[2] = verdict(keel::sched::liu_layland_bound_holds(set));
    };
    const std::size_t total_sets = sweep.points.size() * sweep.sets_per_point;
    progress.step("sweep: " + std::to_string(total_sets) + " random " +
                  std::to_string(sweep_tasks) + "-task sets");
    start = std::chrono::steady_clock::now();
    auto swept = keel::sched::run_experiment(tests, trial, sweep);
    double sweep_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    keel_tour::plot acceptance{"Random " + std::to_string(sweep_tasks) +
                                   "-task sets with automotive periods: share proven schedulable",
                               "utilisation",
                               "acceptance ratio",
                               {},
                               false,
                               false};
    std::vector<double> mean(tests.size(), 0);
    std::vector<std::size_t> errors(tests.size(), 0);
    for (std::size_t k = 0; k < tests.size(); ++k) {
        keel_tour::series line{tests[k], {}, {}};
        for (const auto& p : swept.points) {
            double ratio = static_cast<double>(p.accepted[k]) / static_cast<double>(p.sets);
            line.x.push_back(p.value);
            line.y.push_back(ratio);
            mean[k] += ratio / static_cast<double>(swept.points.size());
            errors[k] += p.errors[k];
        }
        acceptance.lines.push_back(std::move(line));
    }
    result.plots.push_back(std::move(acceptance));
    result.lines.push_back("Sweep: " + std::to_string(sweep.sets_per_point) +
                           " sets per point at utilisations 60 % to " + "100 %, " +
                           std::to_string(total_sets) + " sets in " +
                           keel_tour::format_fixed(sweep_s, 2) + " s; mean acceptance: exact RTA " +
                           keel_tour::format_fixed(mean[0], 3) + ", hyperbolic " +
                           keel_tour::format_fixed(mean[1], 3) + ", Liu & Layland " +
                           keel_tour::format_fixed(mean[2], 3) + ".");
    if (std::accumulate(errors.begin(), errors.end(), std::size_t{0}) != 0) {
        throw std::runtime_error("the sweep's analyses threw on " +
                                 std::to_string(errors[0] + errors[1] + errors[2]) + " runs");
    }
    result.summary.push_back({"random automotive sets proven schedulable, U 60-100 %", "% of sets",
                              "exact RTA", 100 * mean[0], "hyperbolic bound", 100 * mean[1], true});
    return result;
}

}  // namespace

KEEL_TOUR_SECTION(20, "sched", "Schedulability analysis", run, {});
