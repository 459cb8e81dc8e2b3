#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::alloc::detail {

[[nodiscard]] constexpr std::size_t align_up(std::size_t n, std::size_t align) noexcept {
    return (n + align - 1) & ~(align - 1);
}

[[nodiscard]] inline std::byte* align_up(std::byte* p, std::size_t align) noexcept {
    const auto v = reinterpret_cast<std::uintptr_t>(p);
    return p + ((align - (v & (align - 1))) & (align - 1));
}

[[nodiscard]] inline bool is_aligned(const void* p, std::size_t align) noexcept {
    return (reinterpret_cast<std::uintptr_t>(p) & (align - 1)) == 0;
}

/// n rounded up to a multiple of align, or 0 when that overflows.
[[nodiscard]] constexpr std::size_t checked_align_up(std::size_t n, std::size_t align) noexcept {
    return n > SIZE_MAX - (align - 1) ? 0 : align_up(n, align);
}

}  // namespace keel::alloc::detail
