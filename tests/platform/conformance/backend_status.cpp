#include <catch2/catch.hpp>

#include <keel/platform/backend_status.hpp>

#include <cstdlib>
#include <set>
#include <string>
#include <utility>

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

TEST_CASE("probe_backends reports every backend with a reason", "[platform][probe]") {
    using keel::platform::probe_backends;
    ::unsetenv("KEEL_DISABLE_BACKENDS");
    const std::set<std::pair<std::string, std::string>> expected = {
        {"memory_source", "anonymous"}, {"memory_source", "transparent_huge_pages"},
        {"memory_source", "hugetlb"},   {"memory_source", "memfd"},
        {"memory_source", "posix_shm"}, {"memory_source", "numa"},
        {"memory_source", "file"},      {"wait_policy", "hybrid"},
        {"wait_policy", "futex"},       {"wait_policy", "spin_yield"},
        {"wait_policy", "spin"},        {"io_engine", "io_uring"},
        {"io_engine", "thread_pool"},   {"io_engine", "synchronous"},
        {"protection", "pkey"},         {"protection", "mprotect"},
        {"protection", "none"}};
    const auto all = probe_backends();
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& b : all) {
        INFO(b.kind << "/" << b.name);
        CHECK_FALSE(b.reason.empty());
        CHECK(seen.emplace(b.kind, b.name).second);  // each backend once
    }
    CHECK(seen == expected);

    // Backends that cannot be refused by the kernel are available here.
    for (const auto& b : all) {
        if (b.name == "anonymous" || b.name == "spin" || b.name == "synchronous" || b.name == "none") {
            CHECK(b.available);
        }
    }

    ::setenv("KEEL_DISABLE_BACKENDS", "all", 1);
    for (const auto& b : probe_backends()) {
        INFO(b.kind << "/" << b.name);
        CHECK_FALSE(b.available);
        CHECK(b.reason == keel::platform::disabled_reason);
    }
    ::unsetenv("KEEL_DISABLE_BACKENDS");
}

TEST_CASE("the JSON report carries the topology and every backend", "[platform][probe]") {
    ::unsetenv("KEEL_DISABLE_BACKENDS");
    const std::string json = keel::platform::probe_report_json();
    CHECK(json.find("\"topology\": {\"logical_cpus\": ") != std::string::npos);
    for (const auto& b : keel::platform::probe_backends()) {
        CHECK(json.find("\"name\": \"" + b.name + "\", \"available\": " +
                        (b.available ? "true" : "false")) != std::string::npos);
    }
}
