#pragma once

#include <keel/alloc/heap.hpp>
#include <keel/sync/futex_mutex.hpp>
#include <keel/sync/lockable.hpp>

#include <concepts>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace keel::alloc {

/// A Heap shared between threads: every operation runs under one Lock (any
/// basic_lockable: a keel::sync lock or std::mutex). name is Heap's name.
/// Thread-safety: every member may be called from any thread. Cost: one lock and
/// unlock around each operation; all threads contend on that one lock, so a heap per
/// thread scales better where blocks do not move between threads. A Lock whose lock()
/// throws (std::mutex on a system error) terminates, since heap operations are noexcept.
template <heap Heap, sync::basic_lockable Lock = sync::futex_mutex<>>
class synchronized_heap {
public:
    static constexpr std::string_view name = Heap::name;

    /// Builds the Heap from `args` (e.g. a region and options).
    template <class... Args>
    requires std::constructible_from<Heap, Args...>
    explicit synchronized_heap(Args&&... args) : _heap(std::forward<Args>(args)...) {}

    synchronized_heap(const synchronized_heap&) = delete;
    synchronized_heap& operator=(const synchronized_heap&) = delete;

    [[nodiscard]] void* allocate(std::size_t n, std::size_t align = default_alignment) noexcept {
        std::lock_guard guard(_lock);
        return _heap.allocate(n, align);
    }
    void deallocate(void* p, std::size_t n, std::size_t align = default_alignment) noexcept {
        if (p == nullptr) return;
        std::lock_guard guard(_lock);
        _heap.deallocate(p, n, align);
    }
    /// Heap's try_resize under the lock; only when Heap is a resizable_heap.
    [[nodiscard]] bool try_resize(void* p, std::size_t old_n, std::size_t new_n,
                                  std::size_t align = default_alignment) noexcept
        requires resizable_heap<Heap>
    {
        std::lock_guard guard(_lock);
        return _heap.try_resize(p, old_n, new_n, align);
    }
    // owns() locks too: a growing heap's regions change under allocate.
    [[nodiscard]] bool owns(const void* p) const noexcept {
        std::lock_guard guard(_lock);
        return _heap.owns(const_cast<void*>(p));
    }
    [[nodiscard]] heap_stats stats() const noexcept {
        std::lock_guard guard(_lock);
        return _heap.stats();
    }
    [[nodiscard]] std::size_t footprint() const noexcept {
        std::lock_guard guard(_lock);
        return _heap.footprint();
    }
    [[nodiscard]] std::string verify() const {
        std::lock_guard guard(_lock);
        return _heap.verify();
    }

    /// Calls f(heap) with the lock held and returns what f returns: for several
    /// operations that must be atomic together, or the Heap's own extras.
    /// f must not call back into this synchronized_heap (the lock is not recursive).
    template <class F>
    decltype(auto) with_heap(F&& f) {
        std::lock_guard guard(_lock);
        return std::forward<F>(f)(_heap);
    }
    template <class F>
    decltype(auto) with_heap(F&& f) const {
        std::lock_guard guard(_lock);
        return std::forward<F>(f)(std::as_const(_heap));
    }

private:
    mutable Lock _lock;
    Heap _heap;
};

}  // namespace keel::alloc
