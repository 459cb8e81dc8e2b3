// The sequence fuzzer over every fit heap: several seeds, a roomy region (mostly
// placement and coalescing) and a tight one (exhaustion and recovery).

#include <keel/alloc/adaptive_heap.hpp>
#include <keel/alloc/best_fit_heap.hpp>
#include <keel/alloc/first_fit_heap.hpp>
#include <keel/alloc/head_first_best_fit_heap.hpp>
#include <keel/alloc/next_fit_heap.hpp>
#include <keel/alloc/worst_fit_heap.hpp>

#include "heap_checks.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

namespace alloc = keel::alloc;

TEMPLATE_TEST_CASE("fit heaps survive the sequence fuzzer", "[alloc][fit][stress]", alloc::first_fit_heap,
                   alloc::next_fit_heap, alloc::best_fit_heap, alloc::worst_fit_heap,
                   alloc::head_first_best_fit_heap, alloc::adaptive_heap) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        keel::test::heap_region region(1 << 20);
        TestType heap(region.get());
        REQUIRE(keel::test::fuzz_heap(heap, seed, 4000) == "");
    }
    for (std::uint64_t seed : {4u, 5u}) {
        keel::test::heap_region region(32 << 10);  // fills up: exhaustion paths
        TestType heap(region.get());
        REQUIRE(keel::test::fuzz_heap(heap, seed, 4000, 2048) == "");
        CHECK(heap.stats().failed_allocations > 0);
    }
}

TEST_CASE("adaptive heap survives the fuzzer while exploring all the time", "[alloc][fit][stress]") {
    keel::test::heap_region region(256 << 10);
    alloc::adaptive_heap heap(region.get(), {.window = 8, .explore_one_in = 2, .explore_above = 0.0});
    REQUIRE(keel::test::fuzz_heap(heap, 9, 8000) == "");
    const unsigned c = heap.size_class_of(64);
    CHECK(heap.choices(c, alloc::fit_policy::first_fit) > 0);
    CHECK(heap.choices(c, alloc::fit_policy::worst_fit) > 0);
}
