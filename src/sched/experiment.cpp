#include <keel/sched/experiment.hpp>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

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

std::vector<double> sweep_utilizations(const sweep_options& o) {
    if (!(o.u_step > 0))
        throw std::invalid_argument("sweep: u_step " + std::to_string(o.u_step) +
                                    " must be positive");
    if (!(o.u_min > 0) || !(o.u_min <= o.u_max))
        throw std::invalid_argument("sweep: need 0 < u_min <= u_max (u_min " +
                                    std::to_string(o.u_min) + ", u_max " + std::to_string(o.u_max) +
                                    ")");
    std::vector<double> us;
    // k u_step from u_min rather than repeated addition: no drift over many points.
    for (std::size_t k = 0;; ++k) {
        const double u = o.u_min + static_cast<double>(k) * o.u_step;
        if (u > o.u_max + 1e-9) break;
        us.push_back(u);
    }
    return us;
}

sweep_result sweep(std::span<const named_test> tests, const sweep_options& o,
                   const sweep_progress& progress) {
    if (tests.empty()) throw std::invalid_argument("sweep: no tests");
    std::set<std::string> names;
    for (const named_test& t : tests) {
        if (!t.test) throw std::invalid_argument("sweep: test '" + t.name + "' has no callable");
        if (!names.insert(t.name).second)
            throw std::invalid_argument("sweep: test '" + t.name + "' listed twice");
    }
    if (o.sets_per_point == 0) throw std::invalid_argument("sweep: sets_per_point is 0");
    const std::vector<double> us = sweep_utilizations(o);
    const std::size_t nt = tests.size();
    const std::size_t total = us.size() * o.sets_per_point;

    // Per set and test: 0 refused, 1 accepted, 2 threw. Summed afterwards, in order.
    std::vector<unsigned char> verdict(total * nt, 0);
    std::atomic<std::size_t> done{0};
    std::mutex progress_lock;
    std::size_t reported = 0;
    const std::size_t every = std::max<std::size_t>(1, total / 1000);

    auto body = [&](const tbb::blocked_range<std::size_t>& range) {
        for (std::size_t item = range.begin(); item != range.end(); ++item) {
            const std::size_t point = item / o.sets_per_point;
            const std::size_t set = item % o.sets_per_point;
            generator_options g = o.generator;
            g.utilization = us[point];
            const task_set ts = generate_task_set(g, set_seed(o.seed, point, set));
            for (std::size_t k = 0; k < nt; ++k) {
                unsigned char v = 2;
                try {
                    v = tests[k].test(ts.view()) ? 1 : 0;
                } catch (const std::exception&) {
                    v = 2;
                }
                verdict[item * nt + k] = v;
            }
            const std::size_t now = done.fetch_add(1, std::memory_order_relaxed) + 1;
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
    if (progress && reported < total) progress(total, total);

    sweep_result r;
    for (const named_test& t : tests)
        r.tests.push_back(t.name);
    for (std::size_t point = 0; point < us.size(); ++point) {
        sweep_point p;
        p.utilization = us[point];
        p.sets = o.sets_per_point;
        p.accepted.assign(nt, 0);
        p.errors.assign(nt, 0);
        for (std::size_t set = 0; set < o.sets_per_point; ++set)
            for (std::size_t k = 0; k < nt; ++k) {
                const unsigned char v = verdict[(point * o.sets_per_point + set) * nt + k];
                p.accepted[k] += v == 1 ? 1 : 0;
                p.errors[k] += v == 2 ? 1 : 0;
            }
        r.points.push_back(std::move(p));
    }
    return r;
}

void write_csv(const sweep_result& r, std::ostream& out) {
    out << "utilization,sets";
    for (const std::string& t : r.tests)
        out << ',' << t;
    for (const std::string& t : r.tests)
        out << ',' << t << "_errors";
    out << '\n';
    char buf[64];
    for (const sweep_point& p : r.points) {
        std::snprintf(buf, sizeof buf, "%.6f", p.utilization);
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
