#pragma once

#include <keel/alloc/detail/fit_heap.hpp>
#include <keel/alloc/detail/fit_heap_indexes.hpp>
#include <keel/platform/memory_source.hpp>

#include <string_view>

namespace keel::alloc {

/// Best fit: the smallest free block that fits, the lowest address among equal sizes.
/// Free blocks are kept in a red-black tree ordered by (size, address)
/// (Boost.Intrusive, nodes inside the free blocks): allocation and free are O(log n);
/// stats() is O(1).
/// Boundary tags: an 8-byte header per block, a footer only in free blocks,
/// 16-byte granularity, 48-byte minimum block; immediate coalescing on free.
/// Not thread-safe (wrap it in synchronized_heap to share it).
class best_fit_heap : public detail::fit_heap<detail::best_fit_index> {
public:
    static constexpr std::string_view name = "best_fit";

    /// Manages `region` (which must outlive the heap). Throws
    /// std::invalid_argument for a null or too small region or bad options.
    explicit best_fit_heap(platform::memory_region region, fit_heap_options options = {})
        : fit_heap(region, options.split_threshold, name) {}
};

}  // namespace keel::alloc
