// Monitors under load: invariant checks with many threads and many objects while
// deflation runs concurrently, and wait/notify hand-offs.

#include "../support/lock_stress.hpp"

#include <keel/sync/monitor.hpp>
#include <keel/sync/monitor_word.hpp>
#include <keel/sync/synchronized.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace ks = keel::sync;

namespace {

struct plain_object {
    keel::test::invariant_state<> state;
};

struct word_object {
    keel::test::invariant_state<> state;
    ks::monitor_word monitor;
};

// A background thread that deflates idle monitors until stopped.
class deflater {
public:
    deflater()
        : _thread([this] {
              while (!_stop.load()) {
                  _deflated.fetch_add(ks::deflate_idle_monitors());
                  std::this_thread::yield();
              }
          }) {}
    ~deflater() { stop(); }
    std::uint64_t stop() {
        _stop = true;
        if (_thread.joinable()) _thread.join();
        return _deflated.load();
    }

private:
    std::atomic<bool> _stop{false};
    std::atomic<std::uint64_t> _deflated{0};
    std::thread _thread;
};

template <class Object>
void many_objects(std::size_t threads, std::size_t objects, std::uint64_t iterations) {
    std::vector<std::unique_ptr<Object>> objs;
    for (std::size_t i = 0; i < objects; ++i) objs.push_back(std::make_unique<Object>());
    deflater background;
    std::vector<std::thread> ts;
    for (std::size_t t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            std::uint64_t x = t * 7919 + 1;
            for (std::uint64_t i = 0; i < iterations; ++i) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                Object& o = *objs[(x >> 33) % objects];
                ks::synchronized(o, [&] {
                    if (i % 8 == 0) {
                        ks::synchronized(o, [&] { o.state.critical_section(t + 1); });  // nested
                    } else {
                        o.state.critical_section(t + 1);
                    }
                });
            }
        });
    }
    for (auto& th : ts) th.join();
    const std::uint64_t deflated = background.stop();
    std::uint64_t violations = 0;
    std::uint64_t count = 0;
    for (auto& o : objs) {
        violations += o->state.violations.load();
        count += o->state.plain_count;
    }
    INFO(threads << " threads x " << objects << " objects x " << iterations << " iterations; "
                 << deflated << " deflations meanwhile");
    CHECK(violations == 0);
    CHECK(count == threads * iterations);
}

}  // namespace

TEST_CASE("monitor invariant under contention on one object", "[sync][monitor][stress]") {
    const std::uint64_t n = keel::test::stress_iterations(100'000);
    SECTION("side table, 4 threads") {
        int object = 0;
        ks::monitor m(&object);
        deflater background;
        keel::test::run_invariant_stress(m, 4, n);
    }
    SECTION("monitor_word, 4 threads") {
        ks::monitor_word w;
        deflater background;
        keel::test::run_invariant_stress(w, 4, n);
    }
    SECTION("side table, 8 threads") {
        int object = 0;
        ks::monitor m(&object);
        keel::test::run_invariant_stress(m, 8, n / 2);
    }
}

TEST_CASE("monitors on many objects with concurrent deflation", "[sync][monitor][stress]") {
    const std::uint64_t n = keel::test::stress_iterations(100'000);
    SECTION("side table, 4 threads x 64 objects") { many_objects<plain_object>(4, 64, n); }
    SECTION("side table, 4 threads x 4096 objects") { many_objects<plain_object>(4, 4096, n); }
    SECTION("monitor_word, 4 threads x 64 objects") { many_objects<word_object>(4, 64, n); }
    SECTION("monitor_word, 8 threads x 8 objects") { many_objects<word_object>(8, 8, n / 2); }
}

TEMPLATE_TEST_CASE("wait/notify ping-pong with concurrent deflation", "[sync][monitor][stress]",
                   plain_object, word_object) {
    // Two threads alternate turns through wait/notify; a lost wake-up hangs, a double
    // turn breaks the strict alternation.
    TestType obj;
    int turn = 0;  // guarded by obj's monitor
    const std::uint64_t rounds = keel::test::stress_iterations(20'000);
    std::atomic<std::uint64_t> bad{0};
    deflater background;
    auto player = [&](int me) {
        for (std::uint64_t i = 0; i < rounds; ++i) {
            ks::monitor_guard<TestType> g(obj);
            while (turn != me) g.wait();
            if (turn != me) bad.fetch_add(1);
            turn = 1 - me;
            g.notify();
        }
    };
    std::thread a(player, 0);
    std::thread b(player, 1);
    a.join();
    b.join();
    CHECK(bad.load() == 0);
    CHECK(turn == 0);
}
