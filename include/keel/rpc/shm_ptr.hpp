#pragma once

#include <compare>
#include <cstdint>
#include <type_traits>

namespace keel::rpc {

/// A pointer into a connection's shared memory, stored as the byte offset from the
/// start of the connection's address range (shared_space: the segment, then the
/// client's arena, then the server's arena, laid out the same in both processes), so
/// it means the same thing in both processes whatever address each maps the range
/// at. 0 is null (offset 0 is the segment header, never an object). It is only a
/// number: turn it into a pointer with shared_space::resolve() (read-only, either
/// arena) or resolve_own() (writable, this side's arena), which check bounds and
/// alignment against the receiver's own copy of the geometry, so an offset from a
/// faulty or hostile peer becomes an error, never a wild access.
/// Trivially copyable, 8 bytes; put it in shared structures and messages as is.
/// shm_ptr<T> converts to shm_ptr<const T>.
/// Thread-safety: a plain value.
template <class T>
class shm_ptr {
    static_assert(!std::is_reference_v<T>, "shm_ptr<T&> makes no sense");

public:
    using element_type = T;

    constexpr shm_ptr() noexcept = default;
    constexpr explicit shm_ptr(std::uint64_t offset) noexcept : _offset(offset) {}
    /// Adds const (or volatile): the same offset.
    template <class U>
        requires(!std::is_same_v<U, T> && std::is_same_v<std::remove_cv_t<U>, std::remove_cv_t<T>> &&
                 std::is_convertible_v<U*, T*>)
    constexpr shm_ptr(shm_ptr<U> other) noexcept : _offset(other.offset()) {}

    /// Byte offset from the start of the connection's range; 0 for null.
    [[nodiscard]] constexpr std::uint64_t offset() const noexcept { return _offset; }
    [[nodiscard]] constexpr bool is_null() const noexcept { return _offset == 0; }
    constexpr explicit operator bool() const noexcept { return _offset != 0; }

    friend constexpr bool operator==(shm_ptr, shm_ptr) noexcept = default;
    friend constexpr auto operator<=>(shm_ptr, shm_ptr) noexcept = default;

private:
    std::uint64_t _offset = 0;
};

/// The same offset as a shm_ptr<T> (e.g. from shared_heap::allocate's
/// shm_ptr<std::byte>); like a reinterpret_cast, it checks nothing: resolve() checks
/// alignment and bounds for T.
template <class T, class U>
[[nodiscard]] constexpr shm_ptr<T> shm_cast(shm_ptr<U> p) noexcept {
    return shm_ptr<T>(p.offset());
}

static_assert(sizeof(shm_ptr<int>) == 8 && std::is_trivially_copyable_v<shm_ptr<int>>);
static_assert(std::is_standard_layout_v<shm_ptr<int>>);

}  // namespace keel::rpc
