#include <catch2/catch.hpp>

#include <keel/platform/wait_policy.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <new>
#include <thread>
#include <type_traits>
#include <vector>

using namespace keel::platform;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

// Pure spinners burn a whole time slice when threads outnumber cores (2 here), so
// they get fewer rounds; the parking policies get many.
template <class P>
constexpr bool parks = !std::is_same_v<P, spin_wait> && !std::is_same_v<P, spin_yield_wait>;

template <class P>
constexpr int rounds(int parking, int spinning) {
    return parks<P> ? parking : spinning;
}

const auto timed_out = keel::make_error_code(std::errc::timed_out);

// Generous: a lost wake-up shows up as a hang, which this turns into a failure.
constexpr auto hang_limit = 60s;

// Yields until pred() or the deadline; returns pred().
template <class Pred>
bool eventually(Pred pred, steady::duration limit = hang_limit) {
    const auto deadline = steady::now() + limit;
    while (!pred()) {
        if (steady::now() >= deadline) return pred();
        std::this_thread::yield();
    }
    return true;
}

}  // namespace

#define KEEL_WAIT_POLICIES spin_wait, spin_yield_wait, futex_wait, shared_futex_wait, hybrid_wait, shared_hybrid_wait

static_assert(wait_policy<spin_wait>);
static_assert(wait_policy<spin_yield_wait>);
static_assert(wait_policy<futex_wait>);
static_assert(wait_policy<shared_futex_wait>);
static_assert(wait_policy<hybrid_wait>);
static_assert(wait_policy<shared_hybrid_wait>);
static_assert(!wait_policy<int>);

TEST_CASE("wait policies have their fixed names and probe", "[platform][wait]") {
    CHECK(spin_wait::name == "spin");
    CHECK(spin_yield_wait::name == "spin_yield");
    CHECK(futex_wait::name == "futex");
    CHECK(shared_futex_wait::name == "futex");
    CHECK(hybrid_wait::name == "hybrid");
    CHECK(shared_hybrid_wait::name == "hybrid");

    const auto all = probe_wait_policies();
    REQUIRE(all.size() == 4);
    for (const auto& s : all) {
        INFO(s.name << ": " << s.reason);
        CHECK(s.kind == "wait_policy");
        CHECK_FALSE(s.reason.empty());
    }
    CHECK(spin_wait::probe().available);
    CHECK(spin_yield_wait::probe().available);
    // Linux always has futex outside a sandbox.
    CHECK(futex_wait::probe().available);
    CHECK(hybrid_wait::probe().available);
}

TEMPLATE_TEST_CASE("wait returns at once when the word already differs", "[platform][wait]", KEEL_WAIT_POLICIES) {
    TestType policy;
    wait_word word{5};
    policy.wait(word, 4);
    CHECK(policy.wait_until(word, 4, steady::now() - 1s));
    CHECK(policy.wait_until(word, 4, steady::time_point::min()));
    CHECK(wait_for(policy, word, 4, 0ms));
    CHECK(wait_for(policy, word, 4, std::chrono::hours::max()));
    // Wakes with nobody waiting are harmless.
    policy.wake_one(word);
    policy.wake_all(word);
    CHECK(word.load() == 5);
}

TEMPLATE_TEST_CASE("wait_until times out at its deadline", "[platform][wait]", KEEL_WAIT_POLICIES) {
    TestType policy;
    wait_word word{1};

    const auto start = steady::now();
    auto r = policy.wait_until(word, 1, start + 30ms);
    const auto elapsed = steady::now() - start;
    REQUIRE_FALSE(r);
    CHECK(r.error() == timed_out);
    CHECK(elapsed >= 30ms);
    CHECK(elapsed < 30ms + 2s);

    auto rf = wait_for(policy, word, 1, 20ms);
    REQUIRE_FALSE(rf);
    CHECK(rf.error() == timed_out);

    // A deadline already past times out without waiting.
    auto rp = policy.wait_until(word, 1, steady::time_point::min());
    REQUIRE_FALSE(rp);
    CHECK(rp.error() == timed_out);
}

TEMPLATE_TEST_CASE("wait_for with a long timeout returns when the word changes", "[platform][wait]",
                   KEEL_WAIT_POLICIES) {
    TestType policy;
    wait_word word{0};
    std::thread changer([&] {
        std::this_thread::sleep_for(10ms);
        word.store(1, std::memory_order_release);
        policy.wake_all(word);
    });
    auto r = wait_for(policy, word, 0, std::chrono::hours::max());
    changer.join();
    CHECK(r);
    CHECK(word.load() == 1);
}

TEMPLATE_TEST_CASE("wake_all wakes every waiter, round after round", "[platform][wait]", KEEL_WAIT_POLICIES) {
    constexpr int waiters = 3;
    const int iterations = rounds<TestType>(300, 40);
    constexpr std::uint32_t stop = 0xffffffff;

    TestType policy;
    wait_word word{0};
    std::atomic<int> arrivals{0};
    std::atomic<int> wrong{0};

    std::vector<std::thread> threads;
    for (int t = 0; t < waiters; ++t) {
        threads.emplace_back([&] {
            for (std::uint32_t g = 0; g < static_cast<std::uint32_t>(iterations); ++g) {
                policy.wait(word, g);
                const auto now = word.load(std::memory_order_acquire);
                if (now == stop) return;
                if (now != g + 1) wrong.fetch_add(1);
                arrivals.fetch_add(1);
            }
        });
    }

    bool all_woken = true;
    for (int g = 0; g < iterations && all_woken; ++g) {
        word.store(static_cast<std::uint32_t>(g + 1), std::memory_order_release);
        policy.wake_all(word);
        all_woken = eventually([&] { return arrivals.load() == waiters * (g + 1); });
    }
    if (!all_woken) {
        word.store(stop);
        policy.wake_all(word);
    }
    for (auto& t : threads) t.join();
    CHECK(all_woken);
    CHECK(arrivals.load() == waiters * iterations);
    CHECK(wrong.load() == 0);
}

TEMPLATE_TEST_CASE("wake_one hands a value back and forth between two threads", "[platform][wait]",
                   KEEL_WAIT_POLICIES) {
    const auto iterations = static_cast<std::uint32_t>(rounds<TestType>(3000, 300));
    TestType ping_policy;
    TestType pong_policy;
    alignas(64) wait_word ping{0};
    alignas(64) wait_word pong{0};

    std::thread partner([&] {
        for (std::uint32_t i = 1; i <= iterations; ++i) {
            ping_policy.wait(ping, i - 1);
            pong.store(ping.load(std::memory_order_acquire), std::memory_order_release);
            pong_policy.wake_one(pong);
        }
    });
    bool ok = true;
    for (std::uint32_t i = 1; i <= iterations && ok; ++i) {
        ping.store(i, std::memory_order_release);
        ping_policy.wake_one(ping);
        auto r = pong_policy.wait_until(pong, i - 1, steady::now() + hang_limit);
        ok = r && pong.load() == i;
    }
    if (!ok) {  // unblock the partner whatever state it is in
        for (std::uint32_t i = ping.load() + 1; i <= iterations + 1; ++i) {
            ping.store(i);
            ping_policy.wake_all(ping);
        }
    }
    partner.join();
    CHECK(ok);
    CHECK(pong.load() == iterations);
}

namespace {

// N threads pass a token around a ring of words; each holder bumps a plain (non-atomic)
// counter, so the token passing is the only thing ordering those writes: a lost
// wake-up hangs (caught by the deadline), a missing happens-before is a TSan report.
template <class Policy, bool OnePolicy>
void ring_stress(int threads_n, std::uint32_t laps) {
    struct alignas(64) slot {
        wait_word word{0};
    };
    std::vector<slot> slots(static_cast<std::size_t>(threads_n));
    // One policy per word, or (hybrid) one object guarding every word.
    std::vector<std::unique_ptr<Policy>> policies;
    for (int i = 0; i < (OnePolicy ? 1 : threads_n); ++i) policies.push_back(std::make_unique<Policy>());
    auto policy_of = [&](std::size_t i) -> Policy& { return *policies[OnePolicy ? 0 : i]; };

    std::uint64_t counter = 0;  // guarded by the token
    std::atomic<bool> stop{false};
    std::atomic<std::uint32_t> finished{0};

    std::vector<std::thread> threads;
    for (int t = 0; t < threads_n; ++t) {
        threads.emplace_back([&, t] {
            const auto me = static_cast<std::size_t>(t);
            const auto next = (me + 1) % slots.size();
            for (std::uint32_t lap = 0; lap < laps; ++lap) {
                // Thread t holds the token on its lap-th visit when its word is lap + 1.
                policy_of(me).wait(slots[me].word, lap);
                if (stop.load()) return;
                ++counter;
                slots[next].word.fetch_add(1, std::memory_order_release);
                policy_of(next).wake_one(slots[next].word);
            }
            finished.fetch_add(1);
        });
    }
    slots[0].word.store(1, std::memory_order_release);
    policy_of(0).wake_one(slots[0].word);

    const bool done = eventually([&] { return finished.load() == static_cast<std::uint32_t>(threads_n); });
    if (!done) {
        stop.store(true);
        for (std::size_t i = 0; i < slots.size(); ++i) {
            slots[i].word.fetch_add(1000000);
            policy_of(i).wake_all(slots[i].word);
        }
    }
    for (auto& th : threads) th.join();
    REQUIRE(done);
    CHECK(counter == static_cast<std::uint64_t>(threads_n) * laps);
}

}  // namespace

TEMPLATE_TEST_CASE("a token passed around a ring of words is never lost", "[platform][wait][stress]",
                   KEEL_WAIT_POLICIES) {
    ring_stress<TestType, false>(4, static_cast<std::uint32_t>(rounds<TestType>(20000, 60)));
}

TEMPLATE_TEST_CASE("one hybrid_wait may guard several words", "[platform][wait][stress]", hybrid_wait,
                   shared_hybrid_wait) {
    ring_stress<TestType, true>(3, 20000);
}

TEMPLATE_TEST_CASE("a process-shared policy works across fork on a MAP_SHARED word", "[platform][wait]",
                   shared_futex_wait, shared_hybrid_wait) {
    struct shared_state {
        alignas(64) wait_word a{0};
        alignas(64) wait_word b{0};
        TestType pa;  // a hybrid policy lives with its word, in the shared mapping
        TestType pb;
    };
    void* mem = ::mmap(nullptr, sizeof(shared_state), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mem != MAP_FAILED);
    auto* s = new (mem) shared_state;

    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        s->pa.wait(s->a, 0);  // parked in the kernel until the parent wakes it
        const bool saw = s->a.load() == 1;
        s->b.store(2, std::memory_order_release);
        s->pb.wake_one(s->b);
        ::_exit(saw ? 0 : 3);
    }
    std::this_thread::sleep_for(20ms);  // let the child park
    s->a.store(1, std::memory_order_release);
    s->pa.wake_one(s->a);
    auto r = s->pb.wait_until(s->b, 0, steady::now() + 30s);
    if (!r) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    CHECK(r);
    CHECK(s->b.load() == 2);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    s->~shared_state();
    ::munmap(mem, sizeof(shared_state));
}
