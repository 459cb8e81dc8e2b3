// The adaptive depth controller on its own: fed paid / unpaid / cached signals, it must
// grow quickly, decay slowly, drop to zero on cached data and come back when probes find
// the cache cold again.

#include <keel/iospec/adaptive.hpp>

#include <catch2/catch.hpp>

namespace is = keel::iospec;

TEST_CASE("adaptive depth: starts at initial, capped by max", "[iospec][adaptive]") {
    CHECK(is::depth_controller({.initial = 4, .max = 32}).depth() == 4);
    CHECK(is::depth_controller({.initial = 40, .max = 32}).depth() == 32);
    CHECK(is::depth_controller({.initial = 4, .max = 32}, 7).depth() == 7);
    CHECK(is::depth_controller({.initial = 4, .max = 32}, 100).depth() == 32);
}

TEST_CASE("adaptive depth: grows quickly while speculation pays", "[iospec][adaptive]") {
    is::depth_controller d({.initial = 0, .max = 32, .probe_interval = 8, .decay_interval = 16});
    REQUIRE(d.depth() == 0);
    d.paid();
    CHECK(d.depth() == 1);
    d.paid();
    CHECK(d.depth() == 2);
    d.paid();
    d.paid();
    d.paid();
    CHECK(d.depth() == 16);
    d.paid();
    CHECK(d.depth() == 32);
    d.paid();
    CHECK(d.depth() == 32);  // never past max

    is::depth_controller odd({.initial = 3, .max = 20});
    odd.paid();
    CHECK(odd.depth() == 6);
    odd.paid();
    CHECK(odd.depth() == 12);
    odd.paid();
    CHECK(odd.depth() == 20);  // 24 capped
}

TEST_CASE("adaptive depth: decays slowly, never below one without a cached probe", "[iospec][adaptive]") {
    is::depth_controller d({.initial = 8, .max = 32, .probe_interval = 8, .decay_interval = 4});
    for (int i = 0; i < 3; ++i) d.unpaid();
    CHECK(d.depth() == 8);
    d.unpaid();
    CHECK(d.depth() == 7);
    for (int i = 0; i < 4 * 6; ++i) d.unpaid();
    CHECK(d.depth() == 1);
    for (int i = 0; i < 100; ++i) d.unpaid();
    CHECK(d.depth() == 1);

    // A paid signal restarts the decay count.
    is::depth_controller e({.initial = 8, .max = 32, .probe_interval = 8, .decay_interval = 4});
    for (int i = 0; i < 3; ++i) e.unpaid();
    e.paid();
    CHECK(e.depth() == 16);
    for (int i = 0; i < 3; ++i) e.unpaid();
    CHECK(e.depth() == 16);
    e.unpaid();
    CHECK(e.depth() == 15);

    // Growth outpaces decay: one paid signal per decay interval still climbs to max.
    is::depth_controller f({.initial = 1, .max = 32, .probe_interval = 8, .decay_interval = 4});
    for (int round = 0; round < 10; ++round) {
        for (int i = 0; i < 3; ++i) f.unpaid();
        f.paid();
    }
    CHECK(f.depth() == 32);
}

TEST_CASE("adaptive depth: drops to zero when cached and comes back when cold", "[iospec][adaptive]") {
    is::depth_controller d({.initial = 4, .max = 32, .probe_interval = 8, .decay_interval = 16});
    d.paid();
    d.paid();
    REQUIRE(d.depth() == 16);
    d.cached();
    CHECK(d.depth() == 0);
    for (int i = 0; i < 100; ++i) d.unpaid();
    CHECK(d.depth() == 0);  // no gain signals keep it at zero
    d.cached();
    CHECK(d.depth() == 0);
    d.paid();  // a probe found the cache cold again
    CHECK(d.depth() == 1);
    d.paid();
    d.paid();
    CHECK(d.depth() == 4);
}

TEST_CASE("adaptive depth: probes the first read, then one in probe_interval", "[iospec][adaptive]") {
    is::depth_controller d({.initial = 4, .max = 32, .probe_interval = 8, .decay_interval = 16});
    int due = 0;
    for (int i = 0; i < 64; ++i) {
        const bool p = d.probe_due();
        if (i % 8 == 0) {
            CHECK(p);
        } else {
            CHECK_FALSE(p);
        }
        due += p ? 1 : 0;
    }
    CHECK(due == 8);
    CHECK(d.probes() == 8);

    is::depth_controller every({.initial = 4, .max = 32, .probe_interval = 1, .decay_interval = 16});
    for (int i = 0; i < 5; ++i) CHECK(every.probe_due());
    is::depth_controller zero({.initial = 4, .max = 32, .probe_interval = 0, .decay_interval = 0});
    CHECK(zero.probe_due());  // 0 is treated as 1
    CHECK(zero.probe_due());
    zero.unpaid();
    CHECK(zero.depth() == 3);
}

TEST_CASE("adaptive depth: max 0 never pre-issues", "[iospec][adaptive]") {
    is::depth_controller d({.initial = 4, .max = 0});
    CHECK(d.depth() == 0);
    d.paid();
    CHECK(d.depth() == 0);
}
