#include <catch2/catch.hpp>

#include <keel/platform/backend_status.hpp>

#include <cstdlib>

using keel::platform::disabled_by_environment;

TEST_CASE("KEEL_DISABLE_BACKENDS names the backends to refuse", "[platform][probe]") {
    ::unsetenv("KEEL_DISABLE_BACKENDS");
    CHECK_FALSE(disabled_by_environment("io_uring"));

    ::setenv("KEEL_DISABLE_BACKENDS", "hugetlb, io_uring ,pkey", 1);
    CHECK(disabled_by_environment("io_uring"));
    CHECK(disabled_by_environment("hugetlb"));
    CHECK(disabled_by_environment("pkey"));
    CHECK_FALSE(disabled_by_environment("io"));
    CHECK_FALSE(disabled_by_environment("futex"));

    ::setenv("KEEL_DISABLE_BACKENDS", "all", 1);
    CHECK(disabled_by_environment("futex"));
    ::unsetenv("KEEL_DISABLE_BACKENDS");
}
