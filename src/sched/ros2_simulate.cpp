#include <keel/sched/ros2_simulate.hpp>

#include <algorithm>
#include <deque>
#include <limits>
#include <stdexcept>

namespace keel::sched {

namespace {

struct job {
    std::int64_t instance = 0;
    time_value chain_release = 0;
};

struct running {
    bool busy = false;
    std::size_t callback = 0;
    job what;
    time_value finish = 0;
};

}  // namespace

ros2_sim_result ros2_simulate(const ros2_system& s, ros2_executor executor, const ros2_sim_options& o) {
    s.validate();
    if (o.horizon <= 0) throw std::invalid_argument("ros2_simulate: horizon must be > 0");
    const std::size_t n = s.callbacks.size();
    const auto pos = s.chain_positions();
    rng r(o.seed);

    // Dispatch orders: the default executor's fixed order (timers, then subscriptions,
    // each by index) and the priority order (chain priority, then index).
    std::vector<std::size_t> order(n);
    for (std::size_t k = 0; k < n; ++k) order[k] = k;
    if (executor == ros2_executor::default_executor) {
        std::stable_partition(order.begin(), order.end(),
                              [&](std::size_t k) { return s.callbacks[k].kind == ros2_callback_kind::timer; });
    } else {
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            const auto pa = s.chains[pos[a].first].priority, pb = s.chains[pos[b].first].priority;
            if (pa != pb) return pa < pb;
            return pos[a].second > pos[b].second;  // later in the chain first
        });
    }

    std::vector<std::deque<job>> queue(n);
    std::vector<time_value> next_release(n, std::numeric_limits<time_value>::max());
    std::vector<std::int64_t> next_instance(n, 0);
    for (std::size_t k = 0; k < n; ++k) {
        const ros2_callback& cb = s.callbacks[k];
        if (cb.kind != ros2_callback_kind::timer) continue;
        const time_value phase = o.random_phases ? static_cast<time_value>(r.below(static_cast<std::uint64_t>(cb.period)))
                                                 : cb.phase;
        if (phase < o.horizon) next_release[k] = phase;
    }
    std::vector<running> threads(s.threads);
    std::vector<int> group_busy(s.groups.size(), 0);
    std::vector<char> in_ready(n, 0);
    std::size_t ready_count = 0;

    ros2_sim_result res;
    res.chains.resize(s.chains.size());
    res.max_completion.assign(n, 0);

    auto blocked = [&](std::size_t k) {
        const std::size_t g = s.callbacks[k].group;
        return s.groups[g].kind == ros2_group_kind::mutually_exclusive && group_busy[g] > 0;
    };
    auto start = [&](running& th, std::size_t k, time_value now) {
        const job j = queue[k].front();
        queue[k].pop_front();
        const time_value c = s.callbacks[k].wcet;
        const time_value exec =
            o.execution == ros2_execution::wcet ? c : 1 + static_cast<time_value>(r.below(static_cast<std::uint64_t>(c)));
        th = {true, k, j, detail::checked_add(now, exec, "ros2_simulate")};
        ++group_busy[s.callbacks[k].group];
        ++res.jobs;
    };

    for (;;) {
        time_value t = std::numeric_limits<time_value>::max();
        for (const running& th : threads)
            if (th.busy) t = std::min(t, th.finish);
        for (std::size_t k = 0; k < n; ++k) t = std::min(t, next_release[k]);
        if (t == std::numeric_limits<time_value>::max()) break;

        // 1. Completions.
        for (running& th : threads) {
            if (!th.busy || th.finish != t) continue;
            th.busy = false;
            const std::size_t k = th.callback;
            --group_busy[s.callbacks[k].group];
            res.end = t;
            const time_value done = t - th.what.chain_release;
            res.max_completion[k] = std::max(res.max_completion[k], done);
            const auto [c, i] = pos[k];
            const ros2_chain& ch = s.chains[c];
            if (i + 1 < ch.callbacks.size()) {
                queue[ch.callbacks[i + 1]].push_back(th.what);
            } else {
                ros2_sim_chain& st = res.chains[c];
                ++st.instances;
                st.max_latency = std::max(st.max_latency, done);
                if (done > ch.deadline) ++st.deadline_misses;
            }
        }
        // 2. Timer releases.
        for (std::size_t k = 0; k < n; ++k) {
            if (next_release[k] != t) continue;
            queue[k].push_back({next_instance[k]++, t});
            const time_value next = detail::checked_add(t, s.callbacks[k].period, "ros2_simulate");
            next_release[k] = next < o.horizon ? next : std::numeric_limits<time_value>::max();
        }
        // 3. Dispatch.
        for (running& th : threads) {
            if (th.busy) continue;
            std::size_t pick = n;
            if (executor == ros2_executor::priority_driven) {
                for (std::size_t k : order)
                    if (!queue[k].empty() && !blocked(k)) {
                        pick = k;
                        break;
                    }
            } else {
                for (int attempt = 0; attempt < 2 && pick == n; ++attempt) {
                    for (std::size_t k : order)
                        if (in_ready[k] && !blocked(k)) {
                            pick = k;
                            break;
                        }
                    if (pick != n || ready_count > 0) break;
                    // Polling point: the ready set is empty and this thread is idle.
                    for (std::size_t k = 0; k < n; ++k)
                        if (!queue[k].empty()) {
                            in_ready[k] = 1;
                            ++ready_count;
                        }
                }
                if (pick != n) {
                    in_ready[pick] = 0;
                    --ready_count;
                }
            }
            if (pick == n) break;
            start(th, pick, t);
        }
    }
    return res;
}

}  // namespace keel::sched
