#pragma once

#include <keel/alloc/any_heap.hpp>
#include <keel/platform/memory_source.hpp>

#include <cstddef>
#include <span>
#include <string_view>

namespace keel::alloc {

/// Tunable parameters of the heaps, by the names keel-alloc uses. 0 means the
/// heap's own default. Each heap reads the fields that apply to it. Plain data.
struct heap_parameters {
    std::size_t split_threshold = 0;       ///< smallest remainder a heap splits off a free block
    unsigned tlsf_second_level_log2 = 0;   ///< TLSF: log2 of the lists per power of two (1..5)
    std::size_t buddy_min_block = 0;       ///< buddy: smallest block, a power of two
    unsigned adaptive_size_classes = 0;    ///< adaptive: size classes it learns a policy for
};

/// Names of every heap keel has, in the order keel-alloc lists them.
[[nodiscard]] std::span<const std::string_view> heap_names() noexcept;

/// Builds the heap called `name` over `region` (which must outlive it).
/// Throws std::invalid_argument for an unknown name (the message lists the known
/// ones) or parameters the heap rejects.
[[nodiscard]] any_heap make_heap(std::string_view name, platform::memory_region region,
                                 const heap_parameters& parameters = {});

}  // namespace keel::alloc
