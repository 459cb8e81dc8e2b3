#pragma once

// Checks every keel heap must pass, shared by the per-heap test files:
// the promises of the heap concept, and a random-sequence fuzzer (allocate,
// fill, free, check every live block's contents and the heap's invariants).

#include <keel/alloc/heap.hpp>
#include <keel/platform/anonymous_memory.hpp>
#include <keel/platform/memory_source.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace keel::test {

/// Anonymous memory for a heap under test; unmapped at scope exit.
class heap_region {
public:
    explicit heap_region(std::size_t bytes) {
        auto r = platform::map_unique(_source, bytes);
        if (!r) throw std::runtime_error("heap_region: cannot map " + std::to_string(bytes) + " bytes");
        _region = std::move(*r);
    }
    [[nodiscard]] platform::memory_region get() const noexcept { return _region.get(); }

private:
    platform::anonymous_memory _source;
    platform::unique_region<platform::anonymous_memory> _region;
};

inline std::byte fill_byte(std::uint64_t id, std::size_t i) noexcept {
    return static_cast<std::byte>((id * 131 + i * 7 + 1) & 0xff);
}

/// The heap concept's promises, on a heap over `capacity` bytes. "" when all hold.
template <alloc::heap H>
std::string check_heap_promises(H& heap, std::size_t capacity) {
    auto fail = [](const std::string& what) { return std::string(H::name) + ": " + what; };
    if (auto v = heap.verify(); !v.empty()) return fail("fresh heap: " + v);
    const auto fresh = heap.stats();
    if (fresh.requested_bytes != 0 || fresh.granted_bytes != 0) return fail("fresh heap has live bytes");
    if (fresh.free_bytes == 0 || fresh.largest_free_block == 0) return fail("fresh heap has no free memory");

    // Alignment, ownership, contents.
    std::vector<std::pair<void*, std::pair<std::size_t, std::size_t>>> live;
    for (std::size_t align = 1; align <= alloc::max_alignment; align *= 2) {
        for (std::size_t n : {std::size_t{1}, std::size_t{24}, std::size_t{100}, std::size_t{3000}}) {
            void* p = heap.allocate(n, align);
            if (p == nullptr) return fail("allocate(" + std::to_string(n) + ", " + std::to_string(align) + ") failed");
            if (reinterpret_cast<std::uintptr_t>(p) % std::max(align, std::size_t{1}) != 0) {
                return fail("misaligned block for align " + std::to_string(align));
            }
            if (align <= alloc::default_alignment &&
                reinterpret_cast<std::uintptr_t>(p) % alloc::default_alignment != 0) {
                return fail("small alignment below default_alignment");
            }
            if (!heap.owns(p)) return fail("owns() is false for a block it gave");
            std::memset(p, 0xab, n);
            live.push_back({p, {n, align}});
        }
    }
    std::size_t requested = 0;
    for (auto& [p, na] : live) requested += na.first;
    if (heap.stats().requested_bytes != requested) return fail("requested_bytes does not add up");
    if (heap.stats().allocations != live.size()) return fail("allocations counter is wrong");
    if (auto v = heap.verify(); !v.empty()) return fail("after allocations: " + v);
    // Blocks must not overlap.
    std::sort(live.begin(), live.end());
    for (std::size_t i = 1; i < live.size(); ++i) {
        if (static_cast<std::byte*>(live[i - 1].first) + live[i - 1].second.first >
            static_cast<std::byte*>(live[i].first)) {
            return fail("blocks overlap");
        }
    }
    for (auto& [p, na] : live) heap.deallocate(p, na.first, na.second);
    if (heap.stats().requested_bytes != 0 || heap.stats().granted_bytes != 0) {
        return fail("live bytes left after freeing everything");
    }

    // Zero size: unique, non-null; nullptr deallocation ignored.
    void* z1 = heap.allocate(0, 8);
    void* z2 = heap.allocate(0, 8);
    if (z1 == nullptr || z2 == nullptr || z1 == z2) return fail("zero-size blocks are not unique and non-null");
    heap.deallocate(z1, 0, 8);
    heap.deallocate(z2, 0, 8);
    heap.deallocate(nullptr, 16, 8);

    // Oversize, impossible alignment, overflow.
    const auto failed_before = heap.stats().failed_allocations;
    if (heap.allocate(capacity + 1, 8) != nullptr) return fail("oversize request succeeded");
    if (heap.allocate(SIZE_MAX, 8) != nullptr) return fail("SIZE_MAX request succeeded");
    if (heap.allocate(SIZE_MAX - 8, 16) != nullptr) return fail("SIZE_MAX - 8 request succeeded");
    if (heap.allocate(16, 3) != nullptr) return fail("non-power-of-two alignment accepted");
    if (heap.allocate(16, alloc::max_alignment * 2) != nullptr) return fail("alignment above max_alignment accepted");
    if (heap.stats().failed_allocations != failed_before + 5) return fail("failed_allocations not counted");

    // Foreign pointers.
    int on_stack = 0;
    if (heap.owns(&on_stack)) return fail("owns() is true for a stack address");

    // Exhaustion then recovery, and coalescing back to one large block.
    std::vector<void*> small;
    for (;;) {
        void* p = heap.allocate(64, 8);
        if (p == nullptr) break;
        small.push_back(p);
        if (small.size() > capacity / 64 + 1) return fail("heap gave out more than its capacity");
    }
    if (small.empty()) return fail("no 64-byte block fits");
    if (auto v = heap.verify(); !v.empty()) return fail("when full: " + v);
    heap.deallocate(small.back(), 64, 8);
    small.pop_back();
    void* again = heap.allocate(64, 8);
    if (again == nullptr) return fail("a freed block cannot be reused when the heap is full");
    small.push_back(again);
    // Free every other block first (no merges possible), then the rest.
    for (std::size_t i = 0; i < small.size(); i += 2) heap.deallocate(small[i], 64, 8);
    if (auto v = heap.verify(); !v.empty()) return fail("half freed: " + v);
    for (std::size_t i = 1; i < small.size(); i += 2) heap.deallocate(small[i], 64, 8);
    if (auto v = heap.verify(); !v.empty()) return fail("all freed: " + v);
    const auto after = heap.stats();
    if (after.free_blocks > fresh.free_blocks) {
        return fail("free blocks did not coalesce: " + std::to_string(after.free_blocks) + " vs " +
                    std::to_string(fresh.free_blocks) + " when fresh");
    }
    if (after.largest_free_block < fresh.largest_free_block) return fail("largest free block shrank after freeing all");
    void* big = heap.allocate(capacity / 2, 8);
    if (big == nullptr) return fail("half the capacity is not allocatable after freeing all");
    heap.deallocate(big, capacity / 2, 8);
    return {};
}

/// A random walk over allocate / fill / free / check-all / verify, after
/// snmalloc's sequence fuzzer; for a resizable_heap also try_resize (grow and
/// shrink), checking that kept bytes survive, that a refusal changes nothing and
/// that the counters follow. Returns "" or what went wrong, with the seed.
template <alloc::heap H>
std::string fuzz_heap(H& heap, std::uint64_t seed, std::size_t steps, std::size_t max_size = 4096) {
    struct block {
        std::byte* p;
        std::size_t n;
        std::size_t align;
        std::uint64_t id;
    };
    std::mt19937_64 rng(seed);
    std::vector<block> live;
    std::uint64_t next_id = 1;
    std::size_t requested = 0;
    auto fail = [&](const std::string& what) {
        return std::string(H::name) + ": seed " + std::to_string(seed) + ": " + what;
    };
    auto check_prefix = [&](const block& b, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            if (b.p[i] != fill_byte(b.id, i)) return false;
        }
        return true;
    };
    auto check_block = [&](const block& b) { return check_prefix(b, b.n); };
    // Grows (two times in three) or shrinks a random live block in place.
    auto resize = [&](block& b) -> std::string {
        if (!check_block(b)) return "block contents overwritten before resize";
        const std::size_t n = rng() % 3 == 0 ? rng() % (b.n + 1)
                                             : b.n + (rng() % 4 == 0 ? rng() % (max_size + 1) : rng() % 257);
        const alloc::heap_stats before = heap.stats();
        if constexpr (alloc::resizable_heap<H>) {
            if (heap.try_resize(b.p, b.n, n, b.align)) {
                if (!check_prefix(b, std::min(b.n, n))) return "try_resize lost the kept bytes";
                for (std::size_t i = b.n; i < n; ++i) b.p[i] = fill_byte(b.id, i);
                requested = requested - b.n + n;
                b.n = n;
                if (heap.stats().resizes != before.resizes + 1) return "resizes not counted";
                return {};
            }
        }
        const alloc::heap_stats after = heap.stats();
        if (!check_block(b)) return "a refused try_resize changed the block";
        if (after.requested_bytes != before.requested_bytes || after.granted_bytes != before.granted_bytes ||
            after.resizes != before.resizes) {
            return "a refused try_resize changed the counters";
        }
        return {};
    };
    for (std::size_t step = 0; step < steps; ++step) {
        const auto action = rng() % 100;
        if (alloc::resizable_heap<H> && action >= 48 && action < 58 && !live.empty()) {
            if (auto e = resize(live[rng() % live.size()]); !e.empty()) {
                return fail(e + " (step " + std::to_string(step) + ")");
            }
        } else if (action < 55 || live.empty()) {
            // Mostly small, sometimes large sizes; occasionally a large alignment.
            std::size_t n = (rng() % 4 == 0) ? rng() % (max_size + 1) : rng() % 129;
            std::size_t align = std::size_t{1} << (rng() % 5 == 0 ? rng() % 13 : rng() % 5);
            auto* p = static_cast<std::byte*>(heap.allocate(n, align));
            if (p == nullptr) continue;  // exhaustion is allowed
            if (reinterpret_cast<std::uintptr_t>(p) % align != 0) return fail("misaligned block");
            block b{p, n, align, next_id++};
            for (std::size_t i = 0; i < n; ++i) p[i] = fill_byte(b.id, i);
            live.push_back(b);
            requested += n;
        } else if (action < 95) {
            const auto i = rng() % live.size();
            if (!check_block(live[i])) return fail("block contents overwritten before free");
            heap.deallocate(live[i].p, live[i].n, live[i].align);
            requested -= live[i].n;
            live[i] = live.back();
            live.pop_back();
        } else {
            for (const auto& b : live) {
                if (!check_block(b)) return fail("a live block was overwritten (step " + std::to_string(step) + ")");
            }
            if (auto v = heap.verify(); !v.empty()) return fail("step " + std::to_string(step) + ": " + v);
            if (heap.stats().requested_bytes != requested) return fail("requested_bytes drifted");
        }
    }
    for (const auto& b : live) {
        if (!check_block(b)) return fail("a live block was overwritten");
        heap.deallocate(b.p, b.n, b.align);
    }
    if (auto v = heap.verify(); !v.empty()) return fail("at the end: " + v);
    if (heap.stats().granted_bytes != 0) return fail("granted bytes left after freeing everything");
    return {};
}

}  // namespace keel::test
