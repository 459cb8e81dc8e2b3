#pragma once

#include <cstddef>
#include <cstdint>

// The order map of buddy_heap: one byte per minimum block ("unit") of the
// managed range, kept after the blocks at the end of the region, so that block
// addresses stay aligned to their size and user data never holds metadata the
// heap trusts.
//  - a block's first unit: head bit | free bit (if free) | order (log2 of its size);
//  - a block's last unit, when it spans more than one: its order alone (a tail
//    tag: the block to the left of any unit is found in O(1));
//  - every other unit: 0.
// Orders are 4..63, so a tail byte is never 0 and never has the head bit.

namespace keel::alloc::detail {

inline constexpr std::uint8_t buddy_head_bit = 0x80;
inline constexpr std::uint8_t buddy_free_bit = 0x40;
inline constexpr std::uint8_t buddy_order_mask = 0x3f;

[[nodiscard]] constexpr std::uint8_t buddy_head(unsigned order, bool is_free) noexcept {
    return static_cast<std::uint8_t>(buddy_head_bit | (is_free ? buddy_free_bit : 0u) | order);
}
[[nodiscard]] constexpr std::uint8_t buddy_tail(unsigned order) noexcept { return static_cast<std::uint8_t>(order); }
[[nodiscard]] constexpr bool buddy_is_head(std::uint8_t e) noexcept { return (e & buddy_head_bit) != 0; }
[[nodiscard]] constexpr bool buddy_is_free(std::uint8_t e) noexcept { return (e & buddy_free_bit) != 0; }
[[nodiscard]] constexpr unsigned buddy_order(std::uint8_t e) noexcept { return e & buddy_order_mask; }

/// A free block's list links, in its first 16 bytes.
struct buddy_node {
    buddy_node* next;
    buddy_node* prev;
};

}  // namespace keel::alloc::detail
