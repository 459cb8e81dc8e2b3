// In-place resizing (resizable_heap::try_resize): growth into the free block
// above, shrinking that gives the tail back, refusals that change nothing, for
// every heap that has it; forwarding through the adapters; and realloc in
// trace replay taking the in-place path.

#include <keel/alloc/adaptive_heap.hpp>
#include <keel/alloc/any_heap.hpp>
#include <keel/alloc/best_fit_heap.hpp>
#include <keel/alloc/buddy_heap.hpp>
#include <keel/alloc/checked_heap.hpp>
#include <keel/alloc/first_fit_heap.hpp>
#include <keel/alloc/growing_heap.hpp>
#include <keel/alloc/head_first_best_fit_heap.hpp>
#include <keel/alloc/next_fit_heap.hpp>
#include <keel/alloc/replay.hpp>
#include <keel/alloc/synchronized_heap.hpp>
#include <keel/alloc/tlsf_heap.hpp>
#include <keel/alloc/worst_fit_heap.hpp>
#include <keel/platform/anonymous_memory.hpp>

#include "heap_checks.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace alloc = keel::alloc;
namespace platform = keel::platform;
using keel::test::heap_region;

static_assert(alloc::resizable_heap<alloc::tlsf_heap>);
static_assert(alloc::resizable_heap<alloc::first_fit_heap>);
static_assert(alloc::resizable_heap<alloc::next_fit_heap>);
static_assert(alloc::resizable_heap<alloc::best_fit_heap>);
static_assert(alloc::resizable_heap<alloc::worst_fit_heap>);
static_assert(alloc::resizable_heap<alloc::head_first_best_fit_heap>);
static_assert(alloc::resizable_heap<alloc::adaptive_heap>);
// Buddy declines: a block is its power of two, aligned to its size.
static_assert(alloc::heap<alloc::buddy_heap> && !alloc::resizable_heap<alloc::buddy_heap>);
// Adapters are resizable exactly when what they wrap is.
static_assert(alloc::resizable_heap<alloc::synchronized_heap<alloc::tlsf_heap>>);
static_assert(!alloc::resizable_heap<alloc::synchronized_heap<alloc::buddy_heap>>);
static_assert(alloc::resizable_heap<alloc::checked_heap<alloc::best_fit_heap>>);
static_assert(!alloc::resizable_heap<alloc::checked_heap<alloc::buddy_heap>>);
static_assert(alloc::resizable_heap<alloc::growing_heap<alloc::tlsf_heap>>);
static_assert(!alloc::resizable_heap<alloc::growing_heap<alloc::buddy_heap>>);

namespace {

constexpr std::size_t KiB = 1024;

void fill(void* p, std::size_t n, std::uint8_t seed) {
    auto* b = static_cast<std::uint8_t*>(p);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
}
bool holds(const void* p, std::size_t n, std::uint8_t seed) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    for (std::size_t i = 0; i < n; ++i) {
        if (b[i] != static_cast<std::uint8_t>(seed + i * 7)) return false;
    }
    return true;
}

// Block bytes granted to one allocation of n bytes (both engines: 8 bytes of
// overhead, 16-byte granules, at least 48 for the fit heaps and 32 for TLSF).
template <class Heap>
std::size_t granted_for(Heap& heap, std::size_t n) {
    const std::size_t before = heap.stats().granted_bytes;
    void* p = heap.allocate(n);
    const std::size_t g = heap.stats().granted_bytes - before;
    heap.deallocate(p, n);
    return g;
}

}  // namespace

TEMPLATE_TEST_CASE("try_resize grows a block into the free block above", "[alloc][resize]", alloc::tlsf_heap,
                   alloc::first_fit_heap, alloc::next_fit_heap, alloc::best_fit_heap, alloc::worst_fit_heap,
                   alloc::head_first_best_fit_heap, alloc::adaptive_heap) {
    heap_region region(1 << 20);
    TestType heap(region.get());
    // A fresh heap places its first block at the bottom, the rest stays free above it.
    void* p = heap.allocate(100);
    REQUIRE(p != nullptr);
    fill(p, 100, 3);
    const auto before = heap.stats();
    REQUIRE(heap.try_resize(p, 100, 5000));
    CHECK(holds(p, 100, 3));
    fill(p, 5000, 4);  // every new byte is writable
    const auto after = heap.stats();
    CHECK(after.requested_bytes == 5000);
    CHECK(after.granted_bytes >= 5000);
    CHECK(after.granted_bytes < 5000 + 64);
    CHECK(after.allocations == before.allocations);
    CHECK(after.deallocations == before.deallocations);
    CHECK(after.resizes == 1);
    CHECK(after.free_blocks == before.free_blocks);  // the rest of the top is split off again
    CHECK(after.footprint_bytes > before.footprint_bytes);
    CHECK(after.peak_footprint_bytes == after.footprint_bytes);
    CHECK(after.peak_requested_bytes == 5000);
    CHECK(heap.verify() == "");
    // A block placed now lies above the grown one.
    void* q = heap.allocate(64);
    REQUIRE(q != nullptr);
    CHECK(static_cast<std::byte*>(q) >= static_cast<std::byte*>(p) + 5000);
    heap.deallocate(q, 64);
    heap.deallocate(p, 5000);
    CHECK(heap.stats().granted_bytes == 0);
    CHECK(heap.verify() == "");
}

TEMPLATE_TEST_CASE("try_resize takes a whole free neighbour when the rest is too small to split",
                   "[alloc][resize]", alloc::tlsf_heap, alloc::first_fit_heap, alloc::best_fit_heap,
                   alloc::head_first_best_fit_heap, alloc::adaptive_heap) {
    heap_region region(1 << 20);
    TestType heap(region.get());
    const std::size_t gp = granted_for(heap, 200);
    const std::size_t gq = granted_for(heap, 1000);
    void* p = heap.allocate(200);
    void* q = heap.allocate(1000);
    void* pin = heap.allocate(64);
    REQUIRE((p && q && pin));
    fill(p, 200, 9);
    heap.deallocate(q, 1000);
    const auto before = heap.stats();
    // Exactly p's block and q's: nothing left over.
    const std::size_t n = gp + gq - 8;
    REQUIRE(heap.try_resize(p, 200, n));
    CHECK(holds(p, 200, 9));
    const auto after = heap.stats();
    CHECK(after.free_blocks == before.free_blocks - 1);
    CHECK(after.granted_bytes == before.granted_bytes + gq);
    CHECK(heap.verify() == "");
    // One byte more no longer fits.
    CHECK_FALSE(heap.try_resize(p, n, n + 16));
    CHECK(heap.verify() == "");
    heap.deallocate(p, n);
    heap.deallocate(pin, 64);
    CHECK(heap.verify() == "");
}

TEMPLATE_TEST_CASE("try_resize shrinks a block and gives the tail back", "[alloc][resize]", alloc::tlsf_heap,
                   alloc::first_fit_heap, alloc::next_fit_heap, alloc::best_fit_heap, alloc::worst_fit_heap,
                   alloc::head_first_best_fit_heap, alloc::adaptive_heap) {
    heap_region region(1 << 20);
    TestType heap(region.get());
    void* p = heap.allocate(4000);
    void* pin = heap.allocate(64);  // in use above p: the tail becomes a free block of its own
    REQUIRE((p && pin));
    fill(p, 4000, 5);
    const auto before = heap.stats();
    REQUIRE(heap.try_resize(p, 4000, 100));
    CHECK(holds(p, 100, 5));
    auto after = heap.stats();
    CHECK(after.requested_bytes == before.requested_bytes - 3900);
    CHECK(after.granted_bytes <= before.granted_bytes - 3840);
    CHECK(after.free_blocks == before.free_blocks + 1);
    CHECK(after.free_bytes == before.free_bytes + (before.granted_bytes - after.granted_bytes));
    CHECK(after.resizes == 1);
    CHECK(heap.verify() == "");
    // A shrink by less than the split threshold keeps the block's size.
    const std::size_t granted = after.granted_bytes;
    REQUIRE(heap.try_resize(p, 100, 90));
    CHECK(heap.stats().granted_bytes == granted);
    CHECK(heap.stats().requested_bytes == after.requested_bytes - 10);
    // Shrinking to 0 is allowed; the block stays live and unique.
    REQUIRE(heap.try_resize(p, 90, 0));
    CHECK(heap.verify() == "");
    heap.deallocate(p, 0);
    heap.deallocate(pin, 64);
    after = heap.stats();
    CHECK(after.granted_bytes == 0);
    CHECK(after.requested_bytes == 0);
    CHECK(heap.verify() == "");
}

TEMPLATE_TEST_CASE("try_resize merges a shrunk tail into a free block above", "[alloc][resize]",
                   alloc::tlsf_heap, alloc::first_fit_heap, alloc::next_fit_heap, alloc::best_fit_heap,
                   alloc::worst_fit_heap, alloc::head_first_best_fit_heap, alloc::adaptive_heap) {
    heap_region region(1 << 20);
    TestType heap(region.get());
    void* p = heap.allocate(1000);
    void* q = heap.allocate(1000);
    void* pin = heap.allocate(64);
    REQUIRE((p && q && pin));
    fill(p, 1000, 1);
    heap.deallocate(q, 1000);
    const auto before = heap.stats();
    // Even 16 bytes (below any split threshold) go to the free neighbour.
    REQUIRE(heap.try_resize(p, 1000, 1000 - 16));
    CHECK(holds(p, 1000 - 16, 1));
    const auto after = heap.stats();
    CHECK(after.free_blocks == before.free_blocks);
    CHECK(after.granted_bytes == before.granted_bytes - 16);
    CHECK(heap.verify() == "");
    heap.deallocate(p, 1000 - 16);
    heap.deallocate(pin, 64);
    CHECK(heap.verify() == "");
}

TEMPLATE_TEST_CASE("try_resize declines when the block above is in use, and changes nothing",
                   "[alloc][resize]", alloc::tlsf_heap, alloc::first_fit_heap, alloc::next_fit_heap,
                   alloc::best_fit_heap, alloc::worst_fit_heap, alloc::head_first_best_fit_heap,
                   alloc::adaptive_heap) {
    heap_region region(256 * KiB);
    TestType heap(region.get());
    void* p = heap.allocate(100);
    void* q = heap.allocate(100);
    REQUIRE((p && q));
    fill(p, 100, 7);
    fill(q, 100, 8);
    const auto before = heap.stats();
    CHECK_FALSE(heap.try_resize(p, 100, 1000));
    CHECK_FALSE(heap.try_resize(q, 100, 1 << 20));       // more than the heap holds
    CHECK_FALSE(heap.try_resize(q, 100, SIZE_MAX - 4));  // overflows
    CHECK_FALSE(heap.try_resize(nullptr, 0, 100));
    const auto after = heap.stats();
    CHECK(holds(p, 100, 7));
    CHECK(holds(q, 100, 8));
    CHECK(after.requested_bytes == before.requested_bytes);
    CHECK(after.granted_bytes == before.granted_bytes);
    CHECK(after.free_blocks == before.free_blocks);
    CHECK(after.footprint_bytes == before.footprint_bytes);
    CHECK(after.resizes == 0);
    CHECK(heap.verify() == "");
    heap.deallocate(p, 100);
    heap.deallocate(q, 100);
}

TEMPLATE_TEST_CASE("try_resize keeps an over-aligned block's alignment", "[alloc][resize]", alloc::tlsf_heap,
                   alloc::best_fit_heap, alloc::first_fit_heap) {
    heap_region region(1 << 20);
    TestType heap(region.get());
    void* p = heap.allocate(100, 4096);
    REQUIRE(p != nullptr);
    REQUIRE(heap.try_resize(p, 100, 20000, 4096));
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 4096 == 0);
    REQUIRE(heap.try_resize(p, 20000, 50, 4096));
    CHECK(heap.verify() == "");
    heap.deallocate(p, 50, 4096);
    CHECK(heap.stats().granted_bytes == 0);
    CHECK(heap.verify() == "");
}

TEST_CASE("head-first best fit grows into the top and gives shrunk tails back to it", "[alloc][resize]") {
    heap_region region(1 << 20);
    alloc::head_first_best_fit_heap heap(region.get());
    void* p = heap.allocate(100);
    REQUIRE(heap.try_resize(p, 100, 10000));
    CHECK(heap.top() == static_cast<std::byte*>(p) - 8 + 10016);
    REQUIRE(heap.try_resize(p, 10000, 100));
    CHECK(heap.top() == static_cast<std::byte*>(p) - 8 + 112);
    CHECK(heap.verify() == "");
    heap.deallocate(p, 100);
}

TEST_CASE("tlsf footprint follows a resize of the highest block", "[alloc][resize]") {
    heap_region region(1 << 20);
    alloc::tlsf_heap heap(region.get());
    void* low = heap.allocate(100);
    void* p = heap.allocate(100);
    const std::size_t at_start = heap.footprint();
    REQUIRE(heap.try_resize(p, 100, 50000));
    const std::size_t grown = heap.footprint();
    CHECK(grown == at_start + alloc::tlsf_heap::block_size_of(p) - 112);
    REQUIRE(heap.try_resize(p, 50000, 100));
    CHECK(heap.footprint() == at_start);
    CHECK(heap.stats().peak_footprint_bytes == grown);
    CHECK(heap.verify() == "");
    heap.deallocate(p, 100);
    heap.deallocate(low, 100);
    CHECK(heap.footprint() == 0);
}

TEST_CASE("any_heap forwards try_resize, and says false for a heap without it", "[alloc][resize]") {
    heap_region r1(1 << 20);
    heap_region r2(1 << 20);
    alloc::any_heap tlsf(std::in_place_type<alloc::tlsf_heap>, r1.get());
    alloc::any_heap buddy(std::in_place_type<alloc::buddy_heap>, r2.get());
    CHECK(tlsf.resizable());
    CHECK_FALSE(buddy.resizable());
    void* a = tlsf.allocate(100);
    void* b = buddy.allocate(100);
    CHECK(tlsf.try_resize(a, 100, 1000));
    CHECK_FALSE(buddy.try_resize(b, 100, 101));
    CHECK(tlsf.stats().requested_bytes == 1000);
    CHECK(buddy.stats().requested_bytes == 100);
    tlsf.deallocate(a, 1000);
    buddy.deallocate(b, 100);
    CHECK(tlsf.verify() == "");
    CHECK(buddy.verify() == "");
}

TEST_CASE("synchronized_heap and growing_heap forward try_resize", "[alloc][resize]") {
    heap_region region(1 << 20);
    alloc::synchronized_heap<alloc::best_fit_heap> shared(region.get());
    void* p = shared.allocate(100);
    CHECK(shared.try_resize(p, 100, 3000));
    CHECK(shared.stats().requested_bytes == 3000);
    shared.deallocate(p, 3000);
    CHECK(shared.verify() == "");

    platform::any_memory_source source{platform::anonymous_memory{}};
    alloc::growing_heap<alloc::tlsf_heap> growing(source, {64 * KiB, 1 << 20});
    void* g = growing.allocate(100);
    const std::size_t fp = growing.footprint();
    REQUIRE(growing.try_resize(g, 100, 20000));
    CHECK(growing.footprint() > fp);
    CHECK(growing.stats().requested_bytes == 20000);
    CHECK(growing.stats().resizes == 1);
    CHECK(growing.stats().peak_footprint_bytes == growing.footprint());
    CHECK(growing.verify() == "");
    // More than its region holds: refused, no new region mapped for it.
    const std::size_t mapped = growing.mapped_bytes();
    CHECK_FALSE(growing.try_resize(g, 20000, 200 * KiB));
    CHECK(growing.mapped_bytes() == mapped);
    REQUIRE(growing.try_resize(g, 20000, 10));
    CHECK(growing.verify() == "");
    growing.deallocate(g, 10);
    CHECK(growing.stats().requested_bytes == 0);
    CHECK(growing.verify() == "");
}

namespace {
struct misuse_log {
    std::vector<alloc::heap_misuse> seen;
    alloc::heap_check_options options() {
        return alloc::heap_check_options::all([this](const alloc::heap_misuse& m) { seen.push_back(m); });
    }
};
}  // namespace

TEMPLATE_TEST_CASE("checked_heap resizes with its fences and fills intact", "[alloc][resize][checked]",
                   alloc::tlsf_heap, alloc::best_fit_heap) {
    heap_region region(1 << 20);
    misuse_log log;
    alloc::checked_heap<TestType> heap(log.options(), region.get());
    auto* p = static_cast<std::uint8_t*>(heap.allocate(100));
    REQUIRE(p != nullptr);
    fill(p, 100, 2);
    REQUIRE(heap.try_resize(p, 100, 1000));
    CHECK(holds(p, 100, 2));
    for (std::size_t i = 100; i < 1000; ++i) {
        if (p[i] != 0xCD) FAIL("grown byte " << i << " is not the allocation fill");
    }
    CHECK(heap.verify() == "");  // checks the fence after the new end
    REQUIRE(heap.try_resize(p, 1000, 40));
    CHECK(holds(p, 40, 2));
    CHECK(heap.verify() == "");
    CHECK(heap.stats().requested_bytes == 40);
    // A refusal keeps the old fences: block q above p pins it.
    void* q = heap.allocate(64);
    CHECK_FALSE(heap.try_resize(p, 40, 100000));
    CHECK(heap.verify() == "");
    CHECK(log.seen.empty());
    // Misuse: the wrong old size is reported (and the recorded size used), a
    // freed block is refused.
    REQUIRE(heap.try_resize(p, 41, 30));
    REQUIRE(log.seen.size() == 1);
    CHECK(log.seen[0].kind == alloc::heap_misuse_kind::size_mismatch);
    CHECK(log.seen[0].recorded_size == 40);
    heap.deallocate(p, 30);
    CHECK_FALSE(heap.try_resize(p, 30, 60));
    REQUIRE(log.seen.size() == 2);
    CHECK(log.seen[1].kind == alloc::heap_misuse_kind::double_free);
    heap.deallocate(q, 64);
    CHECK(heap.verify() == "");
    CHECK(heap.stats().requested_bytes == 0);
    CHECK(log.seen.size() == 2);
}

TEST_CASE("checked_heap reports an overrun found when resizing", "[alloc][resize][checked]") {
    heap_region region(1 << 20);
    misuse_log log;
    auto options = log.options();
    options.poison_fences = false;  // the overrun below must reach the fence under ASan too
    alloc::checked_heap<alloc::tlsf_heap> heap(options, region.get());
    auto* p = static_cast<std::uint8_t*>(heap.allocate(100));
    p[100] = 0;  // one byte past the end
    REQUIRE(heap.try_resize(p, 100, 200));
    REQUIRE(log.seen.size() == 1);
    CHECK(log.seen[0].kind == alloc::heap_misuse_kind::fence_after_overwritten);
    CHECK(log.seen[0].offset == 100);
    CHECK(heap.verify() == "");  // the new fence is whole
    heap.deallocate(p, 200);
    CHECK(log.seen.size() == 1);
}

TEMPLATE_TEST_CASE("resizable heaps survive the fuzzer with resizes in a tight region", "[alloc][resize][stress]",
                   alloc::tlsf_heap, alloc::best_fit_heap, alloc::next_fit_heap, alloc::head_first_best_fit_heap,
                   alloc::adaptive_heap) {
    for (std::uint64_t seed : {21u, 22u}) {
        heap_region region(48 * KiB);
        TestType heap(region.get());
        REQUIRE(keel::test::fuzz_heap(heap, seed, 6000, 2048) == "");
        CHECK(heap.stats().resizes > 0);
    }
}

TEST_CASE("replay serves a growing realloc in place when the heap can", "[alloc][resize][replay]") {
    using op = alloc::trace_op;
    alloc::trace t;
    // A buffer that doubles ten times while a small block sits below it.
    t.ops.push_back(op::allocate(0, 64));
    t.ops.push_back(op::allocate(1, 1000));
    std::uint32_t id = 1;
    std::uint64_t size = 1000;
    for (int i = 0; i < 10; ++i) {
        size *= 2;
        t.ops.push_back(op::reallocate(id, id + 1, size));
        ++id;
    }
    t.ops.push_back(op::free(id));
    t.ops.push_back(op::free(0));
    t.blocks = id + 1;
    REQUIRE(alloc::check_trace(t).empty());
    alloc::replay_options options;
    options.timing = false;
    options.verify = true;
    options.fill = alloc::replay_fill::all;
    const auto tlsf = alloc::replay(
        [](platform::memory_region r) { return alloc::any_heap(std::in_place_type<alloc::tlsf_heap>, r); }, t,
        options);
    CHECK(tlsf.verify_error == "");
    CHECK(tlsf.resized_in_place == 10);
    CHECK(tlsf.failed_allocations == 0);
    CHECK(tlsf.jw4 < 1.01);  // only one copy of the buffer is ever live
    const auto buddy = alloc::replay(
        [](platform::memory_region r) { return alloc::any_heap(std::in_place_type<alloc::buddy_heap>, r); }, t,
        options);
    CHECK(buddy.verify_error == "");
    CHECK(buddy.resized_in_place == 0);
    CHECK(buddy.jw4 > 1.4);  // old and new copies live together at each doubling
}
