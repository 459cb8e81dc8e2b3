#include "internal.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace keel::iospec {

std::string_view to_string(op_kind kind) noexcept {
    switch (kind) {
        case op_kind::openat: return "openat";
        case op_kind::pread: return "pread";
        case op_kind::pwrite: return "pwrite";
        case op_kind::fstat: return "fstat";
        case op_kind::fstatat: return "fstatat";
        case op_kind::statx: return "statx";
        case op_kind::close: return "close";
        case op_kind::getdents64: return "getdents64";
    }
    return "unknown";
}

namespace {

using detail::edge_def;
using detail::graph_state;
using detail::node_def;
using detail::node_type;
using detail::none;

std::string kind_name(const node_def& n) {
    switch (n.type) {
        case node_type::end: return "end";
        case node_type::syscall: return std::string(to_string(n.op));
        case node_type::branch: return "branch";
        case node_type::loop: return "loop";
    }
    return "?";
}

// "'name' (pread)"
std::string describe(const graph_state& g, std::uint32_t id) {
    const auto& n = g.nodes[id];
    return "'" + n.name + "' (" + kind_name(n) + ")";
}

[[noreturn]] void fail(const graph_state& g, const std::string& what) {
    throw std::invalid_argument("iospec graph '" + g.name + "': " + what);
}

// Every out edge of a node, the repeat edge included; `repeat_too` false leaves it out.
template <class F>
void for_each_edge(const node_def& n, bool repeat_too, F&& f) {
    switch (n.type) {
        case node_type::end: break;
        case node_type::syscall: f(n.next, false); break;
        case node_type::branch:
            for (const auto& e : n.targets) f(e, false);
            break;
        case node_type::loop:
            if (repeat_too) f(n.repeat, true);
            f(n.next, false);
            break;
    }
}

void check_id(const graph_state& g, std::uint32_t id, const char* what) {
    if (id >= g.nodes.size()) {
        fail(g, std::string(what) + ": node id " + std::to_string(id) + " does not belong to this graph");
    }
}

void validate(graph_state& g) {
    const auto count = static_cast<std::uint32_t>(g.nodes.size());
    if (count <= 1) fail(g, "the graph has no node (rule: exactly one start node)");

    // Unique names (errors name nodes, so names must identify them).
    {
        std::vector<std::pair<std::string, std::uint32_t>> names;
        for (std::uint32_t i = 1; i < count; ++i) names.emplace_back(g.nodes[i].name, i);
        std::sort(names.begin(), names.end());
        for (std::size_t i = 1; i < names.size(); ++i) {
            if (names[i].first == names[i - 1].first) {
                fail(g, "two nodes are named '" + names[i].first + "' (node names must be unique)");
            }
        }
    }

    // Every node has its edges.
    for (std::uint32_t i = 1; i < count; ++i) {
        const auto& n = g.nodes[i];
        switch (n.type) {
            case node_type::end: break;
            case node_type::syscall:
                if (n.next.to == none) {
                    fail(g, "node " + describe(g, i) + " has no successor: add edge(" + n.name +
                                ", ...) or edge(" + n.name + ", end())");
                }
                break;
            case node_type::branch:
                if (n.targets.empty()) fail(g, "branch " + describe(g, i) + " has no target: add edge(" + n.name + ", ...)");
                if (!n.decide) fail(g, "branch " + describe(g, i) + " has no decision: call decide(" + n.name + ", ...)");
                break;
            case node_type::loop:
                if (n.repeat.to == none) fail(g, "loop " + describe(g, i) + " has no body: call repeat(" + n.name + ", ...)");
                if (n.next.to == none) fail(g, "loop " + describe(g, i) + " has no exit: add edge(" + n.name + ", ...)");
                if (!n.again) fail(g, "loop " + describe(g, i) + " has no decision: call decide(" + n.name + ", ...)");
                if (n.max_iterations == 0) {
                    fail(g, "loop " + describe(g, i) +
                                " has no iteration bound: set loop_options::max_iterations (rule: no unbounded cycle)");
                }
                break;
        }
    }

    // Exactly one start node.
    std::vector<unsigned> incoming(count, 0);
    for (std::uint32_t i = 1; i < count; ++i) {
        for_each_edge(g.nodes[i], true, [&](const edge_def& e, bool) { ++incoming[e.to]; });
    }
    std::vector<std::uint32_t> roots;
    for (std::uint32_t i = 1; i < count; ++i) {
        if (incoming[i] == 0 && i != g.start) roots.push_back(i);
    }
    if (g.start != none) {
        if (!roots.empty()) {
            fail(g, "node " + describe(g, roots.front()) + " has no incoming edge: a second start node besides " +
                        describe(g, g.start) + " (rule: exactly one start node)");
        }
    } else if (roots.empty()) {
        fail(g, "no start node: every node has an incoming edge; name the first call with start() "
                "(rule: exactly one start node)");
    } else if (roots.size() > 1) {
        fail(g, "more than one start node: " + describe(g, roots[0]) + " and " + describe(g, roots[1]) +
                    " have no incoming edge (rule: exactly one start node)");
    } else {
        g.start = roots.front();
    }
    if (g.nodes[g.start].type == node_type::end) fail(g, "the start node is the end node");

    // Every node reachable from the start.
    {
        std::vector<char> seen(count, 0);
        std::vector<std::uint32_t> stack{g.start};
        seen[g.start] = 1;
        while (!stack.empty()) {
            const auto id = stack.back();
            stack.pop_back();
            for_each_edge(g.nodes[id], true, [&](const edge_def& e, bool) {
                if (!seen[e.to]) {
                    seen[e.to] = 1;
                    stack.push_back(e.to);
                }
            });
        }
        for (std::uint32_t i = 1; i < count; ++i) {
            if (!seen[i]) fail(g, "node " + describe(g, i) + " is unreachable from the start node " + describe(g, g.start));
        }
    }

    // No cycle except through a loop's repeat edge (depth-first search, colours).
    {
        std::vector<char> colour(count, 0);  // 0 new, 1 on the stack, 2 done
        std::vector<std::uint32_t> trail;
        std::function<void(std::uint32_t)> visit = [&](std::uint32_t id) {
            colour[id] = 1;
            trail.push_back(id);
            for_each_edge(g.nodes[id], false, [&](const edge_def& e, bool) {
                if (colour[e.to] == 1) {
                    std::string cycle;
                    auto from = std::find(trail.begin(), trail.end(), e.to);
                    for (auto it = from; it != trail.end(); ++it) cycle += "'" + g.nodes[*it].name + "' -> ";
                    cycle += "'" + g.nodes[e.to].name + "'";
                    fail(g, "unbounded cycle " + cycle +
                                " (rule: no unbounded cycle; a cycle must go through a loop's repeat edge)");
                }
                if (colour[e.to] == 0) visit(e.to);
            });
            trail.pop_back();
            colour[id] = 2;
        };
        for (std::uint32_t i = 1; i < count; ++i) {
            if (colour[i] == 0) visit(i);
        }
    }

    // Each loop's body leads back to the loop, and not without a system call.
    for (std::uint32_t l = 1; l < count; ++l) {
        const auto& loop = g.nodes[l];
        if (loop.type != node_type::loop) continue;
        bool returns = false;
        bool empty_path = false;
        std::vector<char> seen(count, 0);
        // (node, whether a system call was passed on the way)
        std::vector<std::pair<std::uint32_t, bool>> stack{{loop.repeat.to, false}};
        std::vector<char> seen_with_call(count, 0);
        while (!stack.empty()) {
            auto [id, called] = stack.back();
            stack.pop_back();
            if (id == l) {
                returns = true;
                if (!called) empty_path = true;
                continue;
            }
            auto& mark = called ? seen_with_call[id] : seen[id];
            if (mark) continue;
            mark = 1;
            const auto& n = g.nodes[id];
            const bool now_called = called || n.type == node_type::syscall;
            for_each_edge(n, true, [&](const edge_def& e, bool) { stack.emplace_back(e.to, now_called); });
        }
        if (!returns) fail(g, "loop " + describe(g, l) + ": its body never leads back to it (repeat edge to '" +
                                  g.nodes[loop.repeat.to].name + "')");
        if (empty_path) {
            fail(g, "loop " + describe(g, l) + ": its body has a path back to it with no system call");
        }
    }

    // Side effects never speculated past a possible exit; close never speculated.
    {
        std::vector<std::uint32_t> exit_edge_from(count, none);  // node -> source of a may_exit edge reaching it
        std::vector<std::uint32_t> stack;
        for (std::uint32_t i = 1; i < count; ++i) {
            for_each_edge(g.nodes[i], true, [&](const edge_def& e, bool) {
                if (e.kind == edge_kind::may_exit && exit_edge_from[e.to] == none) {
                    exit_edge_from[e.to] = i;
                    stack.push_back(e.to);
                }
            });
        }
        while (!stack.empty()) {
            const auto id = stack.back();
            stack.pop_back();
            for_each_edge(g.nodes[id], true, [&](const edge_def& e, bool) {
                if (exit_edge_from[e.to] == none) {
                    exit_edge_from[e.to] = exit_edge_from[id];
                    stack.push_back(e.to);
                }
            });
        }
        for (std::uint32_t i = 1; i < count; ++i) {
            const auto& n = g.nodes[i];
            if (n.type != node_type::syscall || n.policy != issue_policy::speculate) continue;
            if (n.op == op_kind::close) {
                fail(g, "node " + describe(g, i) +
                            " has policy speculate, but close is never pre-issued: it frees the descriptor number "
                            "(rule: no side-effecting node pre-issued past a possible exit)");
            }
            if (has_side_effects(n.op) && exit_edge_from[i] != none) {
                fail(g, "node " + describe(g, i) +
                            " has side effects and policy speculate, but it may run after a possible exit (a may_exit "
                            "edge leaves " + describe(g, exit_edge_from[i]) +
                            ") (rule: no side-effecting node pre-issued past a possible exit)");
            }
        }
    }
}

std::string dot_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

}  // namespace

graph_builder::graph_builder(std::string name, graph_options options) : _state(std::make_unique<graph_state>()) {
    _state->name = std::move(name);
    _state->options = options;
    node_def end;
    end.name = "end";
    end.type = node_type::end;
    _state->nodes.push_back(std::move(end));
}

graph_builder::~graph_builder() = default;
graph_builder::graph_builder(graph_builder&&) noexcept = default;
graph_builder& graph_builder::operator=(graph_builder&&) noexcept = default;

std::uint32_t graph_builder::add_syscall(std::string name, op_kind kind, detail::erased_generator gen,
                                         node_options options) {
    auto& g = *_state;
    if (!gen) fail(g, "node '" + name + "' has no generator");
    const auto id = static_cast<std::uint32_t>(g.nodes.size());
    node_def n;
    n.name = name.empty() ? std::string(to_string(kind)) + "#" + std::to_string(id) : std::move(name);
    n.type = node_type::syscall;
    n.op = kind;
    n.policy = options.policy;
    n.gen = std::move(gen);
    g.nodes.push_back(std::move(n));
    return id;
}

branch_node graph_builder::branch(std::string name, branch_decision decide) {
    auto& g = *_state;
    const auto id = static_cast<std::uint32_t>(g.nodes.size());
    node_def n;
    n.name = name.empty() ? "branch#" + std::to_string(id) : std::move(name);
    n.type = node_type::branch;
    n.decide = std::move(decide);
    g.nodes.push_back(std::move(n));
    return branch_node(id);
}

loop_node graph_builder::loop(std::string name, loop_options options, loop_decision again) {
    auto& g = *_state;
    const auto id = static_cast<std::uint32_t>(g.nodes.size());
    node_def n;
    n.name = name.empty() ? "loop#" + std::to_string(id) : std::move(name);
    n.type = node_type::loop;
    n.again = std::move(again);
    n.max_iterations = options.max_iterations;
    n.loop_index = g.loops++;
    g.nodes.push_back(std::move(n));
    return loop_node(id);
}

void graph_builder::decide(branch_node branch, branch_decision decide) {
    auto& g = *_state;
    check_id(g, branch.id(), "decide");
    auto& n = g.nodes[branch.id()];
    if (n.type != node_type::branch) fail(g, "decide(" + n.name + ", ...): " + describe(g, branch.id()) + " is not a branch");
    n.decide = std::move(decide);
}

void graph_builder::decide(loop_node loop, loop_decision again) {
    auto& g = *_state;
    check_id(g, loop.id(), "decide");
    auto& n = g.nodes[loop.id()];
    if (n.type != node_type::loop) fail(g, "decide(" + n.name + ", ...): " + describe(g, loop.id()) + " is not a loop");
    n.again = std::move(again);
}

void graph_builder::start(node_ref first) {
    auto& g = *_state;
    check_id(g, first.id(), "start");
    if (first.id() == detail::end_id) fail(g, "start(): the end node cannot start the graph");
    if (g.start != none && g.start != first.id()) {
        fail(g, "start(" + g.nodes[first.id()].name + "): the start node is already " + describe(g, g.start) +
                    " (rule: exactly one start node)");
    }
    g.start = first.id();
}

void graph_builder::edge(node_ref from, node_ref to, edge_kind kind) {
    auto& g = *_state;
    check_id(g, from.id(), "edge");
    check_id(g, to.id(), "edge");
    auto& n = g.nodes[from.id()];
    const edge_def e{to.id(), kind};
    switch (n.type) {
        case node_type::end: fail(g, "edge(end, '" + g.nodes[to.id()].name + "'): no edge leaves the end node");
        case node_type::syscall:
        case node_type::loop:
            if (n.next.to != none) {
                fail(g, "edge(" + n.name + ", " + g.nodes[to.id()].name + "): node " + describe(g, from.id()) +
                            " already has its " + (n.type == node_type::loop ? "exit" : "successor") + " '" +
                            g.nodes[n.next.to].name + "'");
            }
            n.next = e;
            break;
        case node_type::branch: n.targets.push_back(e); break;
    }
}

void graph_builder::repeat(loop_node loop, node_ref body, edge_kind kind) {
    auto& g = *_state;
    check_id(g, loop.id(), "repeat");
    check_id(g, body.id(), "repeat");
    auto& n = g.nodes[loop.id()];
    if (n.type != node_type::loop) fail(g, "repeat(" + n.name + ", ...): " + describe(g, loop.id()) + " is not a loop");
    if (body.id() == detail::end_id) fail(g, "repeat(" + n.name + ", end): a loop's body cannot be the end node");
    if (n.repeat.to != none) {
        fail(g, "repeat(" + n.name + ", " + g.nodes[body.id()].name + "): loop already repeats to '" +
                    g.nodes[n.repeat.to].name + "'");
    }
    n.repeat = edge_def{body.id(), kind};
}

void graph_builder::order(node_ref before, node_ref after) {
    auto& g = *_state;
    check_id(g, before.id(), "order");
    check_id(g, after.id(), "order");
    if (g.nodes[before.id()].type != node_type::syscall || g.nodes[after.id()].type != node_type::syscall) {
        fail(g, "order(" + g.nodes[before.id()].name + ", " + g.nodes[after.id()].name +
                    "): ordering edges join system-call nodes only");
    }
    if (before.id() == after.id()) {
        fail(g, "order(" + g.nodes[before.id()].name + ", itself): a node is always ordered after its earlier instances");
    }
    auto& list = g.nodes[after.id()].after;
    if (std::find(list.begin(), list.end(), before.id()) == list.end()) list.push_back(before.id());
}

graph graph_builder::build() const {
    auto state = std::make_shared<graph_state>();
    state->name = _state->name;
    state->options = _state->options;
    state->nodes = _state->nodes;
    state->start = _state->start;
    state->loops = _state->loops;
    validate(*state);
    const auto& o = state->options;
    state->learned_depth.store(o.depth ? *o.depth : std::min(o.adaptive.initial, o.adaptive.max),
                               std::memory_order_relaxed);
    return graph(std::move(state));
}

const std::string& graph::name() const noexcept { return _state->name; }
const graph_options& graph::options() const noexcept { return _state->options; }
std::size_t graph::size() const noexcept { return _state->nodes.size(); }

std::string graph::to_dot() const {
    const auto& g = *_state;
    std::string out = "digraph \"" + dot_escape(g.name) + "\" {\n  node [fontname=\"monospace\"];\n";
    const auto id = [](std::uint32_t i) { return "n" + std::to_string(i); };
    out += "  start [shape=point];\n  start -> " + id(g.start) + ";\n";
    for (std::uint32_t i = 0; i < g.nodes.size(); ++i) {
        const auto& n = g.nodes[i];
        std::string label = n.name;
        std::string shape;
        switch (n.type) {
            case node_type::end: shape = "doublecircle"; break;
            case node_type::syscall: {
                label += "\n" + std::string(to_string(n.op));
                const auto p = detail::effective_policy(n);
                if (p == issue_policy::never) label += " (never pre-issued)";
                if (p == issue_policy::when_certain) label += " (when certain)";
                shape = has_side_effects(n.op) ? "box, style=bold" : "box";
                break;
            }
            case node_type::branch: shape = "diamond"; break;
            case node_type::loop:
                label += "\nloop <= " + std::to_string(n.max_iterations);
                shape = "hexagon";
                break;
        }
        out += "  " + id(i) + " [label=\"" + dot_escape(label) + "\", shape=" + shape + "];\n";
    }
    for (std::uint32_t i = 0; i < g.nodes.size(); ++i) {
        const auto& n = g.nodes[i];
        std::size_t target = 0;
        for_each_edge(n, true, [&](const edge_def& e, bool is_repeat) {
            std::vector<std::string> attrs;
            if (e.kind == edge_kind::may_exit) attrs.emplace_back("style=dashed");
            std::string label;
            if (is_repeat) {
                attrs.emplace_back("penwidth=2");
                label = "repeat";
            } else if (n.type == node_type::loop) {
                label = "exit";
            } else if (n.type == node_type::branch) {
                label = std::to_string(target++);
            }
            if (e.kind == edge_kind::may_exit) label += label.empty() ? "may exit" : ", may exit";
            if (!label.empty()) attrs.emplace_back("label=\"" + label + "\"");
            out += "  " + id(i) + " -> " + id(e.to);
            if (!attrs.empty()) {
                out += " [";
                for (std::size_t a = 0; a < attrs.size(); ++a) out += (a ? ", " : "") + attrs[a];
                out += "]";
            }
            out += ";\n";
        });
        for (auto before : n.after) {
            out += "  " + id(before) + " -> " + id(i) + " [style=dotted, color=blue, label=\"order\", constraint=false];\n";
        }
    }
    out += "}\n";
    return out;
}

graph_counters graph::counters() const noexcept {
    const auto& g = *_state;
    constexpr auto r = std::memory_order_relaxed;
    return graph_counters{g.hits.load(r),   g.misses.load(r),          g.mismatches.load(r),
                          g.cancelled.load(r), g.wasted_bytes.load(r), g.scopes.load(r),
                          g.passthrough_calls.load(r), g.generator_errors.load(r),
                          g.learned_depth.load(r),     g.probes.load(r),
                          g.probes_cached.load(r),     g.dormant_calls.load(r)};
}

void graph::reset_counters() noexcept {
    auto& g = *_state;
    constexpr auto r = std::memory_order_relaxed;
    for (auto* c : {&g.hits, &g.misses, &g.mismatches, &g.cancelled, &g.wasted_bytes, &g.scopes,
                    &g.passthrough_calls, &g.generator_errors, &g.probes, &g.probes_cached,
                    &g.dormant_calls}) {
        c->store(0, r);
    }
}

bool graph::disabled() const noexcept { return _state->disabled.load(std::memory_order_relaxed); }

void graph::enable() noexcept {
    _state->mismatch_streak.store(0, std::memory_order_relaxed);
    _state->disabled.store(false, std::memory_order_relaxed);
}

}  // namespace keel::iospec
