#pragma once

// The control block of an entrusted object: its reference count, its trustee, and the
// object's storage. The object is built, used and destroyed only on the trustee.

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace keel::trust::detail {

class trustee;
class runtime_core;

struct block_base {
    using destroy_fn = void (*)(block_base*) noexcept;

    block_base(trustee* t, std::shared_ptr<runtime_core> rt, destroy_fn destroy, destroy_fn free) noexcept
        : home(t), runtime(std::move(rt)), destroy_object(destroy), free_block(free) {}

    std::atomic<std::size_t> refs{1};
    trustee* const home;
    /// Keeps the runtime's bookkeeping alive for handles dropped after shutdown.
    const std::shared_ptr<runtime_core> runtime;
    const destroy_fn destroy_object;  ///< runs ~T (on the trustee)
    const destroy_fn free_block;      ///< frees this block (any thread)

    // Touched by the trustee thread only.
    bool alive = false;
    block_base* prev = nullptr;  ///< the trustee's list of live objects, for shutdown
    block_base* next = nullptr;

    /// On the trustee: destroys the object if shutdown has not already, and frees the block.
    void destroy_on_trustee() noexcept;
    /// Throws runtime_stopped: the object was destroyed when its runtime shut down.
    [[noreturn]] static void throw_retired();
};

/// Puts a freshly built object on its trustee's live list (trustee thread only).
void adopt_block(block_base& b) noexcept;
/// Drops the last handle: destroys the object here if this is its trustee, sends the
/// destruction to the trustee otherwise, or only frees the block after shutdown.
void release_block(block_base* b) noexcept;

/// Gives up one reference (a handle's or a pending request's).
inline void drop_reference(block_base& b) noexcept {
    if (b.refs.fetch_sub(1, std::memory_order_acq_rel) == 1) release_block(&b);
}

template <class T>
struct object_block final : block_base {
    object_block(trustee* t, std::shared_ptr<runtime_core> rt) noexcept
        : block_base(t, std::move(rt), &destroy, &free) {}

    T& object() noexcept { return *std::launder(reinterpret_cast<T*>(storage)); }
    T& checked_object() {
        if (!alive) throw_retired();
        return object();
    }

    /// On the trustee: builds the object from `make()`'s prvalue, in place.
    template <class Make>
    void construct(Make& make) {
        ::new (static_cast<void*>(storage)) T(make());
        alive = true;
        adopt_block(*this);
    }

    static void destroy(block_base* b) noexcept { static_cast<object_block*>(b)->object().~T(); }
    static void free(block_base* b) noexcept { delete static_cast<object_block*>(b); }

    alignas(T) std::byte storage[sizeof(T)];
};

}  // namespace keel::trust::detail
