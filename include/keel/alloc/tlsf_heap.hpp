#pragma once

#include <keel/alloc/detail/align.hpp>
#include <keel/alloc/detail/heap_counters.hpp>
#include <keel/alloc/detail/poison.hpp>
#include <keel/alloc/detail/tlsf_layout.hpp>
#include <keel/alloc/heap.hpp>
#include <keel/platform/memory_source.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace keel::alloc {

/// Options of tlsf_heap: the parameters an offline tuner searches. Plain data.
struct tlsf_heap_options {
    /// log2 of the lists per power of two, 1..5. More lists: closer fits (less
    /// rounding up when searching), a larger list index.
    unsigned second_level_log2 = 5;
    /// The smallest remainder a free block is split into; smaller remainders
    /// stay in the allocated block (internal fragmentation for fewer, larger free
    /// blocks). 0, or anything below the 32-byte minimum block, means 32; others
    /// round up to a multiple of 16.
    std::size_t split_threshold = 0;
    /// Deferred coalescing: at most this many bytes of freed blocks are parked in
    /// quick lists (one LIFO list per size class) instead of being merged with
    /// their neighbours at once, and serve later requests of their class without
    /// a search, a split or a neighbour's header being touched. 0 (the default)
    /// turns it off. Parked blocks count as free in stats() (not live) but still
    /// in the footprint, as they are not merged. When an allocation would fail or
    /// raise the footprint, parked blocks are merged (largest classes first) until
    /// it need not, so the heap grows only with nothing parked; flush_quick()
    /// merges them all. That merge is O(parked blocks): with quick lists on, the
    /// heap loses its O(1) bound per operation.
    std::size_t quick_bytes = 0;
    /// The largest block (header included) a quick list takes: up to 64 KiB with
    /// five second-level bits, less with fewer (16 first-level classes).
    std::size_t quick_max_block = 4096 + 16;
    /// How many size classes, from the request's own, an allocation looks at in
    /// the quick lists (1..8): more finds a parked block more often, at the cost
    /// of handing out a block up to that many classes larger (about 3% each with
    /// five second-level bits), which is not split.
    unsigned quick_reach = 1;
};

/// Two-level segregated fit (Masmano, Ripoll, Crespo, Real, ECRTS'04) over one
/// region: O(1) allocate and deallocate, no loop over list lengths.
/// Layout: blocks of multiples of 16 bytes, each with a 16-byte header
/// (detail::tlsf_block) of which a used block gives back 8 (its payload runs
/// over the next block's boundary tag), so a request of n bytes takes
/// max(32, round16(n + 8)). A 16-byte sentinel ends the region. The control
/// structure (bitmaps, 64 x 32 list heads and 16 x 32 quick-list heads, ~20.6 KiB)
/// lives in the heap
/// object, not in the region; the region loses only its alignment slack and the
/// sentinel (stats: free_bytes = capacity - that - granted).
/// Free blocks are found by "good fit": the request is rounded up to the first
/// size of the next list, so any block of the first non-empty list at or above
/// it fits (found with two bit scans); freed blocks merge at once with free
/// physical neighbours (boundary tags), unless quick lists are on (see
/// tlsf_heap_options::quick_bytes): then small freed blocks are parked first.
/// Alignments above 16 search for n + align + 32 bytes (so they need that much
/// room) and split the front off as a free block. try_resize grows a block into
/// a free block above it or shrinks it (a resizable_heap).
/// Thread-safety: none (wrap in synchronized_heap). Cost: allocate/deallocate/
/// try_resize O(1) (with quick lists on, an allocation that would fail or raise
/// the footprint merges parked blocks first: O(parked blocks)); footprint()
/// O(1); stats() O(length of the highest non-empty list, and of the highest
/// non-empty quick list) for
/// largest_free_block; verify() O(blocks log blocks).
class tlsf_heap {
    using block = detail::tlsf_block;

public:
    static constexpr std::string_view name = "tlsf";
    /// The smallest region accepted: one minimum block, the sentinel, alignment slack.
    static constexpr std::size_t min_region_bytes = 64;

    explicit tlsf_heap(platform::memory_region region, tlsf_heap_options options = {})
        : _region(region) {
        if (!region) throw std::invalid_argument("tlsf_heap: the region is null");
        if (options.second_level_log2 < 1 || options.second_level_log2 > detail::tlsf_max_second_log2) {
            throw std::invalid_argument("tlsf_heap: second_level_log2 must be 1..5, got " +
                                        std::to_string(options.second_level_log2));
        }
        if (region.size() < min_region_bytes) {
            throw std::invalid_argument("tlsf_heap: a region of " + std::to_string(region.size()) +
                                        " bytes is too small; it needs at least " +
                                        std::to_string(min_region_bytes));
        }
        _map = detail::tlsf_mapping(options.second_level_log2);
        if (options.quick_reach < 1 || options.quick_reach > 8) {
            throw std::invalid_argument("tlsf_heap: quick_reach must be 1..8, got " + std::to_string(options.quick_reach));
        }
        if (options.quick_bytes != 0) {
            _quick_limit = options.quick_bytes;
            _quick_reach = (1u << options.quick_reach) - 1;
            // A request rounded up to its search class stays inside the quick levels.
            _quick_max = std::min(options.quick_max_block, _map.list_floor({detail::tlsf_quick_levels - 1, 0}));
        }
        _null.next_free = &_null;
        _null.prev_free = &_null;
        _heads.fill(&_null);
        _split_min = options.split_threshold > SIZE_MAX - detail::tlsf_granule
                         ? SIZE_MAX
                         : std::max(detail::tlsf_min_block,
                                    detail::align_up(options.split_threshold, detail::tlsf_granule));
        // A region may have been poisoned by an earlier heap over the same memory.
        detail::unpoison(region.data(), region.size());
        std::byte* begin = detail::align_up(region.data(), detail::tlsf_granule);
        const auto usable = static_cast<std::size_t>(region.end() - begin) - detail::tlsf_sentinel_bytes;
        _total = usable & ~(detail::tlsf_granule - 1);
        _max_request = _total - detail::tlsf_used_overhead;
        _first = reinterpret_cast<block*>(begin);
        _sentinel = _first->at(_total);
        _first->prev_phys = nullptr;
        _first->size_flags = _total | detail::tlsf_free_bit;
        _sentinel->prev_phys = _first;
        _sentinel->size_flags = detail::tlsf_prev_free_bit;
        insert_free(_first, _map);
        detail::poison(_first->bytes() + detail::tlsf_min_block, _total - detail::tlsf_min_block);
    }
    tlsf_heap(const tlsf_heap&) = delete;
    tlsf_heap& operator=(const tlsf_heap&) = delete;
    /// Leaves the region unpoisoned: the memory may be unmapped and mapped again.
    ~tlsf_heap() { detail::unpoison(_region.data(), _region.size()); }

    [[nodiscard]] void* allocate(std::size_t n, std::size_t align = default_alignment) noexcept {
        // One unsigned compare takes align in 1..16; the power-of-two test is one AND.
        if (align - 1 < detail::tlsf_granule && (align & (align - 1)) == 0) [[likely]] {
            if (n > _max_request) [[unlikely]]
                return fail();
            const std::size_t size = block_size_for(n);
            const detail::tlsf_mapping map = _map;  // a local: stores to blocks cannot change it
            if (size <= _quick_max) {  // _quick_max is 0 when quick lists are off
                const auto i = map.search(size);
                if (const std::uint32_t m = _quick_map[i.fl] & (_quick_reach << i.sl); m != 0) {
                    return unpark({i.fl, static_cast<unsigned>(std::countr_zero(m))}, n);
                }
            }
            block* b = take(size, map);
            if (_quick_held != 0 && grows(b, size)) [[unlikely]] b = take_after_flush(b, size, map);
            if (b == nullptr) [[unlikely]]
                return fail();
            return hand_out(b, size, n, map);
        }
        return allocate_aligned(n, align);
    }

    void deallocate(void* p, std::size_t n, [[maybe_unused]] std::size_t align = default_alignment) noexcept {
        if (p == nullptr) return;
        block* b = block::from_payload(p);
        const std::size_t size = b->size();
        _counters.on_deallocate(n, size);
        if (size <= _quick_max && _quick_held + size <= _quick_limit) {
            park(b, size);
            return;
        }
        release(b, size);
    }

    /// Merges every block parked in the quick lists with its free neighbours
    /// and returns it to the TLSF lists (an allocation merges as many as it
    /// needs by itself when it would otherwise fail or raise the footprint).
    /// O(parked blocks).
    void flush_quick() noexcept {
        while (_quick_blocks != 0) {
            block* b = pop_parked(highest_parked());
            release(b, b->size());
        }
    }
    /// Bytes and blocks parked in the quick lists now.
    [[nodiscard]] std::size_t quick_bytes_held() const noexcept { return _quick_held; }
    [[nodiscard]] std::size_t quick_blocks() const noexcept { return _quick_blocks; }

private:
    // Merges used (or unparked) block b of `size` bytes with its free physical
    // neighbours and lists the result (returned): the second half of deallocate.
    block* release(block* b, std::size_t size) noexcept {
        const detail::tlsf_mapping map = _map;
        block* next = b->at(size);
        if (b->is_prev_free()) {
            block* prev = b->prev_phys;
            remove_free(prev, map);
            size += prev->size();
            b = prev;
        }
        if (next->is_free()) {
            remove_free(next, map);
            size += next->size();
            next = b->at(size);
        }
        b->size_flags = size | detail::tlsf_free_bit;  // the block before a free block is used
        next->prev_phys = b;
        next->size_flags |= detail::tlsf_prev_free_bit;
        detail::poison(b->bytes() + detail::tlsf_min_block, size - detail::tlsf_min_block);
        insert_free(b, map);
        // The highest live block sits just below the free block that ends at the sentinel.
        if (next == _sentinel) {
            _footprint = b == _first ? 0 : static_cast<std::size_t>(b->bytes() + detail::tlsf_used_overhead -
                                                                   _region.data());
        }
        return b;
    }

    // Parks freed block b (already counted as free) in its class's quick list.
    // Its header keeps it "in use" for its neighbours, so nothing else is touched.
    void park(block* b, std::size_t size) noexcept {
        b->size_flags |= detail::tlsf_quick_bit;
        const auto i = _map.insert(size);
        _quick_map[i.fl] |= 1u << i.sl;
        block*& head = _quick[slot(i)];
        if constexpr (detail::asan_enabled) detail::unpoison(b->payload(), sizeof(block*));
        b->next_free = head;
        head = b;
        _quick_held += size;
        ++_quick_blocks;
        // Not the last word, the next block's prev_phys: release() writes it on a flush.
        detail::poison(b->bytes() + detail::tlsf_payload_offset + sizeof(block*),
                       size - detail::tlsf_payload_offset - sizeof(block*));
    }

    // Whether serving `size` bytes from b (nullptr: nothing fits) would fail or
    // raise the footprint: then parked blocks are merged first, so that they
    // never make the heap grow.
    [[nodiscard]] bool grows(const block* b, std::size_t size) const noexcept {
        return b == nullptr ||
               static_cast<std::size_t>(b->bytes() + size + detail::tlsf_used_overhead - _region.data()) > _footprint;
    }

    // Puts b (from take, or nullptr) back and merges parked blocks, largest
    // classes first, until a merged block below the top free block can serve
    // `size` bytes, then takes again; repeats while the result would still grow
    // the heap and blocks are parked. Only an empty set of quick lists lets the
    // heap grow. O(parked blocks) at worst.
    block* take_after_flush(block* b, std::size_t size, const detail::tlsf_mapping& map) noexcept {
        const std::size_t enough = map.round_up(size);  // what take() surely finds
        for (;;) {
            if (b != nullptr) insert_free(b, map);  // still free and merged: only unlisted
            while (_quick_blocks != 0) {
                block* parked = pop_parked(highest_parked());
                block* merged = release(parked, parked->size());
                if (merged->size() >= enough && merged->at(merged->size()) != _sentinel) break;
            }
            b = take(size, map);
            if (_quick_blocks == 0 || !grows(b, size)) return b;
        }
    }

    // The highest non-empty quick list (some must be).
    [[nodiscard]] detail::tlsf_mapping::index highest_parked() const noexcept {
        unsigned fl = detail::tlsf_quick_levels - 1;
        while (_quick_map[fl] == 0) --fl;
        return {fl, static_cast<unsigned>(31 - std::countl_zero(_quick_map[fl]))};
    }

    // Unlinks the head of non-empty quick list i; it is no longer parked (but
    // still marked in use: the caller hands it out or releases it).
    block* pop_parked(detail::tlsf_mapping::index i) noexcept {
        block*& head = _quick[slot(i)];
        block* b = head;
        head = b->next_free;
        _quick_map[i.fl] &= ~(std::uint32_t{head == nullptr} << i.sl);
        b->size_flags &= ~detail::tlsf_quick_bit;
        _quick_held -= b->size();
        --_quick_blocks;
        return b;
    }

    // Hands out the head of non-empty quick list i for a request of n bytes.
    void* unpark(detail::tlsf_mapping::index i, std::size_t n) noexcept {
        block* b = pop_parked(i);
        const std::size_t size = b->size();
        void* p = b->payload();
        if constexpr (detail::asan_enabled) {
            detail::poison(p, sizeof(block*));
            detail::unpoison(p, n);
        }
        _counters.on_allocate(n, size);
        return p;
    }

public:

    /// Grows or shrinks live block p in place (see resizable_heap). Growth takes
    /// what it needs from the free block just above, splitting off the rest when
    /// that reaches the split threshold. Shrinking gives the tail back when it
    /// reaches the split threshold, or whatever its size when the block above is
    /// free (it merges into it). False, and nothing changed, when the block above
    /// is in use or too small. O(1): at most one list removal and one insertion.
    [[nodiscard]] bool try_resize(void* p, std::size_t old_n, std::size_t new_n,
                                  [[maybe_unused]] std::size_t align = default_alignment) noexcept {
        if (p == nullptr || new_n > _max_request) return false;
        const detail::tlsf_mapping map = _map;
        block* b = block::from_payload(p);
        const std::size_t size = b->size();
        const std::size_t need = block_size_for(new_n);
        block* next = b->at(size);
        const std::size_t above = next->is_free() ? next->size() : 0;  // a free block just above
        std::size_t room = size;  // b, plus the block above when b takes it over
        std::size_t granted = size;
        if (need > size) {
            if (size + above < need) return false;
            remove_free(next, map);
            detail::unpoison(next, above);
            room = size + above;
            granted = room - need >= _split_min ? need : room;
        } else if (above != 0 && need < size) {
            remove_free(next, map);  // the tail merges into the free block above
            room = size + above;
            granted = need;
        } else if (size - need >= _split_min) {
            granted = need;
        }
        block* after = b->at(room);  // the used block (or sentinel) above what b may take
        if (granted < room) {
            // [b + granted, b + room) becomes one free block. Its prev_phys word is
            // the last word of b's payload: b is used, so nobody reads it.
            block* rest = b->at(granted);
            detail::unpoison(rest, sizeof(block));
            rest->size_flags = (room - granted) | detail::tlsf_free_bit;
            after->prev_phys = rest;
            after->size_flags |= detail::tlsf_prev_free_bit;
            insert_free(rest, map);
            detail::poison(rest->bytes() + detail::tlsf_min_block, room - granted - detail::tlsf_min_block);
        } else {
            after->size_flags &= ~detail::tlsf_prev_free_bit;
        }
        b->size_flags = granted | (b->size_flags & detail::tlsf_prev_free_bit);
        if constexpr (detail::asan_enabled) detail::unpoison(p, new_n);
        _counters.on_resize(old_n, new_n, size, granted);
        const auto end = static_cast<std::size_t>(b->bytes() + granted + detail::tlsf_used_overhead - _region.data());
        if (end > _footprint || (granted < room && after == _sentinel)) {
            _footprint = end;  // b grew past the top, or is the highest block and shrank
            _counters.note_footprint(end);
        }
        return true;
    }

    [[nodiscard]] bool owns(const void* p) const noexcept { return _region.contains(p); }

    /// Counters are O(1); largest_free_block walks the highest non-empty list.
    [[nodiscard]] heap_stats stats() const noexcept {
        heap_stats s;
        _counters.fill(s);
        s.capacity_bytes = _region.size();
        s.free_bytes = _total - _counters.granted;
        s.largest_free_block = largest_free_block();
        s.free_blocks = _free_blocks + _quick_blocks;
        s.footprint_bytes = _footprint;
        return s;
    }

    [[nodiscard]] std::size_t footprint() const noexcept { return _footprint; }

    [[nodiscard]] std::string verify() const;

    // Introspection, for tests and tuning.
    [[nodiscard]] const detail::tlsf_mapping& mapping() const noexcept { return _map; }
    /// Bytes a used block gives (its block size): n rounded up, or more when the
    /// remainder was below the split threshold. p must be live.
    [[nodiscard]] static std::size_t block_size_of(const void* p) noexcept {
        return block::from_payload(const_cast<void*>(p))->size();
    }
    /// The smallest remainder this heap splits off (the effective split_threshold).
    [[nodiscard]] std::size_t split_minimum() const noexcept { return _split_min; }
    /// Bytes of the region outside all blocks (alignment slack and the sentinel).
    [[nodiscard]] std::size_t overhead_bytes() const noexcept { return _region.size() - _total; }
    [[nodiscard]] std::uint64_t first_level_bitmap() const noexcept { return _fl_bitmap; }
    [[nodiscard]] std::uint32_t second_level_bitmap(unsigned fl) const noexcept {
        return fl < detail::tlsf_max_first ? _sl_bitmap[fl] : 0;
    }
    /// Number of blocks in list (fl, sl): O(length).
    [[nodiscard]] std::size_t free_list_length(unsigned fl, unsigned sl) const noexcept {
        if (fl >= detail::tlsf_max_first || sl >= detail::tlsf_max_second) return 0;
        std::size_t n = 0;
        for (const block* b = _heads[slot({fl, sl})]; b != &_null; b = b->next_free) ++n;
        return n;
    }

private:
    static constexpr std::size_t block_size_for(std::size_t n) noexcept {
        return std::max(detail::tlsf_min_block,
                        (n + detail::tlsf_used_overhead + detail::tlsf_granule - 1) & ~(detail::tlsf_granule - 1));
    }
    static constexpr std::size_t slot(detail::tlsf_mapping::index i) noexcept {
        return std::size_t{i.fl} * detail::tlsf_max_second + i.sl;
    }

    void* fail() noexcept {
        _counters.on_failure();
        return nullptr;
    }

    void insert_free(block* b, const detail::tlsf_mapping& map) noexcept {
        detail::unpoison(b->bytes() + sizeof(block*), sizeof(block) - sizeof(block*));
        const auto i = map.insert(b->size());
        block*& head = _heads[slot(i)];
        b->next_free = head;
        b->prev_free = &_null;
        head->prev_free = b;  // _null's links are scratch: no branch on an empty list
        head = b;
        _fl_bitmap |= std::uint64_t{1} << i.fl;
        _sl_bitmap[i.fl] |= 1u << i.sl;
        ++_free_blocks;
    }

    void remove_free(block* b, const detail::tlsf_mapping& map) noexcept {
        const auto i = map.insert(b->size());
        block* next = b->next_free;
        block* prev = b->prev_free;
        next->prev_free = prev;
        prev->next_free = next;
        block*& head = _heads[slot(i)];
        head = head == b ? next : head;
        update_bits(i, head);
        --_free_blocks;
    }

    /// Clears the list's bits when `head` says it is empty, without a branch
    /// (whether a list empties is as good as random).
    void update_bits(detail::tlsf_mapping::index i, const block* head) noexcept {
        const std::uint32_t sl_map = _sl_bitmap[i.fl] & ~(std::uint32_t{head == &_null} << i.sl);
        _sl_bitmap[i.fl] = sl_map;
        _fl_bitmap &= ~(std::uint64_t{sl_map == 0} << i.fl);
    }

    /// Unlinks and returns the head of the first non-empty list whose blocks all
    /// hold `size` bytes, or nullptr. size <= _total, so fl + 1 < 64.
    block* take(std::size_t size, const detail::tlsf_mapping& map) noexcept {
        auto i = map.search(size);
        std::uint32_t sl_map = _sl_bitmap[i.fl] & (~0u << i.sl);
        if (sl_map == 0) {
            const std::uint64_t fl_map = _fl_bitmap & (~std::uint64_t{0} << (i.fl + 1));
            if (fl_map == 0) return nullptr;
            i.fl = static_cast<unsigned>(std::countr_zero(fl_map));
            sl_map = _sl_bitmap[i.fl];
        }
        i.sl = static_cast<unsigned>(std::countr_zero(sl_map));
        block*& head = _heads[slot(i)];
        block* b = head;
        block* next = b->next_free;
        head = next;
        next->prev_free = &_null;
        update_bits(i, next);
        --_free_blocks;
        return b;
    }

    /// Makes free, unlisted block b a used block of `size` bytes (splitting off
    /// the rest when it reaches the split threshold) and counts it.
    void* hand_out(block* b, std::size_t size, std::size_t n, const detail::tlsf_mapping& map) noexcept {
        const std::size_t have = b->size();
        block* next = b->at(have);
        if (have - size >= _split_min) {
            block* rest = b->at(size);
            detail::unpoison(rest, sizeof(block));
            rest->size_flags = (have - size) | detail::tlsf_free_bit;
            next->prev_phys = rest;
            insert_free(rest, map);
            b->size_flags = size | (b->size_flags & detail::tlsf_prev_free_bit);
        } else {
            size = have;
            next->size_flags &= ~detail::tlsf_prev_free_bit;
            b->size_flags &= ~detail::tlsf_free_bit;
        }
        void* p = b->payload();
        if constexpr (detail::asan_enabled) {
            detail::poison(p, 2 * sizeof(block*));  // the free-list links, if n is smaller
            detail::unpoison(p, n);
        }
        _counters.on_allocate(n, size);
        const auto end = static_cast<std::size_t>(b->bytes() + size + detail::tlsf_used_overhead - _region.data());
        if (end > _footprint) {  // rare once the heap has grown: well predicted
            _footprint = end;
            _counters.note_footprint(end);
        }
        return p;
    }

    void* allocate_aligned(std::size_t n, std::size_t align) noexcept {
        if (!is_valid_alignment(align) || n > _max_request) return fail();
        const std::size_t size = block_size_for(n);
        // Room to move the payload up to an aligned address, leaving a gap that
        // is either 0 or a whole free block.
        const std::size_t search = size + align + detail::tlsf_min_block;
        if (search > _total) return fail();
        const detail::tlsf_mapping map = _map;
        block* b = take(search, map);
        if (_quick_held != 0 && grows(b, search)) b = take_after_flush(b, search, map);
        if (b == nullptr) return fail();
        auto* payload = static_cast<std::byte*>(b->payload());
        std::size_t gap = static_cast<std::size_t>(detail::align_up(payload, align) - payload);
        if (gap != 0 && gap < detail::tlsf_min_block) {
            gap = static_cast<std::size_t>(detail::align_up(payload + detail::tlsf_min_block, align) - payload);
        }
        if (gap != 0) {
            const std::size_t have = b->size();
            block* aligned = b->at(gap);
            detail::unpoison(aligned, sizeof(block));
            aligned->prev_phys = b;
            aligned->size_flags = (have - gap) | detail::tlsf_free_bit | detail::tlsf_prev_free_bit;
            b->at(have)->prev_phys = aligned;
            b->size_flags = gap | detail::tlsf_free_bit;  // its previous block is used
            insert_free(b, map);
            b = aligned;
        }
        return hand_out(b, size, n, map);
    }

    [[nodiscard]] std::size_t largest_free_block() const noexcept {
        std::size_t largest = 0;
        if (_fl_bitmap != 0) {
            const auto fl = static_cast<unsigned>(63 - std::countl_zero(_fl_bitmap));
            const auto sl = static_cast<unsigned>(31 - std::countl_zero(_sl_bitmap[fl]));
            for (const block* b = _heads[slot({fl, sl})]; b != &_null; b = b->next_free) {
                largest = std::max(largest, b->size());
            }
        }
        if (_quick_blocks != 0) {  // the highest non-empty quick list
            for (std::size_t i = _quick.size(); i-- > 0;) {
                if (_quick[i] == nullptr) continue;
                for (const block* b = _quick[i]; b != nullptr; b = b->next_free) largest = std::max(largest, b->size());
                break;
            }
        }
        return largest;
    }

    platform::memory_region _region;
    detail::tlsf_mapping _map;
    std::size_t _split_min = detail::tlsf_min_block;
    std::size_t _total = 0;        // bytes in blocks, from _first to _sentinel
    std::size_t _max_request = 0;  // the largest n a single block can serve
    block* _first = nullptr;
    block* _sentinel = nullptr;
    std::uint64_t _fl_bitmap = 0;
    std::array<std::uint32_t, detail::tlsf_max_first> _sl_bitmap{};
    std::array<block*, std::size_t{detail::tlsf_max_first} * detail::tlsf_max_second> _heads{};
    block _null{};  // the end of every free list and the head of every empty one
    std::size_t _free_blocks = 0;
    std::size_t _footprint = 0;
    std::size_t _quick_max = 0;    // the largest block a quick list takes; 0: quick lists off
    std::uint32_t _quick_reach = 1;  // quick_reach low bits set
    std::size_t _quick_limit = 0;  // bytes the quick lists may hold
    std::size_t _quick_held = 0;
    std::size_t _quick_blocks = 0;
    detail::heap_counters _counters;  // after the hot words above: its last word (failed) is cold
    // Last: what the default configuration (quick lists off) never touches.
    std::array<std::uint32_t, detail::tlsf_quick_levels> _quick_map{};  // non-empty quick lists
    std::array<block*, std::size_t{detail::tlsf_quick_levels} * detail::tlsf_max_second> _quick{};
};

inline std::string tlsf_heap::verify() const {
    const auto offset = [this](const void* p) {
        return std::to_string(static_cast<const std::byte*>(p) - _region.data());
    };
    const auto at = [&](const block* b) { return "tlsf: block at offset " + offset(b) + ": "; };
    // Physical walk: sizes, flags, boundary tags, no two adjacent free blocks.
    std::vector<const block*> free_blocks;
    std::vector<const block*> parked_blocks;
    std::size_t parked_bytes = 0;
    std::size_t granted = 0;
    std::size_t footprint = 0;
    const block* prev = nullptr;
    bool prev_free = false;
    for (const std::byte* p = _first->bytes();;) {
        // Only the size word: prev_phys overlaps a used predecessor's payload, which
        // its owner may poison (fences, container annotations); it is read only
        // when the predecessor is free.
        if (!detail::tlsf_readable(p + sizeof(void*), detail::tlsf_payload_offset - sizeof(void*))) {
            return "tlsf: the block walk reached free (poisoned) memory at offset " + offset(p);
        }
        const auto* b = reinterpret_cast<const block*>(p);
        if ((b->size_flags & detail::tlsf_flag_mask &
             ~(detail::tlsf_free_bit | detail::tlsf_prev_free_bit | detail::tlsf_quick_bit)) != 0) {
            return at(b) + "reserved header bits are set";
        }
        if (b->is_prev_free() != prev_free) {
            return at(b) + "prev-free flag says " + (b->is_prev_free() ? "free" : "used") +
                   " but the previous block is " + (prev_free ? "free" : "used");
        }
        if (prev_free && b->prev_phys != prev) return at(b) + "boundary tag does not point at the previous block";
        if (b == _sentinel) {
            if (b->size() != 0 || b->is_free()) return at(b) + "the sentinel is corrupt";
            break;
        }
        const std::size_t size = b->size();
        if (size < detail::tlsf_min_block) return at(b) + "size " + std::to_string(size) + " is below the minimum block";
        if (size > static_cast<std::size_t>(_sentinel->bytes() - p)) {
            return at(b) + "size " + std::to_string(size) + " runs past the end of the heap";
        }
        const bool parked = (b->size_flags & detail::tlsf_quick_bit) != 0;
        if (b->is_free()) {
            if (parked) return at(b) + "free and parked in a quick list at once";
            if (prev_free) return at(b) + "two adjacent free blocks (missed coalescing)";
            free_blocks.push_back(b);
        } else {
            if (parked) {
                parked_blocks.push_back(b);
                parked_bytes += size;
            } else {
                granted += size;
            }
            // Parked blocks are not merged: they hold the footprint up as live ones do.
            footprint = static_cast<std::size_t>(p + size + detail::tlsf_used_overhead - _region.data());
        }
        prev = b;
        prev_free = b->is_free();
        p += size;
    }
    // Free lists and bitmaps agree with the walk.
    std::size_t listed = 0;
    for (unsigned fl = 0; fl < detail::tlsf_max_first; ++fl) {
        const bool fl_bit = ((_fl_bitmap >> fl) & 1u) != 0;
        if (fl_bit != (_sl_bitmap[fl] != 0)) {
            return "tlsf: first-level bit " + std::to_string(fl) + " disagrees with its second-level bitmap";
        }
        for (unsigned sl = 0; sl < detail::tlsf_max_second; ++sl) {
            const block* head = _heads[slot({fl, sl})];
            const auto list_at = [fl, sl] {
                return "tlsf: list (" + std::to_string(fl) + ", " + std::to_string(sl) + "): ";
            };
            const bool empty = head == &_null;
            if ((((_sl_bitmap[fl] >> sl) & 1u) != 0) == empty) {
                return list_at() + "bitmap bit disagrees with the list being " + (empty ? "empty" : "non-empty");
            }
            const block* back = &_null;
            for (const block* b = head; b != &_null; b = b->next_free) {
                if (++listed > free_blocks.size()) {
                    return list_at() + "the free lists hold more blocks than the heap has free blocks (a cycle?)";
                }
                if (!std::binary_search(free_blocks.begin(), free_blocks.end(), b)) {
                    return list_at() + "entry at offset " + offset(b) + " is not a free block of the heap";
                }
                if (b->prev_free != back) return list_at() + "entry at offset " + offset(b) + " has a broken back link";
                if (_map.insert(b->size()) != detail::tlsf_mapping::index{fl, sl}) {
                    return list_at() + "entry at offset " + offset(b) + " of size " + std::to_string(b->size()) +
                           " belongs to another list";
                }
                back = b;
            }
        }
    }
    if (listed != free_blocks.size()) {
        return "tlsf: the walk found " + std::to_string(free_blocks.size()) + " free blocks but the lists hold " +
               std::to_string(listed);
    }
    // Quick lists hold exactly the parked blocks, each in its class's list.
    std::size_t quick_listed = 0;
    for (std::size_t i = 0; i < _quick.size(); ++i) {
        if (((_quick_map[i / detail::tlsf_max_second] >> (i % detail::tlsf_max_second)) & 1u) != (_quick[i] != nullptr)) {
            return "tlsf: quick list bitmap disagrees with quick list " + std::to_string(i);
        }
        for (const block* b = _quick[i]; b != nullptr; b = b->next_free) {
            if (++quick_listed > parked_blocks.size()) {
                return "tlsf: the quick lists hold more blocks than the heap has parked (a cycle?)";
            }
            if (!std::binary_search(parked_blocks.begin(), parked_blocks.end(), b)) {
                return "tlsf: quick list entry at offset " + offset(b) + " is not a parked block";
            }
            if (slot(_map.insert(b->size())) != i) return "tlsf: quick list entry at offset " + offset(b) + " is in the wrong list";
        }
    }
    if (quick_listed != parked_blocks.size() || quick_listed != _quick_blocks || parked_bytes != _quick_held) {
        return "tlsf: the walk found " + std::to_string(parked_blocks.size()) + " parked blocks of " +
               std::to_string(parked_bytes) + " bytes; the quick lists hold " + std::to_string(quick_listed) +
               " and the counters say " + std::to_string(_quick_blocks) + " of " + std::to_string(_quick_held);
    }
    if (_quick_held > _quick_limit) return "tlsf: the quick lists hold more than quick_bytes";
    if (granted != _counters.granted) {
        return "tlsf: granted_bytes is " + std::to_string(_counters.granted) + " but used blocks hold " + std::to_string(granted);
    }
    if (free_blocks.size() != _free_blocks) return "tlsf: the free_blocks counter is wrong";
    if (footprint != _footprint) {
        return "tlsf: footprint is " + std::to_string(_footprint) + " but the highest live block ends at " +
               std::to_string(footprint);
    }
    if (_counters.requested > _counters.granted) return "tlsf: requested_bytes exceeds granted_bytes";
    return {};
}

}  // namespace keel::alloc
