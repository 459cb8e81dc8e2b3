#pragma once

#include <keel/alloc/detail/align.hpp>
#include <keel/alloc/detail/heap_counters.hpp>
#include <keel/alloc/heap.hpp>
#include <keel/platform/memory_source.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace keel::alloc {

/// Options for growing_heap. Plain data.
struct growing_heap_options {
    /// The least a new region maps (a larger request maps what it needs). Not 0.
    std::size_t chunk_bytes = std::size_t{4} << 20;
    /// The most memory all regions together may map; past it allocate() returns
    /// nullptr. Not 0.
    std::size_t cap_bytes = SIZE_MAX;
};

/// A heap that grows: a Heap per region, mapping a new region from `Source` when
/// no current region can serve a request, up to options.cap_bytes of mapped memory.
///  - Regions are at least chunk_bytes, more when one request needs it, rounded to
///    the source's granularity. The first is mapped at construction, so bad Heap
///    arguments and map failures surface there (as exceptions) and not on the hot path.
///  - allocate tries the region that served last, then the others, then grows.
///    At the cap, or when the source cannot map, it returns nullptr (both counted
///    as failed_allocations; map_failures() counts the source's refusals).
///  - A region that becomes empty is kept as a spare; a second empty one is unmapped
///    (the smaller of the two), so freeing everything leaves one region mapped and
///    the cap free for one large request. Everything is unmapped on destruction.
///  - owns/deallocate find the region by binary search over regions sorted by address.
/// stats() sums the regions' stats (largest_free_block is the largest of them;
/// failed_allocations and peaks are this heap's own). Cost: O(regions) plus each
/// region heap's stats(); footprint() is O(1) (a running sum).
/// The source must outlive the heap. Not thread-safe (wrap in synchronized_heap).
/// Cost: allocate is one Heap::allocate while the last region can serve; a miss
/// tries every region once (O(regions)) before mapping.
template <heap Heap, platform::region_mapper Source = platform::any_memory_source>
class growing_heap {
public:
    static constexpr std::string_view name = "growing";

    /// Throws std::invalid_argument for a zero chunk_bytes or cap_bytes, a cap too
    /// small for one granule of the source, or Heap arguments the Heap rejects;
    /// std::system_error when the source cannot map the first region.
    /// `heap_args` follow the region in every Heap's constructor (its options).
    template <class... HeapArgs>
    requires std::constructible_from < Heap, platform::memory_region, const std::decay_t<HeapArgs>
    &... > explicit growing_heap(Source& source, growing_heap_options options = {},
                                 HeapArgs&&... heap_args)
        : _source(&source),
    _options(options),
    _make([... args = std::forward<HeapArgs>(heap_args)](platform::memory_region r) {
        return std::make_unique<Heap>(r, args...);
    }) {
        if (_options.chunk_bytes == 0)
            throw std::invalid_argument("growing_heap: chunk_bytes is 0");
        if (_options.cap_bytes == 0) throw std::invalid_argument("growing_heap: cap_bytes is 0");
        const std::size_t granule = _source->granularity();
        if (_options.cap_bytes < granule) {
            throw std::invalid_argument(
                "growing_heap: cap_bytes " + std::to_string(_options.cap_bytes) +
                " is below the source's granularity of " + std::to_string(granule) + " bytes");
        }
        const std::size_t first =
            std::min(round_to_granule(_options.chunk_bytes), cap_rounded_down());
        auto mapped = _source->map(first);
        if (!mapped) {
            throw std::system_error(
                std::error_code(mapped.error()),
                "growing_heap: cannot map the first region of " + std::to_string(first) + " bytes");
        }
        try {
            add_region(*mapped);  // a Heap rejecting its arguments throws here
        } catch (...) {
            _source->unmap(*mapped);
            throw;
        }
    }

    growing_heap(const growing_heap&) = delete;
    growing_heap& operator=(const growing_heap&) = delete;

    ~growing_heap() {
        for (auto& r : _regions) {
            r.heap.reset();
            _source->unmap(r.region);
        }
    }

    [[nodiscard]] void* allocate(std::size_t n, std::size_t align = default_alignment) noexcept {
        if (!is_valid_alignment(align) || n > _options.cap_bytes) return fail();
        // Try the region that served last, then every other one, then grow.
        if (_last < _regions.size()) {
            if (void* p = allocate_in(_last, n, align)) return p;
        }
        for (std::size_t i = 0; i < _regions.size(); ++i) {
            if (i == _last) continue;
            if (void* p = allocate_in(i, n, align)) {
                _last = i;
                return p;
            }
        }
        return grow_and_allocate(n, align);
    }

    void deallocate(void* p, std::size_t n, std::size_t align = default_alignment) noexcept {
        if (p == nullptr) return;
        const std::size_t i = find(p);
        if (i == npos) return;  // not ours: nothing sane to do (checked_heap reports this)
        auto& r = _regions[i];
        const std::size_t before = r.heap->footprint();
        r.heap->deallocate(p, n, align);
        _footprint = _footprint - before + r.heap->footprint();
        _counters.on_deallocate(std::min(_counters.requested, n), 0);
        if (r.live > 0 && --r.live == 0) release_if_spare(i);
    }

    /// The region heap's try_resize (a block never moves between regions); only
    /// when Heap is a resizable_heap. O(log regions) to find the region.
    [[nodiscard]] bool try_resize(void* p, std::size_t old_n, std::size_t new_n,
                                  std::size_t align = default_alignment) noexcept
        requires resizable_heap<Heap>
    {
        if (p == nullptr) return false;
        const std::size_t i = find(p);
        if (i == npos) return false;
        auto& r = _regions[i];
        const std::size_t before = r.heap->footprint();
        if (!r.heap->try_resize(p, old_n, new_n, align)) return false;
        _footprint = _footprint - before + r.heap->footprint();
        _counters.note_footprint(_footprint);
        _counters.on_resize(old_n, new_n, 0, 0);  // granted stays with the region heaps
        return true;
    }

    [[nodiscard]] bool owns(const void* p) const noexcept { return find(p) != npos; }

    [[nodiscard]] heap_stats stats() const noexcept {
        heap_stats s;
        _counters.fill(s);
        // Live bytes are the regions' own (granted is only known there).
        s.requested_bytes = 0;
        s.granted_bytes = 0;
        for (const auto& r : _regions) {
            const heap_stats h = r.heap->stats();
            s.capacity_bytes += h.capacity_bytes;
            s.requested_bytes += h.requested_bytes;
            s.granted_bytes += h.granted_bytes;
            s.free_bytes += h.free_bytes;
            s.largest_free_block = std::max(s.largest_free_block, h.largest_free_block);
            s.free_blocks += h.free_blocks;
            s.footprint_bytes += h.footprint_bytes;
        }
        return s;
    }

    [[nodiscard]] std::size_t footprint() const noexcept { return _footprint; }

    /// Checks each region's heap, that regions are sorted and disjoint, that the
    /// mapped total respects the cap, and that the running sums agree with the regions.
    [[nodiscard]] std::string verify() const {
        std::size_t mapped = 0;
        std::size_t footprint = 0;
        std::size_t requested = 0;
        for (std::size_t i = 0; i < _regions.size(); ++i) {
            const auto& r = _regions[i];
            if (i > 0 && _regions[i - 1].region.end() > r.region.begin()) {
                return "region " + std::to_string(i) + " overlaps or is out of order with region " +
                       std::to_string(i - 1);
            }
            if (auto v = r.heap->verify(); !v.empty()) {
                return "region " + std::to_string(i) + " (" + std::to_string(r.region.size()) +
                       " bytes): " + v;
            }
            mapped += r.region.size();
            footprint += r.heap->footprint();
            requested += r.heap->stats().requested_bytes;
        }
        if (mapped != _mapped) {
            return "mapped bytes " + std::to_string(_mapped) + " but regions add up to " +
                   std::to_string(mapped);
        }
        if (_mapped > _options.cap_bytes) {
            return "mapped " + std::to_string(_mapped) + " bytes, over the cap of " +
                   std::to_string(_options.cap_bytes);
        }
        if (footprint != _footprint) {
            return "running footprint " + std::to_string(_footprint) + " but regions add up to " +
                   std::to_string(footprint);
        }
        if (requested != _counters.requested) {
            return "requested bytes " + std::to_string(_counters.requested) + " but regions add up to " +
                   std::to_string(requested);
        }
        return {};
    }

    /// Bytes mapped from the source now (never more than options.cap_bytes).
    [[nodiscard]] std::size_t mapped_bytes() const noexcept { return _mapped; }
    /// Regions mapped now.
    [[nodiscard]] std::size_t region_count() const noexcept { return _regions.size(); }
    /// Times the source refused to map a region (each also a failed allocation).
    [[nodiscard]] std::uint64_t map_failures() const noexcept { return _map_failures; }
    [[nodiscard]] const growing_heap_options& options() const noexcept { return _options; }

private:
    struct region_heap {
        platform::memory_region region;
        std::unique_ptr<Heap> heap;
        std::size_t live = 0;  // blocks handed out and not yet freed
    };
    static constexpr std::size_t npos = SIZE_MAX;
    // Room a fresh Heap needs beyond the request itself (control block, headers,
    // alignment padding); a guess, so growth retries with doubled sizes.
    static constexpr std::size_t heap_overhead_guess = std::size_t{64} << 10;

    [[nodiscard]] std::size_t round_to_granule(std::size_t n) const noexcept {
        return detail::checked_align_up(n, _source->granularity());
    }
    [[nodiscard]] std::size_t cap_rounded_down() const noexcept {
        const std::size_t g = _source->granularity();
        return _options.cap_bytes / g * g;
    }

    void* fail() noexcept {
        _counters.on_failure();
        return nullptr;
    }

    void* allocate_in(std::size_t i, std::size_t n, std::size_t align) noexcept {
        auto& r = _regions[i];
        const std::size_t before = r.heap->footprint();
        void* p = r.heap->allocate(n, align);
        if (p == nullptr) return nullptr;
        _footprint = _footprint - before + r.heap->footprint();
        _counters.note_footprint(_footprint);
        _counters.on_allocate(n, 0);  // granted stays with the region heaps
        ++r.live;
        return p;
    }

    void* grow_and_allocate(std::size_t n, std::size_t align) noexcept {
        const std::size_t room = cap_rounded_down() - _mapped;
        // n + align + overhead + n/16, without overflow (n <= cap_bytes here).
        std::size_t want = n;
        for (std::size_t extra : {align, heap_overhead_guess, n / 16}) {
            want = want > SIZE_MAX - extra ? SIZE_MAX : want + extra;
        }
        want = std::max(want, _options.chunk_bytes);
        for (int attempt = 0; attempt < 3; ++attempt) {
            std::size_t size = round_to_granule(want);
            if (size == 0 || size > room) size = room;  // the last try gets what the cap leaves
            if (size == 0) return fail();
            auto mapped = _source->map(size);
            if (!mapped) {
                ++_map_failures;
                return fail();
            }
            std::size_t index = npos;
            try {
                index = add_region(*mapped);
            } catch (
                ...) {  // the Heap refused the region (too small for it) or no memory for the table
                _source->unmap(*mapped);
                if (size == room) return fail();
                want = want > SIZE_MAX / 2 ? SIZE_MAX : want * 2;
                continue;
            }
            if (void* p = allocate_in(index, n, align)) {
                _last = index;
                return p;
            }
            // A fresh Heap could not serve it (e.g. a buddy heap needs a power of two):
            // give the region back and try a larger one.
            remove_region(index);
            if (size == room) return fail();
            want = want > SIZE_MAX / 2 ? SIZE_MAX : want * 2;
        }
        return fail();
    }

    // Builds a Heap over `region` and inserts it in address order; returns its index.
    std::size_t add_region(platform::memory_region region) {
        auto heap = _make(region);
        auto at = std::lower_bound(
            _regions.begin(), _regions.end(), region.begin(),
            [](const region_heap& r, const std::byte* b) { return r.region.begin() < b; });
        const auto index = static_cast<std::size_t>(at - _regions.begin());
        const std::size_t footprint = heap->footprint();
        const bool shifts_last = !_regions.empty() && _last >= index;
        _regions.insert(at, region_heap{region, std::move(heap), 0});
        _footprint += footprint;
        _mapped += region.size();
        if (shifts_last) ++_last;
        return index;
    }

    void remove_region(std::size_t i) noexcept {
        auto& r = _regions[i];
        _footprint -= r.heap->footprint();
        _mapped -= r.region.size();
        const platform::memory_region region = r.region;
        r.heap.reset();
        _regions.erase(_regions.begin() + static_cast<std::ptrdiff_t>(i));
        _source->unmap(region);
        if (_last == i) {
            _last = 0;
        } else if (_last > i) {
            --_last;
        }
    }

    // Region i just became empty: keep one empty region as a spare, unmap the smaller
    // of two (so alternating allocate/free at a boundary does not map and unmap each time).
    void release_if_spare(std::size_t i) noexcept {
        for (std::size_t j = 0; j < _regions.size(); ++j) {
            if (j == i || _regions[j].live != 0) continue;
            remove_region(_regions[j].region.size() < _regions[i].region.size() ? j : i);
            return;
        }
    }

    [[nodiscard]] std::size_t find(const void* p) const noexcept {
        const auto* b = static_cast<const std::byte*>(p);
        auto at = std::upper_bound(
            _regions.begin(), _regions.end(), b,
            [](const std::byte* x, const region_heap& r) { return x < r.region.begin(); });
        if (at == _regions.begin()) return npos;
        --at;
        return at->region.contains(p) ? static_cast<std::size_t>(at - _regions.begin()) : npos;
    }

    Source* _source;
    growing_heap_options _options;
    std::function<std::unique_ptr<Heap>(platform::memory_region)> _make;
    std::vector<region_heap> _regions;  // sorted by address
    std::size_t _last = 0;              // the region that served last (a hint)
    std::size_t _mapped = 0;
    std::size_t _footprint = 0;
    detail::heap_counters _counters;  // granted unused: the region heaps keep it
    std::uint64_t _map_failures = 0;
};

}  // namespace keel::alloc
