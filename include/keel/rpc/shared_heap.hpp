#pragma once

#include <keel/result.hpp>
#include <keel/rpc/error.hpp>
#include <keel/rpc/segment.hpp>
#include <keel/rpc/shm_ptr.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace keel::rpc {

/// What a shared_heap reports. Plain data.
struct shared_heap_stats {
    std::size_t capacity_bytes = 0;      ///< the heap part of the arena
    std::size_t bytes_in_use = 0;        ///< held by live blocks (block headers and rounding included)
    std::size_t live_blocks = 0;
    std::size_t largest_free_block = 0;
    std::uint64_t allocations = 0;
    std::uint64_t deallocations = 0;
    std::uint64_t failed_allocations = 0;  ///< errc::out_of_memory answers
    std::size_t lent_blocks = 0;           ///< lent to the peer (lend) and not given back yet
    std::uint64_t given_back = 0;          ///< lent blocks the peer gave back, freed here
    /// Offsets the peer put into its give-back ring that were not lent to it (never
    /// allocated, already freed, given back twice, garbage): ignored, only counted.
    std::uint64_t refused_give_backs = 0;
    std::uint64_t released = 0;  ///< the peer's blocks this side gave back (give_back)
};

/// One side's heap in its own arena of a connection (the client's heap for
/// arguments, the server's per-connection heap for results): a keel::alloc
/// tlsf_heap over the arena's heap part, as mapped in the owner's process. Its
/// control block (bitmaps, list heads) is private memory of the owner, and only the
/// owner ever runs it, so the absolute pointers TLSF keeps in block headers are
/// fine; the peer sees the arena read-only (the kernel enforces it) and only reads
/// the data the owner points it to, through shm_ptrs it resolves itself.
///
/// Memory goes back only to its owner: neither side ever frees the other's blocks.
///  - The owner frees its blocks with deallocate()/destroy().
///  - A block handed to the peer to keep (a call's result) is first lent: lend(p)
///    records it privately (with ~T to run when it comes back). The peer returns it
///    with give_back(p), which puts the offset into a give-back ring in the peer's
///    own arena; the owner drains that ring (collect_give_backs(), also done before
///    each allocation) and frees only offsets it lent and has not had back: anything
///    else is ignored and counted (refused_give_backs), so a hostile peer cannot
///    make the owner free garbage, a block it still uses, or a block twice.
///    The give-back ring exists in the client's arena only: the client gives the
///    server's blocks back; the server never keeps the client's memory (a handler
///    may read the caller's argument memory only while the call runs).
///
/// Every block starts 16-byte aligned (more when asked); a private bitmap of live
/// blocks makes deallocate of a non-block or a double free an error
/// (errc::not_allocated) instead of heap corruption.
///
/// Thread-safety: every member may be called from any thread (a keel::sync
/// futex_mutex inside); resolve()/to_shm() take no lock.
/// Cost: allocate/deallocate O(1) (TLSF) plus a lock, one bit flip and, when the
/// peer has given something back, draining the ring first; lend one hash insert;
/// give_back one ring slot write and one release store; resolve/to_shm a few compares.
class shared_heap {
public:
    /// What lend records to run on a block when the peer gives it back (before it is
    /// freed); nullptr for trivially destructible types.
    using destroy_fn = void (*)(void*) noexcept;

    /// A heap over `space`'s own arena (it writes the heap's first block header
    /// there). The space (its mapping, not the object: it may move) must outlive the
    /// heap. Throws std::invalid_argument for an empty space.
    explicit shared_heap(const shared_space& space);
    shared_heap(const shared_heap&) = delete;
    shared_heap& operator=(const shared_heap&) = delete;
    ~shared_heap();

    /// A block of `bytes` aligned to `align` (a power of two up to 4096): its
    /// shm_ptr. errc::out_of_memory when the arena cannot serve it (never throws);
    /// std::errc::invalid_argument for a bad alignment. The memory is not cleared.
    [[nodiscard]] result<shm_ptr<std::byte>> allocate(std::size_t bytes,
                                                      std::size_t align = alignof(std::max_align_t)) noexcept;

    /// A block for arguments of sealed calls (safety_mode::sealed): page-aligned, and
    /// whole pages of it hold nothing but its own bytes, so the client can make them
    /// read-only during a call without touching any other block. `bytes` is rounded
    /// up to pages. Errors as allocate. Cost: allocate, plus up to a page of padding.
    [[nodiscard]] result<shm_ptr<std::byte>> allocate_sealable(std::size_t bytes) noexcept;

    /// For a live block of this heap at `p`: the bytes of whole pages from `p` on
    /// that hold only this block's bytes (what a sealed call may make read-only).
    /// errc::not_allocated when `p` is not a live block start; std::errc::invalid_argument
    /// when `p` is not page-aligned or the block holds no whole page (not allocated
    /// with allocate_sealable).
    template <class T>
    [[nodiscard]] result<std::size_t> sealable_bytes(shm_ptr<T> p) const noexcept {
        return sealable_bytes_offset(p.offset());
    }

    /// Frees a block of this heap (any block: its size is in its header). Also
    /// forgets it if it was lent. errc::not_allocated when `p` is not a live block
    /// of this heap; errc::null_pointer for null.
    template <class T>
    result<void> deallocate(shm_ptr<T> p) noexcept {
        return deallocate_offset(p.offset());
    }

    /// A T built from `args` in a new block. errc::out_of_memory as allocate; T's
    /// constructor may throw (the block is freed, the exception passes).
    template <class T, class... Args>
    [[nodiscard]] result<shm_ptr<T>> make(Args&&... args) {
        auto p = allocate(sizeof(T), alignof(T));
        if (!p) return p.error();
        void* at = _base + p->offset();
        try {
            ::new (at) T(std::forward<Args>(args)...);
        } catch (...) {
            (void)deallocate(*p);
            throw;
        }
        return shm_ptr<T>(p->offset());
    }

    /// n value-initialised Ts in one block (e.g. zeroed for arithmetic types).
    /// errc::out_of_memory as allocate (also when n * sizeof(T) overflows).
    template <class T>
    [[nodiscard]] result<shm_ptr<T>> make_array(std::size_t n) {
        if (n > SIZE_MAX / sizeof(T)) return make_error_code(errc::out_of_memory);
        auto p = allocate(n * sizeof(T), alignof(T));
        if (!p) return p.error();
        auto* at = reinterpret_cast<T*>(_base + p->offset());
        std::size_t done = 0;
        try {
            for (; done < n; ++done) ::new (static_cast<void*>(at + done)) T();
        } catch (...) {
            while (done-- > 0) at[done].~T();
            (void)deallocate(*p);
            throw;
        }
        return shm_ptr<T>(p->offset());
    }

    /// Runs ~T on the object at `p` (a live block of this heap, checked first), then
    /// frees the block. Errors as deallocate.
    template <class T>
    result<void> destroy(shm_ptr<T> p) noexcept {
        if constexpr (!std::is_trivially_destructible_v<T>) {
            if (auto r = check_live(p.offset()); !r) return r;
            std::launder(reinterpret_cast<T*>(_base + p.offset()))->~T();
        }
        return deallocate_offset(p.offset());
    }

    /// Records that block `p` now belongs to the peer: it may give it back
    /// (give_back), and then ~T runs on it and it is freed. The owner must not use
    /// a lent block afterwards (the peer may give it back at any time); it may still
    /// free it itself (deallocate/destroy forget the loan). Lending a block twice
    /// replaces the first record. errc::not_allocated when `p` is not a live block
    /// of this heap; errc::out_of_memory when the record cannot grow.
    template <class T>
    result<void> lend(shm_ptr<T> p) noexcept {
        using U = std::remove_cv_t<T>;
        destroy_fn fn = nullptr;
        if constexpr (!std::is_trivially_destructible_v<U>) {
            fn = [](void* q) noexcept { std::launder(static_cast<U*>(q))->~U(); };
        }
        return lend_offset(p.offset(), fn);
    }

    /// Takes what the peer gave back since the last call: for each offset in the
    /// peer's give-back ring that this heap lent and has not had back, runs its
    /// destroy_fn and frees the block; anything else counts in refused_give_backs.
    /// Returns the blocks freed. Also run by allocate when the ring is not empty,
    /// and by the server's housekeeping. A no-op (0) on the client.
    std::size_t collect_give_backs() noexcept;

    /// Gives block `p` of the peer's arena (one the peer lent: a call's result) back
    /// to the peer: puts its offset into this side's give-back ring. Client side
    /// only (std::errc::operation_not_supported on the server). Errors:
    /// errc::null_pointer, errc::out_of_bounds (not in the peer's heap part),
    /// errc::misaligned (not a block start), errc::give_back_full when the peer has
    /// not drained the ring (give_back_capacity entries) yet: retry later (the server
    /// drains it at every housekeeping, 10 ms by default, and before it allocates).
    template <class T>
    result<void> give_back(shm_ptr<T> p) noexcept {
        return give_back_offset(p.offset());
    }

    /// A writable T* for a pointer into this heap's arena (bounds- and
    /// alignment-checked like shared_space::resolve_own; not whether it is live).
    template <class T>
    [[nodiscard]] result<T*> resolve(shm_ptr<T> p, std::size_t count = 1) const noexcept {
        const std::uint64_t off = p.offset();
        if (off == 0) return make_error_code(errc::null_pointer);
        if (off < _heap_offset || off - _heap_offset > _heap_size) return make_error_code(errc::out_of_bounds);
        if (off % alignof(T) != 0) return make_error_code(errc::misaligned);
        const std::uint64_t room = _heap_size - (off - _heap_offset);
        if (count != 0 && (room < sizeof(T) || count > room / sizeof(T))) return make_error_code(errc::out_of_bounds);
        return std::launder(reinterpret_cast<T*>(_base + off));
    }

    /// The shm_ptr of a pointer into this heap's arena; errc::out_of_bounds for any
    /// other pointer; null gives null.
    template <class T>
    [[nodiscard]] result<shm_ptr<std::remove_const_t<T>>> to_shm(T* p) const noexcept {
        if (p == nullptr) return shm_ptr<std::remove_const_t<T>>();
        const auto b = reinterpret_cast<std::uintptr_t>(p);
        const auto heap = reinterpret_cast<std::uintptr_t>(_base + _heap_offset);
        if (b < heap || b - heap >= _heap_size) return make_error_code(errc::out_of_bounds);
        return shm_ptr<std::remove_const_t<T>>(_heap_offset + (b - heap));
    }

    /// The raw interface for allocators (rpc::shm_allocator): a pointer into the
    /// owner's mapping, nullptr when out of memory; deallocate_bytes ignores
    /// pointers that are not live blocks.
    [[nodiscard]] void* allocate_bytes(std::size_t bytes, std::size_t align) noexcept;
    void deallocate_bytes(void* p) noexcept;

    /// This side's role (whose arena this heap is in).
    [[nodiscard]] arena_role role() const noexcept { return _role; }
    /// The arena's heap part as offsets in the connection's range.
    [[nodiscard]] std::uint64_t heap_offset() const noexcept { return _heap_offset; }
    [[nodiscard]] std::uint64_t heap_size() const noexcept { return _heap_size; }
    /// Bytes from heap_offset() to the end of the highest block ever allocated: a
    /// prefix of the heap part that holds every live block (never shrinks). What
    /// rpc::net ships with a call that passes shm_ptrs. No lock; a relaxed load.
    [[nodiscard]] std::uint64_t used_extent() const noexcept;

    /// Counters, and largest_free_block (walks one TLSF list).
    [[nodiscard]] shared_heap_stats stats() const noexcept;
    /// stats().bytes_in_use.
    [[nodiscard]] std::size_t bytes_in_use() const noexcept;
    /// Checks the TLSF invariants and the live-block record: "" when consistent.
    /// O(heap size); for tests.
    [[nodiscard]] std::string verify() const;

private:
    struct impl;
    std::unique_ptr<impl> _impl;
    std::byte* _base = nullptr;     // the connection's range in this process
    std::uint64_t _heap_offset = 0;  // own heap part, offsets in the range
    std::uint64_t _heap_size = 0;
    arena_role _role = arena_role::client;

    result<void> deallocate_offset(std::uint64_t off) noexcept;
    result<void> check_live(std::uint64_t off) const noexcept;
    result<std::size_t> sealable_bytes_offset(std::uint64_t off) const noexcept;
    result<void> lend_offset(std::uint64_t off, destroy_fn fn) noexcept;
    result<void> give_back_offset(std::uint64_t off) noexcept;
};

}  // namespace keel::rpc
