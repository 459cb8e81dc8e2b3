#include "../support/lock_stress.hpp"

#include <keel/sync.hpp>

#include <catch2/catch.hpp>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace ks = keel::sync;

namespace {

template <template <template <class> class, class, class> class L>
using counted = L<std::atomic, ks::lock_stats, ks::default_lock_checks>;

}  // namespace

// Every spin lock meets the standard requirements, in every configuration.
static_assert(ks::lockable<ks::tas_lock<>>);
static_assert(ks::lockable<ks::ttas_lock<>>);
static_assert(ks::lockable<ks::ticket_lock<>>);
static_assert(ks::lockable<ks::mcs_lock<>>);
static_assert(ks::lockable<ks::clh_lock<>>);
static_assert(ks::lockable<counted<ks::mcs_lock>>);
static_assert(!ks::timed_lockable<ks::mcs_lock<>>);
static_assert(ks::timed_lockable<std::timed_mutex>);
static_assert(ks::basic_lockable<std::mutex> && !ks::lockable<int>);

TEST_CASE("lock policies cost nothing when off", "[sync][spin][stats][checks]") {
    using ks::no_lock_checks;
    using ks::no_lock_stats;
    using ks::lock_stats;
    using ks::owner_lock_checks;
    static_assert(std::is_empty_v<no_lock_stats> && std::is_empty_v<no_lock_checks>);
    static_assert(sizeof(ks::tas_lock<std::atomic, no_lock_stats, no_lock_checks>) == 4);
    static_assert(sizeof(ks::ttas_lock<std::atomic, no_lock_stats, no_lock_checks>) == 4);
    static_assert(sizeof(ks::ttas_lock<std::atomic, no_lock_stats, no_lock_checks,
                                       ks::backoff_policy{.initial = 1, .ceiling = 1}>) == 4);
    static_assert(sizeof(ks::ticket_lock<std::atomic, no_lock_stats, no_lock_checks>) == 8);
    static_assert(sizeof(ks::mcs_lock<std::atomic, no_lock_stats, no_lock_checks>) == 16);
    static_assert(sizeof(ks::clh_lock<std::atomic, no_lock_stats, no_lock_checks>) == 24);
    static_assert(sizeof(ks::mcs_node<>) == keel::platform::cache_line_size);
    // On, each policy costs what its documentation says.
    static_assert(sizeof(ks::ticket_lock<std::atomic, no_lock_stats, owner_lock_checks>) == 16);
    static_assert(sizeof(ks::ticket_lock<std::atomic, lock_stats, no_lock_checks>) == 48);
    static_assert(sizeof(ks::mcs_lock<std::atomic, lock_stats, owner_lock_checks>) == 16 + 40 + 8);
    // The check mode is part of the type.
    static_assert(!std::is_same_v<ks::tas_lock<std::atomic, no_lock_stats, no_lock_checks>,
                                  ks::tas_lock<std::atomic, no_lock_stats, owner_lock_checks>>);
#ifdef NDEBUG
    CHECK(std::is_same_v<ks::default_lock_checks, no_lock_checks> == (KEEL_SYNC_DEBUG_CHECKS == 0));
#else
    CHECK(std::is_same_v<ks::default_lock_checks, owner_lock_checks>);
#endif
    ks::no_lock_stats none;
    none.on_acquire(true, 5);
    CHECK(none.acquisitions() == 0);
}

TEMPLATE_TEST_CASE("spin locks work with the standard lock wrappers", "[sync][spin][lockable]",
                   ks::tas_lock<>, ks::ttas_lock<>, ks::ticket_lock<>, ks::mcs_lock<>,
                   ks::clh_lock<>) {
    TestType a;
    TestType b;
    {
        std::lock_guard<TestType> guard(a);
        CHECK(a.is_locked());
    }
    CHECK_FALSE(a.is_locked());
    {
        std::unique_lock<TestType> lock(a, std::try_to_lock);
        REQUIRE(lock.owns_lock());
        lock.unlock();
        CHECK_FALSE(a.is_locked());
        lock.lock();
        CHECK(a.is_locked());
    }
    {
        std::scoped_lock both(a, b);  // std::lock's deadlock avoidance uses try_lock
        CHECK(a.is_locked());
        CHECK(b.is_locked());
    }
    CHECK_FALSE(a.is_locked());
    CHECK_FALSE(b.is_locked());
    // Two threads taking the pair in opposite orders through std::lock must not deadlock.
    std::thread other([&] {
        for (int i = 0; i < 200; ++i) std::scoped_lock both(b, a);
    });
    for (int i = 0; i < 200; ++i) std::scoped_lock both(a, b);
    other.join();
}

TEMPLATE_TEST_CASE("spin locks work with condition_variable_any", "[sync][spin][lockable]",
                   ks::tas_lock<>, ks::ttas_lock<>, ks::ticket_lock<>, ks::mcs_lock<>,
                   ks::clh_lock<>) {
    TestType lock;
    std::condition_variable_any ready;
    std::vector<int> queue;
    constexpr int items = 500;
    std::thread consumer([&] {
        int expected = 0;
        while (expected < items) {
            std::unique_lock<TestType> guard(lock);
            ready.wait(guard, [&] { return !queue.empty(); });
            for (int v : queue) {
                REQUIRE(v == expected);
                ++expected;
            }
            queue.clear();
        }
    });
    for (int i = 0; i < items; ++i) {
        {
            std::lock_guard<TestType> guard(lock);
            queue.push_back(i);
        }
        ready.notify_one();
    }
    consumer.join();
    CHECK(queue.empty());
}

TEMPLATE_TEST_CASE("spin lock try_lock semantics", "[sync][spin][try_lock]", ks::tas_lock<>,
                   ks::ttas_lock<>, ks::ticket_lock<>, ks::mcs_lock<>, ks::clh_lock<>) {
    TestType lock;
    keel::test::check_try_lock_semantics(lock);
}

TEMPLATE_TEST_CASE("spin locks count acquisitions when asked", "[sync][spin][stats]",
                   counted<ks::tas_lock>, counted<ks::ttas_lock>, counted<ks::ticket_lock>,
                   counted<ks::mcs_lock>, counted<ks::clh_lock>) {
    TestType lock;
    for (int i = 0; i < 10; ++i) {
        lock.lock();
        lock.unlock();
    }
    REQUIRE(lock.try_lock());
    lock.unlock();
    CHECK(lock.stats().acquisitions() == 11);
    CHECK(lock.stats().contended() == 0);
    CHECK(lock.stats().spins() == 0);

    // One contended acquisition: the waiter is counted as waiting until it gets in.
    lock.lock();
    std::thread waiter([&] {
        lock.lock();
        lock.unlock();
    });
    while (lock.stats().waiting() != 1) std::this_thread::yield();
    CHECK_FALSE(keel::test::try_lock_elsewhere(lock));  // a failed try_lock counts nothing
    lock.unlock();
    waiter.join();
    CHECK(lock.stats().acquisitions() == 13);
    CHECK(lock.stats().contended() == 1);
    CHECK(lock.stats().waiting() == 0);
    CHECK(lock.stats().parks() == 0);  // spin locks never park
}

TEMPLATE_TEST_CASE("queue locks are FIFO", "[sync][spin][fifo]", counted<ks::ticket_lock>,
                   counted<ks::mcs_lock>, counted<ks::clh_lock>) {
    keel::test::check_fifo_order<TestType>(6);
}

TEMPLATE_TEST_CASE("a held spin lock can be handed to another thread", "[sync][spin][handoff]",
                   ks::tas_lock<>, ks::ttas_lock<>, ks::ticket_lock<>, ks::mcs_lock<>,
                   ks::clh_lock<>) {
    TestType lock;
    for (int round = 0; round < 3; ++round) {
        lock.lock();
        std::thread([&] {
            lock.adopt();  // declared hand-off: the debug checks accept this unlock
            lock.unlock();
        }).join();
        CHECK_FALSE(lock.is_locked());
    }
    CHECK(keel::test::try_lock_elsewhere(lock));
}

TEMPLATE_TEST_CASE("a thread may hold several queue locks, nested in any order",
                   "[sync][spin][nesting]", ks::mcs_lock<>, ks::clh_lock<>) {
    std::vector<TestType> locks(5);
    std::vector<int> counters(5, 0);
    auto worker = [&](bool forward) {
        for (int i = 0; i < 300; ++i) {
            // Always acquire in index order (no deadlock); release in either order.
            for (auto& l : locks) l.lock();
            for (auto& c : counters) ++c;
            if (forward) {
                for (auto& l : locks) l.unlock();
            } else {
                for (auto it = locks.rbegin(); it != locks.rend(); ++it) it->unlock();
            }
        }
    };
    std::thread a(worker, true);
    std::thread b(worker, false);
    worker(true);
    a.join();
    b.join();
    for (int c : counters) CHECK(c == 900);
}

TEST_CASE("mcs_lock explicit-node form, mixed with the Lockable form", "[sync][spin][mcs]") {
    ks::mcs_lock<> lock;
    ks::mcs_lock<>::node n;
    lock.lock(n);
    CHECK(lock.is_locked());
    CHECK_FALSE(keel::test::try_lock_elsewhere(lock));
    lock.unlock(n);
    REQUIRE(lock.try_lock(n));
    lock.unlock(n);

    // Nested explicit nodes: one node per held lock.
    ks::mcs_lock<> second;
    ks::mcs_lock<>::node m;
    lock.lock(n);
    second.lock(m);
    second.unlock(m);
    lock.unlock(n);

    // Threads alternating the two forms on one lock keep it exclusive.
    keel::test::invariant_state<> state;
    auto worker = [&](std::uint64_t mark) {
        ks::mcs_lock<>::node mine;
        for (int i = 0; i < 2000; ++i) {
            if (i % 2 == 0) {
                lock.lock(mine);
                state.critical_section(mark);
                lock.unlock(mine);
            } else {
                std::lock_guard<ks::mcs_lock<>> guard(lock);
                state.critical_section(mark);
            }
        }
    };
    std::thread a(worker, 1);
    std::thread b(worker, 2);
    worker(3);
    a.join();
    b.join();
    CHECK(state.violations.load() == 0);
    CHECK(state.plain_count == 6000);
    CHECK_FALSE(lock.is_locked());
}

// The backoff policy is a parameter of ttas_lock: every usable policy gives a correct
// lock, and the waiter's delays follow it (initial, doubling, capped, yielding from
// yield_from on).
TEST_CASE("ttas_lock backoff policy", "[sync][spin][ttas][backoff]") {
    constexpr ks::backoff_policy defaults{};
    static_assert(defaults.initial == 16 && defaults.ceiling == 8192 && defaults.yield_from == 1024);
    static_assert(ks::ttas_lock<>::backoff == defaults);
    static_assert(defaults.valid());
    static_assert(!ks::backoff_policy{.initial = 0}.valid());
    static_assert(!ks::backoff_policy{.initial = 16, .ceiling = 8}.valid());

    SECTION("the waiter's delay sequence") {
        ks::detail::backoff<ks::backoff_policy{.initial = 3, .ceiling = 20, .yield_from = 12}> b;
        std::vector<std::uint32_t> delays;
        std::vector<bool> yields;
        for (int i = 0; i < 6; ++i) {
            delays.push_back(b.delay());
            yields.push_back(b.yields());
            b.pause();
        }
        CHECK(delays == std::vector<std::uint32_t>{3, 6, 12, 20, 20, 20});
        CHECK(yields == std::vector<bool>{false, false, true, true, true, true});
        CHECK(b.rounds() == 6);
        ks::detail::backoff<ks::backoff_policy{.initial = 4, .ceiling = 4, .yield_from = 5}> never;
        never.pause();
        CHECK((never.delay() == 4 && !never.yields()));
    }

    SECTION("any usable policy excludes, with stats") {
        using eager = ks::ttas_lock<std::atomic, ks::lock_stats, ks::default_lock_checks,
                                    ks::backoff_policy{.initial = 1, .ceiling = 1, .yield_from = 0}>;
        using gentle = ks::ttas_lock<std::atomic, ks::lock_stats, ks::default_lock_checks,
                                     ks::backoff_policy{.initial = 1, .ceiling = 64, .yield_from = 1u << 31}>;
        static_assert(ks::lockable<eager> && ks::lockable<gentle>);
        auto run = [](auto& lock) {
            std::uint64_t counter = 0;
            std::vector<std::thread> threads;
            for (int t = 0; t < 4; ++t) {
                threads.emplace_back([&] {
                    for (int i = 0; i < 20000; ++i) {
                        std::lock_guard g(lock);
                        ++counter;
                    }
                });
            }
            for (auto& t : threads) t.join();
            CHECK(counter == 4 * 20000);
            CHECK(lock.stats().acquisitions() == 4 * 20000);
            CHECK_FALSE(lock.is_locked());
        };
        eager e;
        run(e);
        gentle g;
        run(g);
    }
}
