#pragma once

// Boundary tags for the fit heaps (dlmalloc style).
//
// A block starts with one 8-byte header word: its size (a multiple of 16, the
// whole block, header included) in the high bits, bit 0 = this block is in use,
// bit 1 = the block just below is in use. The payload starts right after the
// header, 16-aligned (blocks start 8 bytes past a multiple of 16). A free block
// also holds its free-index node right after the header and repeats its size in
// a footer (its last word), so the block above can find it to coalesce. In-use
// blocks have no footer: their "previous in use" bit in the next header says
// nobody needs one. The region ends with a sentinel header (size 0, in use).

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace keel::alloc::detail::boundary_tag {

/// Block sizes and payload alignment are multiples of this.
inline constexpr std::size_t granule = 16;
/// The header word in front of every payload.
inline constexpr std::size_t header_bytes = 8;
/// The footer word at the end of every free block.
inline constexpr std::size_t footer_bytes = 8;

inline constexpr std::uint64_t in_use_bit = 1;
inline constexpr std::uint64_t prev_in_use_bit = 2;
inline constexpr std::uint64_t flag_mask = granule - 1;

/// The smallest block whose free form holds the header, a node of node_bytes
/// and the footer.
[[nodiscard]] constexpr std::size_t min_block_for(std::size_t node_bytes) noexcept {
    return (header_bytes + node_bytes + footer_bytes + granule - 1) & ~(granule - 1);
}

[[nodiscard]] inline std::uint64_t load_word(const std::byte* at) noexcept {
    std::uint64_t w;
    std::memcpy(&w, at, sizeof w);
    return w;
}
inline void store_word(std::byte* at, std::uint64_t w) noexcept { std::memcpy(at, &w, sizeof w); }

[[nodiscard]] inline std::uint64_t header(const std::byte* block) noexcept { return load_word(block); }
[[nodiscard]] inline std::size_t size_of(const std::byte* block) noexcept {
    return static_cast<std::size_t>(header(block) & ~flag_mask);
}
[[nodiscard]] inline bool in_use(const std::byte* block) noexcept { return (header(block) & in_use_bit) != 0; }
[[nodiscard]] inline bool prev_in_use(const std::byte* block) noexcept {
    return (header(block) & prev_in_use_bit) != 0;
}

inline void set_header(std::byte* block, std::size_t size, bool used, bool prev_used) noexcept {
    store_word(block, static_cast<std::uint64_t>(size) | (used ? in_use_bit : 0) |
                          (prev_used ? prev_in_use_bit : 0));
}
inline void set_prev_in_use(std::byte* block, bool prev_used) noexcept {
    const auto h = header(block);
    store_word(block, prev_used ? (h | prev_in_use_bit) : (h & ~prev_in_use_bit));
}

/// The footer of a free block of `size` bytes at `block`.
inline void set_footer(std::byte* block, std::size_t size) noexcept {
    store_word(block + size - footer_bytes, static_cast<std::uint64_t>(size));
}
/// The size recorded in the footer just below `block` (valid only when the block
/// below is free).
[[nodiscard]] inline std::size_t prev_footer(const std::byte* block) noexcept {
    return static_cast<std::size_t>(load_word(block - footer_bytes));
}

[[nodiscard]] inline std::byte* payload_of(std::byte* block) noexcept { return block + header_bytes; }
[[nodiscard]] inline std::byte* block_of(void* payload) noexcept {
    return static_cast<std::byte*>(payload) - header_bytes;
}
[[nodiscard]] inline std::byte* next_of(std::byte* block) noexcept { return block + size_of(block); }

/// Where a free block's index node lives.
[[nodiscard]] inline std::byte* node_storage(std::byte* block) noexcept { return block + header_bytes; }
[[nodiscard]] inline std::byte* block_of_node(const void* node) noexcept {
    return const_cast<std::byte*>(static_cast<const std::byte*>(node)) - header_bytes;
}

}  // namespace keel::alloc::detail::boundary_tag
