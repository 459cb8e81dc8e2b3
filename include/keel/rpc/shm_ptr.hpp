#pragma once

#include <compare>
#include <cstdint>
#include <type_traits>

namespace keel::rpc {

/// A pointer into a shared segment, stored as the byte offset from the segment's
/// start, so it means the same thing in every process whatever address each maps the
/// segment at. 0 is null (offset 0 is the segment header, never an object). It is
/// only a number: turn it into a T* with segment::resolve(), which checks bounds and
/// alignment against the receiver's own copy of the segment's geometry, so an offset
/// from a faulty or hostile peer becomes an error, never a wild access.
/// Trivially copyable, 8 bytes; put it in shared structures and messages as is.
/// Thread-safety: a plain value.
template <class T>
class shm_ptr {
    static_assert(!std::is_reference_v<T>, "shm_ptr<T&> makes no sense");

public:
    using element_type = T;

    constexpr shm_ptr() noexcept = default;
    constexpr explicit shm_ptr(std::uint64_t offset) noexcept : _offset(offset) {}

    /// Byte offset from the start of the segment; 0 for null.
    [[nodiscard]] constexpr std::uint64_t offset() const noexcept { return _offset; }
    [[nodiscard]] constexpr bool is_null() const noexcept { return _offset == 0; }
    constexpr explicit operator bool() const noexcept { return _offset != 0; }

    friend constexpr bool operator==(shm_ptr, shm_ptr) noexcept = default;
    friend constexpr auto operator<=>(shm_ptr, shm_ptr) noexcept = default;

private:
    std::uint64_t _offset = 0;
};

static_assert(sizeof(shm_ptr<int>) == 8 && std::is_trivially_copyable_v<shm_ptr<int>>);
static_assert(std::is_standard_layout_v<shm_ptr<int>>);

}  // namespace keel::rpc
