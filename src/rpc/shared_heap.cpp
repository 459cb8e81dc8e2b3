#include <keel/alloc/tlsf_heap.hpp>
#include <keel/rpc/shared_heap.hpp>
#include <keel/sync/futex_mutex.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace keel::rpc {
namespace {

// TLSF blocks start on 16-byte granules and give their size minus 8 usable bytes.
constexpr std::uint64_t granule = alloc::detail::tlsf_granule;
constexpr std::size_t used_overhead = alloc::detail::tlsf_used_overhead;
// Give-backs taken per lock hold (their destructors run without the lock).
constexpr std::size_t drain_batch = 64;

struct free_deleter {
    void operator()(void* p) const noexcept { std::free(p); }
};

std::uint64_t load_acquire(const std::uint64_t& word) noexcept {
    // A peer's word, in a read-only mapping: an atomic load writes nothing.
    return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(word)).load(std::memory_order_acquire);
}
std::uint64_t load_relaxed(const std::uint64_t& word) noexcept {
    return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(word)).load(std::memory_order_relaxed);
}
void store_release(std::uint64_t& word, std::uint64_t v) noexcept {
    std::atomic_ref<std::uint64_t>(word).store(v, std::memory_order_release);
}

}  // namespace

struct shared_heap::impl {
    // Private memory of the owner: nothing here is visible to the peer.
    mutable sync::futex_mutex<> lock;
    alloc::tlsf_heap heap;
    std::byte* heap_begin;
    std::size_t granules;
    std::unique_ptr<std::uint64_t[], free_deleter> live;  // one bit per granule: a live block starts here
    std::unordered_map<std::uint64_t, destroy_fn> lent;    // offset -> what to run when it comes back

    // Giving back (client): this side's ring, in its own arena.
    std::uint64_t* ring = nullptr;
    std::uint64_t ring_mask = 0;
    std::uint64_t* ring_head_word = nullptr;           // own header
    const std::uint64_t* peer_drained_word = nullptr;  // peer's header (read-only)
    std::uint64_t ring_head = 0;                       // guarded by lock
    std::uint64_t peer_heap_offset = 0;                // the peer's heap part (offsets in the range)
    std::uint64_t peer_heap_size = 0;

    // Taking back (server): the peer's ring, read-only.
    const std::uint64_t* peer_ring = nullptr;
    std::uint64_t peer_ring_capacity = 0;
    const std::uint64_t* peer_head_word = nullptr;  // peer's header
    std::uint64_t* drained_word = nullptr;          // own header
    std::atomic<std::uint64_t> drained{0};          // written under lock; read without it for the quick check

    std::atomic<std::uint64_t> high_water{0};  // end of the highest block ever allocated, from heap_begin

    std::uint64_t given_back = 0;
    std::uint64_t refused = 0;
    std::uint64_t released = 0;

    impl(std::byte* begin, std::size_t size)
        : heap(platform::memory_region(begin, size)),
          heap_begin(begin),
          granules(size / granule),
          live(static_cast<std::uint64_t*>(std::calloc((size / granule + 63) / 64, sizeof(std::uint64_t)))) {
        if (!live) throw std::bad_alloc();
    }

    [[nodiscard]] bool is_live(std::size_t g) const noexcept { return ((live[g / 64] >> (g % 64)) & 1u) != 0; }
    void set_live(std::size_t g) noexcept { live[g / 64] |= std::uint64_t{1} << (g % 64); }
    void clear_live(std::size_t g) noexcept { live[g / 64] &= ~(std::uint64_t{1} << (g % 64)); }

    // Frees the live block at granule g (under lock).
    void free_block(std::size_t g) noexcept {
        clear_live(g);
        std::byte* p = heap_begin + g * granule;
        // Every block was sized to its whole usable room at allocation (see
        // allocate_locked), so its requested size is its block size minus 8.
        heap.deallocate(p, alloc::tlsf_heap::block_size_of(p) - used_overhead);
    }

    // A block of `bytes` (under lock), or nullptr.
    void* allocate_locked(std::size_t bytes, std::size_t align) noexcept {
        void* p = heap.allocate(bytes, align);
        if (p == nullptr) return nullptr;
        // Record the block's whole usable room as its size, so that deallocate needs
        // no size from the caller and the heap's counters stay exact.
        const std::size_t usable = alloc::tlsf_heap::block_size_of(p) - used_overhead;
        if (usable != bytes) (void)heap.try_resize(p, bytes, usable, align);
        const auto start = static_cast<std::size_t>(static_cast<std::byte*>(p) - heap_begin);
        set_live(start / granule);
        const std::uint64_t end = std::min<std::uint64_t>(start + usable, granules * granule);
        if (end > high_water.load(std::memory_order_relaxed)) high_water.store(end, std::memory_order_relaxed);
        return p;
    }
};

shared_heap::shared_heap(const shared_space& space) {
    if (!space) throw std::invalid_argument("rpc::shared_heap: the shared_space is empty");
    const arena_role own = space.own_role();
    const auto& mine = space.area_of(own);
    const auto& peer = space.area_of(space.peer_role());
    _base = space.base();
    _heap_offset = mine.heap_offset;
    _heap_size = mine.heap_size;
    _role = own;
    _impl = std::make_unique<impl>(_base + mine.heap_offset, mine.heap_size);
    auto* own_header = reinterpret_cast<arena_header*>(_base + mine.offset);
    const auto* peer_header = reinterpret_cast<const arena_header*>(_base + peer.offset);
    _impl->peer_heap_offset = peer.heap_offset;
    _impl->peer_heap_size = peer.heap_size;
    if (mine.ring_capacity != 0) {
        _impl->ring = reinterpret_cast<std::uint64_t*>(_base + mine.ring_offset);
        _impl->ring_mask = mine.ring_capacity - 1;
        _impl->ring_head_word = &own_header->ring_head;
        _impl->peer_drained_word = &peer_header->peer_ring_drained;
        _impl->ring_head = own_header->ring_head;  // 0 for a fresh arena
    }
    if (peer.ring_capacity != 0) {
        _impl->peer_ring = reinterpret_cast<const std::uint64_t*>(_base + peer.ring_offset);
        _impl->peer_ring_capacity = peer.ring_capacity;
        _impl->peer_head_word = &peer_header->ring_head;
        _impl->drained_word = &own_header->peer_ring_drained;
        // Start from where the peer's ring is now: nothing was lent before this heap.
        const std::uint64_t head = load_acquire(peer_header->ring_head);
        _impl->drained.store(head, std::memory_order_relaxed);
        store_release(own_header->peer_ring_drained, head);
    }
}

shared_heap::~shared_heap() = default;

std::uint64_t shared_heap::used_extent() const noexcept { return _impl->high_water.load(std::memory_order_relaxed); }

void* shared_heap::allocate_bytes(std::size_t bytes, std::size_t align) noexcept {
    impl& m = *_impl;
    if (m.peer_ring != nullptr && load_acquire(*m.peer_head_word) != m.drained.load(std::memory_order_relaxed)) {
        (void)collect_give_backs();
    }
    std::lock_guard guard(m.lock);
    return m.allocate_locked(bytes, align);
}

result<shm_ptr<std::byte>> shared_heap::allocate(std::size_t bytes, std::size_t align) noexcept {
    if (!alloc::is_valid_alignment(align)) return keel::make_error_code(std::errc::invalid_argument);
    void* p = allocate_bytes(bytes, align);
    if (p == nullptr) return make_error_code(errc::out_of_memory);
    return shm_ptr<std::byte>(static_cast<std::uint64_t>(static_cast<std::byte*>(p) - _base));
}

result<shm_ptr<std::byte>> shared_heap::allocate_sealable(std::size_t bytes) noexcept {
    constexpr std::size_t page = segment_area_alignment;
    if (bytes > SIZE_MAX - page) return make_error_code(errc::out_of_memory);
    const std::size_t n = bytes == 0 ? page : (bytes + page - 1) / page * page;
    // Page-aligned start: the block's header lies on the page before. Its usable
    // room is at least n, and the next block's header starts at or after its end.
    return allocate(n, page);
}

result<std::size_t> shared_heap::sealable_bytes_offset(std::uint64_t off) const noexcept {
    constexpr std::size_t page = segment_area_alignment;
    if (auto r = check_live(off); !r) return r.error();
    if (off % page != 0) return keel::make_error_code(std::errc::invalid_argument);
    std::size_t usable = 0;
    {
        std::lock_guard guard(_impl->lock);
        usable = alloc::tlsf_heap::block_size_of(_base + off) - used_overhead;
    }
    // Whole pages inside the usable room: the next block's boundary tag may share the
    // last 8 bytes of the room, but it is written only when this block is free.
    const std::size_t n = usable / page * page;
    if (n == 0) return keel::make_error_code(std::errc::invalid_argument);
    return n;
}

result<void> shared_heap::check_live(std::uint64_t off) const noexcept {
    if (off == 0) return make_error_code(errc::null_pointer);
    if (off < _heap_offset || off - _heap_offset >= _heap_size || (off - _heap_offset) % granule != 0) {
        return make_error_code(errc::not_allocated);
    }
    std::lock_guard guard(_impl->lock);
    if (!_impl->is_live(static_cast<std::size_t>((off - _heap_offset) / granule))) {
        return make_error_code(errc::not_allocated);
    }
    return {};
}

result<void> shared_heap::deallocate_offset(std::uint64_t off) noexcept {
    if (off == 0) return make_error_code(errc::null_pointer);
    if (off < _heap_offset || off - _heap_offset >= _heap_size || (off - _heap_offset) % granule != 0) {
        return make_error_code(errc::not_allocated);
    }
    impl& m = *_impl;
    const auto g = static_cast<std::size_t>((off - _heap_offset) / granule);
    std::lock_guard guard(m.lock);
    if (!m.is_live(g)) return make_error_code(errc::not_allocated);
    if (!m.lent.empty()) m.lent.erase(off);  // the owner took its loan back
    m.free_block(g);
    return {};
}

void shared_heap::deallocate_bytes(void* p) noexcept {
    if (p == nullptr) return;
    (void)deallocate_offset(static_cast<std::uint64_t>(static_cast<std::byte*>(p) - _base));
}

result<void> shared_heap::lend_offset(std::uint64_t off, destroy_fn fn) noexcept {
    if (off == 0) return make_error_code(errc::null_pointer);
    if (off < _heap_offset || off - _heap_offset >= _heap_size || (off - _heap_offset) % granule != 0) {
        return make_error_code(errc::not_allocated);
    }
    std::lock_guard guard(_impl->lock);
    if (!_impl->is_live(static_cast<std::size_t>((off - _heap_offset) / granule))) {
        return make_error_code(errc::not_allocated);
    }
    try {
        _impl->lent.insert_or_assign(off, fn);
    } catch (...) {
        return make_error_code(errc::out_of_memory);
    }
    return {};
}

std::size_t shared_heap::collect_give_backs() noexcept {
    impl& m = *_impl;
    if (m.peer_ring == nullptr) return 0;
    std::size_t freed = 0;
    for (;;) {
        std::array<std::pair<std::uint64_t, destroy_fn>, drain_batch> todo;
        std::size_t count = 0;
        {
            std::lock_guard guard(m.lock);
            std::uint64_t drained = m.drained.load(std::memory_order_relaxed);
            // Everything read from the peer's arena is a claim: the head may be any
            // number, entries any offset. Only loans this heap recorded are honoured.
            const std::uint64_t head = load_acquire(*m.peer_head_word);
            if (head == drained) return freed;
            const std::uint64_t pending = head - drained;
            if (pending > m.peer_ring_capacity) {
                // More than the ring holds: the peer broke its ring. Skip it all.
                ++m.refused;
                drained = head;
            } else {
                const std::uint64_t take = std::min<std::uint64_t>(pending, drain_batch);
                for (std::uint64_t i = 0; i < take; ++i) {
                    const std::uint64_t off = load_relaxed(m.peer_ring[(drained + i) & (m.peer_ring_capacity - 1)]);
                    const auto it = m.lent.find(off);
                    if (it == m.lent.end()) {
                        ++m.refused;
                        continue;
                    }
                    todo[count++] = {off, it->second};
                    m.lent.erase(it);
                    ++m.given_back;
                }
                drained += take;
            }
            m.drained.store(drained, std::memory_order_relaxed);
            // The entries were read: the peer may reuse their slots.
            store_release(*m.drained_word, drained);
        }
        // Destructors free what the object owns through this heap (which locks).
        for (std::size_t i = 0; i < count; ++i) {
            const auto [off, fn] = todo[i];
            if (fn != nullptr) fn(_base + off);
            if (deallocate_offset(off)) ++freed;
        }
    }
}

result<void> shared_heap::give_back_offset(std::uint64_t off) noexcept {
    impl& m = *_impl;
    if (m.ring == nullptr) return keel::make_error_code(std::errc::operation_not_supported);
    if (off == 0) return make_error_code(errc::null_pointer);
    // Only offsets that can be blocks of the peer's heap are worth sending.
    if (off < m.peer_heap_offset || off - m.peer_heap_offset >= m.peer_heap_size) {
        return make_error_code(errc::out_of_bounds);
    }
    if ((off - m.peer_heap_offset) % granule != 0) return make_error_code(errc::misaligned);
    std::lock_guard guard(m.lock);
    // The peer's drained count is a claim too: a lie only makes this ring look full.
    const std::uint64_t drained = load_acquire(*m.peer_drained_word);
    if (m.ring_head - drained > m.ring_mask) return make_error_code(errc::give_back_full);
    std::atomic_ref<std::uint64_t>(m.ring[m.ring_head & m.ring_mask]).store(off, std::memory_order_relaxed);
    ++m.ring_head;
    store_release(*m.ring_head_word, m.ring_head);
    ++m.released;
    return {};
}

shared_heap_stats shared_heap::stats() const noexcept {
    std::lock_guard guard(_impl->lock);
    const alloc::heap_stats h = _impl->heap.stats();
    shared_heap_stats s;
    s.capacity_bytes = _heap_size;
    s.bytes_in_use = h.granted_bytes;
    s.live_blocks = static_cast<std::size_t>(h.allocations - h.deallocations);
    s.largest_free_block = h.largest_free_block;
    s.allocations = h.allocations;
    s.deallocations = h.deallocations;
    s.failed_allocations = h.failed_allocations;
    s.lent_blocks = _impl->lent.size();
    s.given_back = _impl->given_back;
    s.refused_give_backs = _impl->refused;
    s.released = _impl->released;
    return s;
}

std::size_t shared_heap::bytes_in_use() const noexcept {
    std::lock_guard guard(_impl->lock);
    return _impl->heap.stats().granted_bytes;
}

std::string shared_heap::verify() const {
    std::lock_guard guard(_impl->lock);
    std::string e = _impl->heap.verify();
    if (!e.empty()) return e;
    std::size_t bits = 0;
    for (std::size_t i = 0; i < (_impl->granules + 63) / 64; ++i) bits += static_cast<std::size_t>(std::popcount(_impl->live[i]));
    const auto h = _impl->heap.stats();
    if (bits != h.allocations - h.deallocations) {
        return "rpc::shared_heap: " + std::to_string(bits) + " blocks marked live, the heap has " +
               std::to_string(h.allocations - h.deallocations);
    }
    for (const auto& [off, fn] : _impl->lent) {
        if (!_impl->is_live(static_cast<std::size_t>((off - _heap_offset) / granule))) {
            return "rpc::shared_heap: lent block at offset " + std::to_string(off) + " is not live";
        }
    }
    return {};
}

}  // namespace keel::rpc
