// Invariant stress for keel's blocking primitives at 2, 4 and 8 threads (on a 2-core
// machine 8 threads means preempted holders: the case parking is for). Iterations
// are sized to keep the whole file well under 30 s in Debug; KEEL_STRESS_FACTOR
// scales them (and they shrink 8x under TSan).
#include "../support/lock_stress.hpp"

#include <keel/platform/wait_policy.hpp>
#include <keel/sync/counting_semaphore.hpp>
#include <keel/sync/futex_mutex.hpp>
#include <keel/sync/recursive_mutex.hpp>
#include <keel/sync/shared_mutex.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace ks = keel::sync;
namespace kp = keel::platform;
using keel::test::run_invariant_stress;
using keel::test::stress_iterations;

namespace {

template <class Lock>
void run_three_sizes() {
    SECTION("2 threads") {
        run_invariant_stress<Lock>(2, stress_iterations(500'000));
    }
    SECTION("4 threads") {
        run_invariant_stress<Lock>(4, stress_iterations(200'000));
    }
    SECTION("8 threads") {
        run_invariant_stress<Lock>(8, stress_iterations(75'000));
    }
}

}  // namespace

TEMPLATE_TEST_CASE(
    "futex_mutex invariant stress, every wait policy", "[sync][blocking][stress]",
    ks::futex_mutex<>, (ks::futex_mutex<std::atomic, kp::hybrid_wait>),
    (ks::futex_mutex<std::atomic, kp::spin_yield_wait>),
    (ks::futex_mutex<std::atomic, kp::spin_wait>),
    (ks::futex_mutex<std::atomic, kp::futex_wait, ks::no_lock_stats, ks::default_lock_checks, 0>)) {
    run_three_sizes<TestType>();
}

TEST_CASE("futex_mutex counters stay exact under contention", "[sync][blocking][stress][stats]") {
    ks::futex_mutex<std::atomic, kp::futex_wait, ks::lock_stats> lock;
    const std::uint64_t iterations = stress_iterations(150'000);
    run_invariant_stress(lock, 4, iterations);
    CHECK(lock.stats().acquisitions() == 4 * iterations);
    CHECK(lock.stats().waiting() == 0);
}

TEMPLATE_TEST_CASE("recursive_mutex invariant stress", "[sync][blocking][stress][recursive]",
                   ks::recursive_mutex<>,
                   (ks::recursive_mutex<ks::futex_mutex<std::atomic, kp::hybrid_wait>>)) {
    run_three_sizes<TestType>();
    SECTION("nested twice per critical section") {
        TestType lock;
        keel::test::invariant_state<> state;
        const std::uint64_t iterations = stress_iterations(150'000);
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (std::uint64_t i = 0; i < iterations; ++i) {
                    lock.lock();
                    if (i % 2 == 0) {
                        lock.lock();
                    } else {
                        if (!lock.try_lock())
                            state.violations.fetch_add(1);  // the owner must get it
                    }
                    state.critical_section(t + 1);
                    lock.unlock();
                    state.critical_section(t + 1);  // still held after the inner unlock
                    lock.unlock();
                }
            });
        }
        for (auto& th : threads)
            th.join();
        CHECK(state.violations.load() == 0);
        CHECK(state.plain_count == 2 * 4 * iterations);
    }
}

namespace {

// Mixed readers and writers: 1 in `write_every` operations writes. Writers check
// that nobody else is inside; readers that no writer is; every 4th read re-enters
// (recursive read). The plain counter is written by writers only and read by
// readers, so TSan sees a broken exclusion as a race.
template <class Lock>
void shared_stress(std::size_t threads, std::uint64_t iterations, std::uint64_t write_every) {
    Lock lock;
    std::atomic<std::uint32_t> readers_in{0};
    std::atomic<std::uint32_t> writers_in{0};
    std::atomic<std::uint64_t> violations{0};
    std::atomic<std::uint64_t> writes{0};
    std::uint64_t plain_writes = 0;
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::uint64_t seen = 0;
            for (std::uint64_t i = 0; i < iterations; ++i) {
                const std::uint64_t op = i + t * 7;
                if (op % write_every == 0) {
                    const bool timed = op % 3 == 0;
                    if (timed) {
                        while (!lock.try_lock_for(std::chrono::microseconds(50))) {
                        }
                    } else {
                        lock.lock();
                    }
                    if (writers_in.fetch_add(1) != 0 || readers_in.load() != 0)
                        violations.fetch_add(1);
                    ++plain_writes;
                    writers_in.fetch_sub(1);
                    lock.unlock();
                    writes.fetch_add(1);
                } else {
                    const bool timed = op % 5 == 0;
                    if (timed) {
                        while (!lock.try_lock_shared_for(std::chrono::microseconds(50))) {
                        }
                    } else if (op % 7 == 0) {
                        while (!lock.try_lock_shared())
                            std::this_thread::yield();
                    } else {
                        lock.lock_shared();
                    }
                    readers_in.fetch_add(1);
                    if (writers_in.load() != 0) violations.fetch_add(1);
                    if (plain_writes < seen) violations.fetch_add(1);  // writes never go back
                    seen = plain_writes;
                    if (op % 4 == 1) {
                        lock.lock_shared();  // recursive, maybe with a writer waiting
                        if (writers_in.load() != 0) violations.fetch_add(1);
                        lock.unlock_shared();
                    }
                    readers_in.fetch_sub(1);
                    lock.unlock_shared();
                }
            }
        });
    }
    for (auto& w : workers)
        w.join();
    INFO(threads << " threads x " << iterations << ": " << violations.load() << " violations");
    REQUIRE(violations.load() == 0);
    REQUIRE(plain_writes == writes.load());
    REQUIRE(lock.readers() == 0);
    REQUIRE(lock.writers_waiting() == 0);
    REQUIRE(lock.readers_waiting() == 0);
}

}  // namespace

TEMPLATE_TEST_CASE("shared_mutex reader/writer exclusion under mixed load",
                   "[sync][blocking][stress][shared]", ks::shared_mutex<ks::prefer_writers>,
                   ks::shared_mutex<ks::prefer_readers>,
                   (ks::shared_mutex<ks::prefer_writers, std::atomic, kp::hybrid_wait>),
                   (ks::shared_mutex<ks::prefer_readers, std::atomic, kp::futex_wait,
                                     ks::no_lock_stats, ks::default_lock_checks, 0>)) {
    SECTION("2 threads, 1 in 10 writes") {
        shared_stress<TestType>(2, stress_iterations(300'000), 10);
    }
    SECTION("4 threads, 1 in 4 writes") {
        shared_stress<TestType>(4, stress_iterations(125'000), 4);
    }
    SECTION("8 threads, 1 in 10 writes") {
        shared_stress<TestType>(8, stress_iterations(50'000), 10);
    }
    SECTION("exclusive side alone: the lock invariant") {
        run_invariant_stress<TestType>(4, stress_iterations(150'000));
    }
}

TEMPLATE_TEST_CASE("counting_semaphore as a bounded resource counter",
                   "[sync][blocking][stress][semaphore]", ks::counting_semaphore<3>,
                   (ks::counting_semaphore<3, std::atomic, kp::hybrid_wait>),
                   (ks::counting_semaphore<3, std::atomic, kp::futex_wait, ks::no_lock_stats,
                                           ks::default_lock_checks, 0>)) {
    for (std::size_t threads : {2u, 4u, 8u}) {
        TestType sem(3);
        std::atomic<std::uint32_t> inside{0};
        std::atomic<std::uint32_t> most{0};
        std::atomic<std::uint64_t> violations{0};
        std::atomic<std::uint64_t> acquired{0};
        const std::uint64_t iterations = stress_iterations(threads == 2 ? 300'000 : 100'000);
        std::vector<std::thread> workers;
        for (std::size_t t = 0; t < threads; ++t) {
            workers.emplace_back([&, t] {
                for (std::uint64_t i = 0; i < iterations; ++i) {
                    const std::uint64_t op = i + t;
                    if (op % 5 == 0) {
                        while (!sem.try_acquire_for(std::chrono::microseconds(30))) {
                        }
                    } else if (op % 7 == 0) {
                        while (!sem.try_acquire())
                            std::this_thread::yield();
                    } else {
                        sem.acquire();
                    }
                    const std::uint32_t now = inside.fetch_add(1) + 1;
                    if (now > 3) violations.fetch_add(1);
                    std::uint32_t m = most.load();
                    while (now > m && !most.compare_exchange_weak(m, now)) {
                    }
                    inside.fetch_sub(1);
                    acquired.fetch_add(1);
                    sem.release();
                }
            });
        }
        for (auto& w : workers)
            w.join();
        INFO(threads << " threads");
        REQUIRE(violations.load() == 0);
        REQUIRE(acquired.load() == threads * iterations);
        REQUIRE(sem.value() == 3);
        REQUIRE(sem.waiters() == 0);
        CHECK(most.load() <= 3);
    }
}
