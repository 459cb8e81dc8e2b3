#include <catch2/catch.hpp>

#include "catch_result.hpp"

#include <keel/platform/topology.hpp>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace keel::platform;


namespace {

bool power_of_two(std::size_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::size_t affinity_count() {
    cpu_set_t set;
    CPU_ZERO(&set);
    REQUIRE(::sched_getaffinity(0, sizeof set, &set) == 0);
    return static_cast<std::size_t>(CPU_COUNT(&set));
}

// Runs f on a fresh thread so pinning never narrows the test runner's own thread.
template <class F>
void on_thread(F f) {
    std::thread t(f);
    t.join();
}

}  // namespace

TEST_CASE("topology describes this machine", "[platform][topology]") {
    const topology& t = this_machine();
    CHECK(&t == &this_machine());

    const auto online = static_cast<std::size_t>(::sysconf(_SC_NPROCESSORS_ONLN));
    CHECK(t.logical_cpu_count == online);
    CHECK(t.cpus.size() == t.logical_cpu_count);
    CHECK(std::is_sorted(t.cpus.begin(), t.cpus.end(), [](auto& a, auto& b) { return a.id < b.id; }));
    CHECK(t.package_count >= 1);
    CHECK(t.package_count <= t.physical_core_count);
    CHECK(t.physical_core_count <= t.logical_cpu_count);

    REQUIRE_FALSE(t.numa_nodes.empty());
    std::size_t cpus_on_nodes = 0;
    for (const auto& node : t.numa_nodes) {
        cpus_on_nodes += node.cpus.size();
        for (unsigned id : node.cpus) {
            const logical_cpu* c = t.find_cpu(id);
            REQUIRE(c != nullptr);
            CHECK(c->numa_node == node.id);
        }
    }
    CHECK(cpus_on_nodes == t.logical_cpu_count);
    std::uint64_t memory = 0;
    for (const auto& node : t.numa_nodes) memory += node.memory_bytes;
    CHECK(memory > 0);
    const auto phys = static_cast<std::uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    CHECK(memory <= phys + (phys / 10));

    CHECK(power_of_two(t.cache_line_size));
    CHECK(t.cache_line_size >= 16);
    CHECK(t.page_size == static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)));

    // Hugepagesize from /proc/meminfo, read here independently.
    std::ifstream meminfo("/proc/meminfo");
    std::size_t huge_kb = 0;
    for (std::string line; std::getline(meminfo, line);) {
        if (line.rfind("Hugepagesize:", 0) == 0) huge_kb = std::stoul(line.substr(13));
    }
    CHECK(t.huge_page_size == huge_kb * 1024);
    if (t.huge_page_size != 0) CHECK(power_of_two(t.huge_page_size));

    REQUIRE_FALSE(t.allowed_cpus.empty());
    CHECK(t.allowed_cpus.size() == affinity_count());
    for (unsigned id : t.allowed_cpus) CHECK(t.find_cpu(id) != nullptr);
    CHECK(t.find_cpu(1u << 20) == nullptr);

    topology fresh = topology::detect();
    CHECK(fresh.logical_cpu_count == t.logical_cpu_count);
    CHECK(fresh.physical_core_count == t.physical_core_count);
    CHECK(fresh.numa_nodes.size() == t.numa_nodes.size());
}

TEST_CASE("pinning moves the thread to the CPU", "[platform][topology]") {
    const auto& allowed = this_machine().allowed_cpus;
    on_thread([&] {
        for (unsigned cpu : allowed) {
            INFO("cpu " << cpu);
            auto pinned = pin_this_thread(cpu);
            REQUIRE(pinned);
            CHECK(::sched_getcpu() == static_cast<int>(cpu));
            auto now = current_cpu();
            REQUIRE(now);
            CHECK(*now == cpu);
            CHECK(affinity_count() == 1);
        }
        // Back to the whole allowed set.
        REQUIRE(pin_this_thread(std::span<const unsigned>(allowed)));
        CHECK(affinity_count() == allowed.size());
        CHECK(topology::detect().allowed_cpus == allowed);
    });
    // Pinning a thread does not narrow what this_machine() allows.
    CHECK(this_machine().allowed_cpus == allowed);
}

TEST_CASE("pinning outside the allowed set is EINVAL", "[platform][topology]") {
    const auto& allowed = this_machine().allowed_cpus;
    on_thread([&] {
        auto huge = pin_this_thread(1u << 20);
        REQUIRE_FALSE(huge);
        CHECK(huge.error().value() == EINVAL);

        unsigned outside = allowed.back() + 1;
        auto beyond = pin_this_thread(outside);
        REQUIRE_FALSE(beyond);
        CHECK(beyond.error().value() == EINVAL);

        std::vector<unsigned> mixed{allowed.front(), outside};
        auto partly = pin_this_thread(std::span<const unsigned>(mixed));
        REQUIRE_FALSE(partly);
        CHECK(partly.error().value() == EINVAL);

        auto empty = pin_this_thread(std::span<const unsigned>{});
        REQUIRE_FALSE(empty);
        CHECK(empty.error().value() == EINVAL);
        // Nothing changed on failure.
        CHECK(affinity_count() == allowed.size());
    });
}
