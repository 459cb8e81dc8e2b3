// White-box tests of keel's blocking primitives: the debug checks (in forked
// children) and deterministic-schedule exploration of futex_mutex, counting_semaphore
// and shared_mutex with deterministic_atomic + deterministic_wait. A lost wake-up
// shows up as the harness's "deadlock" abort, which names the seed.
#include "../support/lock_stress.hpp"
#include "../support/misuse.hpp"

#include <keel/sync/counting_semaphore.hpp>
#include <keel/sync/futex_mutex.hpp>
#include <keel/sync/recursive_mutex.hpp>
#include <keel/sync/shared_mutex.hpp>
#include <keel/sync/testing/deterministic_schedule.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ks = keel::sync;
namespace kp = keel::platform;
using Catch::Matchers::Contains;
using ks::testing::deterministic_atomic;
using ks::testing::deterministic_schedule;
using ks::testing::deterministic_wait;
using ks::testing::first_failing_seed;

namespace {

constexpr const char* aborted = "[child killed by signal 6]";

using checked_futex =
    ks::futex_mutex<std::atomic, kp::futex_wait, ks::no_lock_stats, ks::owner_lock_checks>;
using checked_recursive = ks::recursive_mutex<checked_futex, ks::owner_lock_checks>;
template <class Policy>
using checked_shared =
    ks::shared_mutex<Policy, std::atomic, kp::futex_wait, ks::no_lock_stats, ks::owner_lock_checks>;
using checked_sem = ks::counting_semaphore<2, std::atomic, kp::futex_wait, ks::no_lock_stats,
                                           ks::owner_lock_checks>;

// Explored with Spin = 0 (every blocked thread registers and parks at once: the
// wake-up protocol) and Spin = 3 (a short spin, then park: the hand-over between them).
// The default spin of 100 rounds would hide the parking path from the schedule.
template <std::uint32_t Spin>
using explored_mutex = ks::futex_mutex<deterministic_atomic, deterministic_wait, ks::no_lock_stats,
                                       ks::owner_lock_checks, Spin>;
template <class Policy, std::uint32_t Spin>
using explored_shared = ks::shared_mutex<Policy, deterministic_atomic, deterministic_wait,
                                         ks::no_lock_stats, ks::owner_lock_checks, Spin>;
template <std::uint32_t Spin>
using explored_sem = ks::counting_semaphore<8, deterministic_atomic, deterministic_wait,
                                            ks::no_lock_stats, ks::owner_lock_checks, Spin>;

// A deadline far away: under the schedule a timed wait may time out at any
// scheduling point anyway (time is not modelled), which is the point.
auto far() {
    return std::chrono::steady_clock::now() + std::chrono::hours(1);
}

template <class Trial>
void require_all_seeds(std::uint64_t seeds, Trial&& trial) {
    const auto failing = first_failing_seed(1, seeds, trial);
    INFO("first failing seed: " << (failing ? std::to_string(*failing) : "none"));
    REQUIRE_FALSE(failing.has_value());
}

}  // namespace

// ---- debug checks -------------------------------------------------------------------

TEST_CASE("futex_mutex debug checks", "[sync][blocking][checks]") {
    using keel::test::run_in_child_capturing_stderr;
    SECTION("relock by the owner") {
        const auto out = run_in_child_capturing_stderr([] {
            checked_futex m;
            m.lock();
            m.lock();
        });
        CHECK_THAT(out, Contains("keel::sync: relock") && Contains(aborted));
    }
    SECTION("timed relock by the owner") {
        const auto out = run_in_child_capturing_stderr([] {
            checked_futex m;
            m.lock();
            (void)m.try_lock_for(std::chrono::milliseconds(1));
        });
        CHECK_THAT(out, Contains("keel::sync: relock") && Contains(aborted));
    }
    SECTION("unlock by a non-owner") {
        const auto out = run_in_child_capturing_stderr([] {
            checked_futex m;
            m.lock();
            std::thread([&] { m.unlock(); }).join();
        });
        CHECK_THAT(out,
                   Contains("unlock by a thread that does not hold the lock") && Contains(aborted));
    }
    SECTION("destroying a held lock") {
        const auto out = run_in_child_capturing_stderr([] {
            auto m = std::make_unique<checked_futex>();
            m->lock();
            m.reset();
        });
        CHECK_THAT(out, Contains("destroying a lock that is held") && Contains(aborted));
    }
    SECTION("correct use with a hand-off passes") {
        const auto out = run_in_child_capturing_stderr([] {
            checked_futex m;
            m.lock();
            std::thread([&] {
                m.adopt();
                m.unlock();
            }).join();
            REQUIRE(m.try_lock());
            m.unlock();
        });
        CHECK(out.empty());
    }
}

TEST_CASE("recursive_mutex debug checks", "[sync][blocking][checks][recursive]") {
    using keel::test::run_in_child_capturing_stderr;
    SECTION("unlock by a non-owner while the owner is nested") {
        const auto out = run_in_child_capturing_stderr([] {
            checked_recursive m;
            m.lock();
            m.lock();
            std::thread([&] { m.unlock(); }).join();
        });
        CHECK_THAT(out,
                   Contains("unlock by a thread that does not hold the lock") && Contains(aborted));
    }
    SECTION("unlock once too often") {
        const auto out = run_in_child_capturing_stderr([] {
            checked_recursive m;
            m.lock();
            m.unlock();
            m.unlock();
        });
        CHECK_THAT(out, Contains("unlock of a lock that is not held") && Contains(aborted));
    }
    SECTION("destroying a held lock") {
        const auto out = run_in_child_capturing_stderr([] {
            auto m = std::make_unique<checked_recursive>();
            m->lock();
            m.reset();
        });
        CHECK_THAT(out, Contains("destroying a lock that is held") && Contains(aborted));
    }
    SECTION("nesting is not a relock") {
        const auto out = run_in_child_capturing_stderr([] {
            checked_recursive m;
            m.lock();
            m.lock();
            REQUIRE(m.try_lock());
            m.unlock();
            m.unlock();
            m.unlock();
        });
        CHECK(out.empty());
    }
}

TEST_CASE("counting_semaphore debug checks", "[sync][blocking][checks][semaphore]") {
    using keel::test::run_in_child_capturing_stderr;
    SECTION("release beyond max()") {
        const auto out = run_in_child_capturing_stderr([] {
            checked_sem s(1);
            s.release(2);
        });
        CHECK_THAT(out, Contains("release beyond max()") && Contains(aborted));
    }
    SECTION("negative release") {
        const auto out = run_in_child_capturing_stderr([] {
            checked_sem s(1);
            s.release(-1);
        });
        CHECK_THAT(out, Contains("negative") && Contains(aborted));
    }
    SECTION("up to max() is fine") {
        const auto out = run_in_child_capturing_stderr([] {
            checked_sem s(0);
            s.release(2);
            s.acquire();
            s.release();
        });
        CHECK(out.empty());
    }
}

TEMPLATE_TEST_CASE("shared_mutex debug checks", "[sync][blocking][checks][shared]",
                   ks::prefer_writers, ks::prefer_readers) {
    using keel::test::run_in_child_capturing_stderr;
    using lock_type = checked_shared<TestType>;
    SECTION("lock_shared by the exclusive holder") {
        const auto out = run_in_child_capturing_stderr([] {
            lock_type m;
            m.lock();
            m.lock_shared();
        });
        CHECK_THAT(out, Contains("keel::sync: relock") && Contains(aborted));
    }
    SECTION("unlock by a non-owner") {
        const auto out = run_in_child_capturing_stderr([] {
            lock_type m;
            m.lock();
            std::thread([&] { m.unlock(); }).join();
        });
        CHECK_THAT(out,
                   Contains("unlock by a thread that does not hold the lock") && Contains(aborted));
    }
    SECTION("destroying a lock held shared") {
        const auto out = run_in_child_capturing_stderr([] {
            auto m = std::make_unique<lock_type>();
            m->lock_shared();
            m.reset();
        });
        CHECK_THAT(out, Contains("destroying a lock that is held") && Contains(aborted));
    }
    SECTION("unlock_shared of a lock nobody holds shared") {
        const auto out = run_in_child_capturing_stderr([] {
            lock_type m;
            m.unlock_shared();
        });
        CHECK_THAT(out, Contains("unlock_shared") && Contains(aborted));
    }
    if constexpr (TestType::writers_first) {
        SECTION("upgrade: lock() while holding the shared lock") {
            const auto out = run_in_child_capturing_stderr([] {
                lock_type m;
                m.lock_shared();
                m.lock();
            });
            CHECK_THAT(out, Contains("upgrade deadlocks") && Contains(aborted));
        }
    }
}

// ---- deterministic exploration ------------------------------------------------------

namespace {

template <std::uint32_t Spin>
bool explore_futex_mixed(std::uint64_t seed) {
    deterministic_schedule sched(seed);
    explored_mutex<Spin> lock;
    keel::test::invariant_state<deterministic_atomic> state;
    std::uint64_t entered[3] = {0, 0, 0};
    sched.run(3, [&](std::size_t t) {
        for (std::size_t i = 0; i < 4; ++i) {
            const std::size_t kind = (i + t) % 3;
            bool held = true;
            if (kind == 0) {
                lock.lock();
            } else if (kind == 1) {
                held = lock.try_lock();
            } else {
                held = lock.try_lock_until(far());
            }
            if (!held) continue;
            state.critical_section(t + 1);
            ++entered[t];
            lock.unlock();
        }
    });
    return state.violations.load() == 0 &&
           state.plain_count == entered[0] + entered[1] + entered[2] && !lock.is_locked();
}

template <std::uint32_t Spin>
bool explore_futex_blocking(std::uint64_t seed) {
    deterministic_schedule sched(seed);
    explored_mutex<Spin> lock;
    keel::test::invariant_state<deterministic_atomic> state;
    sched.run(4, [&](std::size_t t) {
        for (std::size_t i = 0; i < 3; ++i) {
            lock.lock();
            state.critical_section(t + 1);
            lock.unlock();
        }
    });
    return state.violations.load() == 0 && state.plain_count == 12 && !lock.is_locked();
}

}  // namespace

TEST_CASE("deterministic schedule explores futex_mutex", "[sync][blocking][dsched]") {
    SECTION("lock, try_lock and try_lock_until mixed (timeouts at any scheduling point)") {
        require_all_seeds(300, explore_futex_mixed<0>);
        require_all_seeds(200, explore_futex_mixed<3>);
    }
    SECTION("blocking lock() only: a lost wake-up would be a reported deadlock") {
        require_all_seeds(300, explore_futex_blocking<0>);
        require_all_seeds(200, explore_futex_blocking<3>);
    }
}

TEST_CASE("deterministic schedule explores counting_semaphore",
          "[sync][blocking][dsched][semaphore]") {
    SECTION("a resource of 2 units among 4 threads, acquire and timed acquire") {
        require_all_seeds(300, [](std::uint64_t seed) {
            deterministic_schedule sched(seed);
            explored_sem<0> sem(2);
            deterministic_atomic<std::uint32_t> inside{0};
            std::atomic<std::uint32_t> too_many{0};
            sched.run(4, [&](std::size_t t) {
                for (std::size_t i = 0; i < 3; ++i) {
                    if ((i + t) % 2 == 0) {
                        sem.acquire();
                    } else if (!sem.try_acquire_until(far())) {
                        continue;
                    }
                    if (inside.fetch_add(1) + 1 > 2) too_many.fetch_add(1);
                    inside.fetch_sub(1);
                    sem.release();
                }
            });
            return too_many.load() == 0 && sem.value() == 2 && sem.waiters() == 0;
        });
    }
    SECTION("producers and consumers: every unit released is acquired, no lost wake-up") {
        require_all_seeds(300, [](std::uint64_t seed) {
            deterministic_schedule sched(seed);
            explored_sem<0> sem(0);
            sched.run(4, [&](std::size_t t) {
                if (t < 2) {
                    sem.release(t == 0 ? 1 : 2);  // release(1) wakes one, release(2) all
                    sem.release();
                } else {
                    for (int i = 0; i < 2; ++i)
                        sem.acquire();
                }
            });
            return sem.value() == 1 && sem.waiters() == 0;
        });
    }
}

namespace {

// Readers and writers over explored_shared<Policy>: exclusion is checked with
// deterministic atomics (so a broken lock is caught between scheduling points),
// and every 3rd reader re-enters (recursive read) before leaving.
template <class Policy, std::uint32_t Spin>
bool explore_shared(std::uint64_t seed, bool timed) {
    deterministic_schedule sched(seed);
    explored_shared<Policy, Spin> lock;
    deterministic_atomic<std::uint32_t> readers_in{0};
    deterministic_atomic<std::uint32_t> writers_in{0};
    std::atomic<std::uint32_t> violations{0};
    sched.run(4, [&](std::size_t t) {
        for (std::size_t i = 0; i < 3; ++i) {
            const bool write = (t + i) % 3 == 0;
            if (write) {
                if (timed && t % 2 == 1) {
                    if (!lock.try_lock_until(far())) continue;
                } else {
                    lock.lock();
                }
                if (writers_in.fetch_add(1) != 0 || readers_in.load() != 0) violations.fetch_add(1);
                writers_in.fetch_sub(1);
                lock.unlock();
            } else {
                if (timed && t % 2 == 0) {
                    if (!lock.try_lock_shared_until(far())) continue;
                } else {
                    lock.lock_shared();
                }
                readers_in.fetch_add(1);
                if (writers_in.load() != 0) violations.fetch_add(1);
                if (i % 3 == 1) {
                    lock.lock_shared();  // recursive read, maybe with a writer waiting
                    if (writers_in.load() != 0) violations.fetch_add(1);
                    lock.unlock_shared();
                }
                readers_in.fetch_sub(1);
                lock.unlock_shared();
            }
        }
    });
    return violations.load() == 0 && lock.readers() == 0 && !lock.is_locked() &&
           lock.writers_waiting() == 0 && lock.readers_waiting() == 0;
}

}  // namespace

TEMPLATE_TEST_CASE("deterministic schedule explores shared_mutex",
                   "[sync][blocking][dsched][shared]", ks::prefer_writers, ks::prefer_readers) {
    SECTION("blocking lock and lock_shared, recursive reads") {
        require_all_seeds(
            250, [](std::uint64_t seed) { return explore_shared<TestType, 0>(seed, false); });
        require_all_seeds(
            150, [](std::uint64_t seed) { return explore_shared<TestType, 3>(seed, false); });
    }
    SECTION("timed attempts mixed in (timeouts at any point)") {
        require_all_seeds(
            250, [](std::uint64_t seed) { return explore_shared<TestType, 0>(seed, true); });
        require_all_seeds(
            150, [](std::uint64_t seed) { return explore_shared<TestType, 3>(seed, true); });
    }
    SECTION("read -> write -> read: the re-read never waits for the waiting writer") {
        require_all_seeds(200, [](std::uint64_t seed) {
            deterministic_schedule sched(seed);
            explored_shared<TestType, 0> lock;
            deterministic_atomic<std::uint32_t> phase{0};
            sched.run(2, [&](std::size_t t) {
                if (t == 0) {
                    lock.lock_shared();
                    phase.store(1);
                    while (lock.writers_waiting() == 0) {
                    }                    // the writer now waits (or is about to park)
                    lock.lock_shared();  // a deadlock here is reported with the seed
                    lock.unlock_shared();
                    lock.unlock_shared();
                } else {
                    while (phase.load() == 0) {
                    }
                    lock.lock();
                    lock.unlock();
                }
            });
            return lock.readers() == 0 && !lock.is_locked();
        });
    }
}

TEST_CASE("shared_mutex beyond the per-thread table still re-enters",
          "[sync][blocking][shared][recursive]") {
    // One thread holds more writer-preferring locks than the table tracks; a re-read
    // of an untracked one must still not wait behind a waiting writer.
    constexpr std::size_t n = ks::detail::shared_hold_table::capacity + 4;
    std::vector<std::unique_ptr<ks::shared_mutex<>>> locks;
    for (std::size_t i = 0; i < n; ++i)
        locks.push_back(std::make_unique<ks::shared_mutex<>>());
    for (auto& l : locks)
        l->lock_shared();
    auto& last = *locks.back();
    std::thread writer([&] {
        last.lock();
        last.unlock();
    });
    while (last.writers_waiting() == 0)
        std::this_thread::yield();
    last.lock_shared();  // untracked: goes through the bypass
    CHECK(last.readers() == 2);
    last.unlock_shared();
    for (auto& l : locks)
        l->unlock_shared();
    writer.join();
    for (auto& l : locks)
        CHECK(l->readers() == 0);
    CHECK(ks::detail::this_thread_shared_holds().size == 0);
    CHECK(ks::detail::this_thread_shared_holds().untracked == 0);
}
