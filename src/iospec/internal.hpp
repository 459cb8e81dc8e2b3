#pragma once
// Private to keel::iospec's sources: the graph's representation.

#include <keel/iospec/graph.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace keel::iospec::detail {

inline constexpr std::uint32_t none = UINT32_MAX;
inline constexpr std::uint32_t end_id = 0;

struct edge_def {
    std::uint32_t to = none;
    edge_kind kind = edge_kind::must;
};

enum class node_type : std::uint8_t { end, syscall, branch, loop };

struct node_def {
    std::string name;
    node_type type = node_type::end;
    // system-call nodes
    op_kind op = op_kind::pread;
    issue_policy policy = issue_policy::automatic;
    erased_generator gen;
    // branch and loop nodes
    std::function<std::optional<std::size_t>(const context&)> decide;
    std::function<std::optional<bool>(const context&)> again;
    std::uint64_t max_iterations = 0;
    std::uint32_t loop_index = none;
    // edges: `next` is a call's successor or a loop's exit; `repeat` a loop's body;
    // `targets` a branch's choices; `after` the nodes this one is ordered after.
    edge_def next;
    edge_def repeat;
    std::vector<edge_def> targets;
    std::vector<std::uint32_t> after;
};

/// automatic resolved: pure calls speculate, openat/pwrite when certain, close never.
constexpr issue_policy effective_policy(const node_def& n) noexcept {
    if (n.policy != issue_policy::automatic) return n.policy;
    if (n.op == op_kind::close) return issue_policy::never;
    if (has_side_effects(n.op)) return issue_policy::when_certain;
    return issue_policy::speculate;
}

struct graph_state {
    std::string name;
    graph_options options;
    std::vector<node_def> nodes;  // nodes[0] is the end node
    std::uint32_t start = none;   // explicit start, or the one build() found
    std::uint32_t loops = 0;

    // Shared by the graph's scopes.
    std::atomic<std::uint64_t> hits{0};
    std::atomic<std::uint64_t> misses{0};
    std::atomic<std::uint64_t> mismatches{0};
    std::atomic<std::uint64_t> cancelled{0};
    std::atomic<std::uint64_t> wasted_bytes{0};
    std::atomic<std::uint64_t> scopes{0};
    std::atomic<std::uint64_t> passthrough_calls{0};
    std::atomic<std::uint64_t> generator_errors{0};
    std::atomic<std::uint64_t> probes{0};
    std::atomic<std::uint64_t> probes_cached{0};
    std::atomic<std::uint64_t> dormant_calls{0};
    // The adaptive depth learned by the latest scope to end (the next one starts there).
    std::atomic<unsigned> learned_depth{0};
    std::atomic<unsigned> mismatch_streak{0};
    std::atomic<bool> disabled{false};
};

}  // namespace keel::iospec::detail
