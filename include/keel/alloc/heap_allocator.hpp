#pragma once

#include <keel/alloc/heap.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

namespace keel::alloc {

/// A standard allocator (std::vector, std::map, std::allocate_shared ...) over a
/// Heap it does not own (the heap must outlive every container using it).
/// Allocators are equal when they use the same heap; they propagate with the
/// container on copy/move assignment and swap, so memory never goes back to a heap
/// that did not give it. allocate throws std::bad_alloc when the heap returns
/// nullptr (exhaustion, or alignof(T) above max_alignment) and
/// std::bad_array_new_length when n * sizeof(T) overflows.
/// Thread-safety: the heap's. Cost: a pointer; each call is the heap's operation.
template <class T, heap Heap>
class heap_allocator {
public:
    using value_type = T;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using propagate_on_container_copy_assignment = std::true_type;
    using propagate_on_container_move_assignment = std::true_type;
    using propagate_on_container_swap = std::true_type;
    using is_always_equal = std::false_type;

    /// The same allocator for another type, on the same heap.
    template <class U>
    struct rebind {
        using other = heap_allocator<U, Heap>;
    };

    explicit heap_allocator(Heap& heap) noexcept : _heap(&heap) {}
    explicit heap_allocator(Heap* heap) noexcept : _heap(heap) {}
    template <class U>
    heap_allocator(const heap_allocator<U, Heap>& other) noexcept : _heap(other.heap()) {}

    [[nodiscard]] T* allocate(std::size_t n) {
        if (n > max_size()) throw std::bad_array_new_length();
        void* p = _heap->allocate(n * sizeof(T), alignof(T));
        if (p == nullptr) throw std::bad_alloc();
        return static_cast<T*>(p);
    }
    void deallocate(T* p, std::size_t n) noexcept {
        _heap->deallocate(p, n * sizeof(T), alignof(T));
    }

    [[nodiscard]] constexpr std::size_t max_size() const noexcept { return SIZE_MAX / sizeof(T); }
    [[nodiscard]] Heap* heap() const noexcept { return _heap; }

    template <class U>
    [[nodiscard]] bool operator==(const heap_allocator<U, Heap>& other) const noexcept {
        return _heap == other.heap();
    }

private:
    Heap* _heap;
};

}  // namespace keel::alloc
