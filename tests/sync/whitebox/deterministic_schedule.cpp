#include "../support/lock_stress.hpp"
#include "../support/misuse.hpp"

#include <keel/sync.hpp>
#include <keel/sync/testing/deterministic_schedule.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

namespace ks = keel::sync;
using ks::testing::deterministic_atomic;
using ks::testing::deterministic_schedule;
using ks::testing::first_failing_seed;

namespace {

template <template <template <class> class, class, class> class L>
using explored = L<deterministic_atomic, ks::no_lock_stats, ks::owner_lock_checks>;

// Deliberately broken: check-then-set instead of an atomic exchange, so two threads
// can both see 0 and both enter.
template <template <class> class Atomic>
class broken_lock {
public:
    void lock() noexcept {
        for (;;) {
            if (_flag.load(std::memory_order_acquire) == 0) {
                _flag.store(1, std::memory_order_relaxed);
                return;
            }
        }
    }
    bool try_lock() noexcept {
        if (_flag.load(std::memory_order_acquire) != 0) return false;
        _flag.store(1, std::memory_order_relaxed);
        return true;
    }
    void unlock() noexcept { _flag.store(0, std::memory_order_release); }

private:
    Atomic<std::uint32_t> _flag{0};
};

struct trial_result {
    std::uint64_t violations = 0;
    std::uint64_t count = 0;
    std::uint64_t expected = 0;
    std::vector<std::size_t> order;  // which thread entered, in order
};

// `threads` threads each take `lock` `rounds` times under schedule `seed`; every
// third acquisition is a try_lock (retried), the rest lock(). Mutual exclusion is
// checked by invariant_state on deterministic atomics, so each access inside the
// critical section is a scheduling point where a broken lock lets another thread in.
template <class Lock>
trial_result explore(std::uint64_t seed, std::size_t threads, std::size_t rounds) {
    deterministic_schedule sched(seed);
    Lock lock;
    keel::test::invariant_state<deterministic_atomic> state;
    trial_result r;
    sched.run(threads, [&](std::size_t t) {
        for (std::size_t i = 0; i < rounds; ++i) {
            if ((i + t) % 3 == 2) {
                while (!lock.try_lock()) {
                }
            } else {
                lock.lock();
            }
            state.critical_section(t + 1);
            r.order.push_back(t);
            lock.unlock();
        }
    });
    r.violations = state.violations.load();
    r.count = state.plain_count;
    r.expected = threads * rounds;
    return r;
}

template <class Lock>
void explore_seeds(std::uint64_t seeds, std::size_t threads, std::size_t rounds) {
    const auto failing = first_failing_seed(1, seeds, [&](std::uint64_t seed) {
        const trial_result r = explore<Lock>(seed, threads, rounds);
        return r.violations == 0 && r.count == r.expected;
    });
    INFO("first failing seed: " << (failing ? std::to_string(*failing) : "none"));
    REQUIRE_FALSE(failing.has_value());
}

}  // namespace

TEST_CASE("deterministic schedule explores mcs_lock", "[sync][dsched][mcs]") {
    SECTION("Lockable form and try_lock, 3 threads, 300 seeds") {
        explore_seeds<explored<ks::mcs_lock>>(300, 3, 4);
    }
    SECTION("4 threads, 200 seeds") { explore_seeds<explored<ks::mcs_lock>>(200, 4, 3); }
    SECTION("explicit nodes mixed with the Lockable form, 200 seeds") {
        const auto failing = first_failing_seed(1, 200, [](std::uint64_t seed) {
            deterministic_schedule sched(seed);
            explored<ks::mcs_lock> lock;
            keel::test::invariant_state<deterministic_atomic> state;
            sched.run(3, [&](std::size_t t) {
                explored<ks::mcs_lock>::node n;
                for (std::size_t i = 0; i < 4; ++i) {
                    if ((i + t) % 2 == 0) {
                        lock.lock(n);
                        state.critical_section(t + 1);
                        lock.unlock(n);
                    } else {
                        lock.lock();
                        state.critical_section(t + 1);
                        lock.unlock();
                    }
                }
            });
            return state.violations.load() == 0 && state.plain_count == 12;
        });
        INFO("first failing seed: " << (failing ? std::to_string(*failing) : "none"));
        REQUIRE_FALSE(failing.has_value());
    }
    SECTION("hand-off: one thread locks, another unlocks") {
        const auto failing = first_failing_seed(1, 200, [](std::uint64_t seed) {
            deterministic_schedule sched(seed);
            explored<ks::mcs_lock> lock;
            deterministic_atomic<std::uint32_t> baton{0};  // 1: held lock passed to thread 1
            keel::test::invariant_state<deterministic_atomic> state;
            sched.run(3, [&](std::size_t t) {
                if (t == 0) {
                    lock.lock();
                    state.critical_section(1);
                    baton.store(1);
                } else if (t == 1) {
                    while (baton.load() != 1) {
                    }
                    lock.adopt();
                    state.critical_section(2);
                    lock.unlock();
                } else {
                    lock.lock();
                    state.critical_section(3);
                    lock.unlock();
                }
            });
            return state.violations.load() == 0 && state.plain_count == 3 && !lock.is_locked();
        });
        INFO("first failing seed: " << (failing ? std::to_string(*failing) : "none"));
        REQUIRE_FALSE(failing.has_value());
    }
}

TEST_CASE("deterministic schedule explores the other spin locks", "[sync][dsched]") {
    SECTION("clh_lock") { explore_seeds<explored<ks::clh_lock>>(250, 3, 4); }
    SECTION("ticket_lock") { explore_seeds<explored<ks::ticket_lock>>(150, 3, 4); }
    SECTION("ttas_lock") { explore_seeds<explored<ks::ttas_lock>>(150, 3, 4); }
    SECTION("tas_lock") { explore_seeds<explored<ks::tas_lock>>(150, 3, 4); }
}

TEST_CASE("deterministic schedule finds a broken lock, and its seed reproduces it",
          "[sync][dsched][harness]") {
    auto broken = [](std::uint64_t seed) {
        const trial_result r = explore<broken_lock<deterministic_atomic>>(seed, 2, 3);
        return r.violations == 0;
    };
    const auto failing = first_failing_seed(1, 200, broken);
    REQUIRE(failing.has_value());
    // The same seed fails the same way, every time.
    const trial_result first = explore<broken_lock<deterministic_atomic>>(*failing, 2, 3);
    const trial_result again = explore<broken_lock<deterministic_atomic>>(*failing, 2, 3);
    CHECK(first.violations > 0);
    CHECK(again.violations == first.violations);
    CHECK(again.order == first.order);
}

TEST_CASE("a run is a function of its seed", "[sync][dsched][harness]") {
    using lock_type = explored<ks::ticket_lock>;
    std::vector<std::vector<std::size_t>> orders;
    for (std::uint64_t seed = 10; seed < 20; ++seed) {
        const trial_result a = explore<lock_type>(seed, 3, 4);
        const trial_result b = explore<lock_type>(seed, 3, 4);
        REQUIRE(a.order == b.order);
        orders.push_back(a.order);
    }
    // ... and different seeds explore different interleavings.
    bool differ = false;
    for (const auto& o : orders) differ = differ || o != orders.front();
    CHECK(differ);
}

TEST_CASE("deterministic_wait blocks and wakes under the schedule", "[sync][dsched][wait]") {
    using ks::testing::deterministic_wait;
    static_assert(ks::wait_policy_for<deterministic_wait, deterministic_atomic>);

    SECTION("an event: waiters wake once it is set, for every seed") {
        for (std::uint64_t seed = 1; seed <= 100; ++seed) {
            deterministic_schedule sched(seed);
            deterministic_wait policy;
            deterministic_atomic<std::uint32_t> event{0};
            deterministic_atomic<std::uint32_t> woke{0};
            sched.run(3, [&](std::size_t t) {
                if (t == 0) {
                    event.store(1, std::memory_order_release);
                    policy.wake_all(event);
                } else {
                    policy.wait(event, 0);
                    woke.fetch_add(1);
                }
            });
            REQUIRE(woke.load() == 2);
        }
    }
    SECTION("wait_until times out when nobody sets the word") {
        deterministic_schedule sched(7);
        deterministic_wait policy;
        deterministic_atomic<std::uint32_t> word{0};
        bool timed_out = false;
        sched.run(1, [&](std::size_t) {
            const auto r = policy.wait_until(word, 0, std::chrono::steady_clock::now());
            timed_out = !r && r.error() == std::errc::timed_out;
        });
        CHECK(timed_out);
    }
    SECTION("a lost wake-up is reported as a deadlock with the seed") {
        // Wakes before it stores: a waiter that checked the word in between sleeps
        // forever. Some seed hits that window; the harness must say so.
        const std::string out = keel::test::run_in_child_capturing_stderr([] {
            for (std::uint64_t seed = 1; seed <= 200; ++seed) {
                deterministic_schedule sched(seed);
                deterministic_wait policy;
                deterministic_atomic<std::uint32_t> event{0};
                sched.run(2, [&](std::size_t t) {
                    if (t == 0) {
                        policy.wake_all(event);
                        event.store(1);
                    } else {
                        policy.wait(event, 0);
                    }
                });
            }
        });
        CHECK_THAT(out, Catch::Matchers::Contains("deadlock") && Catch::Matchers::Contains("seed ") &&
                            Catch::Matchers::Contains("[child killed by signal 6]"));
    }
    SECTION("a spinning thread that nothing can release hits the step limit") {
        const std::string out = keel::test::run_in_child_capturing_stderr([] {
            deterministic_schedule sched(3, 10'000);
            deterministic_atomic<std::uint32_t> never{0};
            sched.run(2, [&](std::size_t) {
                while (never.load() == 0) {
                }
            });
        });
        CHECK_THAT(out, Catch::Matchers::Contains("step limit") && Catch::Matchers::Contains("seed 3"));
    }
}
