#include <catch2/catch.hpp>

#include <keel/platform/wait_policy.hpp>

#include "refuse_syscalls.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>

using namespace keel::platform;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

TEST_CASE("futex wrappers report the kernel's answers", "[platform][wait][whitebox]") {
    wait_word word{7};
    for (bool shared : {false, true}) {
        INFO("shared " << shared);
        CHECK(detail::sys_futex_wait(word, 6, shared) == EAGAIN);  // value differs: no sleep
        CHECK(detail::sys_futex_wait_until(word, 7, steady::now() - 1ms, shared) == ETIMEDOUT);
        CHECK(detail::sys_futex_wait_until(word, 7, steady::time_point::min(), shared) == ETIMEDOUT);
        const auto start = steady::now();
        CHECK(detail::sys_futex_wait_until(word, 7, start + 20ms, shared) == ETIMEDOUT);
        CHECK(steady::now() - start >= 20ms);  // absolute CLOCK_MONOTONIC == steady_clock
        CHECK(detail::sys_futex_wake(word, 1, shared) == 0);  // nobody waiting
    }
    CHECK_FALSE(detail::futex_refused(0));
    CHECK_FALSE(detail::futex_refused(EAGAIN));
    CHECK_FALSE(detail::futex_refused(EINTR));
    CHECK_FALSE(detail::futex_refused(ETIMEDOUT));
    CHECK(detail::futex_refused(ENOSYS));
    CHECK(detail::futex_refused(EPERM));
}

TEST_CASE("futex_wake reports how many it woke", "[platform][wait][whitebox]") {
    wait_word word{0};
    std::atomic<bool> done{false};
    std::thread waiter([&] {
        futex_wait{}.wait(word, 0);
        done.store(true);
    });
    std::this_thread::sleep_for(20ms);  // most likely parked by now
    word.store(1, std::memory_order_release);
    int total = 0;
    bool errors = false;
    while (!done.load()) {
        const int woken = detail::sys_futex_wake(word, INT_MAX, false);
        if (woken < 0) errors = true;
        else total += woken;
        std::this_thread::yield();
    }
    waiter.join();
    CHECK_FALSE(errors);
    CHECK(total <= 1);
}

TEST_CASE("hybrid_wait counts parked threads and leaves none behind", "[platform][wait][whitebox]") {
    hybrid_wait policy(0);  // no spinning: park at once
    CHECK(policy.spin_rounds() == 0);
    wait_word word{0};
    std::thread waiter([&] { policy.wait(word, 0); });

    const auto deadline = steady::now() + 30s;
    while (policy.parked() == 0 && steady::now() < deadline) std::this_thread::yield();
    CHECK(policy.parked() == 1);
    word.store(1, std::memory_order_release);
    policy.wake_one(word);
    waiter.join();
    CHECK(policy.parked() == 0);

    // A timed-out park also leaves the count at zero.
    auto r = policy.wait_until(word, 1, steady::now() + 5ms);
    CHECK_FALSE(r);
    CHECK(policy.parked() == 0);
}

TEST_CASE("hybrid_wait returns from its spin without parking when the word changes", "[platform][wait][whitebox]") {
    hybrid_wait policy(1u << 20);
    wait_word word{3};
    policy.wait(word, 2);
    CHECK(policy.parked() == 0);
}

TEST_CASE("spin_wait caps its backoff", "[platform][wait][whitebox]") {
    CHECK(spin_wait{}.max_backoff() == spin_wait::default_max_backoff);
    CHECK(spin_wait{0}.max_backoff() == 1);
    CHECK(spin_yield_wait{5}.spin_rounds() == 5);
}

TEST_CASE("KEEL_DISABLE_BACKENDS refuses wait policies by name", "[platform][wait][whitebox]") {
    auto msg = keel::test::run_in_child([]() -> std::string {
        ::setenv("KEEL_DISABLE_BACKENDS", "futex,spin", 1);
        if (futex_wait::probe().available) return "futex still available";
        if (futex_wait::probe().reason != disabled_reason) return "futex reason: " + futex_wait::probe().reason;
        if (spin_wait::probe().available) return "spin still available";
        if (!hybrid_wait::probe().available) return "hybrid refused too";
        if (!spin_yield_wait::probe().available) return "spin_yield refused too";
        ::setenv("KEEL_DISABLE_BACKENDS", "all", 1);
        for (const auto& s : probe_wait_policies())
            if (s.available) return s.name + " available under 'all'";
        return {};
    });
    CHECK(msg.empty());
    INFO(msg);
}

namespace {

// In the child: futex is refused (seccomp), so every wait must fall back to yielding,
// still end when the word changes, and still honour deadlines. No threads here: a
// forked grandchild changes the shared word.
template <class Policy>
std::string refused_futex_body() {
    std::string problems;
    if (Policy::probe().available) problems += "probe says available; ";
    const auto reason = Policy::probe().reason;
    if (reason.find(std::strerror(ENOSYS)) == std::string::npos) problems += "reason lacks errno text: " + reason + "; ";

    const auto before = futex_fallback_count();
    Policy local;
    wait_word word{1};
    const auto start = steady::now();
    auto r = local.wait_until(word, 1, start + 30ms);
    const auto elapsed = steady::now() - start;
    if (r) problems += "wait_until did not time out; ";
    if (elapsed < 30ms || elapsed > 5s) problems += "wait_until timing off; ";
    if (futex_fallback_count() == before) problems += "fallback not counted; ";

    void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return problems + "mmap failed";
    auto* shared_word = new (mem) wait_word{0};
    const pid_t pid = ::fork();
    if (pid < 0) return problems + "fork failed";
    if (pid == 0) {
        ::usleep(50000);
        shared_word->store(1, std::memory_order_release);
        basic_futex_wait<futex_scope::process_shared>{}.wake_all(*shared_word);  // refused; harmless
        ::_exit(0);
    }
    basic_hybrid_wait<futex_scope::process_shared> hybrid_shared;
    if constexpr (Policy::name == std::string_view("hybrid")) {
        hybrid_shared.wait(*shared_word, 0);
        if (hybrid_shared.parked() != 0) problems += "parked count leaked; ";
    } else {
        basic_futex_wait<futex_scope::process_shared>{}.wait(*shared_word, 0);
    }
    if (shared_word->load() != 1) problems += "wait returned before the change; ";
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::munmap(mem, 4096);
    return problems;
}

}  // namespace

TEST_CASE("with futex refused, probes say why and waits fall back to yielding", "[platform][wait][whitebox]") {
    SECTION("futex") {
        auto msg = keel::test::run_with_refused_syscalls({__NR_futex}, ENOSYS, refused_futex_body<futex_wait>);
        INFO(msg);
        CHECK(msg.empty());
    }
    SECTION("hybrid") {
        auto msg = keel::test::run_with_refused_syscalls({__NR_futex}, ENOSYS, refused_futex_body<hybrid_wait>);
        INFO(msg);
        CHECK(msg.empty());
    }
    SECTION("EPERM counts as refused too") {
        auto msg = keel::test::run_with_refused_syscalls({__NR_futex}, EPERM, []() -> std::string {
            auto s = futex_wait::probe();
            if (s.available) return "probe says available";
            if (s.reason.find(std::strerror(EPERM)) == std::string::npos) return "reason: " + s.reason;
            wait_word w{0};
            auto r = futex_wait{}.wait_until(w, 0, steady::now() + 10ms);
            if (r) return "no timeout";
            return {};
        });
        INFO(msg);
        CHECK(msg.empty());
    }
}
