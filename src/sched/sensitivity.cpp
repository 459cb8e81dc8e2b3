#include <keel/sched/detail/checked.hpp>
#include <keel/sched/fp.hpp>
#include <keel/sched/sensitivity.hpp>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace keel::sched {

namespace {

void check_all(const char* analysis, std::span<const task> tasks) {
    for (std::size_t i = 0; i < tasks.size(); ++i)
        detail::check_task(analysis, i, tasks[i]);
}

/// Largest x in [lo, hi] with ok(x), given ok(lo) and ok monotone (true then false).
template <class Ok>
std::int64_t last_true(std::int64_t lo, std::int64_t hi, Ok&& ok) {
    while (lo < hi) {
        const std::int64_t mid = lo + (hi - lo + 1) / 2;
        if (ok(mid))
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

}  // namespace

std::optional<time_value> max_wcet(std::span<const task> tasks, std::size_t i,
                                   const set_test& test) {
    check_all("max_wcet", tasks);
    if (i >= tasks.size())
        throw std::invalid_argument("max_wcet: task index " + std::to_string(i) +
                                    " is past the last task (" + std::to_string(tasks.size()) +
                                    " tasks)");
    std::vector<task> work(tasks.begin(), tasks.end());
    auto ok = [&](time_value c) {
        work[i].wcet = c;
        return test(work);
    };
    if (!ok(1)) return std::nullopt;
    return last_true(1, tasks[i].deadline, ok);
}

std::optional<std::int64_t> max_scaling(std::span<const task> tasks, const set_test& test,
                                        std::int64_t resolution) {
    check_all("max_scaling", tasks);
    if (resolution <= 0)
        throw std::invalid_argument("max_scaling: resolution " + std::to_string(resolution) +
                                    " must be positive");
    if (tasks.empty()) throw std::invalid_argument("max_scaling: empty task set");
    std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    for (const task& t : tasks) {
        // floor(D * resolution / C) without overflow: D * resolution in 128 bits.
        const detail::int128 k = detail::int128{t.deadline} * resolution / t.wcet;
        if (k < hi) hi = static_cast<std::int64_t>(k);
    }
    hi = std::max<std::int64_t>(hi, 1);
    std::vector<task> work(tasks.begin(), tasks.end());
    auto ok = [&](std::int64_t k) {
        for (std::size_t j = 0; j < tasks.size(); ++j) {
            const time_value scaled = detail::checked_mul(tasks[j].wcet, k, "WCET scaling");
            work[j].wcet = detail::ceil_div(scaled, resolution);
        }
        return test(work);
    };
    if (!ok(1)) return std::nullopt;
    return last_true(1, hi, ok);
}

}  // namespace keel::sched
