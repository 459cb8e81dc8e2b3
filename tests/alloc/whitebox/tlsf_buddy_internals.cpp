// Internals of tlsf_heap and buddy_heap: the TLSF size-class mapping, its
// bitmaps against its lists, the buddy order map, and verify() catching
// corrupted metadata.

#include <keel/alloc/buddy_heap.hpp>
#include <keel/alloc/tlsf_heap.hpp>

#include <heap_checks.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using keel::alloc::buddy_heap;
using keel::alloc::tlsf_heap;
using keel::alloc::detail::tlsf_mapping;
using keel::test::heap_region;
namespace detail = keel::alloc::detail;

namespace {

// The mapping as the paper states it, with a loop for the bit index.
tlsf_mapping::index reference_index(std::size_t size, unsigned sli) {
    const std::size_t small = std::size_t{1} << (sli + 4);
    if (size < small) return {0, static_cast<unsigned>(size / 16)};
    unsigned top = 0;
    while (top < 63 && (size >> (top + 1)) != 0) ++top;
    const std::size_t width = (std::size_t{1} << top) >> sli;
    return {top - sli - 3, static_cast<unsigned>((size - (std::size_t{1} << top)) / width)};
}

std::string str(tlsf_mapping::index i) { return "(" + std::to_string(i.fl) + ", " + std::to_string(i.sl) + ")"; }

}  // namespace

namespace Catch {
template <>
struct StringMaker<tlsf_mapping::index> {
    static std::string convert(tlsf_mapping::index i) { return str(i); }
};
}  // namespace Catch

TEST_CASE("tlsf mapping: boundaries of the small range and of each level", "[alloc][tlsf][whitebox]") {
    for (unsigned sli = 1; sli <= 5; ++sli) {
        INFO("sli " << sli);
        const tlsf_mapping m{sli};
        const std::size_t small = std::size_t{1} << (sli + 4);
        const unsigned last_sl = (1u << sli) - 1;
        CHECK(m.small_limit() == small);
        if (sli > 1) CHECK(m.insert(32) == tlsf_mapping::index{0, 2});  // with 2 lists, 32 B is already level 1
        CHECK(m.insert(small - 16) == tlsf_mapping::index{0, last_sl});
        CHECK(m.insert(small - 1) == tlsf_mapping::index{0, last_sl});
        CHECK(m.insert(small) == tlsf_mapping::index{1, 0});
        CHECK(m.insert(small + 16) == tlsf_mapping::index{1, 1});
        CHECK(m.insert(2 * small - 1) == tlsf_mapping::index{1, last_sl});
        CHECK(m.insert(2 * small) == tlsf_mapping::index{2, 0});
        // The last list of the largest level.
        CHECK(m.insert(SIZE_MAX) == tlsf_mapping::index{63 - sli - 3, last_sl});
        for (unsigned top = sli + 4; top < 63; ++top) {
            const std::size_t p = std::size_t{1} << top;
            CHECK(m.insert(p) == tlsf_mapping::index{top - sli - 3, 0});
            CHECK(m.insert(p - 1) == tlsf_mapping::index{top - sli - 4, last_sl});
            CHECK(m.insert(p + (p >> sli)) == tlsf_mapping::index{top - sli - 3, 1});
            CHECK(m.insert(p + (p >> sli) - 1) == tlsf_mapping::index{top - sli - 3, 0});
        }
    }
    // Literal values for the default (32 lists per level).
    const tlsf_mapping m5{5};
    CHECK(m5.insert(500) == tlsf_mapping::index{0, 31});
    CHECK(m5.insert(1056) == tlsf_mapping::index{2, 1});
    CHECK(m5.insert(4096) == tlsf_mapping::index{4, 0});
    CHECK(m5.insert(4095) == tlsf_mapping::index{3, 31});
    const tlsf_mapping m4{4};
    CHECK(m4.insert(1000) == tlsf_mapping::index{2, 15});
}

TEST_CASE("tlsf mapping: agrees with the paper's formula - search rounds to a list floor", "[alloc][tlsf][whitebox]") {
    std::mt19937_64 rng(7);
    for (unsigned sli = 1; sli <= 5; ++sli) {
        const tlsf_mapping m{sli};
        std::vector<std::size_t> sizes;
        for (std::size_t s = 16; s <= 65536; s += 16) sizes.push_back(s);
        for (int i = 0; i < 20000; ++i) sizes.push_back((rng() >> (rng() % 60)) | 16);
        for (std::size_t s : sizes) {
            const auto i = m.insert(s);
            const auto r = reference_index(s, sli);
            if (!(i == r)) FAIL("sli " << sli << " size " << s << ": " << str(i) << " but the paper gives " << str(r));
            // The list floor is the smallest size of the list.
            if (m.list_floor(i) > s || m.insert(m.list_floor(i)) != i) {
                FAIL("sli " << sli << " size " << s << ": bad list floor " << m.list_floor(i));
            }
            if (s > (SIZE_MAX >> 1)) continue;
            // Searching: the smallest list floor at or above s, so any block there fits.
            const auto found = m.search(s);
            const std::size_t floor = m.list_floor(found);
            const bool is_floor = m.list_floor(i) == s;
            if (floor < s || (is_floor && !(found == i)) || (!is_floor && m.insert(floor - 1) != i)) {
                FAIL("sli " << sli << " size " << s << ": search gives " << str(found) << " (floor " << floor << ")");
            }
        }
    }
}

TEST_CASE("tlsf: the bitmaps agree with the free lists", "[alloc][tlsf][whitebox]") {
    for (unsigned sli : {1u, 3u, 5u}) {
        INFO("sli " << sli);
        heap_region region(std::size_t{1} << 20);
        tlsf_heap heap(region.get(), {sli, 0});
        std::mt19937_64 rng(sli);
        std::vector<std::pair<void*, std::size_t>> live;
        for (int step = 0; step < 3000; ++step) {
            if (live.empty() || rng() % 3 != 0) {
                const std::size_t n = 16 + rng() % 4000;
                if (void* p = heap.allocate(n)) live.emplace_back(p, n);
            } else {
                const auto i = rng() % live.size();
                heap.deallocate(live[i].first, live[i].second);
                live[i] = live.back();
                live.pop_back();
            }
            if (step % 500 != 499) continue;
            std::size_t listed = 0;
            for (unsigned fl = 0; fl < detail::tlsf_max_first; ++fl) {
                bool any = false;
                for (unsigned sl = 0; sl < detail::tlsf_max_second; ++sl) {
                    const std::size_t len = heap.free_list_length(fl, sl);
                    const bool bit = ((heap.second_level_bitmap(fl) >> sl) & 1u) != 0;
                    REQUIRE(bit == (len != 0));
                    if (sl >= (1u << sli)) REQUIRE(len == 0);
                    any = any || bit;
                    listed += len;
                }
                REQUIRE((((heap.first_level_bitmap() >> fl) & 1u) != 0) == any);
            }
            REQUIRE(listed == heap.stats().free_blocks);
            REQUIRE(listed > 1);
            REQUIRE(heap.verify() == "");
        }
        for (auto [p, n] : live) heap.deallocate(p, n);
        CHECK(heap.stats().free_blocks == 1);
        CHECK(std::popcount(heap.first_level_bitmap()) == 1);
    }
}

TEST_CASE("tlsf: the largest free block is read off the highest list", "[alloc][tlsf][whitebox]") {
    heap_region region(std::size_t{1} << 16);
    tlsf_heap heap(region.get());
    const auto whole = heap.stats().largest_free_block;
    CHECK(whole == (std::size_t{1} << 16) - heap.overhead_bytes());
    void* a = heap.allocate(20000);
    CHECK(heap.stats().largest_free_block == whole - tlsf_heap::block_size_of(a));
    heap.deallocate(a, 20000);
    CHECK(heap.stats().largest_free_block == whole);
}

TEST_CASE("tlsf: verify() reports corrupted headers", "[alloc][tlsf][whitebox]") {
    heap_region region(std::size_t{1} << 16);
    tlsf_heap heap(region.get());
    auto* a = static_cast<std::byte*>(heap.allocate(100));
    auto* b = static_cast<std::byte*>(heap.allocate(200));
    auto* c = static_cast<std::byte*>(heap.allocate(300));
    auto* d = static_cast<std::byte*>(heap.allocate(40));
    std::memset(b, 0xff, 200);
    heap.deallocate(c, 300);  // a free block between b and d
    REQUIRE(heap.verify() == "");
    auto* a_hdr = reinterpret_cast<detail::tlsf_block*>(a - detail::tlsf_payload_offset);
    auto* c_hdr = reinterpret_cast<detail::tlsf_block*>(c - detail::tlsf_payload_offset);
    auto* d_hdr = reinterpret_cast<detail::tlsf_block*>(d - detail::tlsf_payload_offset);
    const std::size_t a_word = a_hdr->size_flags;
    const std::size_t c_word = c_hdr->size_flags;
    const std::size_t d_word = d_hdr->size_flags;
    detail::tlsf_block* const c_next = c_hdr->next_free;

    SECTION("a size that walks into user data") {
        a_hdr->size_flags = a_word + 16;  // lands inside b's 0xff bytes
        CHECK(heap.verify() != "");
    }
    SECTION("a size that runs past the end") {
        a_hdr->size_flags = (std::size_t{1} << 20) | (a_word & detail::tlsf_flag_mask);
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("past the end"));
    }
    SECTION("a size below the minimum block") {
        a_hdr->size_flags = 16;
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("minimum block"));
    }
    SECTION("reserved bits") {
        a_hdr->size_flags = a_word | 8;  // 4 is the quick-list bit
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("reserved"));
    }
    SECTION("a used block marked free") {
        a_hdr->size_flags = a_word | detail::tlsf_free_bit;
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("prev-free flag"));
    }
    SECTION("a lost prev-free flag") {
        d_hdr->size_flags = d_word & ~detail::tlsf_prev_free_bit;
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("prev-free flag"));
    }
    SECTION("a wrong boundary tag") {
        d_hdr->prev_phys = a_hdr;
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("boundary tag"));
    }
    SECTION("a free-list link to a used block") {
        c_hdr->next_free = a_hdr;
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("offset " + std::to_string(a_hdr->bytes() - region.get().data()) + " is not a free block"));
    }
    SECTION("a listed block marked used") {
        c_hdr->size_flags = c_word & ~detail::tlsf_free_bit;
        d_hdr->size_flags = d_word & ~detail::tlsf_prev_free_bit;
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("not a free block"));
    }
    a_hdr->size_flags = a_word;
    c_hdr->size_flags = c_word;
    d_hdr->size_flags = d_word;
    d_hdr->prev_phys = c_hdr;
    c_hdr->next_free = c_next;
    CHECK(heap.verify() == "");
}

TEST_CASE("tlsf quick lists park a freed small block and hand it back", "[alloc][tlsf][quick][whitebox]") {
    heap_region region(std::size_t{1} << 20);
    tlsf_heap heap(region.get(), {.quick_bytes = 4096});
    void* p = heap.allocate(100);
    void* pin = heap.allocate(100);
    const auto before = heap.stats();
    heap.deallocate(p, 100);
    auto s = heap.stats();
    // Parked: free for the counters, not merged (its neighbours are untouched).
    CHECK(s.granted_bytes == before.granted_bytes - 112);
    CHECK(s.requested_bytes == 100);
    CHECK(s.free_bytes == before.free_bytes + 112);
    CHECK(s.free_blocks == before.free_blocks + 1);
    CHECK(s.footprint_bytes == before.footprint_bytes);
    CHECK(heap.quick_blocks() == 1);
    CHECK(heap.quick_bytes_held() == 112);
    CHECK(heap.verify() == "");
    // The same class is served from the quick list: the same block, nothing split.
    void* q = heap.allocate(97);
    CHECK(q == p);
    CHECK(heap.quick_blocks() == 0);
    CHECK(heap.stats().granted_bytes == before.granted_bytes);
    CHECK(heap.verify() == "");
    heap.deallocate(q, 97);
    heap.deallocate(pin, 100);
    CHECK(heap.quick_blocks() == 2);
    CHECK(heap.stats().granted_bytes == 0);
    CHECK(heap.verify() == "");
    heap.flush_quick();
    CHECK(heap.quick_blocks() == 0);
    CHECK(heap.stats().free_blocks == 1);  // everything merged again
    CHECK(heap.stats().footprint_bytes == 0);
    CHECK(heap.verify() == "");
}

TEST_CASE("tlsf quick lists: reach, the byte bound and the size limit", "[alloc][tlsf][quick][whitebox]") {
    heap_region region(std::size_t{1} << 20);
    SECTION("a request looks quick_reach classes up from its own") {
        for (unsigned reach : {1u, 4u}) {
            tlsf_heap heap(region.get(), {.quick_bytes = 4096, .quick_reach = reach});
            void* p = heap.allocate(150);  // a 160-byte block, two classes above 128
            void* pin = heap.allocate(16);
            heap.deallocate(p, 150);
            void* q = heap.allocate(120);  // needs 128
            // Reach 4 takes the parked block whole. Reach 1 finds nothing parked
            // and would carve from the top, raising the footprint: it merges the
            // parked blocks first and splits the merged block instead.
            CHECK(q == p);
            CHECK(heap.stats().granted_bytes == (reach == 4 ? 160u : 128u) + 32u);
            CHECK(heap.quick_blocks() == 0);
            CHECK(heap.verify() == "");
            heap.deallocate(q, 120);
            heap.deallocate(pin, 16);
        }
    }
    SECTION("at most quick_bytes are parked; the rest merge at once") {
        tlsf_heap heap(region.get(), {.quick_bytes = 256});
        std::vector<void*> blocks;
        for (int i = 0; i < 6; ++i) blocks.push_back(heap.allocate(100));  // 112-byte blocks
        for (void* b : blocks) heap.deallocate(b, 100);
        CHECK(heap.quick_blocks() == 2);
        CHECK(heap.quick_bytes_held() == 224);
        CHECK(heap.verify() == "");
    }
    SECTION("blocks above quick_max_block are never parked") {
        tlsf_heap heap(region.get(), {.quick_bytes = 1 << 16, .quick_max_block = 1024});
        void* small = heap.allocate(1000);
        void* large = heap.allocate(1100);
        void* pin = heap.allocate(16);
        heap.deallocate(large, 1100);
        heap.deallocate(small, 1000);
        CHECK(heap.quick_blocks() == 1);
        CHECK(heap.quick_bytes_held() == 1008);
        CHECK(heap.verify() == "");
        heap.deallocate(pin, 16);
    }
    SECTION("bad quick_reach is rejected") {
        CHECK_THROWS_AS(tlsf_heap(region.get(), {.quick_reach = 0}), std::invalid_argument);
        CHECK_THROWS_AS(tlsf_heap(region.get(), {.quick_reach = 9}), std::invalid_argument);
    }
}

TEST_CASE("tlsf quick lists are flushed before the footprint grows", "[alloc][tlsf][quick][whitebox]") {
    heap_region region(std::size_t{1} << 20);
    tlsf_heap heap(region.get(), {.quick_bytes = 1 << 16});
    std::vector<void*> blocks;
    for (int i = 0; i < 8; ++i) blocks.push_back(heap.allocate(1000));
    void* pin = heap.allocate(16);
    for (void* b : blocks) heap.deallocate(b, 1000);
    CHECK(heap.quick_blocks() == 8);
    const auto footprint = heap.footprint();
    // 4 KiB fits in five of the parked blocks merged, not in any one of them:
    // they are merged (the last freed first) until that is so, the rest stay parked.
    void* p = heap.allocate(4096);
    CHECK(heap.quick_blocks() == 3);
    CHECK(heap.footprint() == footprint);
    CHECK(p == blocks[3]);
    CHECK(heap.verify() == "");
    heap.deallocate(p, 4096);
    heap.deallocate(pin, 16);
}

TEST_CASE("tlsf quick lists are flushed when an allocation would fail", "[alloc][tlsf][quick][whitebox]") {
    heap_region region(std::size_t{64} << 10);
    tlsf_heap heap(region.get(), {.quick_bytes = std::size_t{1} << 20});  // may park everything
    std::vector<void*> blocks;
    while (void* p = heap.allocate(200)) blocks.push_back(p);
    for (void* b : blocks) heap.deallocate(b, 200);
    CHECK(heap.quick_blocks() == blocks.size());
    CHECK(heap.stats().granted_bytes == 0);
    const auto failed = heap.stats().failed_allocations;  // the one that ended the loop
    // Only the merged memory holds this: the allocation flushes, then succeeds.
    void* big = heap.allocate(32 << 10);
    REQUIRE(big != nullptr);
    CHECK(heap.quick_blocks() == 0);
    CHECK(heap.stats().failed_allocations == failed);
    CHECK(heap.verify() == "");
    heap.deallocate(big, 32 << 10);
    CHECK(heap.verify() == "");
}

TEST_CASE("tlsf with quick lists survives the fuzzer, resizes included", "[alloc][tlsf][quick][stress]") {
    for (unsigned reach : {1u, 4u}) {
        for (std::uint64_t seed : {31u, 32u}) {
            heap_region region(std::size_t{1} << 18);
            tlsf_heap heap(region.get(), {.quick_bytes = 16 << 10, .quick_reach = reach});
            REQUIRE(keel::test::fuzz_heap(heap, seed, 8000) == "");
            heap.flush_quick();
            CHECK(heap.stats().free_blocks == 1);
            CHECK(heap.verify() == "");
        }
    }
}

TEST_CASE("buddy: the order map records heads, tails and free bits", "[alloc][buddy][whitebox]") {
    heap_region region(std::size_t{1} << 17);
    // 2^16 bytes of blocks in 32-byte units, plus one map byte per unit.
    buddy_heap heap({region.get().data(), 33 * 2048});
    REQUIRE(heap.covered_bytes() == std::size_t{1} << 16);
    auto map = heap.order_map();
    REQUIRE(map.size() == 2048);
    CHECK(map[0] == detail::buddy_head(16, true));
    CHECK(map[2047] == detail::buddy_tail(16));
    for (std::size_t u = 1; u < 2047; ++u) REQUIRE(map[u] == 0);

    void* a = heap.allocate(20);  // splits 64 KiB down to 32 B
    REQUIRE(a == heap.base());
    CHECK(map[0] == detail::buddy_head(5, false));  // one unit: head only
    CHECK(map[1] == detail::buddy_head(5, true));   // a's buddy
    for (unsigned k = 6; k < 16; ++k) {
        const std::size_t first = (std::size_t{1} << k) / 32;
        const std::size_t last = 2 * first - 1;
        INFO("order " << k);
        CHECK(map[first] == detail::buddy_head(k, true));
        CHECK(map[last] == detail::buddy_tail(k));
        CHECK(heap.free_list_length(k) == 1);
    }
    CHECK(heap.order_of(a) == 5);
    CHECK(heap.order_of(static_cast<std::byte*>(a) + 32) == 5);
    CHECK(heap.order_of(static_cast<std::byte*>(a) + 16) == 0);  // not a block start

    void* b = heap.allocate(3000);  // the free 4 KiB block
    CHECK(static_cast<std::byte*>(b) == heap.base() + 4096);
    CHECK(map[128] == detail::buddy_head(12, false));
    CHECK(map[255] == detail::buddy_tail(12));
    heap.deallocate(a, 20);
    heap.deallocate(b, 3000);
    CHECK(map[0] == detail::buddy_head(16, true));
    CHECK(map[2047] == detail::buddy_tail(16));
    for (std::size_t u = 1; u < 2047; ++u) REQUIRE(map[u] == 0);
    CHECK(heap.verify() == "");
}

TEST_CASE("buddy: verify() reports a corrupted order map or free list", "[alloc][buddy][whitebox]") {
    heap_region region(std::size_t{1} << 17);
    buddy_heap heap({region.get().data(), 33 * 2048});
    auto* map = const_cast<std::uint8_t*>(heap.order_map().data());
    void* a = heap.allocate(20);   // unit 0
    void* b = heap.allocate(100);  // a 128-byte block at unit 4
    REQUIRE(heap.verify() == "");
    const std::vector<std::uint8_t> saved(map, map + 2048);
    auto* free_64 = reinterpret_cast<detail::buddy_node*>(region.get().data() + 64);  // a free 64-byte block
    detail::buddy_node* const saved_next = free_64->next;

    SECTION("a used block marked free") {
        map[0] = detail::buddy_head(5, true);
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("free"));
    }
    SECTION("a wrong order") {
        map[4] = detail::buddy_head(8, false);
        CHECK(heap.verify() != "");
    }
    SECTION("a missing head") {
        map[1] = 0;
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("no block head"));
    }
    SECTION("a stray entry inside a block") {
        map[300] = 3;
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("inside the block"));
    }
    SECTION("a wrong tail tag") {
        map[7] = 6;
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("tail"));
    }
    SECTION("a free-list link into a used block") {
        free_64->next = static_cast<detail::buddy_node*>(b);
        CHECK_THAT(heap.verify(), Catch::Matchers::Contains("order 6"));
    }
    std::memcpy(map, saved.data(), saved.size());
    free_64->next = saved_next;
    CHECK(heap.verify() == "");
    heap.deallocate(a, 20);
    heap.deallocate(b, 100);
    CHECK(heap.verify() == "");
}
