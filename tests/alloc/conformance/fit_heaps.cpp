// The fit heaps (first, next, best, worst, head-first best fit, adaptive): the
// heap concept's promises, where each policy places a block on a crafted
// layout, footprint and stats on a known sequence, the split threshold, and
// constructor errors.

#include <keel/alloc/adaptive_heap.hpp>
#include <keel/alloc/best_fit_heap.hpp>
#include <keel/alloc/first_fit_heap.hpp>
#include <keel/alloc/head_first_best_fit_heap.hpp>
#include <keel/alloc/next_fit_heap.hpp>
#include <keel/alloc/worst_fit_heap.hpp>

#include "heap_checks.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <vector>

namespace alloc = keel::alloc;
using keel::test::heap_region;

static_assert(alloc::heap<alloc::first_fit_heap>);
static_assert(alloc::heap<alloc::next_fit_heap>);
static_assert(alloc::heap<alloc::best_fit_heap>);
static_assert(alloc::heap<alloc::worst_fit_heap>);
static_assert(alloc::heap<alloc::head_first_best_fit_heap>);
static_assert(alloc::heap<alloc::adaptive_heap>);

TEMPLATE_TEST_CASE("fit heaps keep the heap concept's promises", "[alloc][fit]", alloc::first_fit_heap,
                   alloc::next_fit_heap, alloc::best_fit_heap, alloc::worst_fit_heap,
                   alloc::head_first_best_fit_heap, alloc::adaptive_heap) {
    for (std::size_t capacity : {std::size_t{256} << 10, std::size_t{1} << 20}) {
        heap_region region(capacity);
        TestType heap(region.get());
        REQUIRE(keel::test::check_heap_promises(heap, capacity) == "");
        REQUIRE(heap.verify() == "");
    }
}

namespace {

// A request whose block (8-byte header, 16-byte granules) is exactly `block` bytes.
constexpr std::size_t request_for(std::size_t block) { return block - 8; }

// Holes of 512, 256, 1024 and 320 bytes (in address order) between pinned
// blocks, then a plug that leaves a free top of exactly 576 bytes at the end.
template <class Heap>
struct crafted_layout {
    explicit crafted_layout(Heap& h) : heap(h) {
        for (std::size_t size : {std::size_t{512}, std::size_t{256}, std::size_t{1024}, std::size_t{320}}) {
            holes.push_back(heap.allocate(request_for(size)));
            hole_requests.push_back(request_for(size));
            pins.push_back(heap.allocate(request_for(64)));
        }
        const std::size_t top_now = heap.stats().largest_free_block;
        plug = heap.allocate(request_for(top_now - 576));
        top = static_cast<std::byte*>(plug) + (top_now - 576);
        for (std::size_t i = 0; i < holes.size(); ++i) heap.deallocate(holes[i], hole_requests[i]);
    }
    Heap& heap;
    std::vector<void*> holes;
    std::vector<std::size_t> hole_requests;
    std::vector<void*> pins;
    void* plug = nullptr;
    void* top = nullptr;
};

}  // namespace

TEMPLATE_TEST_CASE("each fit policy places a block where it should", "[alloc][fit]", alloc::first_fit_heap,
                   alloc::next_fit_heap, alloc::best_fit_heap, alloc::worst_fit_heap,
                   alloc::head_first_best_fit_heap, alloc::adaptive_heap) {
    heap_region region(64 << 10);
    TestType heap(region.get());
    crafted_layout<TestType> layout(heap);
    REQUIRE(layout.plug != nullptr);
    REQUIRE(heap.verify() == "");
    REQUIRE(heap.stats().free_blocks == 5);

    const auto& h = layout.holes;
    void* small = heap.allocate(request_for(240));  // fits every hole and the top
    void* large = heap.allocate(request_for(560));  // fits the 1024 hole and the top only
    REQUIRE(heap.verify() == "");
    constexpr auto name = TestType::name;
    if (name == "first_fit") {
        CHECK(small == h[0]);  // lowest address
        CHECK(large == h[2]);
    } else if (name == "next_fit") {
        CHECK(small == layout.top);  // the search resumes after the plug, the last placement
        CHECK(large == h[2]);        // past the end, it wraps round
    } else if (name == "best_fit" || name == "adaptive") {  // adaptive starts on best fit
        CHECK(small == h[1]);                                // the 256 hole
        CHECK(large == layout.top);                          // 576 is the tightest
    } else if (name == "worst_fit") {
        CHECK(small == h[2]);                                             // the 1024 hole, the largest
        CHECK(large == static_cast<std::byte*>(h[2]) + 240);              // what remains of it (784)
    } else if (name == "head_first_best_fit") {
        CHECK(small == h[1]);  // best fit below the top
        CHECK(large == h[2]);  // the top is kept although it fits tighter
    } else {
        FAIL("no expectation for " << name);
    }
}

TEST_CASE("next fit resumes after its last placement", "[alloc][fit]") {
    heap_region region(64 << 10);
    alloc::next_fit_heap heap(region.get());
    crafted_layout<alloc::next_fit_heap> layout(heap);
    void* a = heap.allocate(request_for(240));
    CHECK(a == layout.top);
    // The rover now points past `a`: the next search wraps to the lowest hole.
    void* b = heap.allocate(request_for(400));
    CHECK(b == layout.holes[0]);
    CHECK(heap.rover() == static_cast<std::byte*>(b) - 8 + 400);
    // Freeing the block merges it back, but the search resumes after it: the
    // 256 hole, although the 512 one below the rover fits too.
    heap.deallocate(b, request_for(400));
    CHECK(heap.allocate(request_for(240)) == layout.holes[1]);
}

TEST_CASE("head-first best fit keeps the top free region at the high end", "[alloc][fit]") {
    heap_region region(64 << 10);
    alloc::head_first_best_fit_heap heap(region.get());
    const auto* end = region.get().end();
    auto top_ends_at_region_end = [&] {
        const auto* top = static_cast<const std::byte*>(heap.top());
        return top != nullptr && end - (top + heap.stats().largest_free_block) < 16;
    };
    REQUIRE(top_ends_at_region_end());
    std::vector<void*> blocks;
    for (int i = 0; i < 8; ++i) blocks.push_back(heap.allocate(request_for(128)));
    REQUIRE(top_ends_at_region_end());
    // Carving happens at the low end of the top: blocks are consecutive.
    for (std::size_t i = 1; i < blocks.size(); ++i) {
        CHECK(static_cast<std::byte*>(blocks[i]) == static_cast<std::byte*>(blocks[i - 1]) + 128);
    }
    heap.deallocate(blocks[2], request_for(128));
    heap.deallocate(blocks[5], request_for(128));
    // Two holes below the top: a fitting request takes a hole, not the top.
    const void* top_before = heap.top();
    CHECK(heap.allocate(request_for(128)) == blocks[2]);
    CHECK(heap.top() == top_before);
    // The highest block freed merges into the top.
    heap.deallocate(blocks[7], request_for(128));
    CHECK(heap.top() == static_cast<std::byte*>(blocks[7]) - 8);
    CHECK(heap.stats().free_blocks == 2);  // the hole at blocks[5] and the top
    REQUIRE(heap.verify() == "");
}

TEST_CASE("fit heap footprint and stats follow a known sequence", "[alloc][fit]") {
    heap_region region(64 << 10);  // page-aligned: the first payload is at offset 16
    alloc::best_fit_heap heap(region.get());
    const auto fresh = heap.stats();
    CHECK(heap.footprint() == 0);
    CHECK(fresh.capacity_bytes == 64 << 10);
    CHECK(fresh.free_blocks == 1);
    CHECK(fresh.free_bytes == (64 << 10) - 16);  // 8 bytes of alignment in front, the 8-byte end sentinel
    CHECK(fresh.largest_free_block == fresh.free_bytes);

    void* a = heap.allocate(100);  // 108 -> a 112-byte block
    CHECK(a == region.get().data() + 16);
    CHECK(heap.footprint() == 8 + 112);
    void* b = heap.allocate(200);  // 208-byte block
    CHECK(heap.footprint() == 8 + 112 + 208);
    auto s = heap.stats();
    CHECK(s.requested_bytes == 300);
    CHECK(s.granted_bytes == 320);
    CHECK(s.free_bytes == fresh.free_bytes - 320);
    CHECK(s.free_blocks == 1);
    CHECK(s.allocations == 2);

    heap.deallocate(a, 100);
    s = heap.stats();
    CHECK(heap.footprint() == 8 + 112 + 208);  // b is still the highest live block
    CHECK(s.free_blocks == 2);
    CHECK(s.largest_free_block == fresh.free_bytes - 320);
    CHECK(s.external_fragmentation() > 0.0);
    heap.deallocate(b, 200);
    s = heap.stats();
    CHECK(heap.footprint() == 0);
    CHECK(s.free_blocks == 1);
    CHECK(s.largest_free_block == fresh.free_bytes);
    CHECK(s.peak_footprint_bytes == 8 + 112 + 208);
    CHECK(s.peak_requested_bytes == 300);
    CHECK(s.deallocations == 2);
    CHECK(s.footprint_bytes == heap.footprint());
}

TEST_CASE("fit heaps split only remainders of at least split_threshold", "[alloc][fit]") {
    heap_region region(64 << 10);
    auto granted_for_320_in_512_hole = [&](std::size_t threshold) {
        alloc::best_fit_heap heap(region.get(), {.split_threshold = threshold});
        void* hole = heap.allocate(request_for(512));
        void* pin = heap.allocate(request_for(64));
        heap.deallocate(hole, request_for(512));
        void* p = heap.allocate(request_for(320));
        REQUIRE(p == hole);
        const auto granted = heap.stats().granted_bytes - 64;
        heap.deallocate(p, request_for(320));
        heap.deallocate(pin, request_for(64));
        REQUIRE(heap.verify() == "");
        return granted;
    };
    CHECK(granted_for_320_in_512_hole(0) == 320);    // 192 left: above the 48-byte minimum
    CHECK(granted_for_320_in_512_hole(192) == 320);  // exactly the threshold still splits
    CHECK(granted_for_320_in_512_hole(193) == 512);  // rounded to 208 > 192: the leftover stays
    CHECK(granted_for_320_in_512_hole(4096) == 512);

    {
        alloc::first_fit_heap heap(region.get(), {.split_threshold = 1});
        CHECK(heap.split_threshold() == heap.min_block_size());  // clamped to the minimum block
        CHECK(heap.min_block_size() == 48);
    }
    alloc::adaptive_heap adaptive(region.get());  // one heap per region at a time
    CHECK(adaptive.split_threshold() == 64);
}

TEST_CASE("fit heap constructors reject bad regions and options", "[alloc][fit]") {
    heap_region region(4096);
    using Catch::Matchers::Contains;
    CHECK_THROWS_AS(alloc::best_fit_heap(keel::platform::memory_region{}), std::invalid_argument);
    CHECK_THROWS_WITH(alloc::first_fit_heap(keel::platform::memory_region{}), Contains("first_fit") && Contains("null"));
    CHECK_THROWS_WITH(alloc::worst_fit_heap(keel::platform::memory_region(region.get().data(), 64)),
                      Contains("too small") && Contains("minimum is 96"));
    CHECK_THROWS_WITH(alloc::next_fit_heap(region.get(), {.split_threshold = 8192}), Contains("split_threshold"));
    CHECK_THROWS_WITH(alloc::head_first_best_fit_heap(keel::platform::memory_region(region.get().data(), 95)),
                      Contains("too small"));
    CHECK_NOTHROW(alloc::head_first_best_fit_heap(keel::platform::memory_region(region.get().data(), 96)));
    CHECK_THROWS_WITH(alloc::adaptive_heap(region.get(), {.size_classes = 33}), Contains("size_classes"));
    CHECK_THROWS_WITH(alloc::adaptive_heap(region.get(), {.explore_one_in = 1}), Contains("explore_one_in"));
    CHECK_THROWS_WITH(alloc::adaptive_heap(region.get(), {.window = (1u << 20) + 1}), Contains("window"));
    CHECK_THROWS_WITH(alloc::adaptive_heap(region.get(), {.explore_above = -1.0}), Contains("explore_above"));
    CHECK_THROWS_WITH(alloc::adaptive_heap(keel::platform::memory_region(region.get().data(), 100)),
                      Contains("adaptive") && Contains("minimum is 112"));
}
