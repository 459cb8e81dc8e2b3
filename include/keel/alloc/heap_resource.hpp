#pragma once

#include <keel/alloc/heap.hpp>

#include <cstddef>
#include <memory_resource>
#include <new>

namespace keel::alloc {

/// A std::pmr::memory_resource over a Heap it does not own (the heap must outlive
/// it): std::pmr containers allocate from a keel heap. do_allocate throws
/// std::bad_alloc when the heap returns nullptr (exhaustion, or an alignment the
/// heap cannot serve), as memory_resource requires. Two heap_resources are equal
/// when they are over the same heap object, so memory from one may go back through
/// the other. Thread-safety: the heap's (wrap it in synchronized_heap to share it).
/// Cost: one virtual call on top of the heap's operation.
template <heap Heap>
class heap_resource final : public std::pmr::memory_resource {
public:
    explicit heap_resource(Heap& heap) noexcept : _heap(&heap) {}

    [[nodiscard]] Heap& underlying_heap() const noexcept { return *_heap; }

private:
    void* do_allocate(std::size_t bytes, std::size_t align) override {
        void* p = _heap->allocate(bytes, align);
        if (p == nullptr) throw std::bad_alloc();
        return p;
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t align) override {
        _heap->deallocate(p, bytes, align);
    }
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        const auto* o = dynamic_cast<const heap_resource*>(&other);
        return o != nullptr && o->_heap == _heap;
    }

    Heap* _heap;
};

}  // namespace keel::alloc
