#pragma once

#include <keel/alloc/detail/buddy_map.hpp>
#include <keel/alloc/detail/heap_counters.hpp>
#include <keel/alloc/detail/poison.hpp>
#include <keel/alloc/heap.hpp>
#include <keel/platform/memory_source.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace keel::alloc {

/// Options of buddy_heap. Plain data.
struct buddy_heap_options {
    /// The smallest block: a power of two, at least 16 (room for the free-list
    /// links). Larger values trade internal fragmentation for a smaller order map.
    std::size_t min_block = 32;
};

/// Binary buddy system (Knowlton 1965; Knuth 2.5) over one region. Every block
/// is 2^k bytes at an offset that is a multiple of 2^k from the start of the
/// managed range, so a block is aligned to min(its size, the start's alignment);
/// alignments above the request round the request up to the alignment. A freed
/// block merges with its buddy (offset XOR size) while that is free and whole.
/// Layout: the managed range starts at the region start rounded up to min_block
/// and covers units * min_block bytes; an order map of one byte per unit
/// (detail/buddy_map.hpp) follows it, so the overhead is about size / (min_block
/// + 1) bytes (3% for 32-byte blocks) plus alignment slack. A range that is not
/// a power of two is covered by one maximal block per set bit of its size,
/// largest first; blocks never merge across those. Regions whose start is not
/// page-aligned serve alignments only up to the start's alignment (others fail).
/// Thread-safety: none (wrap in synchronized_heap). Cost: allocate O(log n)
/// splits, deallocate O(log n) merges (and, when the highest live block goes, a
/// walk down over the free blocks above the next live one, O(log n)); stats()
/// and footprint() O(1); verify() O(units).
class buddy_heap {
    using node = detail::buddy_node;

public:
    static constexpr std::string_view name = "buddy";

    explicit buddy_heap(platform::memory_region region, buddy_heap_options options = {}) : _region(region) {
        if (!region) throw std::invalid_argument("buddy_heap: the region is null");
        const std::size_t m = options.min_block;
        if (m < 16 || !std::has_single_bit(m)) {
            throw std::invalid_argument("buddy_heap: min_block must be a power of two of at least 16, got " +
                                        std::to_string(m));
        }
        _min_order = static_cast<unsigned>(std::countr_zero(m));
        const auto start = reinterpret_cast<std::uintptr_t>(region.data());
        const std::size_t pad = (m - (start & (m - 1))) & (m - 1);
        const std::size_t units = pad >= region.size() ? 0 : (region.size() - pad) / (m + 1);
        if (units == 0) {
            throw std::invalid_argument("buddy_heap: a region of " + std::to_string(region.size()) +
                                        " bytes is too small for min_block " + std::to_string(m) +
                                        "; it needs at least " + std::to_string(pad + m + 1));
        }
        detail::unpoison(region.data(), region.size());
        _base = region.data() + pad;
        _covered = units << _min_order;
        _map = reinterpret_cast<std::uint8_t*>(_base + _covered);
        _top_order = static_cast<unsigned>(std::bit_width(_covered)) - 1;
        _base_align = std::min<std::size_t>(max_alignment, std::size_t{1} << std::countr_zero(start + pad));
        std::memset(_map, 0, units);
        // One maximal block per set bit of the covered size, largest first.
        std::size_t offset = 0;
        for (unsigned k = _top_order + 1; k-- > _min_order;) {
            if (((_covered >> k) & 1u) == 0) continue;
            make_free(offset, k);
            offset += std::size_t{1} << k;
        }
    }
    buddy_heap(const buddy_heap&) = delete;
    buddy_heap& operator=(const buddy_heap&) = delete;
    /// Leaves the region unpoisoned: the memory may be unmapped and mapped again.
    ~buddy_heap() { detail::unpoison(_region.data(), _region.size()); }

    [[nodiscard]] void* allocate(std::size_t n, std::size_t align = default_alignment) noexcept {
        if (!is_valid_alignment(align) || align > _base_align) return fail();
        const std::size_t need = std::max(n, align);
        if (need > (std::size_t{1} << _top_order)) return fail();
        const unsigned k = std::max(_min_order, static_cast<unsigned>(std::bit_width(need - 1)));
        const std::uint64_t fits = _order_bitmap & (~std::uint64_t{0} << k);
        if (fits == 0) return fail();
        // Address-ordered choice: the lowest-addressed head among the orders that
        // fit, so memory is used from the bottom up and the small maximal blocks
        // at the top of a range that is not a power of two are taken last.
        unsigned j = static_cast<unsigned>(std::countr_zero(fits));
        node* b = _heads[j];
        for (std::uint64_t rest = fits & (fits - 1); rest != 0; rest &= rest - 1) {
            const auto i = static_cast<unsigned>(std::countr_zero(rest));
            if (_heads[i] < b) {
                b = _heads[i];
                j = i;
            }
        }
        unlink(b, j);
        const auto offset = static_cast<std::size_t>(reinterpret_cast<std::byte*>(b) - _base);
        while (j > k) {  // split, keeping the lower half
            --j;
            make_free(offset + (std::size_t{1} << j), j);
            set_tail(offset, j);
        }
        _map[unit(offset)] = detail::buddy_head(k, false);
        if constexpr (detail::asan_enabled) {
            detail::poison(b, sizeof(node));
            detail::unpoison(b, n);
        }
        const std::size_t size = std::size_t{1} << k;
        _counters.on_allocate(n, size);
        _footprint = std::max(_footprint, static_cast<std::size_t>(_base - _region.data()) + offset + size);
        _counters.note_footprint(_footprint);
        return b;
    }

    void deallocate(void* p, std::size_t n, [[maybe_unused]] std::size_t align = default_alignment) noexcept {
        if (p == nullptr) return;
        std::size_t offset = static_cast<std::size_t>(static_cast<std::byte*>(p) - _base);
        unsigned k = detail::buddy_order(_map[unit(offset)]);
        const std::size_t end = offset + (std::size_t{1} << k);
        _counters.on_deallocate(n, std::size_t{1} << k);
        while (k < _top_order) {
            const std::size_t size = std::size_t{1} << k;
            const std::size_t buddy = offset ^ size;
            if (buddy + size > _covered || _map[unit(buddy)] != detail::buddy_head(k, true)) break;
            unlink(reinterpret_cast<node*>(_base + buddy), k);
            const std::size_t high = std::max(offset, buddy);
            _map[unit(high)] = 0;      // the upper half's head
            _map[unit(high) - 1] = 0;  // the lower half's tail (or head, rewritten below)
            offset = std::min(offset, buddy);
            ++k;
        }
        make_free(offset, k);
        if (static_cast<std::size_t>(_base - _region.data()) + end == _footprint) lower_footprint(offset);
    }

    [[nodiscard]] bool owns(const void* p) const noexcept { return _region.contains(p); }

    /// O(1): every field is a counter or read off the order bitmap.
    [[nodiscard]] heap_stats stats() const noexcept {
        heap_stats s;
        _counters.fill(s);
        s.capacity_bytes = _region.size();
        s.free_bytes = _covered - _counters.granted;
        s.largest_free_block =
            _order_bitmap == 0 ? 0 : std::size_t{1} << (63 - std::countl_zero(_order_bitmap));
        s.free_blocks = _free_blocks;
        s.footprint_bytes = _footprint;
        return s;
    }

    [[nodiscard]] std::size_t footprint() const noexcept { return _footprint; }

    [[nodiscard]] std::string verify() const;

    // Introspection, for tests and tuning.
    [[nodiscard]] std::size_t min_block() const noexcept { return std::size_t{1} << _min_order; }
    /// Bytes of the region outside the managed range (the order map and slack).
    [[nodiscard]] std::size_t overhead_bytes() const noexcept { return _region.size() - _covered; }
    /// The managed range: blocks live at [base, base + covered).
    [[nodiscard]] const std::byte* base() const noexcept { return _base; }
    [[nodiscard]] std::size_t covered_bytes() const noexcept { return _covered; }
    /// The order map, one byte per min_block unit (see detail/buddy_map.hpp).
    [[nodiscard]] std::span<const std::uint8_t> order_map() const noexcept {
        return {_map, _covered >> _min_order};
    }
    /// Log2 of the size of the block that starts at p, or 0 when no block starts there.
    [[nodiscard]] unsigned order_of(const void* p) const noexcept {
        const auto* b = static_cast<const std::byte*>(p);
        if (b < _base || b >= _base + _covered) return 0;
        const auto offset = static_cast<std::size_t>(b - _base);
        if ((offset & (min_block() - 1)) != 0) return 0;
        const std::uint8_t e = _map[unit(offset)];
        return detail::buddy_is_head(e) ? detail::buddy_order(e) : 0;
    }
    /// Number of free blocks of size 2^order: O(length).
    [[nodiscard]] std::size_t free_list_length(unsigned order) const noexcept {
        if (order >= _heads.size()) return 0;
        std::size_t n = 0;
        for (const node* b = _heads[order]; b != nullptr; b = b->next) ++n;
        return n;
    }

private:
    [[nodiscard]] std::size_t unit(std::size_t offset) const noexcept { return offset >> _min_order; }

    void* fail() noexcept {
        _counters.on_failure();
        return nullptr;
    }

    void set_tail(std::size_t offset, unsigned k) noexcept {
        if (k > _min_order) _map[unit(offset + (std::size_t{1} << k)) - 1] = detail::buddy_tail(k);
    }

    /// Marks [offset, offset + 2^k) as one free block and lists it.
    void make_free(std::size_t offset, unsigned k) noexcept {
        set_tail(offset, k);
        _map[unit(offset)] = detail::buddy_head(k, true);
        auto* b = reinterpret_cast<node*>(_base + offset);
        detail::unpoison(b, sizeof(node));
        detail::poison(_base + offset + sizeof(node), (std::size_t{1} << k) - sizeof(node));
        b->prev = nullptr;
        b->next = _heads[k];
        if (b->next != nullptr) b->next->prev = b;
        _heads[k] = b;
        _order_bitmap |= std::uint64_t{1} << k;
        ++_free_blocks;
    }

    void unlink(node* b, unsigned k) noexcept {
        if (b->next != nullptr) b->next->prev = b->prev;
        if (b->prev != nullptr) {
            b->prev->next = b->next;
        } else {
            _heads[k] = b->next;
            if (b->next == nullptr) _order_bitmap &= ~(std::uint64_t{1} << k);
        }
        --_free_blocks;
    }

    /// The highest live block was freed and everything from `offset` up is now
    /// free: walk down over free blocks (each found from its tail tag) to the
    /// next live one. A run of free blocks holds at most two per order.
    void lower_footprint(std::size_t offset) noexcept {
        std::size_t u = unit(offset);
        while (u > 0) {
            const std::uint8_t left = _map[u - 1];
            const std::size_t start =
                detail::buddy_is_head(left) ? u - 1 : u - (std::size_t{1} << (detail::buddy_order(left) - _min_order));
            if (!detail::buddy_is_free(_map[start])) {
                _footprint = static_cast<std::size_t>(_base - _region.data()) + (u << _min_order);
                return;
            }
            u = start;
        }
        _footprint = 0;
    }

    platform::memory_region _region;
    std::byte* _base = nullptr;
    std::size_t _covered = 0;
    std::uint8_t* _map = nullptr;
    unsigned _min_order = 5;
    unsigned _top_order = 5;
    std::size_t _base_align = 0;
    std::uint64_t _order_bitmap = 0;
    std::array<node*, 64> _heads{};
    std::size_t _free_blocks = 0;
    std::size_t _footprint = 0;
    detail::heap_counters _counters;  // after the hot words above: its last word (failed) is cold
};

inline std::string buddy_heap::verify() const {
    const auto at = [](std::size_t offset) { return "buddy: block at offset " + std::to_string(offset) + ": "; };
    std::size_t granted = 0;
    std::size_t free_count = 0;
    std::size_t footprint = 0;
    for (std::size_t offset = 0; offset < _covered;) {
        const std::uint8_t e = _map[unit(offset)];
        if (!detail::buddy_is_head(e)) return at(offset) + "the order map has no block head here";
        const unsigned k = detail::buddy_order(e);
        if (k < _min_order || k > _top_order) return at(offset) + "order " + std::to_string(k) + " is out of range";
        const std::size_t size = std::size_t{1} << k;
        if ((offset & (size - 1)) != 0) return at(offset) + "not aligned to its size " + std::to_string(size);
        if (offset + size > _covered) return at(offset) + "runs past the end of the heap";
        const std::size_t first = unit(offset);
        const std::size_t last = unit(offset + size) - 1;
        for (std::size_t u = first + 1; u < last; ++u) {
            if (_map[u] != 0) return at(offset) + "a unit inside the block has a non-zero map entry";
        }
        if (last != first && _map[last] != detail::buddy_tail(k)) return at(offset) + "wrong tail tag";
        if (detail::buddy_is_free(e)) {
            ++free_count;
            const std::size_t buddy = offset ^ size;
            if (k < _top_order && buddy + size <= _covered && _map[unit(buddy)] == e) {
                return at(offset) + "free, and so is its buddy: they were not merged";
            }
        } else {
            granted += size;
            footprint = static_cast<std::size_t>(_base - _region.data()) + offset + size;
        }
        offset += size;
    }
    std::size_t listed = 0;
    for (unsigned k = 0; k < _heads.size(); ++k) {
        const auto list_at = [k] { return "buddy: free list of order " + std::to_string(k) + ": "; };
        if ((((_order_bitmap >> k) & 1u) != 0) != (_heads[k] != nullptr)) {
            return list_at() + "the order bitmap disagrees with the list";
        }
        const node* back = nullptr;
        for (const node* b = _heads[k]; b != nullptr; b = b->next) {
            if (++listed > free_count) return list_at() + "more listed blocks than free blocks (a cycle?)";
            const auto* p = reinterpret_cast<const std::byte*>(b);
            if (p < _base || p >= _base + _covered) return list_at() + "an entry lies outside the heap";
            const auto offset = static_cast<std::size_t>(p - _base);
            if ((offset & (min_block() - 1)) != 0 || _map[unit(offset)] != detail::buddy_head(k, true)) {
                return list_at() + "entry at offset " + std::to_string(offset) + " is not a free block of this order";
            }
            if (b->prev != back) return list_at() + "entry at offset " + std::to_string(offset) + " has a broken back link";
            back = b;
        }
    }
    if (listed != free_count) {
        return "buddy: the map has " + std::to_string(free_count) + " free blocks but the lists hold " +
               std::to_string(listed);
    }
    if (granted != _counters.granted) {
        return "buddy: granted_bytes is " + std::to_string(_counters.granted) + " but used blocks hold " + std::to_string(granted);
    }
    if (free_count != _free_blocks) return "buddy: the free_blocks counter is wrong";
    if (footprint != _footprint) {
        return "buddy: footprint is " + std::to_string(_footprint) + " but the highest live block ends at " +
               std::to_string(footprint);
    }
    if (_counters.requested > _counters.granted) return "buddy: requested_bytes exceeds granted_bytes";
    return {};
}

}  // namespace keel::alloc
