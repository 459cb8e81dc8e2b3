#include <catch2/catch.hpp>

#include <keel/iospec.hpp>

#include <optional>
#include <stdexcept>
#include <string>

namespace is = keel::iospec;

namespace {

auto fixed_read(int fd = 3) {
    return [fd](const is::context&) -> std::optional<is::pread_args> { return is::pread_args{fd, 4096, 0}; };
}
auto fixed_write(int fd = 4) {
    return [fd](const is::context&) -> std::optional<is::pwrite_args> { return is::pwrite_args{fd, {}, 0}; };
}
auto fixed_close(int fd = 4) {
    return [fd](const is::context&) -> std::optional<is::close_args> { return is::close_args{fd}; };
}

// The build error's message, or "" when build() succeeds.
std::string build_error(const is::graph_builder& b) {
    try {
        (void)b.build();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return {};
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a chain of calls builds, and its start is the node without incoming edges", "[iospec][graph]") {
    is::graph_builder b("chain");
    auto a = b.pread("a", fixed_read());
    auto w = b.pwrite("w", fixed_write());
    b.edge(a, w);
    b.edge(w, b.end());
    auto g = b.build();
    CHECK(g.name() == "chain");
    CHECK(g.size() == 3);  // end, a, w
    CHECK_FALSE(g.disabled());
    const auto c = g.counters();
    CHECK(c.hits == 0);
    CHECK(c.scopes == 0);
}

TEST_CASE("generators must return std::optional of the node's arguments", "[iospec][graph]") {
    // A compile-time rule (static_assert in erase_generator); here only the accepted forms.
    is::graph_builder b("forms");
    auto a = b.pread("a", [](const is::context&) { return std::optional<is::pread_args>{}; });
    auto s = b.fstatat("s", [](const is::context&) -> std::optional<is::fstatat_args> { return std::nullopt; });
    b.edge(a, s);
    b.edge(s, b.end());
    CHECK(build_error(b).empty());
}

TEST_CASE("build rejects graphs without exactly one start node", "[iospec][graph]") {
    SECTION("two nodes without incoming edges") {
        is::graph_builder b("two");
        auto a = b.pread("first", fixed_read());
        auto c = b.pread("second", fixed_read());
        b.edge(a, b.end());
        b.edge(c, b.end());
        const auto e = build_error(b);
        CHECK(has(e, "iospec graph 'two'"));
        CHECK(has(e, "more than one start node"));
        CHECK(has(e, "'first' (pread)"));
        CHECK(has(e, "'second' (pread)"));
        CHECK(has(e, "rule: exactly one start node"));
    }
    SECTION("every node has an incoming edge: start() is needed") {
        is::graph_builder b("loop-only");
        auto more = b.loop("more", {.max_iterations = 4}, [](const is::context&) { return std::optional<bool>(false); });
        auto r = b.pread("read", fixed_read());
        b.edge(r, more);
        b.repeat(more, r);
        b.edge(more, b.end());
        CHECK(has(build_error(b), "no start node"));
        b.start(r);
        CHECK(build_error(b).empty());
    }
    SECTION("an explicit start plus another root") {
        is::graph_builder b("explicit");
        auto a = b.pread("a", fixed_read());
        auto x = b.pread("stray", fixed_read());
        b.edge(a, b.end());
        b.edge(x, b.end());
        b.start(a);
        const auto e = build_error(b);
        CHECK(has(e, "'stray' (pread) has no incoming edge"));
        CHECK(has(e, "second start node"));
    }
    SECTION("start() twice with different nodes") {
        is::graph_builder b("twice");
        auto a = b.pread("a", fixed_read());
        auto c = b.pread("c", fixed_read());
        b.start(a);
        CHECK_THROWS_WITH(b.start(c), Catch::Contains("already 'a' (pread)"));
    }
    SECTION("an empty graph") {
        is::graph_builder b("empty");
        CHECK(has(build_error(b), "has no node"));
    }
}

TEST_CASE("build rejects unbounded cycles and naming the nodes on them", "[iospec][graph]") {
    SECTION("a cycle of plain edges") {
        is::graph_builder b("cycle");
        auto s = b.pread("s", fixed_read());
        auto x = b.pread("x", fixed_read());
        auto y = b.pread("y", fixed_read());
        auto br = b.branch("br", [](const is::context&) { return std::optional<std::size_t>(0); });
        b.edge(s, x);
        b.edge(x, y);
        b.edge(y, br);
        b.edge(br, x);
        b.edge(br, b.end());
        const auto e = build_error(b);
        CHECK(has(e, "unbounded cycle 'x' -> 'y' -> 'br' -> 'x'"));
        CHECK(has(e, "rule: no unbounded cycle"));
    }
    SECTION("a loop without an iteration bound") {
        is::graph_builder b("unbounded");
        auto r = b.pread("read", fixed_read());
        auto more = b.loop("more", {}, [](const is::context&) { return std::optional<bool>(true); });
        b.start(r);
        b.edge(r, more);
        b.repeat(more, r);
        b.edge(more, b.end());
        const auto e = build_error(b);
        CHECK(has(e, "loop 'more' (loop) has no iteration bound"));
        CHECK(has(e, "rule: no unbounded cycle"));
    }
    SECTION("a loop whose body never returns") {
        is::graph_builder b("open-body");
        auto s = b.pread("s", fixed_read());
        auto more = b.loop("more", {.max_iterations = 3}, [](const is::context&) { return std::optional<bool>(true); });
        auto body = b.pread("body", fixed_read());
        b.edge(s, more);
        b.repeat(more, body);
        b.edge(body, b.end());
        b.edge(more, b.end());
        CHECK(has(build_error(b), "loop 'more' (loop): its body never leads back to it"));
    }
    SECTION("a loop whose body makes no call") {
        is::graph_builder b("empty-body");
        auto s = b.pread("s", fixed_read());
        auto more = b.loop("more", {.max_iterations = 3}, [](const is::context&) { return std::optional<bool>(true); });
        auto br = b.branch("br", [](const is::context&) { return std::optional<std::size_t>(0); });
        auto body = b.pread("body", fixed_read());
        b.edge(s, more);
        b.repeat(more, br);
        b.edge(br, more);  // one way back without a call
        b.edge(br, body);
        b.edge(body, more);
        b.edge(more, b.end());
        CHECK(has(build_error(b), "its body has a path back to it with no system call"));
    }
}

TEST_CASE("build rejects side-effecting nodes speculated past a possible exit", "[iospec][graph]") {
    SECTION("pwrite with policy speculate after a may_exit edge") {
        is::graph_builder b("write-after-exit");
        auto r = b.pread("check", fixed_read());
        auto w = b.pwrite("commit", fixed_write(), {.policy = is::issue_policy::speculate});
        b.edge(r, w, is::edge_kind::may_exit);
        b.edge(w, b.end());
        const auto e = build_error(b);
        CHECK(has(e, "node 'commit' (pwrite) has side effects and policy speculate"));
        CHECK(has(e, "a may_exit edge leaves 'check' (pread)"));
        CHECK(has(e, "rule: no side-effecting node pre-issued past a possible exit"));
    }
    SECTION("the same write before any possible exit is fine") {
        is::graph_builder b("write-first");
        auto w = b.pwrite("commit", fixed_write(), {.policy = is::issue_policy::speculate});
        auto r = b.pread("check", fixed_read());
        b.edge(w, r);
        b.edge(r, b.end(), is::edge_kind::may_exit);
        CHECK(build_error(b).empty());
    }
    SECTION("a possible exit inside a loop reaches the loop's earlier nodes too") {
        is::graph_builder b("loop-exit");
        auto w = b.pwrite("w", fixed_write(), {.policy = is::issue_policy::speculate});
        auto r = b.pread("r", fixed_read());
        auto more = b.loop("more", {.max_iterations = 8}, [](const is::context&) { return std::optional<bool>(false); });
        b.start(w);
        b.edge(w, r);
        b.edge(r, more, is::edge_kind::may_exit);
        b.repeat(more, w);
        b.edge(more, b.end());
        CHECK(has(build_error(b), "node 'w' (pwrite) has side effects and policy speculate"));
    }
    SECTION("automatic and when_certain side effects are checked at run time, not rejected") {
        is::graph_builder b("auto");
        auto r = b.pread("check", fixed_read());
        auto w = b.pwrite("commit", fixed_write());
        b.edge(r, w, is::edge_kind::may_exit);
        b.edge(w, b.end());
        CHECK(build_error(b).empty());
    }
    SECTION("close is never speculated") {
        is::graph_builder b("close");
        auto c = b.close("done", fixed_close(), {.policy = is::issue_policy::speculate});
        b.edge(c, b.end());
        const auto e = build_error(b);
        CHECK(has(e, "node 'done' (close) has policy speculate, but close is never pre-issued"));
    }
}

TEST_CASE("build rejects incomplete nodes, naming them", "[iospec][graph]") {
    SECTION("a call without a successor") {
        is::graph_builder b("dangling");
        (void)b.pread("lonely", fixed_read());
        CHECK(has(build_error(b), "node 'lonely' (pread) has no successor"));
    }
    SECTION("a branch without a decision") {
        is::graph_builder b("undecided");
        auto r = b.pread("r", fixed_read());
        auto br = b.branch("which");
        b.edge(r, br);
        b.edge(br, b.end());
        CHECK(has(build_error(b), "branch 'which' (branch) has no decision"));
    }
    SECTION("duplicate names") {
        is::graph_builder b("dupes");
        auto x = b.pread("same", fixed_read());
        auto y = b.pread("same", fixed_read());
        b.edge(x, y);
        b.edge(y, b.end());
        CHECK(has(build_error(b), "two nodes are named 'same'"));
    }
    SECTION("an unreachable node") {
        is::graph_builder b("island");
        auto s = b.pread("s", fixed_read());
        auto x = b.pread("x", fixed_read());
        auto more = b.loop("more", {.max_iterations = 2}, [](const is::context&) { return std::optional<bool>(false); });
        b.edge(s, b.end());
        b.edge(x, more);
        b.repeat(more, x);
        b.edge(more, x);  // x and more only reach each other
        const auto e = build_error(b);
        CHECK((has(e, "unreachable") || has(e, "unbounded cycle")));
    }
    SECTION("misuse of edges throws at once") {
        is::graph_builder b("misuse");
        auto r = b.pread("r", fixed_read());
        auto s = b.pread("s", fixed_read());
        b.edge(r, s);
        CHECK_THROWS_WITH(b.edge(r, b.end()), Catch::Contains("node 'r' (pread) already has its successor 's'"));
        CHECK_THROWS_WITH(b.edge(b.end(), r), Catch::Contains("no edge leaves the end node"));
        CHECK_THROWS_WITH(b.order(r, r), Catch::Contains("order(r, itself)"));
        CHECK_THROWS_WITH(b.edge(is::node<is::pread_op>(99), r), Catch::Contains("does not belong to this graph"));
    }
}

TEST_CASE("to_dot draws calls, branches, loops, exits, repeats and ordering edges", "[iospec][graph]") {
    is::graph_builder b("dot \"demo\"");
    auto open = b.openat("open", [](const is::context&) -> std::optional<is::openat_args> {
        return is::openat_args{AT_FDCWD, "/etc/hostname", O_RDONLY, 0};
    });
    auto more = b.loop("more", {.max_iterations = 16});
    auto read = b.pread("read", fixed_read());
    auto write = b.pwrite("write", fixed_write());
    auto which = b.branch("which", [](const is::context&) { return std::optional<std::size_t>(0); });
    auto done = b.close("done", fixed_close());
    b.decide(more, [](const is::context&) { return std::optional<bool>(false); });
    b.edge(open, read, is::edge_kind::may_exit);
    b.edge(read, write);
    b.edge(write, more);
    b.repeat(more, read);
    b.edge(more, which);
    b.edge(which, done);
    b.edge(which, b.end(), is::edge_kind::may_exit);
    b.edge(done, b.end());
    b.order(write, read);
    const auto dot = b.build().to_dot();
    CHECK(has(dot, "digraph \"dot \\\"demo\\\"\" {"));
    CHECK(has(dot, "label=\"open\\nopenat (when certain)\", shape=box, style=bold"));
    CHECK(has(dot, "label=\"read\\npread\", shape=box]"));
    CHECK(has(dot, "label=\"done\\nclose (never pre-issued)\""));
    CHECK(has(dot, "label=\"more\\nloop <= 16\", shape=hexagon"));
    CHECK(has(dot, "label=\"which\", shape=diamond"));
    CHECK(has(dot, "shape=doublecircle"));
    CHECK(has(dot, "style=dashed, label=\"may exit\""));
    CHECK(has(dot, "penwidth=2, label=\"repeat\""));
    CHECK(has(dot, "label=\"exit\""));
    CHECK(has(dot, "style=dotted, color=blue, label=\"order\""));
    CHECK(has(dot, "start -> n1;"));
    CHECK(dot.back() == '\n');
}
