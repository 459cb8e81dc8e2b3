#pragma once

#include <keel/alloc/detail/align.hpp>
#include <keel/alloc/detail/poison.hpp>
#include <keel/alloc/heap.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace keel::alloc {

/// The misuses checked_heap detects.
enum class heap_misuse_kind {
    double_free,      ///< a block freed twice (its address was freed and not handed out since)
    foreign_pointer,  ///< a pointer outside the heap's memory
    not_a_block,      ///< a pointer inside the heap that no allocate returned
    fence_before_overwritten,  ///< a guard byte before the block was changed (an underrun)
    fence_after_overwritten,   ///< a guard byte after the block was changed (an overrun)
    size_mismatch,             ///< deallocate's size differs from allocate's
    alignment_mismatch,        ///< deallocate's alignment differs from allocate's
};

[[nodiscard]] constexpr std::string_view to_string(heap_misuse_kind kind) noexcept {
    switch (kind) {
        case heap_misuse_kind::double_free:
            return "double free";
        case heap_misuse_kind::foreign_pointer:
            return "pointer not from this heap";
        case heap_misuse_kind::not_a_block:
            return "pointer inside the heap that is not a block";
        case heap_misuse_kind::fence_before_overwritten:
            return "fence before the block overwritten";
        case heap_misuse_kind::fence_after_overwritten:
            return "fence after the block overwritten";
        case heap_misuse_kind::size_mismatch:
            return "size mismatch on deallocate";
        case heap_misuse_kind::alignment_mismatch:
            return "alignment mismatch on deallocate";
    }
    return "unknown misuse";
}

/// One detected misuse, as the handler receives it. Plain data.
struct heap_misuse {
    heap_misuse_kind kind;
    std::string_view heap_name;     ///< the checked Heap's name
    const void* pointer = nullptr;  ///< the block (as the caller sees it)
    std::size_t size = 0;   ///< the size the caller passed (deallocate) or recorded (fences)
    std::size_t align = 0;  ///< the alignment the caller passed
    std::size_t recorded_size = 0;   ///< the size allocate was asked for, when known
    std::size_t recorded_align = 0;  ///< the alignment allocate was asked for, when known
    /// For fences: the offset of the first changed byte from the block's start
    /// (negative: before the block; >= recorded_size: after it).
    std::ptrdiff_t offset = 0;
};

/// A one-line description: what, which heap, which pointer, the numbers.
[[nodiscard]] inline std::string to_string(const heap_misuse& m) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "checked_heap<%.*s>: %.*s at %p (size %zu, align %zu",
                  static_cast<int>(m.heap_name.size()), m.heap_name.data(),
                  static_cast<int>(to_string(m.kind).size()), to_string(m.kind).data(), m.pointer,
                  m.size, m.align);
    std::string s = buf;
    if (m.kind == heap_misuse_kind::size_mismatch ||
        m.kind == heap_misuse_kind::alignment_mismatch) {
        s += "; allocated with size " + std::to_string(m.recorded_size) + ", align " +
             std::to_string(m.recorded_align);
    }
    if (m.kind == heap_misuse_kind::fence_before_overwritten ||
        m.kind == heap_misuse_kind::fence_after_overwritten) {
        s += "; first changed byte at offset " + std::to_string(m.offset);
    }
    return s + ")";
}

/// The handler checked_heap calls on a misuse. It must not throw (heap operations
/// are noexcept). When it returns, the heap recovers as well as it can: a double or
/// foreign free is ignored, a mismatched or fence-broken block is freed as recorded.
using heap_misuse_handler = std::function<void(const heap_misuse&)>;

/// The default handler: prints to_string(m) to stderr and aborts.
[[noreturn]] inline void abort_on_heap_misuse(const heap_misuse& m) noexcept {
    const std::string s = to_string(m);
    std::fprintf(stderr, "keel::alloc: %s\n", s.c_str());
    std::fflush(stderr);
    std::abort();
}

/// Which checks checked_heap runs. Plain data; everything is off by default.
///  - Fill bytes (documented, so a debugger shows where memory came from):
///    new blocks get 0xCD ("clean"), freed blocks 0xDD ("dead"), fences 0xFD.
///  - fence_bytes: guard bytes before and after each block, filled with fence_fill,
///    checked on deallocate and by verify(); under ASan they are also poisoned, so
///    a stray access is reported where it happens. The guard before a block is
///    fence_bytes rounded up to the block's alignment (at least default_alignment).
///  - track_blocks: an exact table of live blocks (std::unordered_map) and of freed
///    addresses, for double-free, foreign-pointer and size/alignment mismatch
///    detection, and for verify() to check every fence. Deallocation then costs a
///    hash lookup and erase (no longer O(1) without a hash), and memory for the tables
///    comes from the global allocator.
struct heap_check_options {
    bool fill_new = false;    ///< fill each new block with alloc_fill
    bool fill_freed = false;  ///< fill each freed block with free_fill before giving it back
    std::byte alloc_fill{0xCD};
    std::byte free_fill{0xDD};
    std::size_t fence_bytes = 0;  ///< 0: no fences; at most max_fence_bytes
    std::byte fence_fill{0xFD};
    bool track_blocks = false;
    bool poison_fences = true;      ///< under ASan, poison the fences (no effect without ASan)
    heap_misuse_handler on_misuse;  ///< empty: abort_on_heap_misuse

    static constexpr std::size_t max_fence_bytes = 4096;

    /// Every check on, with 16-byte fences.
    [[nodiscard]] static heap_check_options all(heap_misuse_handler handler = {}) {
        heap_check_options o;
        o.fill_new = o.fill_freed = o.track_blocks = true;
        o.fence_bytes = 16;
        o.on_misuse = std::move(handler);
        return o;
    }
};

/// A Heap with switchable debugging checks (see heap_check_options): fills, fences,
/// double-free, foreign-pointer and size/alignment mismatch detection. Misuse goes
/// to options.on_misuse (default: message to stderr, then abort).
/// stats() is the Heap's, with requested_bytes counting what callers asked for
/// (fences are internal fragmentation) and failed_allocations including requests
/// refused here (bad alignment, sizes that overflow with the fences).
/// name is Heap's name. Not thread-safe (wrap it in synchronized_heap).
/// Cost with every check off: a few predictable branches around each Heap call;
/// fills and fences cost O(block size) and O(fence) per operation, tracking a hash
/// insert per allocate and a lookup and erase per deallocate.
template <heap Heap>
class checked_heap {
public:
    static constexpr std::string_view name = Heap::name;

    /// Builds the Heap from `heap_args`. Throws std::invalid_argument when
    /// fence_bytes exceeds max_fence_bytes.
    template <class... HeapArgs>
    requires std::constructible_from<Heap, HeapArgs...>
    explicit checked_heap(heap_check_options options, HeapArgs&&... heap_args)
        : _heap(std::forward<HeapArgs>(heap_args)...), _options(std::move(options)) {
        if (_options.fence_bytes > heap_check_options::max_fence_bytes) {
            throw std::invalid_argument(
                "checked_heap: fence_bytes " + std::to_string(_options.fence_bytes) +
                " exceeds the maximum of " + std::to_string(heap_check_options::max_fence_bytes));
        }
    }

    checked_heap(const checked_heap&) = delete;
    checked_heap& operator=(const checked_heap&) = delete;

    [[nodiscard]] void* allocate(std::size_t n, std::size_t align = default_alignment) noexcept {
        if (!is_valid_alignment(align)) return fail();
        const std::size_t front = front_fence(align);
        const std::size_t back = _options.fence_bytes;
        if (n > SIZE_MAX - front - back) return fail();
        auto* raw = static_cast<std::byte*>(_heap.allocate(front + n + back, align));
        if (raw == nullptr) return nullptr;  // the Heap counted it
        std::byte* p = raw + front;
        if (_options.track_blocks) {
            try {
                _live.insert_or_assign(p, record{n, align});
                _freed.erase(p);
            } catch (...) {  // no memory for the table: refuse the block rather than lose track
                _live.erase(p);
                _heap.deallocate(raw, front + n + back, align);
                return fail();
            }
        }
        if (_options.fill_new && n != 0) std::memset(p, static_cast<int>(_options.alloc_fill), n);
        if (front + back != 0) {
            std::memset(raw, static_cast<int>(_options.fence_fill), front);
            restore_fences(p, n, align);
        }
        _requested += n;
        _peak_requested = std::max(_peak_requested, _requested);
        return p;
    }

    void deallocate(void* ptr, std::size_t n, std::size_t align = default_alignment) noexcept {
        if (ptr == nullptr) return;
        auto* p = static_cast<std::byte*>(ptr);
        std::size_t size = n;
        std::size_t alignment = align;
        auto it = _live.end();
        if (!look_up(p, size, alignment, it)) return;  // never hand the Heap a pointer it did not give
        if (it != _live.end()) {
            _live.erase(it);
            try {
                _freed.insert(p);
            } catch (...) {  // double-free detection degrades for this address only
            }
        }
        const std::size_t front = front_fence(alignment);
        const std::size_t back = _options.fence_bytes;
        std::byte* raw = p - front;
        if (front + back != 0) {
            // The Heap may write its links into the block: unpoison before giving it back.
            detail::unpoison(raw, front);
            detail::unpoison(p + size, back);
            check_fences(p, size, alignment, n, align);
        }
        if (_options.fill_freed && size != 0)
            std::memset(p, static_cast<int>(_options.free_fill), size);
        _requested -= std::min(_requested, size);
        _heap.deallocate(raw, front + size + back, alignment);
    }

    /// Heap's try_resize with the same checks as deallocate on the block as it
    /// was (table lookup, size and alignment, fences; a block the table does not
    /// know is reported and refused), then, on success, a fence after the new end
    /// and fill_new over grown bytes. Bytes a shrink gives up go back to the Heap
    /// unfilled (once they are the Heap's they may hold its free-block links).
    /// On false the block is as it was, fences included. Only when Heap is a
    /// resizable_heap.
    [[nodiscard]] bool try_resize(void* ptr, std::size_t old_n, std::size_t new_n,
                                  std::size_t align = default_alignment) noexcept
        requires resizable_heap<Heap>
    {
        if (ptr == nullptr) return false;
        auto* p = static_cast<std::byte*>(ptr);
        std::size_t size = old_n;
        std::size_t alignment = align;
        auto it = _live.end();
        if (!look_up(p, size, alignment, it)) return false;
        const std::size_t front = front_fence(alignment);
        const std::size_t back = _options.fence_bytes;
        if (new_n > SIZE_MAX - front - back) return false;
        if (back != 0) {
            detail::unpoison(p - front, front);
            detail::unpoison(p + size, back);
            check_fences(p, size, alignment, old_n, align);  // leaves both fences unpoisoned
        }
        if (!_heap.try_resize(p - front, front + size + back, front + new_n + back, alignment)) {
            if (back != 0) restore_fences(p, size, alignment);
            return false;
        }
        if (_options.fill_new && new_n > size) {
            std::memset(p + size, static_cast<int>(_options.alloc_fill), new_n - size);
        }
        if (back != 0) restore_fences(p, new_n, alignment);
        if (it != _live.end()) it->second.size = new_n;
        _requested = _requested - std::min(_requested, size) + new_n;
        _peak_requested = std::max(_peak_requested, _requested);
        return true;
    }

    [[nodiscard]] bool owns(const void* p) const noexcept {
        return _heap.owns(const_cast<void*>(p));
    }

    [[nodiscard]] heap_stats stats() const noexcept {
        heap_stats s = _heap.stats();
        s.requested_bytes = _requested;
        s.peak_requested_bytes = _peak_requested;
        s.failed_allocations += _failed;
        return s;
    }

    [[nodiscard]] std::size_t footprint() const noexcept { return _heap.footprint(); }

    /// The Heap's verify(), then (with track_blocks) every live block's fences and
    /// that the table agrees with the Heap's counters. Does not call the handler.
    [[nodiscard]] std::string verify() const {
        if (auto v = _heap.verify(); !v.empty()) return v;
        if (!_options.track_blocks) return {};
        const heap_stats s = _heap.stats();
        if (s.allocations - s.deallocations != _live.size()) {
            return "checked_heap: " + std::to_string(_live.size()) +
                   " blocks tracked but the heap counts " +
                   std::to_string(s.allocations - s.deallocations) + " live";
        }
        for (const auto& [p, r] : _live) {
            if (auto bad = first_bad_fence(p, r.size, r.align); bad.has_value()) {
                heap_misuse m{bad->first, Heap::name, p,       r.size,
                              r.align,    r.size,     r.align, bad->second};
                return to_string(m);
            }
        }
        return {};
    }

    /// The checked Heap (for its own extras; bypassing the checks on it is on you).
    [[nodiscard]] Heap& inner() noexcept { return _heap; }
    [[nodiscard]] const Heap& inner() const noexcept { return _heap; }
    [[nodiscard]] const heap_check_options& options() const noexcept { return _options; }
    /// Live blocks in the table (0 without track_blocks).
    [[nodiscard]] std::size_t tracked_blocks() const noexcept { return _live.size(); }

private:
    struct record {
        std::size_t size;
        std::size_t align;
    };

    [[nodiscard]] std::size_t front_fence(std::size_t align) const noexcept {
        return _options.fence_bytes == 0
                   ? 0
                   : detail::align_up(_options.fence_bytes, std::max(align, default_alignment));
    }

    void* fail() noexcept {
        ++_failed;
        return nullptr;
    }

    // The first changed fence byte of block p: (kind, offset from p), or nothing.
    [[nodiscard]] std::optional<std::pair<heap_misuse_kind, std::ptrdiff_t>> first_bad_fence(
        const std::byte* p, std::size_t size, std::size_t align) const noexcept {
        const std::size_t front = front_fence(align);
        const std::size_t back = _options.fence_bytes;
        const std::byte* raw = p - front;
        detail::unpoison(raw, front);
        detail::unpoison(p + size, back);
        std::optional<std::pair<heap_misuse_kind, std::ptrdiff_t>> bad;
        for (std::size_t i = 0; i < front && !bad; ++i) {
            if (raw[i] != _options.fence_fill) {
                bad.emplace(heap_misuse_kind::fence_before_overwritten,
                            static_cast<std::ptrdiff_t>(i) - static_cast<std::ptrdiff_t>(front));
            }
        }
        for (std::size_t i = 0; i < back && !bad; ++i) {
            if (p[size + i] != _options.fence_fill) {
                bad.emplace(heap_misuse_kind::fence_after_overwritten,
                            static_cast<std::ptrdiff_t>(size + i));
            }
        }
        if (_options.poison_fences) {
            detail::poison(raw, front);
            detail::poison(p + size, back);
        }
        return bad;
    }

    void check_fences(std::byte* p, std::size_t size, std::size_t align, std::size_t n,
                      std::size_t given_align) noexcept {
        if (auto bad = first_bad_fence(p, size, align); bad.has_value()) {
            heap_misuse m{bad->first, Heap::name, p, n, given_align, size, align, bad->second};
            call_handler(m);
        }
        // first_bad_fence re-poisoned them; the Heap may write there on deallocate.
        detail::unpoison(p - front_fence(align), front_fence(align));
        detail::unpoison(p + size, _options.fence_bytes);
    }

    // The checks deallocate and try_resize share on block p, which the caller says
    // is of `size` bytes aligned to `align`. With track_blocks: finds its record
    // (`it`), reports a block the table does not know and returns false, reports a
    // size or alignment mismatch and sets size and align to the recorded ones.
    // Without: reports an invalid alignment and returns false.
    bool look_up(std::byte* p, std::size_t& size, std::size_t& align,
                 typename std::unordered_map<const std::byte*, record>::iterator& it) noexcept {
        const std::size_t n = size;
        const std::size_t given = align;
        if (!_options.track_blocks) {
            if (is_valid_alignment(align)) return true;
            report(heap_misuse_kind::alignment_mismatch, p, n, align, 0, 0);
            return false;
        }
        it = _live.find(p);
        if (it == _live.end()) {
            report(_freed.contains(p) ? heap_misuse_kind::double_free
                   : _heap.owns(p)    ? heap_misuse_kind::not_a_block
                                      : heap_misuse_kind::foreign_pointer,
                   p, n, given, 0, 0);
            return false;
        }
        const record r = it->second;
        if (r.size != n) report(heap_misuse_kind::size_mismatch, p, n, given, r.size, r.align);
        if (r.align != given) report(heap_misuse_kind::alignment_mismatch, p, n, given, r.size, r.align);
        size = r.size;  // act on what was allocated, whatever the caller said
        align = r.align;
        return true;
    }

    // Writes the fence after a block of n bytes at p, and poisons both fences.
    void restore_fences(std::byte* p, std::size_t n, std::size_t align) noexcept {
        std::memset(p + n, static_cast<int>(_options.fence_fill), _options.fence_bytes);
        if (_options.poison_fences) {
            detail::poison(p - front_fence(align), front_fence(align));
            detail::poison(p + n, _options.fence_bytes);
        }
    }

    void report(heap_misuse_kind kind, const void* p, std::size_t n, std::size_t align,
                std::size_t recorded_size, std::size_t recorded_align) noexcept {
        heap_misuse m{kind, Heap::name, p, n, align, recorded_size, recorded_align, 0};
        call_handler(m);
    }

    void call_handler(const heap_misuse& m) noexcept {
        if (_options.on_misuse) {
            _options.on_misuse(m);
        } else {
            abort_on_heap_misuse(m);
        }
    }

    Heap _heap;
    heap_check_options _options;
    std::unordered_map<const std::byte*, record> _live;
    std::unordered_set<const std::byte*> _freed;  // freed and not handed out since
    std::size_t _requested = 0;
    std::size_t _peak_requested = 0;
    std::uint64_t _failed = 0;
};

}  // namespace keel::alloc
