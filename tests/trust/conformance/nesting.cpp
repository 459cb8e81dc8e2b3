// Trustees that call trustees: inline on the own trustee, serving while waiting on
// another, no deadlock in cycles.
#include <keel/trust.hpp>

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

namespace kt = keel::trust;

namespace {
struct node {
    long value = 0;
    kt::trust<node> peer;  // another object, possibly on another trustee
};
}  // namespace

TEST_CASE("apply on an object of the same trustee runs inline", "[trust][nesting]") {
    kt::runtime rt;
    auto a = rt.entrust_on<node>(0);
    auto b = rt.entrust_on<node>(0);
    a.apply([b](node& n) { n.peer = b; });
    const auto outer = a.apply([](node& n) {
        const auto here = std::this_thread::get_id();
        // Same trustee: must not queue behind ourselves.
        const auto there = n.peer.apply([](node&) { return std::this_thread::get_id(); });
        return here == there;
    });
    CHECK(outer);
}

TEST_CASE("a trustee waiting on another keeps serving its own clients", "[trust][nesting]") {
    kt::runtime rt(kt::runtime_options{.trustees = 2});
    auto a = rt.entrust_on<node>(0);
    auto b = rt.entrust_on<node>(1);
    a.apply([b](node& n) { n.peer = b; });
    b.apply([a](node& n) { n.peer = a; });

    // A cycle: a's request waits on b, whose request waits on a.
    const long got = a.apply([](node& n) {
        n.value = 10;
        return n.peer.apply([](node& m) {
            m.value = 20;
            return m.peer.apply([](node& back) { return back.value + 1; });  // served by a while it waits
        });
    });
    CHECK(got == 11);
    CHECK(b.apply([](node& n) { return n.value; }) == 20);
}

TEST_CASE("many clients with crossing requests between trustees finish", "[trust][nesting]") {
    constexpr unsigned trustees = 3;
    kt::runtime rt(kt::runtime_options{.trustees = trustees});
    std::vector<kt::trust<node>> ring;
    for (unsigned i = 0; i < trustees; ++i) ring.push_back(rt.entrust_on<node>(i));
    for (unsigned i = 0; i < trustees; ++i)
        ring[i].apply([next = ring[(i + 1) % trustees]](node& n) { n.peer = next; });

    constexpr int clients = 4;
    constexpr int rounds = 300;
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            for (int r = 0; r < rounds; ++r) {
                auto& start = ring[static_cast<std::size_t>(c + r) % trustees];
                // Each request bumps its object and the next one, from inside.
                start.apply([](node& n) {
                    ++n.value;
                    n.peer.apply([](node& m) { ++m.value; });
                });
            }
        });
    }
    for (auto& t : threads) t.join();
    long total = 0;
    for (auto& n : ring) total += n.apply([](node& x) { return x.value; });
    CHECK(total == 2L * clients * rounds);
    // Break the reference cycle so the objects can go.
    for (auto& n : ring) n.apply([](node& x) { x.peer.reset(); });
}

TEST_CASE("apply_then from inside a request: the continuation runs on that trustee", "[trust][nesting]") {
    kt::runtime rt(kt::runtime_options{.trustees = 2});
    auto a = rt.entrust_on<node>(0);
    auto b = rt.entrust_on<node>(1);
    a.apply([b](node& n) { n.peer = b; });
    a.apply([](node& n) {
        // Fire and forget to b; the continuation updates a, on a's trustee.
        n.peer.apply_then([](node& m) { return m.value += 5; }, [&n](long v) { n.value = v * 10; });
    });
    // a's trustee polls its own outstanding requests as it runs.
    long seen = 0;
    for (int i = 0; i < 10000 && seen != 50; ++i) {
        seen = a.apply([](node& n) { return n.value; });
        std::this_thread::yield();
    }
    CHECK(seen == 50);
    a.apply([](node& x) { x.peer.reset(); });
}
