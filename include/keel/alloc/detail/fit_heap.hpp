#pragma once

// The engine every fit heap shares: boundary-tagged blocks over one region,
// immediate coalescing, aligned placement, splitting, counters and verify().
// What differs between first/next/best/worst/head-first fit and the adaptive
// heap is the Index: the structure the free blocks are kept in and how a block
// is chosen from it. An Index provides
//   static constexpr std::size_t node_bytes;      // node it keeps in a free block
//   void insert(std::byte* block) noexcept;       // header (size) already written
//   void erase(std::byte* block) noexcept;
//   template <class Fits> std::byte* find(std::size_t need, const Fits& fits) noexcept;
//       // a free block b with fits(b), chosen by the placement policy, or nullptr
//   void placed(std::byte* block, std::size_t granted, std::size_t footprint,
//               std::size_t live) noexcept;  // after a placement: the heap's footprint
//                                            // and granted bytes now
//   void failed(std::size_t need) noexcept;
//   std::size_t count() const noexcept;           // free blocks
//   std::size_t largest() const noexcept;         // largest free block
//   bool contains(std::byte* block) const noexcept;  // for verify()
//   std::string check(const std::byte* first, const std::byte* sentinel) const;
// and optionally
//   void resized(std::size_t footprint, std::size_t live) noexcept;  // after an
//                                            // in-place resize: footprint and granted now

#include <keel/alloc/detail/align.hpp>
#include <keel/alloc/detail/boundary_tag.hpp>
#include <keel/alloc/detail/heap_counters.hpp>
#include <keel/alloc/detail/poison.hpp>
#include <keel/alloc/heap.hpp>
#include <keel/platform/memory_source.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace keel::alloc {

/// Options of the fit heaps (first, next, best, worst, head-first best fit).
/// Plain data.
struct fit_heap_options {
    /// The smallest remainder worth splitting off a free block; smaller
    /// remainders stay in the allocated block. 0 means the heap's minimum block
    /// size (48 bytes); other values are rounded up to a multiple of 16 and to
    /// at least the minimum block size. Must not exceed the region size.
    std::size_t split_threshold = 0;
};

}  // namespace keel::alloc

namespace keel::alloc::detail {

/// The boundary-tag heap engine over a free-block Index (see the file comment).
/// Not thread-safe. Allocation and free cost one Index find/insert/erase plus
/// O(1) tag work; the Index sets the search cost.
template <class Index>
class fit_heap {
public:
    /// Smallest block (header + index node + footer, rounded to 16 bytes).
    static constexpr std::size_t min_block = boundary_tag::min_block_for(Index::node_bytes);
    /// Smallest region a fit heap accepts.
    static constexpr std::size_t min_region_bytes = min_block + 48;

    template <class... IndexArgs>
    fit_heap(platform::memory_region region, std::size_t split_threshold, std::string_view heap_name,
             IndexArgs&&... index_args)
        : _index(std::forward<IndexArgs>(index_args)...) {
        const std::string who(heap_name);
        if (!region || region.data() == nullptr) throw std::invalid_argument(who + ": the region is null");
        if (region.size() < min_region_bytes) {
            throw std::invalid_argument(who + ": a region of " + std::to_string(region.size()) +
                                        " bytes is too small; the minimum is " +
                                        std::to_string(min_region_bytes) + " bytes");
        }
        if (split_threshold > region.size()) {
            throw std::invalid_argument(who + ": split_threshold " + std::to_string(split_threshold) +
                                        " exceeds the region size " + std::to_string(region.size()));
        }
        _region = region;
        _split = std::max(min_block, align_up(split_threshold, boundary_tag::granule));
        // Blocks start 8 bytes past a multiple of 16 so that payloads are 16-aligned.
        _first = align_up(region.data() + boundary_tag::header_bytes, boundary_tag::granule) -
                 boundary_tag::header_bytes;
        const auto last_word = reinterpret_cast<std::uintptr_t>(region.end()) - boundary_tag::header_bytes;
        const auto sentinel_at = ((last_word - boundary_tag::header_bytes) & ~std::uintptr_t{boundary_tag::granule - 1}) +
                                 boundary_tag::header_bytes;
        _sentinel = region.data() + (sentinel_at - reinterpret_cast<std::uintptr_t>(region.data()));
        boundary_tag::set_header(_sentinel, 0, true, false);
        make_free(_first, static_cast<std::size_t>(_sentinel - _first), true);
    }

    fit_heap(const fit_heap&) = delete;
    fit_heap& operator=(const fit_heap&) = delete;
    // The index's nodes point into the region and at the index itself.
    fit_heap(fit_heap&&) = delete;
    fit_heap& operator=(fit_heap&&) = delete;
    ~fit_heap() { unpoison(_region.data(), _region.size()); }

    [[nodiscard]] void* allocate(std::size_t n, std::size_t align = default_alignment) noexcept {
        if (!is_valid_alignment(align) || n > _region.size()) return fail(0);
        align = std::max(align, boundary_tag::granule);
        const std::size_t need = std::max(min_block, align_up(n + boundary_tag::header_bytes, boundary_tag::granule));
        std::byte* b = _index.find(need, [&](std::byte* block) noexcept {
            return lead_for(block, align) + need <= boundary_tag::size_of(block);
        });
        if (b == nullptr) return fail(need);
        _index.erase(b);
        std::size_t size = boundary_tag::size_of(b);
        bool prev_used = boundary_tag::prev_in_use(b);
        unpoison(b, size);
        if (const std::size_t lead = lead_for(b, align); lead != 0) {
            // The leading padding becomes a free block of its own (lead_for makes it big
            // enough). Tag the block above it first: the index may look at its header.
            boundary_tag::set_header(b + lead, size - lead, true, false);
            make_free(b, lead, prev_used);
            b += lead;
            size -= lead;
            prev_used = false;
        }
        const std::size_t granted = carve(b, size, need);
        boundary_tag::set_header(b, granted, true, prev_used);
        void* p = boundary_tag::payload_of(b);
        // Poison the slack behind the caller's bytes: overruns inside the block are caught too.
        auto* tail = align_up(static_cast<std::byte*>(p) + n, 8);
        poison(tail, static_cast<std::size_t>(b + granted - tail));

        _counters.on_allocate(n, granted);
        const std::size_t now = footprint();
        _counters.note_footprint(now);
        _index.placed(b, granted, now, _counters.granted);
        return p;
    }

    void deallocate(void* p, std::size_t n, std::size_t /*align*/ = default_alignment) noexcept {
        if (p == nullptr) return;
        std::byte* b = boundary_tag::block_of(p);
        std::size_t size = boundary_tag::size_of(b);
        _counters.on_deallocate(n, size);
        unpoison(b, size);
        bool prev_used = boundary_tag::prev_in_use(b);
        if (!prev_used) {
            const std::size_t prev_size = boundary_tag::prev_footer(b);
            std::byte* prev = b - prev_size;
            _index.erase(prev);
            unpoison(prev, prev_size);
            prev_used = boundary_tag::prev_in_use(prev);
            b = prev;
            size += prev_size;
        }
        std::byte* next = b + size;
        if (!boundary_tag::in_use(next)) {
            const std::size_t next_size = boundary_tag::size_of(next);
            _index.erase(next);
            unpoison(next, next_size);
            size += next_size;
        }
        make_free(b, size, prev_used);
    }

    /// Grows or shrinks live block p in place (see resizable_heap): growth takes
    /// what it needs from the free block just above, splitting off the rest when
    /// that reaches the split threshold; shrinking gives the tail back when it
    /// reaches the split threshold or when the block above is free (it merges
    /// into it). False, and nothing changed, when the block above is in use or
    /// too small. O(1) tag work plus at most one Index erase and insert.
    [[nodiscard]] bool try_resize(void* p, std::size_t old_n, std::size_t new_n,
                                  std::size_t /*align*/ = default_alignment) noexcept {
        if (p == nullptr || new_n > _region.size()) return false;
        std::byte* b = boundary_tag::block_of(p);
        const std::size_t size = boundary_tag::size_of(b);
        const bool prev_used = boundary_tag::prev_in_use(b);
        const std::size_t need = std::max(min_block, align_up(new_n + boundary_tag::header_bytes, boundary_tag::granule));
        std::byte* next = b + size;
        const bool next_free = !boundary_tag::in_use(next);
        const std::size_t next_size = next_free ? boundary_tag::size_of(next) : 0;
        if (need > size && (!next_free || size + next_size < need)) return false;
        unpoison(b, size);  // allocate poisoned the slack; tags may be written there now
        std::size_t granted = size;
        if (need > size) {
            _index.erase(next);
            unpoison(next, next_size);
            granted = carve(b, size + next_size, need);
        } else if (next_free && need < size) {
            // The tail merges into the free block above, whatever its size.
            _index.erase(next);
            unpoison(next, next_size);
            make_free(b + need, size - need + next_size, true);
            granted = need;
        } else if (size - need >= _split) {
            granted = need;
            make_free(b + need, size - need, true);
        }
        boundary_tag::set_header(b, granted, true, prev_used);
        // The caller's bytes are addressable, the slack behind them poisoned (as allocate does).
        unpoison(p, new_n);
        auto* tail = align_up(static_cast<std::byte*>(p) + new_n, 8);
        poison(tail, static_cast<std::size_t>(b + granted - tail));
        _counters.on_resize(old_n, new_n, size, granted);
        const std::size_t now = footprint();
        _counters.note_footprint(now);
        if constexpr (requires { _index.resized(now, _counters.granted); }) _index.resized(now, _counters.granted);
        return true;
    }

    [[nodiscard]] bool owns(const void* p) const noexcept {
        const auto* b = static_cast<const std::byte*>(p);
        return b >= _first && b < _sentinel;
    }

    /// O(1) counters, plus the Index's count (O(1)) and largest free block
    /// (O(log n) for size-ordered indexes, a walk over the free blocks for
    /// address-ordered ones).
    [[nodiscard]] heap_stats stats() const noexcept {
        heap_stats s;
        _counters.fill(s);
        s.capacity_bytes = _region.size();
        s.free_bytes = usable_bytes() - _counters.granted;
        s.largest_free_block = _index.largest();
        s.free_blocks = _index.count();
        s.footprint_bytes = footprint();
        return s;
    }

    /// From the region start to the end of the highest in-use block, 0 when none
    /// is: O(1), from the sentinel's "previous in use" bit and the last footer.
    [[nodiscard]] std::size_t footprint() const noexcept {
        if (boundary_tag::prev_in_use(_sentinel)) return static_cast<std::size_t>(_sentinel - _region.data());
        const std::byte* last = _sentinel - boundary_tag::prev_footer(_sentinel);
        return last == _first ? 0 : static_cast<std::size_t>(last - _region.data());
    }

    /// Walks every block: sizes and bits, footers, no two free neighbours, the
    /// Index holds exactly the free blocks, counters agree. O(blocks log blocks).
    [[nodiscard]] std::string verify() const {
        namespace bt = boundary_tag;
        auto at = [&](const std::byte* b) { return "block at offset " + std::to_string(b - _region.data()); };
        std::byte* b = _first;
        bool prev_used = true;
        std::size_t free_count = 0;
        std::size_t granted = 0;
        while (b != _sentinel) {
            if (b < _first || b > _sentinel) return at(b) + ": outside the heap";
            const std::uint64_t h = bt::header(b);
            const std::size_t size = bt::size_of(b);
            if ((h & ~(bt::in_use_bit | bt::prev_in_use_bit) & bt::flag_mask) != 0) {
                return at(b) + ": header has unknown flag bits set";
            }
            if (size < min_block) {
                return at(b) + ": size " + std::to_string(size) + " is below the minimum block " +
                       std::to_string(min_block) + " (corrupt header)";
            }
            if (size > static_cast<std::size_t>(_sentinel - b)) {
                return at(b) + ": size " + std::to_string(size) + " runs past the end of the heap (corrupt header)";
            }
            if (bt::prev_in_use(b) != prev_used) {
                return at(b) + ": previous-in-use bit says " + (prev_used ? "free" : "in use") +
                       " but the previous block is " + (prev_used ? "in use" : "free");
            }
            const bool used = bt::in_use(b);
            if (used) {
                granted += size;
            } else {
                if (!prev_used) return at(b) + ": two adjacent free blocks (not coalesced)";
                if (bt::load_word(b + size - bt::footer_bytes) != size) return at(b) + ": footer does not match the header";
                if (!_index.contains(b)) return at(b) + ": free block is missing from the free index";
                ++free_count;
            }
            prev_used = used;
            b += size;
        }
        if (bt::size_of(_sentinel) != 0 || !bt::in_use(_sentinel)) return "end sentinel is corrupt";
        if (bt::prev_in_use(_sentinel) != prev_used) return "end sentinel's previous-in-use bit is wrong";
        if (free_count != _index.count()) {
            return "the free index holds " + std::to_string(_index.count()) + " blocks but the walk found " +
                   std::to_string(free_count) + " free blocks";
        }
        if (granted != _counters.granted) {
            return "granted_bytes is " + std::to_string(_counters.granted) + " but in-use blocks hold " + std::to_string(granted);
        }
        if (_counters.requested > _counters.granted) return "requested_bytes exceeds granted_bytes";
        return _index.check(_first, _sentinel);
    }

    /// The smallest block this heap makes, and the split threshold in effect.
    [[nodiscard]] std::size_t min_block_size() const noexcept { return min_block; }
    [[nodiscard]] std::size_t split_threshold() const noexcept { return _split; }

protected:
    [[nodiscard]] Index& index() noexcept { return _index; }
    [[nodiscard]] const Index& index() const noexcept { return _index; }

private:
    [[nodiscard]] std::size_t usable_bytes() const noexcept { return static_cast<std::size_t>(_sentinel - _first); }

    void* fail(std::size_t need) noexcept {
        _counters.on_failure();
        _index.failed(need);
        return nullptr;
    }

    // Bytes to skip at the front of `block` so that the payload is aligned: 0, or
    // enough to form a free block (stepping by `align` when the first aligned spot
    // leaves too small a gap), so that no padding is lost for good.
    [[nodiscard]] static std::size_t lead_for(const std::byte* block, std::size_t align) noexcept {
        const auto payload = reinterpret_cast<std::uintptr_t>(block) + boundary_tag::header_bytes;
        std::size_t lead = static_cast<std::size_t>(align_up(payload, align) - payload);
        while (lead != 0 && lead < min_block) lead += align;
        return lead;
    }

    // The low `need` bytes of the `size` bytes at b become (part of) a used block:
    // the rest is split off as a free block when it reaches the split threshold,
    // else it stays in the block. Returns the bytes the block gets; the caller
    // writes b's header.
    std::size_t carve(std::byte* b, std::size_t size, std::size_t need) noexcept {
        if (size - need >= _split) {
            make_free(b + need, size - need, true);
            return need;
        }
        boundary_tag::set_prev_in_use(b + size, true);
        return size;
    }

    void make_free(std::byte* b, std::size_t size, bool prev_used) noexcept {
        boundary_tag::set_header(b, size, false, prev_used);
        boundary_tag::set_footer(b, size);
        boundary_tag::set_prev_in_use(b + size, false);
        _index.insert(b);
        poison(b + boundary_tag::header_bytes + Index::node_bytes,
               size - boundary_tag::header_bytes - Index::node_bytes - boundary_tag::footer_bytes);
    }

    Index _index;
    platform::memory_region _region;
    std::byte* _first = nullptr;
    std::byte* _sentinel = nullptr;
    std::size_t _split = 0;
    heap_counters _counters;
};

}  // namespace keel::alloc::detail
