#include "../support/lock_stress.hpp"

#include <keel/sync.hpp>

#include <catch2/catch.hpp>

namespace ks = keel::sync;

// Invariant stress for every spin lock at 2, 4 and 8 threads (on a 2-core machine 8
// threads means preempted holders and waiters: the case where FIFO spin locks suffer,
// so iterations shrink as threads grow). About 11 million acquisitions per lock.
// KEEL_STRESS_FACTOR scales them.
TEMPLATE_TEST_CASE("spin lock invariant stress", "[sync][spin][stress]", ks::tas_lock<>,
                   ks::ttas_lock<>, ks::ticket_lock<>, ks::mcs_lock<>, ks::clh_lock<>) {
    SECTION("2 threads") {
        keel::test::run_invariant_stress<TestType>(2, keel::test::stress_iterations(2'000'000));
    }
    SECTION("4 threads") {
        keel::test::run_invariant_stress<TestType>(4, keel::test::stress_iterations(1'000'000));
    }
    SECTION("8 threads") {
        keel::test::run_invariant_stress<TestType>(8, keel::test::stress_iterations(400'000));
    }
}

TEMPLATE_TEST_CASE("spin lock counters stay exact under contention", "[sync][spin][stress][stats]",
                   (ks::ttas_lock<std::atomic, ks::lock_stats>),
                   (ks::mcs_lock<std::atomic, ks::lock_stats>),
                   (ks::clh_lock<std::atomic, ks::lock_stats>)) {
    TestType lock;
    const std::uint64_t iterations = keel::test::stress_iterations(200'000);
    const auto report = keel::test::run_invariant_stress(lock, 4, iterations);
    CHECK(lock.stats().acquisitions() == 4 * iterations);
    CHECK(lock.stats().contended() <= lock.stats().acquisitions());
    CHECK(lock.stats().waiting() == 0);
    CHECK(report.try_successes <= 4 * iterations);
}
