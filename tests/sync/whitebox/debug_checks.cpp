#include "../support/misuse.hpp"

#include <keel/sync.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <thread>

namespace ks = keel::sync;

namespace {

// Explicit owner checks, so these tests run in Release and sanitizer builds too.
template <template <template <class> class, class, class> class L>
using checked = L<std::atomic, ks::no_lock_stats, ks::owner_lock_checks>;

constexpr const char* aborted = "[child killed by signal 6]";

}  // namespace

TEMPLATE_TEST_CASE("debug checks catch lock misuse", "[sync][checks]", checked<ks::tas_lock>,
                   checked<ks::ttas_lock>, checked<ks::ticket_lock>, checked<ks::mcs_lock>,
                   checked<ks::clh_lock>) {
    using keel::test::run_in_child_capturing_stderr;
    using Catch::Matchers::Contains;

    SECTION("relock by the owner") {
        const std::string out = run_in_child_capturing_stderr([] {
            TestType lock;
            lock.lock();
            lock.lock();  // would spin forever without the check
        });
        CHECK_THAT(out, Contains("keel::sync: relock") && Contains(aborted));
    }
    SECTION("try_lock by the owner") {
        const std::string out = run_in_child_capturing_stderr([] {
            TestType lock;
            lock.lock();
            (void)lock.try_lock();
        });
        CHECK_THAT(out, Contains("keel::sync: relock") && Contains(aborted));
    }
    SECTION("unlock by a thread that does not hold the lock") {
        const std::string out = run_in_child_capturing_stderr([] {
            TestType lock;
            lock.lock();
            std::thread([&] { lock.unlock(); }).join();
        });
        CHECK_THAT(out, Contains("unlock by a thread that does not hold the lock") && Contains(aborted));
    }
    SECTION("unlock of a free lock") {
        const std::string out = run_in_child_capturing_stderr([] {
            TestType lock;
            lock.unlock();
        });
        CHECK_THAT(out, Contains("unlock of a lock that is not held") && Contains(aborted));
    }
    SECTION("destroying a held lock") {
        const std::string out = run_in_child_capturing_stderr([] {
            std::optional<TestType> lock;
            lock.emplace();
            lock->lock();
            lock.reset();
        });
        CHECK_THAT(out, Contains("destroying a lock that is held") && Contains(aborted));
    }
    SECTION("correct use, hand-off included, passes") {
        const std::string out = run_in_child_capturing_stderr([] {
            TestType lock;
            lock.lock();
            lock.unlock();
            REQUIRE(lock.try_lock());
            std::thread([&] {
                lock.adopt();
                lock.unlock();
            }).join();
        });
        CHECK(out.empty());
    }
}

TEST_CASE("mcs_lock explicit-node form is checked too", "[sync][checks][mcs]") {
    const std::string out = keel::test::run_in_child_capturing_stderr([] {
        checked<ks::mcs_lock> lock;
        checked<ks::mcs_lock>::node a;
        checked<ks::mcs_lock>::node b;
        lock.lock(a);
        lock.lock(b);
    });
    CHECK_THAT(out, Catch::Matchers::Contains("relock"));
}

TEST_CASE("without checks the same misuse is not diagnosed", "[sync][checks]") {
    // Unlock from another thread without adopt(): allowed (and harmless) for a spin
    // lock without checks; proves the checks, not the lock, abort above.
    const std::string out = keel::test::run_in_child_capturing_stderr([] {
        ks::ticket_lock<std::atomic, ks::no_lock_stats, ks::no_lock_checks> lock;
        lock.lock();
        std::thread([&] { lock.unlock(); }).join();
        REQUIRE(lock.try_lock());
        lock.unlock();
    });
    CHECK(out.empty());
}
