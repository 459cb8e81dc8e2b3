#pragma once

#include <keel/alloc/detail/poison.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>

// Block layout and size classes of tlsf_heap (Masmano et al., ECRTS'04).

#if defined(KEEL_ALLOC_ASAN)
extern "C" void* __asan_region_is_poisoned(void* beg, std::size_t size);
#endif

namespace keel::alloc::detail {

/// Block sizes are multiples of this, and every payload is aligned to it.
inline constexpr std::size_t tlsf_granule = 16;
inline constexpr unsigned tlsf_granule_log2 = 4;
/// From a block's start to its payload (prev_phys and size_flags).
inline constexpr std::size_t tlsf_payload_offset = 16;
/// A used block of size s gives s - 8 usable bytes: its payload runs over the
/// next block's prev_phys word, which only a free block needs.
inline constexpr std::size_t tlsf_used_overhead = 8;
/// Room for the header words and the two free-list links.
inline constexpr std::size_t tlsf_min_block = 32;
/// The sentinel at the end of the heap: prev_phys and size_flags only.
inline constexpr std::size_t tlsf_sentinel_bytes = 16;

inline constexpr std::size_t tlsf_free_bit = 1;       ///< this block is free
inline constexpr std::size_t tlsf_prev_free_bit = 2;  ///< the physically previous block is free
/// The block is free but parked in a quick list (deferred coalescing): for its
/// neighbours it is in use (not merged), for the counters it is free.
inline constexpr std::size_t tlsf_quick_bit = 4;
inline constexpr std::size_t tlsf_flag_mask = tlsf_granule - 1;
/// Quick lists exist for the first this many first-level classes.
inline constexpr unsigned tlsf_quick_levels = 16;

/// Lists per level are at most 2^5; levels at most 64 (sizes below 2^64).
inline constexpr unsigned tlsf_max_second_log2 = 5;
inline constexpr unsigned tlsf_max_second = 1u << tlsf_max_second_log2;
inline constexpr unsigned tlsf_max_first = 64;

/// A block header, at a 16-byte aligned address; the payload starts at +16.
/// prev_phys is valid only while the previous block is free (a boundary tag
/// stored in that block's last word). next_free and prev_free exist only in
/// free blocks, where the payload would be.
struct tlsf_block {
    tlsf_block* prev_phys;
    std::size_t size_flags;
    tlsf_block* next_free;
    tlsf_block* prev_free;

    [[nodiscard]] std::size_t size() const noexcept { return size_flags & ~tlsf_flag_mask; }
    [[nodiscard]] bool is_free() const noexcept { return (size_flags & tlsf_free_bit) != 0; }
    [[nodiscard]] bool is_prev_free() const noexcept { return (size_flags & tlsf_prev_free_bit) != 0; }
    [[nodiscard]] std::byte* bytes() noexcept { return reinterpret_cast<std::byte*>(this); }
    [[nodiscard]] const std::byte* bytes() const noexcept { return reinterpret_cast<const std::byte*>(this); }
    [[nodiscard]] tlsf_block* at(std::size_t offset) noexcept {
        return reinterpret_cast<tlsf_block*>(bytes() + offset);
    }
    [[nodiscard]] void* payload() noexcept { return bytes() + tlsf_payload_offset; }
    [[nodiscard]] static tlsf_block* from_payload(void* p) noexcept {
        return reinterpret_cast<tlsf_block*>(static_cast<std::byte*>(p) - tlsf_payload_offset);
    }
};
static_assert(sizeof(tlsf_block) == tlsf_min_block);

/// Size -> (first level, second level) list index, for 2^sli lists per level.
/// Sizes below 2^(sli+4) ("small") share first level 0, in 16-byte classes;
/// above, first level fl covers [2^(fl+sli+3), 2^(fl+sli+4)) in 2^sli equal
/// parts. Branch-free: the small range is folded into the same formula by
/// clamping the bit index from below.
struct tlsf_mapping {
    unsigned sli = 5;
    // Derived from sli once, so the hot path does no shifts to find them.
    unsigned min_top = sli + tlsf_granule_log2;  ///< log2 of the first size of level 1
    unsigned sl_mask = (1u << sli) - 1;
    std::size_t small_mask = (std::size_t{1} << min_top) - 1;

    constexpr tlsf_mapping() noexcept = default;
    constexpr explicit tlsf_mapping(unsigned second_level_log2) noexcept
        : sli(second_level_log2),
          min_top(second_level_log2 + tlsf_granule_log2),
          sl_mask((1u << second_level_log2) - 1),
          small_mask((std::size_t{1} << min_top) - 1) {}

    struct index {
        unsigned fl;
        unsigned sl;
        friend constexpr bool operator==(index, index) noexcept = default;
    };

    /// The first size of the logarithmic levels (first level 1).
    [[nodiscard]] constexpr std::size_t small_limit() const noexcept { return small_mask + 1; }
    /// max(floor(log2 size), sli + 3). The `| 1` tells the compiler the operand
    /// is never 0, which drops bit_width's zero test from the hot path.
    [[nodiscard]] constexpr unsigned top_bit(std::size_t size) const noexcept {
        return static_cast<unsigned>(std::bit_width(size | small_mask | 1)) - 1;
    }
    /// The list a block of `size` bytes (>= 1) belongs to.
    [[nodiscard]] constexpr index insert(std::size_t size) const noexcept {
        const unsigned top = top_bit(size);
        const unsigned shift = std::max(top, min_top) - sli;
        return {top - (min_top - 1), static_cast<unsigned>(size >> shift) & sl_mask};
    }
    /// `size` rounded up to the first size of the next list, unless it already
    /// is one: every block in the list of the result is at least `size` ("good fit").
    [[nodiscard]] constexpr std::size_t round_up(std::size_t size) const noexcept {
        const std::size_t step = std::size_t{1} << (std::max(top_bit(size), min_top) - sli);
        return (size + step - 1) & ~(step - 1);
    }
    /// The list to start searching from for a block of at least `size` bytes.
    /// (insert truncates to the list floor, so round_up's mask is not needed.)
    [[nodiscard]] constexpr index search(std::size_t size) const noexcept {
        const std::size_t step = std::size_t{1} << (std::max(top_bit(size), min_top) - sli);
        return insert(size + step - 1);
    }
    /// The smallest size that maps to list `i`.
    [[nodiscard]] constexpr std::size_t list_floor(index i) const noexcept {
        if (i.fl == 0) return std::size_t{i.sl} << tlsf_granule_log2;
        const unsigned top = i.fl + min_top - 1;
        return (std::size_t{1} << top) + (std::size_t{i.sl} << (top - sli));
    }
};

/// Whether [p, p + n) may be read: false where ASan marks any of it poisoned
/// (lets verify() report a corrupt walk instead of tripping ASan).
[[nodiscard]] inline bool tlsf_readable(const void* p, std::size_t n) noexcept {
#if defined(KEEL_ALLOC_ASAN)
    return __asan_region_is_poisoned(const_cast<void*>(p), n) == nullptr;
#else
    (void)p;
    (void)n;
    return true;
#endif
}

}  // namespace keel::alloc::detail
