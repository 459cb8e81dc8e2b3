#pragma once

#include <keel/alloc/detail/fit_heap.hpp>
#include <keel/alloc/detail/fit_heap_indexes.hpp>
#include <keel/platform/memory_source.hpp>

#include <string_view>

namespace keel::alloc {

/// Next fit: first fit that starts where the last placement ended (the rover) and
/// wraps round once. Address-ordered red-black tree: free is O(log n), allocation
/// O(log n) to find the rover plus a walk, O(free blocks) at worst; stats() walks the
/// free blocks for the largest one.
/// Boundary tags: an 8-byte header per block, a footer only in free blocks,
/// 16-byte granularity, 48-byte minimum block; immediate coalescing on free.
/// Not thread-safe (wrap it in synchronized_heap to share it).
class next_fit_heap : public detail::fit_heap<detail::next_fit_index> {
public:
    static constexpr std::string_view name = "next_fit";

    /// Manages `region` (which must outlive the heap). Throws
    /// std::invalid_argument for a null or too small region or bad options.
    explicit next_fit_heap(platform::memory_region region, fit_heap_options options = {})
        : fit_heap(region, options.split_threshold, name) {}

    /// Where the next search starts (nullptr before the first placement).
    [[nodiscard]] const void* rover() const noexcept { return index().rover(); }
};

}  // namespace keel::alloc
