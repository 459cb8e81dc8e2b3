// Shutdown finishes every accepted request, destroys what is left on its trustee,
// and refuses later requests with a clear error.
#include <keel/trust.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

namespace kt = keel::trust;

namespace {
struct tally {
    explicit tally(std::atomic<int>* d) : destroyed(d) {}
    tally(const tally&) = delete;
    ~tally() { destroyed->fetch_add(1); }
    long value = 0;
    std::thread::id home = std::this_thread::get_id();
    std::atomic<int>* destroyed;
};
}  // namespace

TEST_CASE("shutdown runs every request accepted before it", "[trust][shutdown]") {
    std::atomic<int> destroyed{0};
    kt::runtime rt(kt::runtime_options{.trustees = 2, .publish_batch = 1});
    auto a = rt.entrust_on<tally>(0, &destroyed);
    auto b = rt.entrust_on<tally>(1, &destroyed);
    a.apply([b](tally&) {});  // warm up channels
    std::atomic<long> continued{0};
    constexpr int n = 2000;
    for (int i = 0; i < n; ++i) {
        // Slow-ish requests that also send work to the other trustee.
        a.apply_then([b](tally& t) {
            ++t.value;
            b.apply_then([](tally& u) { ++u.value; }, [] {});
        },
                     [&] { continued.fetch_add(1); });
    }
    kt::poll();  // publish what is gathered; most requests are still in flight
    rt.shutdown();
    // Every request ran, including the ones the trustee sent while shutting down.
    kt::poll();
    CHECK(continued.load() == n);
    CHECK(destroyed.load() == 2);  // destroyed by shutdown, handles still held
    CHECK_THROWS_AS(a.apply([](tally& t) { return t.value; }), kt::runtime_stopped);
    CHECK_THROWS_AS(rt.entrust<tally>(&destroyed), kt::runtime_stopped);
    rt.shutdown();  // idempotent
}

TEST_CASE("objects left at shutdown are destroyed on their trustee - late handles are safe",
          "[trust][shutdown]") {
    std::atomic<int> destroyed{0};
    kt::trust<tally> survivor;
    std::thread::id home;
    {
        kt::runtime rt;
        survivor = rt.entrust<tally>(&destroyed);
        home = survivor.apply([](tally& t) { return t.home; });
        auto copy = survivor;
    }
    CHECK(destroyed.load() == 1);
    CHECK(home != std::this_thread::get_id());
    auto another = survivor;  // copying and dropping after shutdown is fine
    another.reset();
    survivor.reset();
    CHECK(destroyed.load() == 1);
}

TEST_CASE("a client thread that exits finishes its requests first", "[trust][shutdown]") {
    kt::runtime rt;
    std::atomic<int> destroyed{0};
    auto a = rt.entrust<tally>(&destroyed);
    std::atomic<int> continued{0};
    std::thread client([&] {
        for (int i = 0; i < 100; ++i) a.apply_then([](tally& t) { ++t.value; }, [&] { continued.fetch_add(1); });
        // No poll, no drain: thread exit does it.
    });
    client.join();
    CHECK(continued.load() == 100);
    CHECK(a.apply([](tally& t) { return t.value; }) == 100);
    // Channels of exited threads are reclaimed by the trustee.
    std::vector<std::thread> many;
    for (int i = 0; i < 8; ++i) many.emplace_back([&] { a.apply([](tally& t) { ++t.value; }); });
    for (auto& t : many) t.join();
    CHECK(a.apply([](tally& t) { return t.value; }) == 108);
}

TEST_CASE("shutdown from a trustee is refused", "[trust][shutdown]") {
    kt::runtime rt;
    auto a = rt.entrust<long>(0L);
    CHECK_THROWS_AS(a.apply([&rt](long&) { rt.shutdown(); }), std::logic_error);
}

TEST_CASE("stats count served requests, batches and clients", "[trust][stats]") {
    kt::runtime rt(kt::runtime_options{.trustees = 2});
    auto a = rt.entrust_on<long>(0, 0L);
    for (int i = 0; i < 100; ++i) a.apply([](long& v) { ++v; });
    for (int i = 0; i < 1000; ++i) a.apply_then([](long& v) { ++v; }, [] {});
    kt::drain();
    const auto s = rt.stats();
    REQUIRE(s.size() == 2);
    CHECK(s[0].index == 0);
    CHECK(s[0].served == 1 + 100 + 1000);  // entrust + applies
    CHECK(s[1].served == 0);
    CHECK(s[0].clients == 1);
    CHECK(s[0].batches >= 101);
    CHECK(s[0].batches <= s[0].served);
    std::uint64_t visits = 0;
    for (auto v : s[0].batch_sizes) visits += v;
    CHECK(visits == s[0].batches);
    CHECK(s[0].mean_batch() >= 1.0);
    CHECK(s[0].lifetime.count() > 0);
    CHECK(s[0].busy <= s[0].lifetime);
    CHECK(s[0].utilisation() >= 0.0);
    CHECK(s[0].utilisation() <= 1.0);
}

TEST_CASE("a trustee whose own request comes back late still runs its continuation", "[trust][shutdown]") {
    // The reply arrives long after the sending trustee has gone idle: it must not sleep
    // through it (shutdown would wait for that continuation forever).
    std::atomic<int> destroyed{0};
    kt::runtime rt(kt::runtime_options{.trustees = 2, .idle_spin = std::chrono::nanoseconds(0),
                                       .idle_yield = std::chrono::nanoseconds(0)});
    auto a = rt.entrust_on<tally>(0, &destroyed);
    auto b = rt.entrust_on<tally>(1, &destroyed);
    a.apply([b](tally& t) {
        b.apply_then([](tally& u) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            return ++u.value;
        },
                     [&t](long v) { t.value = v * 100; });
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(a.apply([](tally& t) { return t.value; }) == 100);
    rt.shutdown();
    CHECK(destroyed.load() == 2);
}
