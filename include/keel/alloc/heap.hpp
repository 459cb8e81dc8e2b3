#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace keel::alloc {

/// The largest alignment every keel heap honours: the x86-64 (and minimum
/// common) page size. Heap regions start page-aligned, so a block aligned to
/// this needs no more than padding inside the region.
inline constexpr std::size_t max_alignment = 4096;

/// The alignment a heap gives when asked for 1, 2, 4 or 8 (what malloc gives).
inline constexpr std::size_t default_alignment = alignof(std::max_align_t);

/// True for a power of two no larger than max_alignment.
[[nodiscard]] constexpr bool is_valid_alignment(std::size_t align) noexcept {
    return align != 0 && (align & (align - 1)) == 0 && align <= max_alignment;
}

/// What a heap reports about itself. Plain data.
///  - requested_bytes: sum of the sizes callers asked for, over live blocks
///    (Johnstone & Wilson's "live").
///  - granted_bytes: bytes held by live blocks, headers and rounding included;
///    granted - requested is internal fragmentation.
///  - free_bytes: bytes in free blocks (capacity - granted, minus bytes the heap
///    keeps for itself, such as TLSF's control block).
///  - largest_free_block, free_blocks: the free blocks, as the heap sees them
///    (headers included).
///  - footprint_bytes: from the start of each region to the end of its highest
///    live block, summed over regions: the memory the heap has touched, the
///    counterpart of sbrk's break (J&W's "heap").
///  - peak_*: high-water marks since construction.
///  - resizes: blocks grown or shrunk in place by try_resize (see
///    resizable_heap); a resize is neither an allocation nor a deallocation.
struct heap_stats {
    std::size_t capacity_bytes = 0;
    std::size_t requested_bytes = 0;
    std::size_t granted_bytes = 0;
    std::size_t free_bytes = 0;
    std::size_t largest_free_block = 0;
    std::size_t free_blocks = 0;
    std::size_t footprint_bytes = 0;
    std::size_t peak_requested_bytes = 0;
    std::size_t peak_footprint_bytes = 0;
    std::uint64_t allocations = 0;
    std::uint64_t deallocations = 0;
    std::uint64_t failed_allocations = 0;
    std::uint64_t resizes = 0;

    /// 1 - largest free block / free bytes: 0 when all free memory is one block.
    [[nodiscard]] double external_fragmentation() const noexcept {
        return free_bytes == 0 ? 0.0
                               : 1.0 - static_cast<double>(largest_free_block) /
                                           static_cast<double>(free_bytes);
    }
    /// (granted - requested) / granted over live blocks.
    [[nodiscard]] double internal_fragmentation() const noexcept {
        return granted_bytes == 0 ? 0.0
                                  : static_cast<double>(granted_bytes - requested_bytes) /
                                        static_cast<double>(granted_bytes);
    }
};

/// A heap: a dynamic memory manager over memory it was given.
///  - allocate(n, align): a block of at least n bytes aligned to align, or nullptr
///    when the heap cannot serve it (exhausted, oversize, or align not
///    is_valid_alignment). Never throws. n == 0 gives a unique non-null block.
///  - deallocate(p, n, align): gives back a block from allocate with the same n
///    and align; nullptr is ignored. Never throws.
///  - owns(p): whether p lies in memory this heap manages (not whether it is live).
///  - stats(): see heap_stats; its cost is each heap's to document (counters are
///    O(1), largest_free_block may walk the free structure).
///  - footprint(): heap_stats::footprint_bytes in O(1), for trace replay.
///  - verify(): walks the heap and checks its invariants; "" when consistent,
///    else what is wrong. For tests and debugging: O(heap size).
///  - H::name: the heap's name, as the keel-alloc tool spells it.
/// Heaps are not thread-safe; wrap one in synchronized_heap to share it.
template <class H>
concept heap = requires(H& h, const H& ch, void* p, std::size_t n, std::size_t align) {
    { h.allocate(n, align) } noexcept -> std::same_as<void*>;
    { h.deallocate(p, n, align) } noexcept;
    { ch.owns(p) } noexcept -> std::same_as<bool>;
    { ch.stats() } noexcept -> std::same_as<heap_stats>;
    { ch.footprint() } noexcept -> std::same_as<std::size_t>;
    { ch.verify() } -> std::same_as<std::string>;
    { H::name } -> std::convertible_to<std::string_view>;
};

/// A heap that can also grow or shrink a live block where it lies:
///  - try_resize(p, old_size, new_size, align): p is a live block from allocate
///    (or an earlier try_resize) of old_size bytes, allocated with align. On
///    true, the block at p now holds new_size bytes, its first
///    min(old_size, new_size) bytes unchanged, still aligned to align, and is
///    freed later as deallocate(p, new_size, align); stats count new_size as
///    requested. On false nothing changed: the block still holds old_size bytes.
///    Growth takes room from the free block just above; shrinking gives the
///    tail back (merged with a free block above). Never throws; never moves
///    the block (a caller that must grow falls back to allocate, copy, free).
/// Optional: heaps that cannot do it (buddy_heap) are still heaps, and
/// adapters forward try_resize only when the heap they wrap has it.
template <class H>
concept resizable_heap = heap<H> && requires(H& h, void* p, std::size_t n, std::size_t align) {
    { h.try_resize(p, n, n, align) } noexcept -> std::same_as<bool>;
};

}  // namespace keel::alloc
