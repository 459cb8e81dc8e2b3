#pragma once

#include <keel/alloc/detail/fit_heap.hpp>
#include <keel/alloc/detail/fit_heap_indexes.hpp>
#include <keel/platform/memory_source.hpp>

#include <string_view>

namespace keel::alloc {

/// Worst fit: the largest free block. A red-black tree ordered by (size, address):
/// allocation and free are O(log n); stats() is O(1).
/// Boundary tags: an 8-byte header per block, a footer only in free blocks,
/// 16-byte granularity, 48-byte minimum block; immediate coalescing on free.
/// Not thread-safe (wrap it in synchronized_heap to share it).
class worst_fit_heap : public detail::fit_heap<detail::worst_fit_index> {
public:
    static constexpr std::string_view name = "worst_fit";

    /// Manages `region` (which must outlive the heap). Throws
    /// std::invalid_argument for a null or too small region or bad options.
    explicit worst_fit_heap(platform::memory_region region, fit_heap_options options = {})
        : fit_heap(region, options.split_threshold, name) {}
};

}  // namespace keel::alloc
