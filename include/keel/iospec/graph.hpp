#pragma once

#include <keel/iospec/adaptive.hpp>
#include <keel/iospec/detail/erased.hpp>
#include <keel/iospec/ops.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace keel::iospec {

namespace detail {
struct graph_state;
struct scope_state;
}  // namespace detail

/// A handle on one system-call node of a graph: typed by its op (node<pread_op>), so
/// context::result and the builder's edges know what it is. Plain value.
template <class Op>
class node {
public:
    using op = Op;
    constexpr node() noexcept = default;
    constexpr explicit node(std::uint32_t id) noexcept : _id(id) {}
    [[nodiscard]] constexpr std::uint32_t id() const noexcept { return _id; }

private:
    std::uint32_t _id = UINT32_MAX;
};

/// A handle on a branch node (the program takes one of several paths).
class branch_node {
public:
    constexpr branch_node() noexcept = default;
    constexpr explicit branch_node(std::uint32_t id) noexcept : _id(id) {}
    [[nodiscard]] constexpr std::uint32_t id() const noexcept { return _id; }

private:
    std::uint32_t _id = UINT32_MAX;
};

/// A handle on a loop node: repeats its body (each repetition is an epoch) or exits.
class loop_node {
public:
    constexpr loop_node() noexcept = default;
    constexpr explicit loop_node(std::uint32_t id) noexcept : _id(id) {}
    [[nodiscard]] constexpr std::uint32_t id() const noexcept { return _id; }

private:
    std::uint32_t _id = UINT32_MAX;
};

/// The graph's end: the program makes no further call through the scope.
class end_node {
public:
    [[nodiscard]] constexpr std::uint32_t id() const noexcept { return 0; }
};

/// Any node, as an edge's endpoint.
class node_ref {
public:
    template <class Op>
    constexpr node_ref(node<Op> n) noexcept : _id(n.id()) {}  // NOLINT(google-explicit-constructor)
    constexpr node_ref(branch_node n) noexcept : _id(n.id()) {}
    constexpr node_ref(loop_node n) noexcept : _id(n.id()) {}
    constexpr node_ref(end_node n) noexcept : _id(n.id()) {}
    [[nodiscard]] constexpr std::uint32_t id() const noexcept { return _id; }

private:
    std::uint32_t _id;
};

/// must: the program always goes on along the edge. may_exit: the program may stop
/// here (return, error path, early exit) instead of making the next call.
enum class edge_kind : std::uint8_t { must, may_exit };

/// When a node may be pre-issued.
///  - automatic: pure calls (pread, fstat, fstatat, statx, getdents64) as `speculate`;
///    openat and pwrite as `when_certain`; close as `never`.
///  - speculate: as soon as its arguments are known and the depth allows. For a
///    side-effecting node, build() checks that no possible exit precedes it; the scope
///    then trusts the graph: if the program mismatches before reaching the node, the
///    effect has happened early and cannot be undone.
///  - when_certain: only when it is the program's next call (every earlier call made and
///    matched) and the edge into it is not may_exit. Overlaps the call with the
///    program's work since its previous call; only a mismatch of this call itself can
///    leave an effect the program did not ask for (counted as a mismatch).
///  - never: the node is matched but always executed by the program's own call.
enum class issue_policy : std::uint8_t { automatic, speculate, when_certain, never };

/// Per-node settings.
struct node_options {
    issue_policy policy = issue_policy::automatic;
};

/// Per-loop settings. max_iterations bounds how many times the repeat edge is taken
/// before the loop exits (a graph with an unbounded cycle is rejected).
struct loop_options {
    std::uint64_t max_iterations = 0;
};

/// Per-graph settings.
struct graph_options {
    /// A fixed pre-issue depth: node instances a scope keeps ahead of the program (0 =
    /// match and count only, pre-issue nothing). Unset (the default): the depth adapts
    /// at run time as `adaptive` says, and the depth learned carries over between the
    /// graph's scopes.
    std::optional<unsigned> depth;
    /// A graph whose scopes mismatch this many times in a row is disabled (its scopes
    /// pass every call through); 0 = never disable.
    unsigned disable_after = 4;
    /// The adaptive depth's settings (used when `depth` is unset).
    adaptive_options adaptive{};
};

/// What a graph's scopes did, summed over all of them.
///  - hits: calls answered by a pre-issued operation.
///  - misses: calls that matched a node but ran synchronously (arguments not known in
///    time, depth or budget exhausted, untrusted descriptor, a transient speculative failure).
///  - mismatches: calls that differed from the graph (each ends speculation for its scope).
///  - cancelled: pre-issued operations dropped while in flight (early exit, mismatch).
///  - wasted_bytes: bytes pre-issued reads transferred that no call used.
///  - scopes: scopes opened; passthrough_calls: calls made after a mismatch or while the
///    graph was disabled; generator_errors: generators or decisions that threw.
///  - depth: the pre-issue depth now (the adaptive depth learned so far, or the fixed
///    one); probes: reads probed for being cached, probes_cached: those found cached.
///  - dormant_calls: calls a dormant scope passed straight through (it found everything
///    cached at depth 0 and stopped following the graph; see scope_options::rest_when_cached).
struct graph_counters {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t mismatches = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t wasted_bytes = 0;
    std::uint64_t scopes = 0;
    std::uint64_t passthrough_calls = 0;
    std::uint64_t generator_errors = 0;
    std::uint64_t depth = 0;
    std::uint64_t probes = 0;
    std::uint64_t probes_cached = 0;
    std::uint64_t dormant_calls = 0;
};

/// What a generator (or a branch/loop decision) may look at: the loop iterations at its
/// node and the results of earlier nodes. Valid only during the call it is passed to.
class context {
public:
    /// How many times `loop`'s repeat edge has been taken since the loop was entered
    /// (0 in the first epoch).
    [[nodiscard]] std::uint64_t iteration(loop_node loop) const noexcept;

    /// The result of the latest instance of node `n` before this point of the graph, or
    /// std::nullopt when it is not known yet (not issued, still in flight) or `n` has not
    /// run in this scope. A generator that needs it then returns std::nullopt itself.
    template <class Op>
    [[nodiscard]] std::optional<op_result> result(node<Op> n) const noexcept {
        return lookup(n.id());
    }

    context(const detail::scope_state* scope, std::size_t position, const std::uint64_t* loops) noexcept
        : _scope(scope), _position(position), _loops(loops) {}

private:
    [[nodiscard]] std::optional<op_result> lookup(std::uint32_t node) const noexcept;

    const detail::scope_state* _scope;
    std::size_t _position;
    const std::uint64_t* _loops;
};

class graph;

/// Builds a foreaction graph: system-call nodes with argument generators, branch and
/// loop nodes with decisions, edges (must or may_exit), loop repeat edges and ordering
/// edges; build() validates and returns the immutable graph.
///
/// Generators are `std::optional<Op::args>(const context&)` callables (copied into the
/// graph); std::nullopt means "not computable yet". They run on the thread that uses the
/// scope, possibly many times for one call, so they must be cheap and free of side effects.
/// Not thread-safe. Cost: one heap node per graph node.
class graph_builder {
public:
    explicit graph_builder(std::string name, graph_options options = {});
    ~graph_builder();
    graph_builder(graph_builder&&) noexcept;
    graph_builder& operator=(graph_builder&&) noexcept;
    graph_builder(const graph_builder&) = delete;
    graph_builder& operator=(const graph_builder&) = delete;

    template <class F>
    node<openat_op> openat(std::string name, F&& gen, node_options options = {}) {
        return node<openat_op>(add<openat_op>(std::move(name), std::forward<F>(gen), options));
    }
    template <class F>
    node<pread_op> pread(std::string name, F&& gen, node_options options = {}) {
        return node<pread_op>(add<pread_op>(std::move(name), std::forward<F>(gen), options));
    }
    template <class F>
    node<pwrite_op> pwrite(std::string name, F&& gen, node_options options = {}) {
        return node<pwrite_op>(add<pwrite_op>(std::move(name), std::forward<F>(gen), options));
    }
    template <class F>
    node<fstat_op> fstat(std::string name, F&& gen, node_options options = {}) {
        return node<fstat_op>(add<fstat_op>(std::move(name), std::forward<F>(gen), options));
    }
    template <class F>
    node<fstatat_op> fstatat(std::string name, F&& gen, node_options options = {}) {
        return node<fstatat_op>(add<fstatat_op>(std::move(name), std::forward<F>(gen), options));
    }
    template <class F>
    node<statx_op> statx(std::string name, F&& gen, node_options options = {}) {
        return node<statx_op>(add<statx_op>(std::move(name), std::forward<F>(gen), options));
    }
    template <class F>
    node<close_op> close(std::string name, F&& gen, node_options options = {}) {
        return node<close_op>(add<close_op>(std::move(name), std::forward<F>(gen), options));
    }
    template <class F>
    node<getdents64_op> getdents64(std::string name, F&& gen, node_options options = {}) {
        return node<getdents64_op>(add<getdents64_op>(std::move(name), std::forward<F>(gen), options));
    }

    /// A branch's decision: the index of the target to take (targets in the order edge()
    /// added them), or std::nullopt when not decidable yet.
    using branch_decision = std::function<std::optional<std::size_t>(const context&)>;
    /// A loop's decision: true takes the repeat edge (the next epoch), false the exit
    /// edge, std::nullopt when not decidable yet.
    using loop_decision = std::function<std::optional<bool>(const context&)>;

    /// A branch node. The decision may be given later with decide() (when it needs the
    /// handles of nodes created after the branch).
    branch_node branch(std::string name, branch_decision decide = {});

    /// A loop node. Set its repeat edge with repeat(), its exit edge with edge(), and
    /// its decision here or later with decide().
    ///
    /// context::iteration(loop) counts the repeat edges taken since the loop was entered:
    /// in a loop whose node follows its body (do-while), the body's first epoch sees 0;
    /// in one whose node precedes its body (while), the body's first epoch sees 1.
    loop_node loop(std::string name, loop_options options, loop_decision again = {});

    /// Sets a branch's or a loop's decision (replacing any earlier one).
    void decide(branch_node branch, branch_decision decide);
    void decide(loop_node loop, loop_decision again);

    /// The end node (target of the last edges).
    [[nodiscard]] end_node end() const noexcept { return {}; }

    /// Names the start node. Optional when exactly one node has no incoming edge (that
    /// one starts); needed when the graph begins at a loop whose body leads back to it.
    /// The start node's call is one the program always makes once a scope is open.
    void start(node_ref first);

    /// Adds an edge. From a system-call node: its successor (one only). From a branch:
    /// its next target. From a loop: its exit. Throws std::invalid_argument naming the
    /// node when the edge is not allowed (from the end node, a second successor, ...).
    void edge(node_ref from, node_ref to, edge_kind kind = edge_kind::must);

    /// Sets `loop`'s repeat edge: the start of its body. Taking it begins a new epoch.
    void repeat(loop_node loop, node_ref body, edge_kind kind = edge_kind::must);

    /// An ordering edge: an instance of `after` is not pre-issued while the latest
    /// earlier instance of `before` has not completed (read-after-write across
    /// descriptors; the same descriptor is ordered automatically).
    void order(node_ref before, node_ref after);

    /// Validates and returns the graph (the builder stays usable). Throws
    /// std::invalid_argument naming the node and the rule broken: exactly one start node,
    /// every node reachable and given its edges, no cycle except through a bounded loop's
    /// repeat edge, every branch and loop given a decision, every loop bounded and its
    /// body making a call, no node with policy `speculate` that has side effects after a
    /// possible exit, close never `speculate`, unique node names.
    [[nodiscard]] graph build() const;

private:
    template <class Op, class F>
    std::uint32_t add(std::string name, F&& gen, node_options options) {
        return add_syscall(std::move(name), Op::kind, detail::erase_generator<Op>(std::forward<F>(gen)), options);
    }
    std::uint32_t add_syscall(std::string name, op_kind kind, detail::erased_generator gen, node_options options);

    std::unique_ptr<detail::graph_state> _state;
};

/// A validated foreaction graph. Cheap to copy (shared, immutable structure); its
/// counters and disabled flag are shared by every copy and updated atomically, so
/// scopes on several threads (each with its own engine) may use one graph at once.
class graph {
public:
    [[nodiscard]] const std::string& name() const noexcept;
    [[nodiscard]] const graph_options& options() const noexcept;
    /// Number of nodes, the end node included.
    [[nodiscard]] std::size_t size() const noexcept;
    /// The graph in Graphviz .dot: boxes for calls (with the op), diamonds for branches,
    /// hexagons for loops, dashed may_exit edges, bold repeat edges, dotted ordering edges.
    [[nodiscard]] std::string to_dot() const;

    /// A snapshot of the counters (each read atomically, not all at one instant).
    [[nodiscard]] graph_counters counters() const noexcept;
    void reset_counters() noexcept;
    /// True once the graph kept mismatching (graph_options::disable_after); its scopes
    /// then pass every call through.
    [[nodiscard]] bool disabled() const noexcept;
    /// Re-enables a disabled graph and clears its mismatch streak.
    void enable() noexcept;

private:
    friend class graph_builder;
    friend struct detail::scope_state;
    explicit graph(std::shared_ptr<detail::graph_state> state) noexcept : _state(std::move(state)) {}
    std::shared_ptr<detail::graph_state> _state;
};

}  // namespace keel::iospec
