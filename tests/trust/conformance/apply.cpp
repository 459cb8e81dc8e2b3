// trust<T>: apply and apply_then return results, carry exceptions, and run on the trustee.
#include <keel/trust.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kt = keel::trust;

namespace {

struct counter {
    long value = 0;
};

/// Records the thread each of its special members ran on.
struct placed {
    explicit placed(std::atomic<std::thread::id>* where) : destroyed_on(where) {}
    placed(const placed&) = delete;
    ~placed() { destroyed_on->store(std::this_thread::get_id()); }
    std::thread::id built_on = std::this_thread::get_id();
    std::atomic<std::thread::id>* destroyed_on;
};

}  // namespace

TEST_CASE("apply returns the function's result and runs on the trustee", "[trust][apply]") {
    kt::runtime rt;
    auto c = rt.entrust<counter>();
    const auto me = std::this_thread::get_id();
    const auto ran_on = c.apply([](counter&) { return std::this_thread::get_id(); });
    CHECK(ran_on != me);
    CHECK(c.apply([](counter& x) { return ++x.value; }) == 1);
    CHECK(c.apply([](counter& x) { return x.value += 41; }) == 42);
    c.apply([](counter& x) { x.value = 7; });  // void result
    CHECK(c.apply([](const counter& x) { return x.value; }) == 7);
}

TEST_CASE("entrust constructs the object on its trustee - the last handle destroys it there",
          "[trust][lifetime]") {
    kt::runtime rt;
    std::atomic<std::thread::id> destroyed_on{};
    std::thread::id trustee_thread;
    {
        auto p = rt.entrust<placed>(&destroyed_on);
        trustee_thread = p.apply([](placed&) { return std::this_thread::get_id(); });
        CHECK(p.apply([](placed& x) { return x.built_on; }) == trustee_thread);
        auto copy = p;
        CHECK(p.use_count() == 2);
        p.reset();
        CHECK(copy.use_count() == 1);
        CHECK(destroyed_on.load() == std::thread::id{});  // a handle is still alive
    }
    // The destroy request is published at once; wait for the trustee to run it.
    while (destroyed_on.load() == std::thread::id{}) std::this_thread::yield();
    CHECK(destroyed_on.load() == trustee_thread);
}

TEST_CASE("exceptions thrown on the trustee reach the caller", "[trust][exceptions]") {
    kt::runtime rt;
    auto c = rt.entrust<counter>();
    CHECK_THROWS_WITH(c.apply([](counter&) -> int { throw std::runtime_error("refused by f"); }), "refused by f");
    // The object and the channel are intact afterwards.
    CHECK(c.apply([](counter& x) { return ++x.value; }) == 1);

    struct throws_on_build {
        throws_on_build() { throw std::invalid_argument("bad config"); }
    };
    CHECK_THROWS_AS(rt.entrust<throws_on_build>(), std::invalid_argument);

    bool continued = false;
    c.apply_then([](counter&) -> int { throw std::out_of_range("late"); }, [&](int) { continued = true; });
    CHECK_THROWS_AS(kt::drain(), std::out_of_range);
    CHECK_FALSE(continued);
    kt::drain();  // nothing left
}

TEST_CASE("apply_then runs continuations on the caller, in order, with results", "[trust][apply_then]") {
    kt::runtime rt;
    auto c = rt.entrust<counter>();
    const auto me = std::this_thread::get_id();
    std::vector<long> seen;
    bool all_on_caller = true;
    constexpr int n = 5000;  // several ring wraps at the default 16 KiB
    for (int i = 0; i < n; ++i) {
        c.apply_then([](counter& x) { return ++x.value; },
                     [&](long v) {
                         seen.push_back(v);
                         all_on_caller = all_on_caller && std::this_thread::get_id() == me;
                     });
    }
    kt::drain();
    REQUIRE(seen.size() == n);
    for (int i = 0; i < n; ++i) CHECK(seen[static_cast<std::size_t>(i)] == i + 1);
    CHECK(all_on_caller);
    // apply sees every apply_then before it (same channel, FIFO).
    c.apply_then([](counter& x) { x.value = -1; }, [] {});
    CHECK(c.apply([](counter& x) { return x.value; }) == -1);
}

TEST_CASE("large closures, results and continuations are boxed and still correct", "[trust][apply_then]") {
    kt::runtime rt(kt::runtime_options{.channel_bytes = 4096});
    auto m = rt.entrust<std::map<int, std::string>>();
    std::array<char, 900> big{};
    big.fill('x');
    for (int i = 0; i < 200; ++i) {
        m.apply_then([big, i](std::map<int, std::string>& map) {
            map[i] = std::string(big.begin(), big.begin() + (i % 50));
            return big;  // a 900-byte result
        },
                     [big, i](std::array<char, 900> r) { REQUIRE(r == big); (void)i; });
    }
    kt::drain();
    CHECK(m.apply([](auto& map) { return map.size(); }) == 200);
    CHECK(m.apply([](auto& map) { return map.at(49).size(); }) == 49);
}

TEST_CASE("objects on several trustees - entrust_on places them", "[trust][runtime]") {
    kt::runtime rt(kt::runtime_options{.trustees = 3});
    REQUIRE(rt.trustee_count() == 3);
    std::vector<kt::trust<counter>> objects;
    for (int i = 0; i < 6; ++i) objects.push_back(rt.entrust<counter>());
    for (int i = 0; i < 6; ++i) CHECK(objects[static_cast<std::size_t>(i)].trustee_index() == static_cast<unsigned>(i % 3));
    auto placed_on_2 = rt.entrust_on<counter>(2);
    CHECK(placed_on_2.trustee_index() == 2);
    CHECK_THROWS_AS(rt.entrust_on<counter>(3), std::out_of_range);
    const auto t0 = objects[0].apply([](counter&) { return std::this_thread::get_id(); });
    const auto t1 = objects[1].apply([](counter&) { return std::this_thread::get_id(); });
    CHECK(t0 != t1);
}

TEST_CASE("impossible runtime options are refused with the reason", "[trust][runtime]") {
    CHECK_THROWS_WITH(kt::runtime(kt::runtime_options{.trustees = 0}), Catch::Contains("at least one trustee"));
    CHECK_THROWS_WITH(kt::runtime(kt::runtime_options{.channel_bytes = 5000}), Catch::Contains("power of two"));
    CHECK_THROWS_WITH(kt::runtime(kt::runtime_options{.channel_bytes = 2048}), Catch::Contains("4096"));
    CHECK_THROWS_AS(kt::runtime(kt::runtime_options{.cpus = {100000}}), std::system_error);
}

TEST_CASE("an empty handle refuses requests", "[trust]") {
    kt::trust<counter> none;
    CHECK_FALSE(none);
    CHECK_THROWS_AS(none.apply([](counter&) {}), std::logic_error);
}

TEST_CASE("pending apply_then requests keep their object alive", "[trust][lifetime]") {
    kt::runtime rt;
    std::atomic<std::thread::id> destroyed_on{};
    auto p = rt.entrust<placed>(&destroyed_on);
    std::atomic<int> ran{0};
    for (int i = 0; i < 100; ++i) p.apply_then([&](placed&) { ran.fetch_add(1); }, [] {});
    kt::poll();
    // Another thread drops the last handle while the requests may still be queued.
    std::thread dropper([q = std::move(p)]() mutable { q.reset(); });
    dropper.join();
    kt::drain();
    CHECK(ran.load() == 100);
    while (destroyed_on.load() == std::thread::id{}) std::this_thread::yield();
}

TEST_CASE("apply_then interleaved over many objects keeps each alive until its requests ran",
          "[trust][lifetime]") {
    kt::runtime rt(kt::runtime_options{.trustees = 2});
    constexpr int objects = 9;  // more than a channel's table of shared references
    std::vector<std::atomic<std::thread::id>> destroyed(objects);
    std::vector<kt::trust<placed>> handles;
    for (int i = 0; i < objects; ++i) handles.push_back(rt.entrust<placed>(&destroyed[static_cast<std::size_t>(i)]));
    std::atomic<int> ran{0};
    for (int round = 0; round < 50; ++round)
        for (auto& h : handles) h.apply_then([&](placed&) { ran.fetch_add(1); }, [] {});
    handles.clear();  // requests still pending hold the objects
    kt::drain();
    CHECK(ran.load() == 50 * objects);
    for (auto& d : destroyed)
        while (d.load() == std::thread::id{}) std::this_thread::yield();
    for (auto& d : destroyed) CHECK(d.load() != std::this_thread::get_id());
}
