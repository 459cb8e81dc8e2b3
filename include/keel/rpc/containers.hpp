#pragma once

// Containers in a connection's shared memory: Boost.Container's vector, string and
// map over an allocator that takes their memory from one side's shared_heap and
// links it with boost::interprocess::offset_ptr (a distance from the pointer's own
// address), so a container built by one process reads the same in the other: both
// map the connection's range with the same layout (see shared_space).
//
// Kept out of <keel/rpc.hpp>: Boost.Container's vector, string and map headers add
// about a third to the parse time of <keel/rpc.hpp> (g++ -fsyntax-only, dev VM: 1.10 s
// alone, 1.49 s with this header).

#include <keel/result.hpp>
#include <keel/rpc/error.hpp>
#include <keel/rpc/segment.hpp>
#include <keel/rpc/shared_heap.hpp>
#include <keel/rpc/shm_ptr.hpp>

#include <boost/container/map.hpp>
#include <boost/container/string.hpp>
#include <boost/container/vector.hpp>
#include <boost/interprocess/offset_ptr.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace keel::rpc {

/// An allocator over a shared_heap (one side's arena) whose pointers are
/// boost::interprocess::offset_ptr, for Boost.Container containers that live in
/// shared memory. Build the container in the same heap it allocates from (e.g.
/// heap.make<rpc::vector<int>>(heap)), so the container and its storage lie in one
/// arena: only the owner of that arena changes it (the peer maps it read-only and
/// reads it through rpc::verify).
///
/// The allocator keeps a plain pointer to the owner's shared_heap object: it is
/// meaningful only in the owner's process (the peer can read its value, which tells
/// it where the owner's heap object is: an address, nothing it can use to write).
/// allocate throws std::bad_alloc when the arena is full, as the standard requires
/// (shared_heap::allocate is the non-throwing interface).
/// Thread-safety: as the heap's (thread-safe); the containers themselves are not.
template <class T>
class shm_allocator {
public:
    using value_type = T;
    using pointer = boost::interprocess::offset_ptr<T>;
    using const_pointer = boost::interprocess::offset_ptr<const T>;
    using void_pointer = boost::interprocess::offset_ptr<void>;
    using const_void_pointer = boost::interprocess::offset_ptr<const void>;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;

    /// The same allocator for another type, on the same shared heap.
    template <class U>
    struct rebind {
        using other = shm_allocator<U>;
    };

    /// Implicit, so that `heap.make<rpc::vector<int>>(heap)` works.
    shm_allocator(shared_heap& heap) noexcept : _heap(&heap) {}  // NOLINT(google-explicit-constructor)
    template <class U>
    shm_allocator(const shm_allocator<U>& other) noexcept : _heap(other.heap()) {}  // NOLINT

    [[nodiscard]] pointer allocate(size_type n) {
        if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
        void* p = _heap->allocate_bytes(n * sizeof(T), alignof(T));
        if (p == nullptr) throw std::bad_alloc();
        return pointer(static_cast<T*>(p));
    }
    void deallocate(pointer p, size_type) noexcept { _heap->deallocate_bytes(p.get()); }

    [[nodiscard]] shared_heap* heap() const noexcept { return _heap; }

    template <class U>
    friend bool operator==(const shm_allocator& a, const shm_allocator<U>& b) noexcept {
        return a.heap() == b.heap();
    }

private:
    shared_heap* _heap;
};

/// A vector in shared memory (elements must be trivially copyable or themselves
/// shared-memory types: no pointers into private memory).
template <class T>
using vector = boost::container::vector<T, shm_allocator<T>>;

/// A string in shared memory (short strings live inside the object).
using string = boost::container::basic_string<char, std::char_traits<char>, shm_allocator<char>>;

/// An ordered map in shared memory: a red-black tree of nodes linked by offset_ptr.
/// A receiver walking a map from a peer it does not trust must bound its walk and
/// check every node (the peer can make cycles or point links anywhere): there is no
/// rpc::verify for maps, because checking a tree means walking it.
template <class K, class V, class Compare = std::less<K>>
using map = boost::container::map<K, V, Compare, shm_allocator<std::pair<const K, V>>>;

namespace detail {
// The arena whose heap part holds [p, p + bytes), if any.
inline bool arena_holding(const shared_space& space, const void* p, std::size_t bytes, arena_role& r) noexcept {
    if (space.in_heap(arena_role::client, p, bytes)) {
        r = arena_role::client;
        return true;
    }
    if (space.in_heap(arena_role::server, p, bytes)) {
        r = arena_role::server;
        return true;
    }
    return false;
}
}  // namespace detail

/// Checks a vector received from the peer, which lies (as resolved) in one arena of
/// `space`: its elements [data(), data() + size()) must lie inside the heap part of
/// that same arena, aligned for T. Returns them as a span built from one read of
/// the vector's pointer and size: use the span, not the vector (a hostile sender can
/// change its vector at any time; the span stays inside its arena whatever it does,
/// though the element values may still change under a reader that is not in a
/// sealed call). errc::out_of_bounds / errc::misaligned otherwise. O(1), no system
/// call. The span is valid while the connection is (the arena is mapped), and means
/// something only while the sender keeps the vector (for arguments: during the call).
template <class T>
[[nodiscard]] result<std::span<const T>> verify(const shared_space& space, const vector<T>& v) noexcept {
    arena_role r{};
    if (!detail::arena_holding(space, &v, sizeof v, r)) return make_error_code(errc::out_of_bounds);
    const T* data = v.data();       // one read of the offset_ptr
    const std::size_t n = v.size();  // one read of the size
    if (n == 0) return std::span<const T>();
    if (reinterpret_cast<std::uintptr_t>(data) % alignof(T) != 0) return make_error_code(errc::misaligned);
    if (n > SIZE_MAX / sizeof(T) || !space.in_heap(r, data, n * sizeof(T))) return make_error_code(errc::out_of_bounds);
    return std::span<const T>(data, n);
}

/// Resolves `p` (read-only, either arena) and verifies the vector there.
template <class T>
[[nodiscard]] result<std::span<const T>> verify(const shared_space& space, shm_ptr<vector<T>> p) noexcept {
    auto v = space.resolve(p);
    if (!v) return v.error();
    return verify(space, **v);
}
template <class T>
[[nodiscard]] result<std::span<const T>> verify(const shared_space& space, shm_ptr<const vector<T>> p) noexcept {
    auto v = space.resolve(p);
    if (!v) return v.error();
    return verify(space, **v);
}

/// Checks a string received from the peer like verify(vector): its characters must
/// lie in the heap part of the arena that holds the string object (a short string's
/// characters lie inside the object). Returns them as a string_view from one read.
[[nodiscard]] inline result<std::string_view> verify(const shared_space& space, const string& s) noexcept {
    arena_role r{};
    if (!detail::arena_holding(space, &s, sizeof s, r)) return make_error_code(errc::out_of_bounds);
    const char* data = s.data();
    const std::size_t n = s.size();
    if (n == 0) return std::string_view();
    if (!space.in_heap(r, data, n)) return make_error_code(errc::out_of_bounds);
    return std::string_view(data, n);
}
[[nodiscard]] inline result<std::string_view> verify(const shared_space& space, shm_ptr<string> p) noexcept {
    auto s = space.resolve(p);
    if (!s) return s.error();
    return verify(space, **s);
}
[[nodiscard]] inline result<std::string_view> verify(const shared_space& space, shm_ptr<const string> p) noexcept {
    auto s = space.resolve(p);
    if (!s) return s.error();
    return verify(space, **s);
}

}  // namespace keel::rpc
