#pragma once

#include <keel/alloc/heap.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace keel::alloc {

/// A heap chosen at run time (by name, for trace replay and tuning): one virtual
/// call per operation. Satisfies the heap concept except for the static name;
/// name() says which heap it holds. try_resize is always there: it returns false
/// for a heap that is not a resizable_heap. Move-only. Thread-safety: as the held heap's.
class any_heap {
public:
    template <heap H, class... Args>
    explicit any_heap(std::in_place_type_t<H>, Args&&... args)
        : _impl(std::make_unique<model<H>>(std::forward<Args>(args)...)) {}

    [[nodiscard]] void* allocate(std::size_t n, std::size_t align = default_alignment) noexcept {
        return _impl->allocate(n, align);
    }
    void deallocate(void* p, std::size_t n, std::size_t align = default_alignment) noexcept {
        _impl->deallocate(p, n, align);
    }
    /// The held heap's try_resize when it has one (resizable_heap), else false.
    [[nodiscard]] bool try_resize(void* p, std::size_t old_n, std::size_t new_n,
                                  std::size_t align = default_alignment) noexcept {
        return _impl->try_resize(p, old_n, new_n, align);
    }
    /// Whether the held heap can resize blocks in place at all.
    [[nodiscard]] bool resizable() const noexcept { return _impl->resizable(); }
    [[nodiscard]] bool owns(const void* p) const noexcept { return _impl->owns(p); }
    [[nodiscard]] heap_stats stats() const noexcept { return _impl->stats(); }
    [[nodiscard]] std::size_t footprint() const noexcept { return _impl->footprint(); }
    [[nodiscard]] std::string verify() const { return _impl->verify(); }
    [[nodiscard]] std::string_view name() const noexcept { return _impl->name(); }

    /// The held heap when it is an H, else nullptr.
    template <heap H>
    [[nodiscard]] H* target() noexcept {
        auto* m = dynamic_cast<model<H>*>(_impl.get());
        return m ? &m->heap : nullptr;
    }

private:
    struct concept_t {
        virtual ~concept_t() = default;
        virtual void* allocate(std::size_t n, std::size_t align) noexcept = 0;
        virtual void deallocate(void* p, std::size_t n, std::size_t align) noexcept = 0;
        virtual bool try_resize(void* p, std::size_t old_n, std::size_t new_n, std::size_t align) noexcept = 0;
        virtual bool resizable() const noexcept = 0;
        virtual bool owns(const void* p) const noexcept = 0;
        virtual heap_stats stats() const noexcept = 0;
        virtual std::size_t footprint() const noexcept = 0;
        virtual std::string verify() const = 0;
        virtual std::string_view name() const noexcept = 0;
    };
    template <class H>
    struct model final : concept_t {
        template <class... Args>
        explicit model(Args&&... args) : heap(std::forward<Args>(args)...) {}
        void* allocate(std::size_t n, std::size_t align) noexcept override {
            return heap.allocate(n, align);
        }
        void deallocate(void* p, std::size_t n, std::size_t align) noexcept override {
            heap.deallocate(p, n, align);
        }
        bool try_resize(void* p, std::size_t old_n, std::size_t new_n, std::size_t align) noexcept override {
            if constexpr (resizable_heap<H>) {
                return heap.try_resize(p, old_n, new_n, align);
            } else {
                return false;
            }
        }
        bool resizable() const noexcept override { return resizable_heap<H>; }
        bool owns(const void* p) const noexcept override { return heap.owns(const_cast<void*>(p)); }
        heap_stats stats() const noexcept override { return heap.stats(); }
        std::size_t footprint() const noexcept override { return heap.footprint(); }
        std::string verify() const override { return heap.verify(); }
        std::string_view name() const noexcept override { return H::name; }
        H heap;
    };
    std::unique_ptr<concept_t> _impl;
};

}  // namespace keel::alloc
