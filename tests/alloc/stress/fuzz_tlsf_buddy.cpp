// The random-sequence fuzzer over tlsf_heap and buddy_heap: several seeds and
// options, regions small enough that the walk also runs into exhaustion.

#include <keel/alloc/buddy_heap.hpp>
#include <keel/alloc/tlsf_heap.hpp>

#include <heap_checks.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>

using keel::alloc::buddy_heap;
using keel::alloc::tlsf_heap;
using keel::test::heap_region;

namespace {

constexpr std::size_t steps = 8000;

}  // namespace

TEST_CASE("fuzz tlsf_heap", "[alloc][tlsf][stress]") {
    const unsigned sli = GENERATE(1u, 3u, 5u);
    const std::size_t split = GENERATE(std::size_t{0}, std::size_t{200});
    for (std::uint64_t seed : {1u, 2u}) {
        // 256 KiB fills up now and then with up to ~500 live blocks of up to 4 KiB.
        heap_region region(std::size_t{1} << 18);
        tlsf_heap heap(region.get(), {sli, split});
        INFO("sli " << sli << ", split_threshold " << split);
        REQUIRE(keel::test::fuzz_heap(heap, seed * 1000 + sli, steps) == "");
        const auto s = heap.stats();
        CHECK(s.free_blocks == 1);
        CHECK(s.footprint_bytes == 0);
        CHECK(s.allocations == s.deallocations);
    }
}

TEST_CASE("fuzz tlsf_heap with large blocks in a small region", "[alloc][tlsf][stress]") {
    for (std::uint64_t seed : {11u, 12u}) {
        heap_region region(std::size_t{1} << 16);
        tlsf_heap heap(region.get());
        REQUIRE(keel::test::fuzz_heap(heap, seed, steps, 16384) == "");
        CHECK(heap.stats().failed_allocations > 0);  // the region did fill up
    }
}

TEST_CASE("fuzz buddy_heap", "[alloc][buddy][stress]") {
    const std::size_t min_block = GENERATE(std::size_t{16}, std::size_t{32}, std::size_t{128});
    for (std::uint64_t seed : {1u, 2u}) {
        heap_region region(std::size_t{1} << 18);
        buddy_heap heap(region.get(), {min_block});
        INFO("min_block " << min_block);
        REQUIRE(keel::test::fuzz_heap(heap, seed * 1000 + min_block, steps) == "");
        const auto s = heap.stats();
        // Everything merged back into one block per set bit of the managed size.
        CHECK(s.free_blocks == static_cast<std::size_t>(std::popcount(heap.covered_bytes())));
        CHECK(s.footprint_bytes == 0);
    }
}

TEST_CASE("fuzz buddy_heap with large blocks in a small region", "[alloc][buddy][stress]") {
    for (std::uint64_t seed : {11u, 12u}) {
        heap_region region(std::size_t{1} << 16);
        buddy_heap heap(region.get());
        REQUIRE(keel::test::fuzz_heap(heap, seed, steps, 16384) == "");
        CHECK(heap.stats().failed_allocations > 0);
    }
}
