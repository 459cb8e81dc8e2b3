// Conformance of keel's blocking primitives: futex_mutex, recursive_mutex,
// counting_semaphore, shared_mutex. Timing is never asserted beyond "did not
// succeed" and "returned within a generous bound".
#include "../support/lock_stress.hpp"

#include <keel/platform/wait_policy.hpp>
#include <keel/sync/counting_semaphore.hpp>
#include <keel/sync/futex_mutex.hpp>
#include <keel/sync/lockable.hpp>
#include <keel/sync/recursive_mutex.hpp>
#include <keel/sync/shared_mutex.hpp>
#include <keel/sync/ttas_lock.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace ks = keel::sync;
namespace kp = keel::platform;
using namespace std::chrono_literals;

namespace {

using futex_m = ks::futex_mutex<>;
using hybrid_m = ks::futex_mutex<std::atomic, kp::hybrid_wait>;
using yield_m = ks::futex_mutex<std::atomic, kp::spin_yield_wait>;
using spin_m = ks::futex_mutex<std::atomic, kp::spin_wait>;
using counted_futex_m = ks::futex_mutex<std::atomic, kp::futex_wait, ks::lock_stats>;
using counted_hybrid_m = ks::futex_mutex<std::atomic, kp::hybrid_wait, ks::lock_stats>;
using rw_writers = ks::shared_mutex<ks::prefer_writers>;
using rw_readers = ks::shared_mutex<ks::prefer_readers>;

constexpr auto generous = 20s;  // "returned within a generous bound"

// Polls `done` until it holds or a generous bound passes; returns whether it held.
template <class F>
bool eventually(F done) {
    const auto until = std::chrono::steady_clock::now() + generous;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::yield();
    }
    return true;
}

// Holds `lock` on another thread until release() is called.
template <class Lock>
class holder {
public:
    explicit holder(Lock& lock, bool shared = false)
        : _thread([this, &lock, shared] {
              if (shared) {
                  if constexpr (requires { lock.lock_shared(); }) lock.lock_shared();
              } else {
                  lock.lock();
              }
              _held.store(true);
              while (!_release.load())
                  std::this_thread::sleep_for(1ms);
              if (shared) {
                  if constexpr (requires { lock.unlock_shared(); }) lock.unlock_shared();
              } else {
                  lock.unlock();
              }
          }) {
        while (!_held.load())
            std::this_thread::yield();
    }
    holder(const holder&) = delete;
    holder& operator=(const holder&) = delete;
    ~holder() { release(); }
    void release() {
        _release.store(true);
        if (_thread.joinable()) _thread.join();
    }

private:
    std::atomic<bool> _held{false};
    std::atomic<bool> _release{false};
    std::thread _thread;
};

}  // namespace

static_assert(ks::timed_lockable<futex_m> && ks::timed_lockable<hybrid_m> &&
              ks::timed_lockable<spin_m>);
static_assert(ks::timed_lockable<ks::recursive_mutex<>>);
static_assert(ks::lockable<ks::recursive_mutex<ks::ttas_lock<>>> &&
              !ks::timed_lockable<ks::recursive_mutex<ks::ttas_lock<>>>);
static_assert(ks::timed_lockable<rw_writers> && ks::timed_lockable<rw_readers>);
static_assert(
    sizeof(ks::futex_mutex<std::atomic, kp::futex_wait, ks::no_lock_stats, ks::no_lock_checks>) ==
    8);
static_assert(sizeof(ks::futex_mutex<std::atomic, kp::futex_wait, ks::no_lock_stats,
                                     ks::owner_lock_checks>) == 16);
static_assert(sizeof(ks::counting_semaphore<8, std::atomic, kp::futex_wait, ks::no_lock_stats>) ==
              8);
static_assert(sizeof(ks::shared_mutex<ks::prefer_writers, std::atomic, kp::futex_wait,
                                      ks::no_lock_stats, ks::no_lock_checks>) == 16);
static_assert(ks::counting_semaphore<5>::max() == 5 && ks::binary_semaphore<>::max() == 1);

TEMPLATE_TEST_CASE("blocking locks work with the standard lock wrappers",
                   "[sync][blocking][lockable]", futex_m, hybrid_m, yield_m, ks::recursive_mutex<>,
                   rw_writers, rw_readers) {
    TestType a;
    TestType b;
    {
        std::lock_guard<TestType> guard(a);
        CHECK_FALSE(keel::test::try_lock_elsewhere(a));
    }
    CHECK(keel::test::try_lock_elsewhere(a));
    {
        std::unique_lock<TestType> lock(a, std::try_to_lock);
        REQUIRE(lock.owns_lock());
        lock.unlock();
        lock.lock();
        CHECK(lock.owns_lock());
    }
    {
        std::unique_lock<TestType> lock(a, std::defer_lock);
        REQUIRE(lock.try_lock_for(100ms));
    }
    {
        std::scoped_lock both(a, b);
        CHECK_FALSE(keel::test::try_lock_elsewhere(b));
    }
    std::thread other([&] {
        for (int i = 0; i < 300; ++i)
            std::scoped_lock both(b, a);
    });
    for (int i = 0; i < 300; ++i)
        std::scoped_lock both(a, b);
    other.join();
    CHECK(keel::test::try_lock_elsewhere(a));
    CHECK(keel::test::try_lock_elsewhere(b));
}

TEMPLATE_TEST_CASE("blocking locks work with condition_variable_any", "[sync][blocking][lockable]",
                   futex_m, hybrid_m, spin_m, ks::recursive_mutex<>, rw_writers) {
    TestType lock;
    std::condition_variable_any ready;
    std::vector<int> queue;
    constexpr int items = 2000;
    std::atomic<bool> in_order{true};  // Catch assertions are for the main thread
    std::thread consumer([&] {
        int expected = 0;
        while (expected < items) {
            std::unique_lock<TestType> guard(lock);
            ready.wait(guard, [&] { return !queue.empty(); });
            for (int v : queue) {
                if (v != expected) in_order.store(false);
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
    CHECK(in_order.load());
    CHECK(queue.empty());
}

TEMPLATE_TEST_CASE("blocking lock try_lock semantics", "[sync][blocking][try_lock]", futex_m,
                   hybrid_m, ks::recursive_mutex<>, ks::recursive_mutex<ks::ttas_lock<>>,
                   rw_writers, rw_readers) {
    TestType lock;
    keel::test::check_try_lock_semantics(lock);
}

// (Not over std::timed_mutex: its try_lock_for calls pthread_mutex_clocklock, which
// GCC 12's ThreadSanitizer does not intercept, so TSan reports false races there.)
TEMPLATE_TEST_CASE("timed lock attempts time out on a held lock and succeed on a released one",
                   "[sync][blocking][timed]", futex_m, hybrid_m, yield_m, ks::recursive_mutex<>,
                   (ks::recursive_mutex<hybrid_m>), rw_writers, rw_readers) {
    TestType lock;
    SECTION("a free lock is taken at once, even with a zero or past deadline") {
        REQUIRE(lock.try_lock_for(0ms));
        lock.unlock();
        REQUIRE(lock.try_lock_until(std::chrono::steady_clock::now() - 1s));
        lock.unlock();
    }
    SECTION("held elsewhere: times out, within a generous bound") {
        holder<TestType> h(lock);
        const auto start = std::chrono::steady_clock::now();
        bool got = true;
        std::thread([&] { got = lock.try_lock_for(30ms); }).join();
        CHECK_FALSE(got);
        std::thread([&] {
            got = lock.try_lock_until(std::chrono::steady_clock::now() + 20ms);
        }).join();
        CHECK_FALSE(got);
        std::thread([&] {
            got = lock.try_lock_until(std::chrono::system_clock::now() + 20ms);
        }).join();
        CHECK_FALSE(got);
        std::thread([&] { got = lock.try_lock_for(-5ms); }).join();
        CHECK_FALSE(got);
        CHECK(std::chrono::steady_clock::now() - start < generous);
    }
    SECTION("released while a timed waiter waits: the waiter gets it") {
        std::atomic<bool> started{false};
        lock.lock();
        auto waiter = std::async(std::launch::async, [&] {
            started.store(true);
            const bool got = lock.try_lock_for(generous);
            if (got) lock.unlock();
            return got;
        });
        while (!started.load())
            std::this_thread::yield();
        std::this_thread::sleep_for(20ms);  // let it spin out and park
        lock.unlock();
        CHECK(waiter.get());
    }
    SECTION("several timed waiters timing out leave the lock usable (no lost wake-up)") {
        lock.lock();
        std::vector<std::thread> waiters;
        std::atomic<int> timed_out{0};
        for (int i = 0; i < 4; ++i) {
            waiters.emplace_back([&, i] {
                if (!lock.try_lock_for(std::chrono::milliseconds(5 + 5 * i)))
                    timed_out.fetch_add(1);
                else
                    lock.unlock();
            });
        }
        auto blocked = std::async(std::launch::async, [&] {
            lock.lock();
            lock.unlock();
            return true;
        });
        for (auto& w : waiters)
            w.join();
        CHECK(timed_out.load() == 4);
        lock.unlock();
        REQUIRE(blocked.wait_for(generous) == std::future_status::ready);
        CHECK(blocked.get());
    }
}

TEMPLATE_TEST_CASE("futex_mutex counts acquisitions, contention and parks",
                   "[sync][blocking][stats]", counted_futex_m, counted_hybrid_m) {
    TestType lock;
    for (int i = 0; i < 10; ++i) {
        lock.lock();
        lock.unlock();
    }
    REQUIRE(lock.try_lock());
    lock.unlock();
    CHECK(lock.stats().acquisitions() == 11);
    CHECK(lock.stats().contended() == 0);
    CHECK(lock.stats().parks() == 0);

    lock.lock();
    std::thread waiter([&] {
        lock.lock();
        lock.unlock();
    });
    // The waiter spins, then parks: with a futex policy it must park while we hold on.
    REQUIRE(eventually([&] { return lock.stats().parks() > 0; }));
    CHECK(lock.stats().waiting() == 1);
    CHECK_FALSE(keel::test::try_lock_elsewhere(lock));
    lock.unlock();
    waiter.join();
    CHECK(lock.stats().acquisitions() == 13);
    CHECK(lock.stats().contended() == 1);
    CHECK(lock.stats().waiting() == 0);
    CHECK(lock.stats().spins() >= 1);
    if constexpr (std::is_same_v<TestType, counted_hybrid_m>)
        CHECK(lock.wait_policy().parked() == 0);
}

TEST_CASE("futex_mutex adapts its spin budget", "[sync][blocking][stats][spin]") {
    counted_futex_m lock;
    static_assert(counted_futex_m::spin_rounds == 20);
    CHECK(lock.spin_budget() == 20);
    // A waiter that spins its whole budget and parks halves it: 20 -> 10 -> 5 -> 2 -> 1 -> 0.
    for (std::uint32_t expected : {10u, 5u, 2u, 1u, 0u, 0u}) {
        const auto parks = lock.stats().parks();
        lock.lock();
        std::thread waiter([&] {
            lock.lock();
            lock.unlock();
        });
        REQUIRE(eventually([&] { return lock.stats().parks() > parks; }));
        lock.unlock();
        waiter.join();
        CHECK(lock.spin_budget() == expected);
    }
    // Uncontended use leaves it alone.
    lock.lock();
    lock.unlock();
    CHECK(lock.spin_budget() == 0);
    // Under contention it stays within [0, spin_rounds] and the lock stays exact.
    std::uint64_t counter = 0;
    std::atomic<bool> out_of_range{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 20000; ++i) {
                std::lock_guard<counted_futex_m> g(lock);
                ++counter;
                if (lock.spin_budget() > counted_futex_m::spin_rounds) out_of_range = true;
            }
        });
    }
    for (auto& t : threads)
        t.join();
    CHECK(counter == 3 * 20000);
    CHECK_FALSE(out_of_range.load());
    // Spin budget 0: never spins, the budget never moves.
    ks::futex_mutex<std::atomic, kp::futex_wait, ks::lock_stats, ks::default_lock_checks, 0> none;
    none.lock();
    std::thread waiter([&] {
        none.lock();
        none.unlock();
    });
    REQUIRE(eventually([&] { return none.stats().parks() > 0; }));
    none.unlock();
    waiter.join();
    CHECK(none.spin_budget() == 0);
    CHECK(none.stats().spins() == 0);
}

TEST_CASE("futex_mutex parks under contention and stays exact", "[sync][blocking][stats]") {
    counted_futex_m lock;
    std::uint64_t counter = 0;
    constexpr int per_thread = 20000;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i) {
                std::lock_guard<counted_futex_m> g(lock);
                ++counter;
                if (i % 64 == 0)
                    std::this_thread::yield();  // get preempted holding it now and then
            }
        });
    }
    for (auto& t : threads)
        t.join();
    CHECK(counter == 4 * per_thread);
    CHECK(lock.stats().acquisitions() == 4 * per_thread);
    CHECK(lock.stats().contended() > 0);
    CHECK(lock.stats().parks() > 0);
    CHECK(lock.stats().waiting() == 0);
}

TEST_CASE("recursive_mutex: the owner relocks, others wait for the last unlock",
          "[sync][blocking][recursive]") {
    ks::recursive_mutex<> lock;
    lock.lock();
    REQUIRE(lock.try_lock());
    REQUIRE(lock.try_lock_for(1ms));
    lock.lock();
    CHECK(lock.depth() == 4);
    CHECK(lock.held_by_this_thread());
    bool other_sees_owner = true;
    std::thread([&] { other_sees_owner = lock.held_by_this_thread() || lock.depth() != 0; }).join();
    CHECK_FALSE(other_sees_owner);
    for (int i = 0; i < 3; ++i) {
        lock.unlock();
        CHECK_FALSE(keel::test::try_lock_elsewhere(lock));
    }
    lock.unlock();
    CHECK(lock.depth() == 0);
    CHECK(keel::test::try_lock_elsewhere(lock));

    SECTION("over a basic lockable (std::mutex) and a spin lock") {
        ks::recursive_mutex<std::mutex> m;
        m.lock();
        m.lock();
        m.unlock();
        m.unlock();
        ks::recursive_mutex<ks::ttas_lock<>> t;
        std::scoped_lock both(t, lock);
        std::lock_guard again(t);
        CHECK(t.depth() == 2);
    }
}

TEST_CASE("counting_semaphore semantics", "[sync][blocking][semaphore]") {
    SECTION("try_acquire takes what is there and no more") {
        ks::counting_semaphore<4> sem(2);
        CHECK(sem.value() == 2);
        CHECK(sem.try_acquire());
        CHECK(sem.try_acquire());
        CHECK_FALSE(sem.try_acquire());
        sem.release(2);
        CHECK(sem.value() == 2);
        sem.acquire();
        sem.acquire();
        CHECK(sem.value() == 0);
        sem.release(4);
        CHECK(sem.value() == 4);
    }
    SECTION("timed acquire times out at 0, within a generous bound") {
        ks::counting_semaphore<> sem(0);
        const auto start = std::chrono::steady_clock::now();
        CHECK_FALSE(sem.try_acquire_for(30ms));
        CHECK_FALSE(sem.try_acquire_until(std::chrono::steady_clock::now() + 10ms));
        CHECK_FALSE(sem.try_acquire_until(std::chrono::system_clock::now() + 10ms));
        CHECK_FALSE(sem.try_acquire_for(0ms));
        CHECK(std::chrono::steady_clock::now() - start < generous);
        CHECK(sem.waiters() == 0);
        sem.release();
        CHECK(sem.try_acquire_for(0ms));
    }
    SECTION("release wakes a parked acquirer; release(n) wakes n") {
        ks::counting_semaphore<16, std::atomic, kp::futex_wait, ks::lock_stats> sem(0);
        std::atomic<int> through{0};
        std::vector<std::thread> waiters;
        for (int i = 0; i < 4; ++i) {
            waiters.emplace_back([&] {
                sem.acquire();
                through.fetch_add(1);
            });
        }
        REQUIRE(eventually([&] { return sem.waiters() == 4; }));
        sem.release();
        REQUIRE(eventually([&] { return through.load() == 1; }));
        sem.release(3);
        for (auto& w : waiters)
            w.join();
        CHECK(through.load() == 4);
        CHECK(sem.value() == 0);
        CHECK(sem.stats().parks() > 0);
        CHECK(sem.stats().acquisitions() == 4);
    }
    SECTION("binary semaphore ping-pong loses no wake-up") {
        ks::binary_semaphore<> ping(0);
        ks::binary_semaphore<> pong(0);
        constexpr int rounds = 20000;
        int seen = 0;
        std::thread other([&] {
            for (int i = 0; i < rounds; ++i) {
                ping.acquire();
                ++seen;
                pong.release();
            }
        });
        for (int i = 0; i < rounds; ++i) {
            ping.release();
            pong.acquire();
        }
        other.join();
        CHECK(seen == rounds);
    }
    SECTION("a timed acquirer gets a unit released while it waits") {
        ks::counting_semaphore<1, std::atomic, kp::hybrid_wait> sem(0);
        auto waiter = std::async(std::launch::async, [&] { return sem.try_acquire_for(generous); });
        std::this_thread::sleep_for(20ms);
        sem.release();
        CHECK(waiter.get());
    }
}

TEMPLATE_TEST_CASE("shared_mutex: readers share, writers exclude", "[sync][blocking][shared]",
                   rw_writers, rw_readers,
                   (ks::shared_mutex<ks::prefer_writers, std::atomic, kp::hybrid_wait>)) {
    TestType lock;
    auto try_shared_elsewhere = [&] {
        bool ok = false;
        std::thread([&] {
            ok = lock.try_lock_shared();
            if (ok) lock.unlock_shared();
        }).join();
        return ok;
    };
    SECTION("several readers at once, no writer meanwhile") {
        std::shared_lock<TestType> r(lock);
        CHECK(try_shared_elsewhere());
        CHECK_FALSE(keel::test::try_lock_elsewhere(lock));
        CHECK(lock.readers() == 1);
        holder<TestType> second(lock, true);
        CHECK(lock.readers() == 2);
    }
    SECTION("a writer keeps readers out") {
        std::unique_lock<TestType> w(lock);
        CHECK(lock.is_locked());
        CHECK_FALSE(try_shared_elsewhere());
        bool got = true;
        std::thread([&] { got = lock.try_lock_shared_for(20ms); }).join();
        CHECK_FALSE(got);
        std::thread([&] {
            got = lock.try_lock_shared_until(std::chrono::system_clock::now() + 10ms);
        }).join();
        CHECK_FALSE(got);
        w.unlock();
        CHECK(try_shared_elsewhere());
    }
    SECTION("a parked reader is woken by the writer's unlock; a parked writer by the last reader") {
        lock.lock();
        auto reader = std::async(std::launch::async, [&] {
            std::shared_lock<TestType> r(lock);
            return lock.readers();
        });
        REQUIRE(eventually([&] { return lock.readers_waiting() == 1; }));
        lock.unlock();
        CHECK(reader.get() >= 1);

        lock.lock_shared();
        auto writer = std::async(std::launch::async, [&] {
            std::lock_guard<TestType> w(lock);
            return lock.is_locked();
        });
        REQUIRE(eventually([&] { return lock.writers_waiting() == 1; }));
        lock.unlock_shared();
        CHECK(writer.get());
    }
    SECTION("timed shared lock gets in when the writer leaves") {
        lock.lock();
        auto reader = std::async(std::launch::async, [&] {
            const bool got = lock.try_lock_shared_for(generous);
            if (got) lock.unlock_shared();
            return got;
        });
        std::this_thread::sleep_for(20ms);
        lock.unlock();
        CHECK(reader.get());
    }
}

TEST_CASE("prefer_writers holds new readers back while a writer waits",
          "[sync][blocking][shared]") {
    rw_writers lock;
    holder<rw_writers> reader(lock, true);
    auto writer = std::async(std::launch::async, [&] {
        lock.lock();
        lock.unlock();
        return true;
    });
    REQUIRE(eventually([&] { return lock.writers_waiting() == 1; }));
    bool got = true;
    std::thread([&] { got = lock.try_lock_shared(); }).join();
    CHECK_FALSE(got);  // a writer waits: no new (non-recursive) reader
    reader.release();
    CHECK(writer.get());

    SECTION("while prefer_readers lets them in") {
        rw_readers rl;
        holder<rw_readers> r(rl, true);
        auto w = std::async(std::launch::async, [&] {
            rl.lock();
            rl.unlock();
            return true;
        });
        REQUIRE(eventually([&] { return rl.writers_waiting() == 1; }));
        std::thread([&] {
            got = rl.try_lock_shared();
            if (got) rl.unlock_shared();
        }).join();
        CHECK(got);
        r.release();
        CHECK(w.get());
    }
}

// The read -> write -> read pattern (folly's writer-preferring SharedMutex deadlocks
// on it): thread A holds a shared lock; thread B waits to write; A takes the shared
// lock again. The deadlock detector is B's timeout: if A's second read queued behind
// B, A could never release, and B's try_lock_for would time out; with keel B must
// get the lock after A has released both holds.
TEMPLATE_TEST_CASE("read -> write -> read on one thread does not deadlock",
                   "[sync][blocking][shared][recursive]", rw_writers, rw_readers,
                   (ks::shared_mutex<ks::prefer_writers, std::atomic, kp::hybrid_wait>)) {
    TestType lock;
    lock.lock_shared();
    auto writer = std::async(std::launch::async, [&] {
        const bool got = lock.try_lock_for(generous);  // the detector
        if (got) lock.unlock();
        return got;
    });
    REQUIRE(eventually([&] { return lock.writers_waiting() == 1; }));
    lock.lock_shared();  // would deadlock behind the writer without the guarantee
    REQUIRE(lock.try_lock_shared());
    REQUIRE(lock.try_lock_shared_for(1ms));
    {
        std::shared_lock<TestType> nested(lock);
        CHECK(nested.owns_lock());
    }
    for (int i = 0; i < 3; ++i)
        lock.unlock_shared();
    CHECK(lock.writers_waiting() == 1);  // still one hold left: the writer still waits
    lock.unlock_shared();
    REQUIRE(writer.wait_for(generous + 5s) == std::future_status::ready);
    CHECK(writer.get());  // acquired, not timed out: no deadlock
    CHECK(lock.readers() == 0);
}

// What keel does NOT promise under prefer_writers: a reader that waits for ANOTHER
// thread's read while a writer waits. The detector must fire there (the writer times
// out, and its leaving lets the second reader in); under prefer_readers it must not.
TEST_CASE("the cross-thread read -> write -> read pattern: only prefer_readers is free of it",
          "[sync][blocking][shared][recursive]") {
    auto pattern = [](auto& lock, std::chrono::milliseconds writer_timeout) {
        lock.lock_shared();  // thread A
        auto writer = std::async(std::launch::async, [&] {
            const bool got = lock.try_lock_for(writer_timeout);
            if (got) lock.unlock();
            return got;
        });
        REQUIRE(eventually([&] { return lock.writers_waiting() == 1; }));
        auto second_reader = std::async(std::launch::async, [&] {
            lock.lock_shared();
            lock.unlock_shared();
            return true;
        });
        REQUIRE(second_reader.wait_for(generous) == std::future_status::ready);  // A waits for it
        lock.unlock_shared();
        return writer.get();
    };
    rw_writers writers_first;
    CHECK_FALSE(
        pattern(writers_first, 300ms));  // writer timed out: the deadlock, broken by the timeout
    CHECK(writers_first.writers_waiting() == 0);
    CHECK(keel::test::try_lock_elsewhere(writers_first));
    rw_readers readers_first;
    CHECK(pattern(readers_first, generous));
}

TEST_CASE("shared_mutex counts parks on both sides", "[sync][blocking][shared][stats]") {
    ks::shared_mutex<ks::prefer_writers, std::atomic, kp::futex_wait, ks::lock_stats> lock;
    lock.lock();
    auto reader = std::async(std::launch::async, [&] {
        lock.lock_shared();
        lock.unlock_shared();
    });
    REQUIRE(eventually([&] { return lock.stats().parks() > 0; }));
    lock.unlock();
    reader.get();
    CHECK(lock.stats().acquisitions() == 2);
    CHECK(lock.stats().contended() == 1);
    CHECK(lock.stats().waiting() == 0);
}
