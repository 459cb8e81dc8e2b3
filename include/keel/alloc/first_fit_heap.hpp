#pragma once

#include <keel/alloc/detail/fit_heap.hpp>
#include <keel/alloc/detail/fit_heap_indexes.hpp>
#include <keel/platform/memory_source.hpp>

#include <string_view>

namespace keel::alloc {

/// First fit: the lowest-address free block that fits. Free blocks are kept in an
/// address-ordered red-black tree (Boost.Intrusive, nodes inside the free blocks):
/// free is O(log n), allocation walks the tree in address order, O(free blocks) at
/// worst; stats() walks the free blocks for the largest one.
/// Boundary tags: an 8-byte header per block, a footer only in free blocks,
/// 16-byte granularity, 48-byte minimum block; immediate coalescing on free.
/// Not thread-safe (wrap it in synchronized_heap to share it).
class first_fit_heap : public detail::fit_heap<detail::first_fit_index> {
public:
    static constexpr std::string_view name = "first_fit";

    /// Manages `region` (which must outlive the heap). Throws
    /// std::invalid_argument for a null or too small region or bad options.
    explicit first_fit_heap(platform::memory_region region, fit_heap_options options = {})
        : fit_heap(region, options.split_threshold, name) {}
};

}  // namespace keel::alloc
