// tlsf_heap and buddy_heap: the heap concept's promises, then what each
// promises of its own (TLSF reuse, coalescing, split threshold, options;
// buddy power-of-two blocks, alignment to size, merging, min_block).

#include <keel/alloc/buddy_heap.hpp>
#include <keel/alloc/tlsf_heap.hpp>

#include <heap_checks.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

using keel::alloc::buddy_heap;
using keel::alloc::buddy_heap_options;
using keel::alloc::tlsf_heap;
using keel::alloc::tlsf_heap_options;
using keel::test::heap_region;

namespace {

constexpr std::size_t region_bytes = std::size_t{1} << 20;

template <unsigned Sli>
struct tlsf_sli {
    using heap_type = tlsf_heap;
    static tlsf_heap make(keel::platform::memory_region r) { return tlsf_heap(r, tlsf_heap_options{Sli, 0}); }
};

template <std::size_t MinBlock>
struct buddy_min {
    using heap_type = buddy_heap;
    static buddy_heap make(keel::platform::memory_region r) { return buddy_heap(r, buddy_heap_options{MinBlock}); }
};

struct tlsf_split_256 {
    using heap_type = tlsf_heap;
    static tlsf_heap make(keel::platform::memory_region r) { return tlsf_heap(r, tlsf_heap_options{4, 256}); }
};

std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

std::size_t offset_in(const heap_region& r, const void* p) {
    return static_cast<std::size_t>(static_cast<const std::byte*>(p) - r.get().data());
}

// The part of `r` that a buddy heap with this min_block turns into exactly one
// block of 2^order bytes (units of min_block bytes plus one map byte each).
keel::platform::memory_region one_block_region(const heap_region& r, std::size_t min_block, unsigned order) {
    return {r.get().data(), (min_block + 1) * ((std::size_t{1} << order) / min_block)};
}

}  // namespace

TEMPLATE_TEST_CASE("tlsf and buddy keep the heap concept's promises", "[alloc][tlsf][buddy]", tlsf_sli<1>,
                   tlsf_sli<3>, tlsf_sli<5>, tlsf_split_256, buddy_min<16>, buddy_min<32>, buddy_min<256>) {
    heap_region region(region_bytes);
    auto heap = TestType::make(region.get());
    REQUIRE(keel::test::check_heap_promises(heap, region_bytes) == "");
    REQUIRE(heap.verify() == "");
    const auto s = heap.stats();
    CHECK(s.capacity_bytes == region_bytes);
    CHECK(s.granted_bytes == 0);
    CHECK(s.footprint_bytes == 0);
    CHECK(s.peak_footprint_bytes > 0);
    CHECK(s.allocations == s.deallocations);
}

TEST_CASE("tlsf: a freed block is reused", "[alloc][tlsf]") {
    heap_region region(region_bytes);
    tlsf_heap heap(region.get());
    void* a = heap.allocate(100);
    void* b = heap.allocate(100);  // keeps a from merging with the rest of the heap
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    heap.deallocate(a, 100);
    CHECK(heap.allocate(100) == a);
    CHECK(heap.verify() == "");
}

TEST_CASE("tlsf: a freed block merges with free neighbours on both sides", "[alloc][tlsf]") {
    heap_region region(region_bytes);
    tlsf_heap heap(region.get());
    void* a = heap.allocate(200);
    void* b = heap.allocate(300);
    void* c = heap.allocate(400);
    void* guard = heap.allocate(16);  // keeps c from merging with the top of the heap
    REQUIRE(guard != nullptr);
    const std::size_t merged = tlsf_heap::block_size_of(a) + tlsf_heap::block_size_of(b) + tlsf_heap::block_size_of(c);
    heap.deallocate(a, 200);
    heap.deallocate(c, 400);
    CHECK(heap.stats().free_blocks == 3);  // a, c and the top of the heap
    heap.deallocate(b, 300);
    CHECK(heap.stats().free_blocks == 2);  // a+b+c and the top
    REQUIRE(heap.verify() == "");
    // The merged block serves a request only it can hold below the guard.
    void* big = heap.allocate(merged - 8);
    CHECK(big == a);
    CHECK(tlsf_heap::block_size_of(big) == merged);
    CHECK(heap.verify() == "");
}

TEST_CASE("tlsf: freeing everything gives back one block", "[alloc][tlsf]") {
    heap_region region(region_bytes);
    tlsf_heap heap(region.get());
    const auto fresh = heap.stats();
    std::vector<void*> blocks;
    for (std::size_t n = 1; n < 3000; n += 37) blocks.push_back(heap.allocate(n));
    for (std::size_t i = 0; i < blocks.size(); i += 3) heap.deallocate(blocks[i], 1 + i * 37);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        if (i % 3 != 0) heap.deallocate(blocks[i], 1 + i * 37);
    }
    const auto after = heap.stats();
    CHECK(after.free_blocks == 1);
    CHECK(after.largest_free_block == fresh.largest_free_block);
    CHECK(after.free_bytes == fresh.free_bytes);
    CHECK(after.free_bytes + heap.overhead_bytes() == region_bytes);
    CHECK(after.footprint_bytes == 0);
    CHECK(heap.verify() == "");
}

TEST_CASE("tlsf: the split threshold keeps small remainders in the block", "[alloc][tlsf]") {
    const auto reuse = [](tlsf_heap_options options) {
        heap_region region(region_bytes);
        tlsf_heap heap(region.get(), options);
        void* a = heap.allocate(400);  // a 416-byte block
        void* guard = heap.allocate(16);
        REQUIRE(guard != nullptr);
        heap.deallocate(a, 400);
        void* b = heap.allocate(300);  // needs 320 bytes: 96 would be left over
        REQUIRE(b == a);
        REQUIRE(heap.verify() == "");
        return std::pair{tlsf_heap::block_size_of(b), heap.stats().free_blocks};
    };
    const auto [split_size, split_free] = reuse({5, 0});
    CHECK(split_size == 320);
    CHECK(split_free == 2);  // the 96-byte remainder and the top
    const auto [kept_size, kept_free] = reuse({5, 128});
    CHECK(kept_size == 416);
    CHECK(kept_free == 1);
    // Thresholds round up to 16 and never go below the minimum block.
    heap_region region(4096);
    CHECK(tlsf_heap(region.get(), {5, 1}).split_minimum() == 32);
    CHECK(tlsf_heap(region.get(), {5, 100}).split_minimum() == 112);
}

TEST_CASE("tlsf: fewer second-level lists round requests further up", "[alloc][tlsf]") {
    // A free 1216-byte block and a request for 1100 bytes (a 1120-byte block):
    // with 32 lists per power of two the block's list is above the request's and
    // it is used; with 2 lists the request rounds up to 1536 and skips it.
    const auto reused = [](unsigned sli) {
        heap_region region(region_bytes);
        tlsf_heap heap(region.get(), {sli, 0});
        void* a = heap.allocate(1200);
        void* guard = heap.allocate(16);
        REQUIRE(guard != nullptr);
        heap.deallocate(a, 1200);
        return heap.allocate(1100) == a;
    };
    CHECK(reused(5));
    CHECK(!reused(1));
}

TEST_CASE("tlsf: aligned requests leave the front gap free", "[alloc][tlsf]") {
    heap_region region(region_bytes);
    tlsf_heap heap(region.get());
    void* p = heap.allocate(100, 4096);
    REQUIRE(p != nullptr);
    CHECK(addr(p) % 4096 == 0);
    CHECK(heap.stats().free_blocks == 2);  // the gap before p and the rest after it
    CHECK(heap.stats().granted_bytes == 112);
    void* q = heap.allocate(64, 64);
    CHECK(addr(q) % 64 == 0);
    CHECK(heap.verify() == "");
    heap.deallocate(p, 100, 4096);
    heap.deallocate(q, 64, 64);
    CHECK(heap.stats().free_blocks == 1);
    CHECK(heap.verify() == "");
}

TEST_CASE("tlsf: footprint follows the highest live block", "[alloc][tlsf]") {
    heap_region region(region_bytes);
    tlsf_heap heap(region.get());
    void* a = heap.allocate(100);
    void* b = heap.allocate(1000);
    // A used block's bytes end 8 bytes past its payload's 16-byte rounding: a's
    // 112-byte block gives 104, b's 1008-byte block exactly 1000.
    const auto top = heap.footprint();
    CHECK(top == offset_in(region, b) + 1000);
    heap.deallocate(b, 1000);
    CHECK(heap.footprint() == offset_in(region, a) + 104);
    CHECK(heap.stats().peak_footprint_bytes == top);
    heap.deallocate(a, 100);
    CHECK(heap.footprint() == 0);
}

TEST_CASE("tlsf: bad options and regions are rejected with a reason", "[alloc][tlsf]") {
    heap_region region(4096);
    using Catch::Matchers::Contains;
    CHECK_THROWS_WITH(tlsf_heap(region.get(), {0, 0}), Contains("second_level_log2") && Contains("1..5"));
    CHECK_THROWS_WITH(tlsf_heap(region.get(), {6, 0}), Contains("got 6"));
    CHECK_THROWS_WITH(tlsf_heap({}), Contains("null"));
    CHECK_THROWS_WITH(tlsf_heap({region.get().data(), 63}), Contains("at least 64"));
    CHECK_THROWS_AS(tlsf_heap({region.get().data(), 10}), std::invalid_argument);
    for (unsigned sli = 1; sli <= 5; ++sli) {
        tlsf_heap small({region.get().data() + 8, 64}, {sli, 0});  // misaligned start
        void* p = small.allocate(24);
        CHECK(p != nullptr);
        CHECK(addr(p) % 16 == 0);
        CHECK(small.allocate(1) == nullptr);
        small.deallocate(p, 24);
        CHECK(small.verify() == "");
    }
}

TEST_CASE("buddy: blocks are powers of two, aligned to their size", "[alloc][buddy]") {
    heap_region region(region_bytes);
    buddy_heap heap(region.get());
    std::vector<std::pair<void*, std::size_t>> live;
    for (std::size_t n : std::vector<std::size_t>{0, 1, 16, 31, 32, 33, 100, 1000, 4095, 4096, 4097, 70000}) {
        const auto before = heap.stats().granted_bytes;
        void* p = heap.allocate(n);
        REQUIRE(p != nullptr);
        const auto granted = heap.stats().granted_bytes - before;
        CHECK(std::has_single_bit(granted));
        CHECK(granted == std::max<std::size_t>(32, std::bit_ceil(n)));
        CHECK(heap.order_of(p) == static_cast<unsigned>(std::countr_zero(granted)));
        CHECK((static_cast<std::byte*>(p) - heap.base()) % static_cast<std::ptrdiff_t>(granted) == 0);
        CHECK(addr(p) % std::min<std::size_t>(granted, 4096) == 0);
        live.emplace_back(p, n);
    }
    CHECK(heap.verify() == "");
    // An alignment above the size rounds the block up to the alignment.
    const auto before = heap.stats().granted_bytes;
    void* p = heap.allocate(10, 2048);
    CHECK(addr(p) % 2048 == 0);
    CHECK(heap.stats().granted_bytes - before == 2048);
    heap.deallocate(p, 10, 2048);
    for (auto [q, n] : live) heap.deallocate(q, n);
    CHECK(heap.verify() == "");
}

TEST_CASE("buddy: buddies merge back into the full block", "[alloc][buddy]") {
    heap_region region(region_bytes * 2);
    buddy_heap heap(one_block_region(region, 32, 20));
    REQUIRE(heap.covered_bytes() == region_bytes);
    const auto fresh = heap.stats();
    REQUIRE(fresh.free_blocks == 1);
    void* a = heap.allocate(32);
    void* b = heap.allocate(32);
    REQUIRE(static_cast<std::byte*>(b) == static_cast<std::byte*>(a) + 32);  // a's buddy
    // Splitting the largest block left one free block per order from 32 B up.
    CHECK(heap.free_list_length(5) == 0);
    for (unsigned order = 6; order < 20; ++order) CHECK(heap.free_list_length(order) == 1);
    CHECK(heap.stats().largest_free_block == region_bytes / 2);
    CHECK(heap.stats().free_blocks == 14);
    heap.deallocate(a, 32);
    CHECK(heap.free_list_length(5) == 1);  // a waits for b
    heap.deallocate(b, 32);
    const auto after = heap.stats();
    CHECK(after.free_blocks == fresh.free_blocks);
    CHECK(after.largest_free_block == fresh.largest_free_block);
    CHECK(after.free_bytes == fresh.free_bytes);
    CHECK(heap.free_list_length(5) == 0);
    CHECK(heap.verify() == "");
}

TEST_CASE("buddy: min_block is the smallest block", "[alloc][buddy]") {
    heap_region region(region_bytes);
    buddy_heap heap(region.get(), {128});
    CHECK(heap.min_block() == 128);
    void* p = heap.allocate(1);
    CHECK(heap.stats().granted_bytes == 128);
    CHECK(heap.stats().internal_fragmentation() == Approx(127.0 / 128.0));
    void* q = heap.allocate(129);
    CHECK(heap.stats().granted_bytes == 128 + 256);
    heap.deallocate(p, 1);
    heap.deallocate(q, 129);
    // The order map costs one byte per min_block unit.
    CHECK(heap.overhead_bytes() >= heap.covered_bytes() / 128);
    CHECK(heap.overhead_bytes() < heap.covered_bytes() / 128 + 128 + 1);
}

TEST_CASE("buddy: footprint follows the highest live block", "[alloc][buddy]") {
    heap_region region(region_bytes * 2);
    buddy_heap heap(one_block_region(region, 32, 20));
    void* a = heap.allocate(32);    // offset 0
    void* b = heap.allocate(5000);  // an 8 KiB block at 8 KiB; free blocks of 32 B..4 KiB lie between
    REQUIRE(offset_in(region, b) == 8192);
    const auto a_end = offset_in(region, a) + 32;
    const auto b_end = offset_in(region, b) + 8192;
    CHECK(heap.footprint() == b_end);
    heap.deallocate(b, 5000);
    CHECK(heap.footprint() == a_end);
    CHECK(heap.stats().peak_footprint_bytes == b_end);
    heap.deallocate(a, 32);
    CHECK(heap.footprint() == 0);
    CHECK(heap.verify() == "");
}

TEST_CASE("buddy: a region that is not a power of two is covered by maximal blocks", "[alloc][buddy]") {
    heap_region region(region_bytes);
    buddy_heap heap(region.get(), {64});
    const std::size_t covered = heap.covered_bytes();
    CHECK(covered % 64 == 0);
    CHECK(covered + covered / 64 <= region_bytes);
    CHECK(heap.stats().free_blocks == static_cast<std::size_t>(std::popcount(covered)));
    CHECK(heap.stats().largest_free_block == std::bit_floor(covered));
    CHECK(heap.stats().free_bytes == covered);
    // The largest block is allocatable whole; the next one is smaller.
    void* big = heap.allocate(std::bit_floor(covered));
    CHECK(big == heap.base());
    CHECK(heap.allocate(std::bit_floor(covered)) == nullptr);
    heap.deallocate(big, std::bit_floor(covered));
    CHECK(heap.verify() == "");
}

TEST_CASE("buddy: bad options and regions are rejected with a reason", "[alloc][buddy]") {
    heap_region region(4096);
    using Catch::Matchers::Contains;
    CHECK_THROWS_WITH(buddy_heap(region.get(), {8}), Contains("min_block") && Contains("got 8"));
    CHECK_THROWS_WITH(buddy_heap(region.get(), {48}), Contains("power of two"));
    CHECK_THROWS_WITH(buddy_heap(region.get(), {0}), Contains("min_block"));
    CHECK_THROWS_WITH(buddy_heap({}), Contains("null"));
    CHECK_THROWS_WITH(buddy_heap(region.get(), {8192}), Contains("too small") && Contains("min_block 8192"));
    CHECK_THROWS_WITH(buddy_heap({region.get().data(), 32}), Contains("at least 33"));
    buddy_heap tiny({region.get().data(), 33});
    void* p = tiny.allocate(20);
    CHECK(p == region.get().data());
    CHECK(tiny.allocate(1) == nullptr);
    CHECK(tiny.stats().failed_allocations == 1);
    tiny.deallocate(p, 20);
    CHECK(tiny.verify() == "");
}

TEST_CASE("buddy: a start that is not page-aligned limits the alignment served", "[alloc][buddy]") {
    heap_region region(region_bytes);
    buddy_heap heap({region.get().data() + 64, region_bytes - 64});
    void* p = heap.allocate(10, 64);
    CHECK(addr(p) % 64 == 0);
    CHECK(heap.allocate(10, 128) == nullptr);
    CHECK(heap.stats().failed_allocations == 1);
    heap.deallocate(p, 10, 64);
    CHECK(heap.verify() == "");
}
