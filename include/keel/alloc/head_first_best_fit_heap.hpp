#pragma once

#include <keel/alloc/detail/fit_heap.hpp>
#include <keel/alloc/detail/fit_heap_indexes.hpp>
#include <keel/platform/memory_source.hpp>

#include <string_view>

namespace keel::alloc {

/// Head-first best fit (after Hakarsa, arXiv 2409.03488): the untouched free region
/// (the "top") stays at the high end of the heap; a request is served by best fit
/// among the free blocks below the top and carved from the low end of the top only
/// when none fits. Leftovers below the split threshold go with the block ("space
/// fit"); freed blocks coalesce with their neighbours, into the top when next to it.
/// The blocks below the top are in a (size, address)-ordered red-black tree:
/// allocation and free are O(log n); stats() is O(1).
/// Boundary tags: an 8-byte header per block, a footer only in free blocks,
/// 16-byte granularity, 48-byte minimum block; immediate coalescing on free.
/// Not thread-safe (wrap it in synchronized_heap to share it).
class head_first_best_fit_heap : public detail::fit_heap<detail::head_first_index> {
public:
    static constexpr std::string_view name = "head_first_best_fit";

    /// Manages `region` (which must outlive the heap). Throws
    /// std::invalid_argument for a null or too small region or bad options.
    explicit head_first_best_fit_heap(platform::memory_region region, fit_heap_options options = {})
        : fit_heap(region, options.split_threshold, name) {}

    /// The free block at the high end of the heap (its header address), or
    /// nullptr when the last block is in use.
    [[nodiscard]] const void* top() const noexcept { return index().top(); }
};

}  // namespace keel::alloc
