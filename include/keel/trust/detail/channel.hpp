#pragma once

// The transport between one client thread and one trustee: a ring of variable-sized
// request records that the client writes and the trustee serves in order.
//
//   client:  reserve -> construct record -> commit (publish `tail` in batches)
//   trustee: reads records up to `tail`, runs each, publishes `consumed` once per visit
//   client:  finishes records up to `consumed` in order (moves results out, runs
//            continuations) and reuses their space
//
// Each side writes its own cache line only (`tail` / `consumed`); a record's result is
// written into the record itself, on lines the trustee has just read, so a request costs
// the client one line to publish and one to read back. Positions are byte offsets that
// wrap at 2^32; the ring is far smaller, so serial-number comparison orders them.

#include <keel/platform/cpu.hpp>
#include <keel/trust/detail/block.hpp>
#include <keel/platform/wait_policy.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace keel::trust::detail {

inline constexpr std::size_t record_align = 16;

enum class record_op : std::uint8_t {
    serve,   ///< on the trustee: run the request, store its result in the record
    finish,  ///< on the client, in order: consume the result, destroy the record
};

class channel;

/// The header every record starts with. `run == nullptr` marks padding that fills the
/// ring's end when the next record does not fit there.
struct record {
    using run_fn = void (*)(record*, record_op, channel*);
    static constexpr std::uint32_t owns_reference = 1;  ///< flags: holds its own object reference
    run_fn run;
    std::uint32_t size;  ///< whole record in bytes, a multiple of record_align
    std::uint32_t flags;
};
static_assert(sizeof(record) == 16);

/// A full barrier between a store and a later load (the Dekker pairs below: publish a
/// tail, then look whether the trustee sleeps; publish `consumed`, then look whether
/// the client parked). ThreadSanitizer does not model fences, so under it the same
/// barrier is a locked read-modify-write, which orders as strongly on x86.
inline void store_load_barrier() noexcept {
#if defined(__SANITIZE_THREAD__)
    static std::atomic<std::uint32_t> barrier_word{0};
    barrier_word.fetch_add(0, std::memory_order_seq_cst);
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

/// True when serial position `pos` has reached `target`.
inline bool reached(std::uint32_t pos, std::uint32_t target) noexcept {
    return static_cast<std::int32_t>(pos - target) >= 0;
}

/// The part of a trustee that clients touch: its parked flag and the word it sleeps on.
struct alignas(platform::cache_line_size) trustee_doorbell {
    std::atomic<std::uint32_t> sleeping{0};
    platform::wait_word ring{0};
};

/// Wakes a parked trustee (out of line: only taken when the trustee sleeps).
void wake_trustee(trustee_doorbell& bell) noexcept;

class trustee;

/// One client thread's channel to one trustee.
class channel {
public:
    /// How long a waiting client spins, then spins and yields, before it parks.
    struct wait_budget {
        std::int64_t spin_ns;
        std::int64_t yield_ns;
    };

    channel(trustee* owner, trustee_doorbell* bell, std::uint32_t capacity,
            std::uint32_t publish_batch, bool client_is_trustee, wait_budget budget);
    ~channel();
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;

    // ---- client side (the owning thread only) ----

    /// Space for a record of `size` bytes (a multiple of record_align, at most
    /// max_record_size()); finishes completed records and waits for the trustee when
    /// the ring is full. The caller constructs the record there and then commits it.
    void* reserve(std::uint32_t size) {
        for (;;) {
            const std::uint32_t offset = _write_pos & _mask;
            const std::uint32_t contiguous = _capacity - offset;
            const std::uint32_t need = size <= contiguous ? size : contiguous + size;
            if (_capacity - (_write_pos - _reclaim_pos) >= need) {
                if (size > contiguous) {
                    auto* pad = ::new (_ring + offset) record{nullptr, contiguous, 0};
                    (void)pad;
                    _write_pos += contiguous;
                }
                void* at = _ring + (_write_pos & _mask);
                _write_pos += size;
                return at;
            }
            make_room();
        }
    }

    /// Makes the records reserved so far visible to the trustee, now or with the next
    /// batch. Returns the position just past the last committed record.
    std::uint32_t commit(bool publish_now) {
        if (publish_now || ++_unpublished >= _publish_batch) publish();
        return _write_pos;
    }

    /// Publishes every committed record and rings the trustee if it sleeps.
    void publish() noexcept {
        _unpublished = 0;
        if (_tail.load(std::memory_order_relaxed) == _write_pos) return;
        _tail.store(_write_pos, std::memory_order_release);
        // Pairs with the trustee's fence between `sleeping = 1` and its last look at
        // the tails: either it sees this tail or this thread sees it asleep.
        store_load_barrier();
        if (_bell->sleeping.load(std::memory_order_relaxed) != 0) wake_trustee(*_bell);
    }

    /// Finishes, in order, every record the trustee has served: moves results out and
    /// runs continuations. Re-entrant: a continuation may issue and wait for requests.
    void finish_completed() {
        const std::uint32_t done = _consumed.load(std::memory_order_acquire);
        while (!reached(_reclaim_pos, done)) {
            auto* r = reinterpret_cast<record*>(_ring + (_reclaim_pos & _mask));
            if (r->run == nullptr) {
                _reclaim_pos += r->size;
                continue;
            }
            // The record advances _reclaim_pos itself before it runs user code.
            r->run(r, record_op::finish, this);
        }
    }

    /// An apply_then or async_apply record keeps its object alive until it is finished:
    /// the channel holds one reference per object with records outstanding, so a
    /// stream of requests to one object costs no atomic operation per request.
    /// Returns false when the table is full: the record then holds its own reference.
    bool pin(block_base& b) noexcept {
        pin_entry* empty = nullptr;
        for (auto& p : _pins) {
            if (p.block == &b) {
                ++p.outstanding;
                return true;
            }
            if (p.block == nullptr && empty == nullptr) empty = &p;
        }
        if (empty == nullptr) return false;
        b.refs.fetch_add(1, std::memory_order_relaxed);
        *empty = {&b, 1};
        return true;
    }
    /// A finished record gives its share back; the last one drops the reference.
    void unpin(block_base& b) noexcept {
        for (auto& p : _pins) {
            if (p.block != &b) continue;
            if (--p.outstanding == 0) {
                p.block = nullptr;
                drop_reference(b);
            }
            return;
        }
    }

    /// Called by a record's finish step once it no longer needs its bytes.
    void release_front(std::uint32_t size) noexcept { _reclaim_pos += size; }

    /// Publishes, then waits until the record ending at `end` is finished (and every
    /// record before it). A trustee thread keeps serving its own clients meanwhile.
    void wait_finished(std::uint32_t end);

    /// Publishes and waits until every record committed so far is finished.
    void drain() { wait_finished(_write_pos); }

    [[nodiscard]] bool idle() const noexcept { return _reclaim_pos == _write_pos; }
    [[nodiscard]] std::uint32_t max_record_size() const noexcept { return _capacity / 4; }
    [[nodiscard]] trustee* owner() const noexcept { return _owner; }

    // ---- trustee side ----

    /// Starts fetching the lines serve() will read first (the tail and the next record),
    /// so that a pass over many clients overlaps their cache misses.
    void prefetch() const noexcept {
        __builtin_prefetch(&_tail, 0, 3);
        __builtin_prefetch(_ring + (_served & _mask), 0, 3);
    }

    /// Serves up to `burst` published records; returns how many it served (0: none
    /// waiting, or the channel is already being served further up this stack).
    std::uint32_t serve(std::uint32_t burst);
    /// After a pass: wakes the client if it parked waiting for `consumed`.
    void wake_client_if_parked() noexcept;
    /// The client thread has gone and left nothing behind.
    [[nodiscard]] bool abandoned() const noexcept {
        return _closed.load(std::memory_order_acquire) &&
               _tail.load(std::memory_order_acquire) == _served;
    }
    /// The client's thread exits: its records are all finished; the trustee frees it.
    void close() noexcept { _closed.store(true, std::memory_order_release); }

    /// A consistent-enough view for shutdown's quiescence check.
    struct progress {
        std::uint32_t tail, consumed, reclaimed;
    };
    [[nodiscard]] progress observe() const noexcept {
        return {_tail.load(std::memory_order_acquire), _consumed.load(std::memory_order_acquire),
                _reclaim_published.load(std::memory_order_acquire)};
    }
    [[nodiscard]] bool client_is_trustee() const noexcept { return _client_is_trustee; }
    /// Trustee clients publish how far they have finished, so shutdown can tell a
    /// served request whose continuation has not run yet from a finished one.
    void note_reclaimed() noexcept {
        _reclaim_published.store(_reclaim_pos, std::memory_order_release);
    }

private:
    void make_room();

    // Set at construction, read by both sides: a line nobody writes.
    alignas(platform::cache_line_size) std::byte* const _ring;
    const std::uint32_t _capacity;
    const std::uint32_t _mask;
    const std::uint32_t _publish_batch;
    const bool _client_is_trustee;
    const wait_budget _budget;
    trustee_doorbell* const _bell;
    trustee* const _owner;

    // Written by the client, read by the trustee.
    alignas(platform::cache_line_size) std::atomic<std::uint32_t> _tail{0};
    std::atomic<bool> _closed{false};

    // Written by the trustee, read by the client.
    alignas(platform::cache_line_size) platform::wait_word _consumed{0};

    // Written by the client when it parks or finishes; read by the trustee and shutdown.
    alignas(platform::cache_line_size) std::atomic<std::uint32_t> _client_parked{0};
    std::atomic<std::uint32_t> _reclaim_published{0};

    // The client's own state.
    struct pin_entry {
        block_base* block = nullptr;
        std::uint32_t outstanding = 0;
    };
    alignas(platform::cache_line_size) std::uint32_t _write_pos = 0;
    std::uint32_t _reclaim_pos = 0;
    std::uint32_t _unpublished = 0;
    pin_entry _pins[3];

    // The trustee's own state.
    alignas(platform::cache_line_size) std::uint32_t _served = 0;
    bool _in_service = false;
};

}  // namespace keel::trust::detail
