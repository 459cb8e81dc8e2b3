#pragma once

// The monitor side table: a sharded hash from object address to monitor record,
// with inflation on first use, a thread-local cache of recently used records, and
// deflation of idle records under the HotSpot protocol (owner marker, then
// contentions 0 -> INT_MIN). Templated on the atomic template and the wait policy so
// that keel::sync::testing can explore the protocol; the process-wide instances
// (std::atomic, hybrid_wait) live in src/sync/monitor_table.cpp.
//
// Record life cycle and why deflation is safe:
//  - owner: 0 (free), a monitor thread id (>= 3), deflater_marker (1), or
//    anonymous_owner (2, monitor_word's hand-over; owned, by the word's thin owner).
//  - contentions: threads that have pinned the record: those entering on the slow
//    path and those inside wait(). INT_MIN (plus stray increments) once deflated.
//  - A deflater (holding the shard lock) CASes owner 0 -> deflater_marker (so no
//    thread owns it or can take it on the fast path), then contentions 0 -> INT_MIN.
//    If the second CAS fails a thread is entering or waiting: it restores owner with
//    a CAS and gives up. An entrant (pinned) may take the marker over instead of
//    waiting; it then keeps its pin, so the deflater's contentions CAS cannot succeed
//    under it, and the deflater, whose restore CAS then fails, drops that pin (the
//    deferred decrement HotSpot uses for the same race). Waiters
//    hold a pin for their whole wait, so a monitor with waiters is never deflated.
//  - Entrants pin with fetch_add; a negative result means "deflated": look again in
//    the table (the stray increment is overwritten when the record is reused). A pin
//    that succeeds keeps contentions > 0, so the record cannot be deflated while the
//    entrant checks that record.object is still its address.
//  - Records are never freed while the table lives (type-stable memory): a deflated
//    record goes to its shard's free list and is reused for another address. So a
//    stale pointer (from the thread-local cache) is always safe to touch, and every
//    use validates record.object under ownership or a pin.
//  - Reuse writes object, then owner = 0 (release), then contentions = 0, all under
//    the shard lock: a fast-path CAS 0 -> me that sees the new owner sees the new
//    object, and a pin that sees contentions >= 0 sees both.

#include <keel/platform/wait_policy.hpp>
#include <keel/sync/detail/debug_checks.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace keel::sync {

/// Counters of a monitor table, for tests and diagnostics (a consistent snapshot per
/// shard, not across shards).
struct monitor_table_stats {
    std::uint64_t inflations = 0;  ///< records bound to an address (created or reused)
    std::uint64_t deflations = 0;  ///< records unbound by deflation
    std::uint64_t live = 0;        ///< records bound to an address now
    std::uint64_t records = 0;     ///< records allocated (live + free): the table's size
    std::uint64_t deflation_passes = 0;
};

namespace detail {

inline constexpr std::uint32_t monitor_free = 0;
inline constexpr std::uint32_t deflater_marker = 1;
/// A monitor_word contender hands the record to the word's thin owner through this
/// marker; only that thread claims it (a thread id there would be ambiguous: the
/// thin owner may have left and be contending by then).
inline constexpr std::uint32_t anonymous_owner = 2;

/// Allocates a process-unique monitor thread id (>= 3; never reused).
std::uint32_t allocate_monitor_thread_id() noexcept;

// constinit: zero-initialised TLS without a guard on each access.
inline constinit thread_local std::uint32_t tl_monitor_thread_id = 0;

/// The calling thread's monitor id: 32 bits, so that a monitor_word can hold it next
/// to a recursion count.
inline std::uint32_t monitor_thread_id() noexcept {
    std::uint32_t id = tl_monitor_thread_id;
    if (id == 0) [[unlikely]] {
        id = allocate_monitor_thread_id();
        tl_monitor_thread_id = id;
    }
    return id;
}

template <template <class> class Atomic, class Wait>
struct alignas(64) monitor_record {
    Atomic<std::uintptr_t> object{0};
    Atomic<std::uint32_t> owner{monitor_free};
    Atomic<std::int32_t> contentions{0};
    Atomic<std::uint32_t> entry{0};     // entrants park here; bumped by a release
    Atomic<std::uint32_t> notified{0};  // waiters park here; tickets released so far
    Atomic<std::uint32_t> handed_to{0};  // monitor_word: thin owner an anonymous_owner belongs to
    std::uint32_t recursions = 0;       // owner only
    std::uint32_t tickets = 0;          // owner only: wait tickets handed out
    monitor_record* next = nullptr;     // shard lock: hash chain or free list
    Wait wait;
};

template <template <class> class Atomic = std::atomic, class Wait = platform::hybrid_wait>
class basic_monitor_table {
public:
    using record = monitor_record<Atomic, Wait>;
    static constexpr std::size_t shard_count = 64;
    static constexpr std::size_t default_deflate_threshold = 64;  // per shard

    /// deflate_threshold: a shard runs a deflation pass when an inflation would take
    /// its live records past this many (the threshold then adapts to 2x what stays live).
    explicit basic_monitor_table(std::size_t deflate_threshold = default_deflate_threshold)
        : _id(next_table_id.fetch_add(1, std::memory_order_relaxed)),
          _threshold(deflate_threshold == 0 ? 1 : deflate_threshold) {
        for (auto& s : _shards) {
            s.deflate_at = _threshold;
            s.buckets.assign(16, nullptr);
        }
    }
    basic_monitor_table(const basic_monitor_table&) = delete;
    basic_monitor_table& operator=(const basic_monitor_table&) = delete;
    ~basic_monitor_table() = default;

    // ---- entering and leaving -------------------------------------------------

    /// Enters the monitor of `obj` (blocking); returns the record, which the caller
    /// owns until exit(). `recursive` (optional) says whether the caller already owned it.
    record* enter(const void* obj, bool* recursive = nullptr) {
        const auto a = reinterpret_cast<std::uintptr_t>(obj);
        const std::uint32_t me = monitor_thread_id();
        record* r = cached(a);
        if (r != nullptr) {
            switch (try_fast(r, a, me)) {
                case fast::acquired: return set(recursive, false), r;
                case fast::recursive: return set(recursive, true), r;
                case fast::failed: break;
            }
            if (!pin_cached(r, a)) r = nullptr;
        }
        if (r == nullptr) r = pin_from_table(a);
        if (r->owner.load(std::memory_order_relaxed) == me) {
            unpin(r);
            ++r->recursions;
            return set(recursive, true), r;
        }
        acquire_pinned(r, me);
        return set(recursive, false), r;
    }

    /// Enters only if that needs no waiting; nullptr otherwise.
    record* try_enter(const void* obj, bool* recursive = nullptr) {
        const auto a = reinterpret_cast<std::uintptr_t>(obj);
        const std::uint32_t me = monitor_thread_id();
        if (record* r = cached(a)) {
            switch (try_fast(r, a, me)) {
                case fast::acquired: return set(recursive, false), r;
                case fast::recursive: return set(recursive, true), r;
                case fast::failed: break;
            }
        }
        record* r = pin_from_table(a);
        std::uint32_t cur = r->owner.load(std::memory_order_relaxed);
        record* result = nullptr;
        if (cur == me) {
            ++r->recursions;
            set(recursive, true);
            result = r;
            unpin(r);
        } else if ((cur == monitor_free || cur == deflater_marker) && take_pinned(r, cur, me)) {
            set(recursive, false);
            result = r;
        } else {
            unpin(r);
        }
        return result;
    }

    /// Leaves one level of a monitor the caller owns (checked: aborts otherwise).
    void exit(record* r) noexcept {
        if (r->owner.load(std::memory_order_relaxed) != monitor_thread_id()) {
            lock_misuse("monitor exit by a thread that does not own the monitor", r);
        }
        if (r->recursions > 0) {
            --r->recursions;
            return;
        }
        release(r);
    }

    /// The record of `obj` if the calling thread owns it, else nullptr. With
    /// claim_anonymous (monitor_word, after seeing its word inflated), a record held
    /// by anonymous_owner on behalf of the caller (handed_to) is claimed first.
    record* owned_record(const void* obj, bool claim_anonymous = false) {
        const auto a = reinterpret_cast<std::uintptr_t>(obj);
        const std::uint32_t me = monitor_thread_id();
        if (record* r = cached(a)) {
            // Owned (by us or anonymously) => bound to the address it was entered for.
            if (owned_by(r, me, claim_anonymous) && r->object.load(std::memory_order_relaxed) == a) {
                return r;
            }
        }
        shard& s = shard_of(a);
        shard_lock guard(s);
        record* r = find(s, a);
        if (r != nullptr && owned_by(r, me, claim_anonymous)) {
            remember(a, r);
            return r;
        }
        return nullptr;
    }

    // ---- wait / notify (caller owns r) ------------------------------------------

    /// Releases r completely (all recursion levels), waits for a notify meant for
    /// this wait, re-acquires r and restores the recursion depth. No spurious
    /// wake-ups: it returns only after a notify/notify_all that came after it started.
    void wait(record* r) {
        const std::uint32_t me = monitor_thread_id();
        check_owner(r, me, "monitor wait by a thread that does not own the monitor");
        r->contentions.fetch_add(1, std::memory_order_seq_cst);  // pinned while waiting
        const std::uint32_t ticket = r->tickets++;
        const std::uint32_t depth = r->recursions;
        r->recursions = 0;
        release(r);
        for (;;) {
            const std::uint32_t n = r->notified.load(std::memory_order_acquire);
            if (static_cast<std::int32_t>(n - ticket) > 0) break;
            r->wait.wait(r->notified, n);
        }
        acquire_pinned(r, me);
        r->recursions = depth;
    }

    /// Releases the longest-waiting waiter (FIFO by ticket), if any.
    void notify(record* r) noexcept {
        check_owner(r, monitor_thread_id(), "monitor notify by a thread that does not own the monitor");
        const std::uint32_t n = r->notified.load(std::memory_order_relaxed);
        if (n == r->tickets) return;
        r->notified.store(n + 1, std::memory_order_release);
        // Every waiter parks on the same word; only the ticket holder proceeds.
        r->wait.wake_all(r->notified);
    }

    void notify_all(record* r) noexcept {
        check_owner(r, monitor_thread_id(), "monitor notify_all by a thread that does not own the monitor");
        if (r->notified.load(std::memory_order_relaxed) == r->tickets) return;
        r->notified.store(r->tickets, std::memory_order_release);
        r->wait.wake_all(r->notified);
    }

    /// Whether r has waiters that no notify has released yet (caller owns r).
    [[nodiscard]] bool has_waiters(const record* r) const noexcept {
        return r->notified.load(std::memory_order_relaxed) != r->tickets;
    }

    // ---- deflation and introspection ------------------------------------------

    /// Deflates every idle record (not owned, nobody entering or waiting); returns
    /// how many. Safe at any time, from any thread.
    std::size_t deflate_idle() {
        std::size_t n = 0;
        for (auto& s : _shards) {
            shard_lock guard(s);
            n += deflate_shard(s);
        }
        return n;
    }

    [[nodiscard]] monitor_table_stats stats() {
        monitor_table_stats st;
        for (auto& s : _shards) {
            shard_lock guard(s);
            st.inflations += s.inflations;
            st.deflations += s.deflations;
            st.live += s.live;
            st.records += s.all.size();
            st.deflation_passes += s.passes;
        }
        return st;
    }

    /// Whether `obj` has a record bound now (a racy answer, for tests).
    [[nodiscard]] bool is_inflated(const void* obj) {
        const auto a = reinterpret_cast<std::uintptr_t>(obj);
        shard& s = shard_of(a);
        shard_lock guard(s);
        return find(s, a) != nullptr;
    }

    // ---- pieces for monitor_word ------------------------------------------------

    /// Pins the record of obj (creating it), so that it cannot be deflated until unpin().
    record* pin(const void* obj) { return pin_from_table(reinterpret_cast<std::uintptr_t>(obj)); }
    static void unpin(record* r) noexcept { r->contentions.fetch_sub(1, std::memory_order_seq_cst); }

    /// Releases r fully (the caller owns it and has set recursions to 0) and wakes an
    /// entrant if one may be parked.
    static void release(record* r) noexcept {
        r->owner.store(monitor_free, std::memory_order_seq_cst);
        // Dekker with acquire_pinned: pin, then read owner; here owner, then pins.
        if (r->contentions.load(std::memory_order_seq_cst) > 0) wake_entrants(r, false);
    }

    /// Bumps the entry word and wakes one (or all) parked entrants.
    static void wake_entrants(record* r, bool all) noexcept {
        r->entry.fetch_add(1, std::memory_order_seq_cst);
        if (all) {
            r->wait.wake_all(r->entry);
        } else {
            r->wait.wake_one(r->entry);
        }
    }

    /// Waits until the pinned r can be taken (free, or marked by a deflater that must
    /// fail because of our pin), takes it and unpins.
    static void acquire_pinned(record* r, std::uint32_t me) noexcept {
        for (;;) {
            std::uint32_t cur = r->owner.load(std::memory_order_seq_cst);
            if (cur == monitor_free || cur == deflater_marker) {
                if (take_pinned(r, cur, me)) return;
                continue;
            }
            const std::uint32_t seq = r->entry.load(std::memory_order_seq_cst);
            cur = r->owner.load(std::memory_order_seq_cst);
            if (cur == monitor_free || cur == deflater_marker) continue;
            r->wait.wait(r->entry, seq);
        }
    }

    /// CASes owner cur -> me for a pinned entrant (cur: free or the deflater's
    /// marker). On success the pin is dropped, except when the marker was taken over:
    /// then the pin stays, so the deflater's contentions CAS must fail, and the
    /// deflater drops it when its own restore CAS finds the marker gone.
    static bool take_pinned(record* r, std::uint32_t cur, std::uint32_t me) noexcept {
        const std::uint32_t seen = cur;
        if (!r->owner.compare_exchange_strong(cur, me, std::memory_order_seq_cst,
                                              std::memory_order_relaxed)) {
            return false;
        }
        if (seen == monitor_free) unpin(r);
        return true;
    }

private:
    enum class fast { acquired, recursive, failed };

    struct alignas(64) shard {
        Atomic<std::uint32_t> lock{0};
        std::vector<record*> buckets;  // hash chains through record::next
        std::vector<std::unique_ptr<record>> all;
        record* free = nullptr;
        std::size_t live = 0;
        std::size_t deflate_at = 0;
        std::uint64_t inflations = 0;
        std::uint64_t deflations = 0;
        std::uint64_t passes = 0;
    };

    // A test-and-test-and-set lock for a shard: held for a hash lookup or a
    // deflation pass, never across a wait.
    class shard_lock {
    public:
        explicit shard_lock(shard& s) noexcept : _s(s) {
            while (_s.lock.exchange(1, std::memory_order_acquire) != 0) {
                while (_s.lock.load(std::memory_order_relaxed) != 0) std::this_thread::yield();
            }
        }
        ~shard_lock() { _s.lock.store(0, std::memory_order_release); }
        shard_lock(const shard_lock&) = delete;
        shard_lock& operator=(const shard_lock&) = delete;

    private:
        shard& _s;
    };

    // A small direct-mapped per-thread cache (HotSpot's OMCache idea): the fast path
    // finds a record without touching the shard. Entries may be stale; users validate.
    struct cache_entry {
        std::uintptr_t object;
        std::uint64_t table;
        record* rec;
    };
    static constexpr std::size_t cache_size = 8;
    static inline constinit thread_local std::array<cache_entry, cache_size> tl_cache{};
    static inline std::atomic<std::uint64_t> next_table_id{1};

    static std::size_t mix(std::uintptr_t a) noexcept {
        return static_cast<std::size_t>((static_cast<std::uint64_t>(a) >> 3) * 0x9E3779B97F4A7C15ULL >> 32);
    }
    static std::size_t cache_slot(std::uintptr_t a) noexcept { return (a >> 4) % cache_size; }

    record* cached(std::uintptr_t a) const noexcept {
        const cache_entry& e = tl_cache[cache_slot(a)];
        return e.object == a && e.table == _id ? e.rec : nullptr;
    }
    void remember(std::uintptr_t a, record* r) const noexcept { tl_cache[cache_slot(a)] = {a, _id, r}; }

    static void set(bool* p, bool v) noexcept {
        if (p != nullptr) *p = v;
    }

    static void check_owner(const record* r, std::uint32_t me, const char* what) noexcept {
        if (r->owner.load(std::memory_order_relaxed) != me) lock_misuse(what, r);
    }

    // Uncontended path on a cached (maybe stale) record: CAS owner 0 -> me, then check
    // that the record is still bound to `a` (it may have been deflated and reused).
    static bool owned_by(record* r, std::uint32_t me, bool claim_anonymous) noexcept {
        std::uint32_t cur = r->owner.load(std::memory_order_acquire);
        if (cur == me) return true;
        return claim_anonymous && cur == anonymous_owner &&
               r->handed_to.load(std::memory_order_relaxed) == me &&
               r->owner.compare_exchange_strong(cur, me, std::memory_order_acquire,
                                                std::memory_order_relaxed);
    }

    static fast try_fast(record* r, std::uintptr_t a, std::uint32_t me) noexcept {
        std::uint32_t cur = monitor_free;
        if (r->owner.compare_exchange_strong(cur, me, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
            if (r->object.load(std::memory_order_relaxed) == a) return fast::acquired;
            release(r);  // someone else's monitor now: give it back
            return fast::failed;
        }
        if (cur == me && r->object.load(std::memory_order_relaxed) == a) {
            ++r->recursions;
            return fast::recursive;
        }
        return fast::failed;
    }

    // Pins a cached record without the shard lock: false if it was deflated (the
    // count is negative) or now belongs to another address.
    static bool pin_cached(record* r, std::uintptr_t a) noexcept {
        if (r->contentions.fetch_add(1, std::memory_order_seq_cst) < 0) return false;
        if (r->object.load(std::memory_order_relaxed) != a) {
            unpin(r);
            return false;
        }
        return true;
    }

    shard& shard_of(std::uintptr_t a) noexcept { return _shards[mix(a) % shard_count]; }

    static std::size_t bucket_of(const shard& s, std::uintptr_t a) noexcept {
        return (mix(a) / shard_count) & (s.buckets.size() - 1);
    }

    static record* find(shard& s, std::uintptr_t a) noexcept {
        for (record* r = s.buckets[bucket_of(s, a)]; r != nullptr; r = r->next) {
            if (r->object.load(std::memory_order_relaxed) == a) return r;
        }
        return nullptr;
    }

    // Finds or inflates the record of `a` and pins it, under the shard lock (so it
    // cannot be deflated meanwhile: the pin always sees contentions >= 0).
    record* pin_from_table(std::uintptr_t a) {
        shard& s = shard_of(a);
        record* r = nullptr;
        {
            shard_lock guard(s);
            r = find(s, a);
            if (r == nullptr) r = inflate(s, a);
            r->contentions.fetch_add(1, std::memory_order_seq_cst);
        }
        remember(a, r);
        return r;
    }

    record* inflate(shard& s, std::uintptr_t a) {
        if (s.live >= s.deflate_at) {
            deflate_shard(s);
            s.deflate_at = std::max(_threshold, 2 * s.live);
        }
        record* r = s.free;
        if (r != nullptr) {
            s.free = r->next;
            r->object.store(a, std::memory_order_relaxed);
            r->recursions = 0;
            r->owner.store(monitor_free, std::memory_order_release);
            r->contentions.store(0, std::memory_order_release);
        } else {
            s.all.push_back(std::make_unique<record>());
            r = s.all.back().get();
            r->object.store(a, std::memory_order_relaxed);
        }
        if (s.live >= s.buckets.size()) rehash(s, s.buckets.size() * 2);
        record*& head = s.buckets[bucket_of(s, a)];
        r->next = head;
        head = r;
        ++s.live;
        ++s.inflations;
        return r;
    }

    static void rehash(shard& s, std::size_t n) {
        std::vector<record*> old(n, nullptr);
        old.swap(s.buckets);
        for (record* head : old) {
            while (head != nullptr) {
                record* next = head->next;
                record*& b = s.buckets[bucket_of(s, head->object.load(std::memory_order_relaxed))];
                head->next = b;
                b = head;
                head = next;
            }
        }
    }

    // The deflation protocol for one record (shard lock held).
    static bool try_deflate(record* r) noexcept {
        std::uint32_t owner = monitor_free;
        if (!r->owner.compare_exchange_strong(owner, deflater_marker, std::memory_order_seq_cst,
                                              std::memory_order_relaxed)) {
            return false;  // owned
        }
        std::int32_t c = 0;
        if (!r->contentions.compare_exchange_strong(c, INT_MIN, std::memory_order_seq_cst,
                                                    std::memory_order_relaxed)) {
            // Someone is entering or waiting. Put the marker back unless an entrant
            // took it over; that entrant left its pin for us to drop (take_pinned),
            // which kept the CAS above failing.
            std::uint32_t marker = deflater_marker;
            if (!r->owner.compare_exchange_strong(marker, monitor_free, std::memory_order_seq_cst,
                                                  std::memory_order_relaxed)) {
                unpin(r);
            }
            return false;
        }
        return true;  // owner stays the marker, contentions negative: dead until reused
    }

    std::size_t deflate_shard(shard& s) noexcept {
        ++s.passes;
        std::size_t n = 0;
        for (record*& head : s.buckets) {
            record** link = &head;
            while (*link != nullptr) {
                record* r = *link;
                if (try_deflate(r)) {
                    *link = r->next;
                    r->object.store(0, std::memory_order_relaxed);
                    r->next = s.free;
                    s.free = r;
                    --s.live;
                    ++s.deflations;
                    ++n;
                } else {
                    link = &r->next;
                }
            }
        }
        return n;
    }

    const std::uint64_t _id;
    const std::size_t _threshold;
    std::array<shard, shard_count> _shards;
};

}  // namespace detail
}  // namespace keel::sync
