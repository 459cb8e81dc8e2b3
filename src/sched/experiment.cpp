#include <keel/sched/experiment.hpp>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cassert>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

namespace keel::sched {

namespace {

/// splitmix64's finaliser: decorrelates neighbouring (seed, point, set) triples.
std::uint64_t mix(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

std::uint64_t set_seed(std::uint64_t seed, std::size_t point, std::size_t set) noexcept {
    return mix(mix(mix(seed) ^ point) ^ set);
}

}  // namespace

std::vector<double> axis_points(double first, double last, double step) {
    if (!(step > 0) || !std::isfinite(step))
        throw std::invalid_argument("axis step " + std::to_string(step) + " must be positive");
    if (!std::isfinite(first) || !std::isfinite(last) || !(first <= last))
        throw std::invalid_argument("axis: need first <= last (first " + std::to_string(first) +
                                    ", last " + std::to_string(last) + ")");
    std::vector<double> xs;
    // k step from first rather than repeated addition: no drift over many points.
    for (std::size_t k = 0;; ++k) {
        const double x = first + static_cast<double>(k) * step;
        if (x > last + 1e-9) break;
        xs.push_back(x);
    }
    return xs;
}

std::vector<double> sweep_utilizations(const sweep_options& o) {
    if (!(o.u_step > 0))
        throw std::invalid_argument("sweep: u_step " + std::to_string(o.u_step) +
                                    " must be positive");
    if (!(o.u_min > 0) || !(o.u_min <= o.u_max))
        throw std::invalid_argument("sweep: need 0 < u_min <= u_max (u_min " +
                                    std::to_string(o.u_min) + ", u_max " + std::to_string(o.u_max) +
                                    ")");
    return axis_points(o.u_min, o.u_max, o.u_step);
}

sweep_result run_experiment(std::span<const std::string> tests, const experiment_trial& trial,
                            const experiment_options& o, const sweep_progress& progress) {
    if (tests.empty()) throw std::invalid_argument("experiment: no tests");
    std::set<std::string> names;
    for (const std::string& t : tests) {
        if (t.empty()) throw std::invalid_argument("experiment: a test has an empty name");
        if (!names.insert(t).second)
            throw std::invalid_argument("experiment: test '" + t + "' listed twice");
    }
    if (!trial) throw std::invalid_argument("experiment: no trial callable");
    if (o.points.empty()) throw std::invalid_argument("experiment: no points on the " + o.axis + " axis");
    if (o.sets_per_point == 0) throw std::invalid_argument("experiment: sets_per_point is 0");
    const std::size_t nt = tests.size();
    const std::size_t total = o.points.size() * o.sets_per_point;

    // Per trial and test, summed afterwards in order: the result is independent of
    // which thread ran what.
    std::vector<trial_outcome> outcome(total * nt, trial_outcome::error);
    std::atomic<std::size_t> done{0};
    std::mutex progress_lock;
    std::size_t reported = 0;
    const std::size_t every = std::max<std::size_t>(1, total / 1000);

    auto body = [&](const tbb::blocked_range<std::size_t>& range) {
        for (std::size_t item = range.begin(); item != range.end(); ++item) {
            const std::size_t point = item / o.sets_per_point;
            const std::size_t set = item % o.sets_per_point;
            const std::span<trial_outcome> mine(outcome.data() + item * nt, nt);
            try {
                trial(o.points[point], set_seed(o.seed, point, set), mine);
            } catch (const std::exception&) {
                std::fill(mine.begin(), mine.end(), trial_outcome::error);
            }
            // Release: publishes this trial's outcomes to the acquire load after the join
            // (TBB's own join is invisible to ThreadSanitizer's uninstrumented libtbb).
            const std::size_t now = done.fetch_add(1, std::memory_order_release) + 1;
            if (progress && now % every == 0) {
                const std::lock_guard lock(progress_lock);
                const std::size_t d = done.load(std::memory_order_relaxed);
                if (d > reported) {
                    reported = d;
                    progress(d, total);
                }
            }
        }
    };
    const tbb::blocked_range<std::size_t> all(0, total, 1);
    if (o.threads == 0) {
        tbb::parallel_for(all, body);
    } else {
        tbb::task_arena arena(static_cast<int>(o.threads));
        arena.execute([&] { tbb::parallel_for(all, body); });
    }
    // Every trial's fetch_add is a release RMW of one release sequence: reading the final
    // count with acquire makes all outcomes visible here.
    [[maybe_unused]] const std::size_t finished = done.load(std::memory_order_acquire);
    assert(finished == total);
    if (progress) {
        const std::lock_guard lock(progress_lock);  // `reported` is written under it
        if (reported < total) progress(total, total);
    }

    sweep_result r;
    r.axis = o.axis;
    r.tests.assign(tests.begin(), tests.end());
    for (std::size_t point = 0; point < o.points.size(); ++point) {
        sweep_point p;
        p.value = o.points[point];
        p.sets = o.sets_per_point;
        p.accepted.assign(nt, 0);
        p.errors.assign(nt, 0);
        for (std::size_t set = 0; set < o.sets_per_point; ++set)
            for (std::size_t k = 0; k < nt; ++k) {
                const trial_outcome v = outcome[(point * o.sets_per_point + set) * nt + k];
                p.accepted[k] += v == trial_outcome::accepted ? 1 : 0;
                p.errors[k] += v == trial_outcome::error ? 1 : 0;
            }
        r.points.push_back(std::move(p));
    }
    return r;
}

sweep_result sweep(std::span<const named_test> tests, const sweep_options& o,
                   const sweep_progress& progress) {
    if (tests.empty()) throw std::invalid_argument("sweep: no tests");
    std::vector<std::string> names;  // run_experiment refuses duplicates and zero sets
    for (const named_test& t : tests) {
        if (!t.test) throw std::invalid_argument("sweep: test '" + t.name + "' has no callable");
        names.push_back(t.name);
    }
    experiment_options e;
    e.points = sweep_utilizations(o);
    e.sets_per_point = o.sets_per_point;
    e.seed = o.seed;
    e.threads = o.threads;
    auto trial = [&](double u, std::uint64_t seed, std::span<trial_outcome> outcomes) {
        generator_options g = o.generator;
        g.utilization = u;
        const task_set ts = generate_task_set(g, seed);
        for (std::size_t k = 0; k < tests.size(); ++k) {
            try {
                outcomes[k] = tests[k].test(ts.view()) ? trial_outcome::accepted
                                                       : trial_outcome::rejected;
            } catch (const std::exception&) {
                outcomes[k] = trial_outcome::error;
            }
        }
    };
    return run_experiment(names, trial, e, progress);
}

void write_csv(const sweep_result& r, std::ostream& out) {
    out << r.axis << ",sets";
    for (const std::string& t : r.tests)
        out << ',' << t;
    for (const std::string& t : r.tests)
        out << ',' << t << "_errors";
    out << '\n';
    char buf[64];
    for (const sweep_point& p : r.points) {
        std::snprintf(buf, sizeof buf, "%.6f", p.value);
        out << buf << ',' << p.sets;
        for (const std::size_t a : p.accepted) {
            std::snprintf(buf, sizeof buf, "%.6f",
                          p.sets ? static_cast<double>(a) / static_cast<double>(p.sets) : 0.0);
            out << ',' << buf;
        }
        for (const std::size_t e : p.errors)
            out << ',' << e;
        out << '\n';
    }
}

}  // namespace keel::sched
