#pragma once

#include <keel/sync/monitor.hpp>

#include <atomic>
#include <cstdint>

namespace keel::sync {

namespace detail {
/// The side table behind inflated monitor_words (keyed by the word's address;
/// separate from the object table, so that a word's record never meets a
/// side-table monitor of the same address).
[[nodiscard]] monitor_table& monitor_word_table() noexcept;
}  // namespace detail

/// The thin-lock protocol of a monitor word, on a given side table (exposed for
/// tests that explore it with testing::deterministic_atomic; users take monitor_word).
///
/// Word states: 0 free; thin = owner id << 32 | recursions << 2 | 1 (owner holds it,
/// no record); inflated = 2 (the owner is the side-table record of the word's
/// address; a missing record means free).
///  - Uncontended lock: CAS 0 -> thin(me); nesting: CAS thin(me, n) -> thin(me, n+1).
///  - A contender takes the record (as a plain lock: "the inflation lock"), then, if
///    the word is free, marks it inflated and owns the monitor; if it is thin(T, n), it
///    hands the record to T (owner = anonymous_owner, recursions = n) and CASes
///    thin(T, n) -> inflated, then waits on the record like any entrant (HotSpot's
///    anonymous-owner hand-over); T claims the record when it next sees the word.
///    Only a record owner changes someone else's thin word, so only the thin owner's own
///    CASes can make that CAS fail (and then it takes the record back and retries).
///  - The thin owner whose CAS fails finds the word inflated and claims the record
///    (anonymous_owner -> its id). wait() (and nesting past 2^30) inflates the word first (owner = self).
///  - Unlock of an inflated word by its owner with nobody entering or waiting (the
///    record's contentions == 0) deflates the word back to 0 before releasing the
///    record, so the next uncontended lock is thin again.
template <template <class> class Atomic = std::atomic, class Wait = platform::hybrid_wait>
class basic_monitor_word {
public:
    using table_type = detail::basic_monitor_table<Atomic, Wait>;
    using record = typename table_type::record;

    static constexpr std::uint64_t inflated = 2;

    basic_monitor_word() noexcept = default;
    basic_monitor_word(const basic_monitor_word&) = delete;
    basic_monitor_word& operator=(const basic_monitor_word&) = delete;

    void lock(table_type& t) {
        const std::uint32_t me = detail::monitor_thread_id();
        std::uint64_t w = 0;
        if (_word.compare_exchange_strong(w, thin(me, 0), std::memory_order_acquire,
                                          std::memory_order_relaxed)) {
            return;
        }
        for (;;) {
            if (w == 0) {
                if (_word.compare_exchange_strong(w, thin(me, 0), std::memory_order_acquire,
                                                  std::memory_order_relaxed)) {
                    return;
                }
                continue;
            }
            if (is_thin(w) && owner_of(w) == me) {
                if (recursions_of(w) < max_recursions) {
                    // Fails only if a contender inflated the word, handing it to us.
                    if (_word.compare_exchange_strong(w, w + recursion_unit, std::memory_order_acquire,
                                                      std::memory_order_acquire)) {
                        return;
                    }
                    continue;
                }
                ++inflate_self(t, me)->recursions;
                return;
            }
            if (w == inflated) {
                // Ours already (entered, or handed to us as the thin owner): nest.
                if (record* r = t.owned_record(&_word, true)) {
                    ++r->recursions;
                    return;
                }
            }
            contend(t);
            return;
        }
    }

    [[nodiscard]] bool try_lock(table_type& t) {
        const std::uint32_t me = detail::monitor_thread_id();
        std::uint64_t w = _word.load(std::memory_order_acquire);
        for (;;) {
            if (w == 0) {
                if (_word.compare_exchange_strong(w, thin(me, 0), std::memory_order_acquire,
                                                  std::memory_order_relaxed)) {
                    return true;
                }
                continue;
            }
            if (is_thin(w)) {
                if (owner_of(w) != me) return false;
                if (recursions_of(w) == max_recursions) {
                    ++inflate_self(t, me)->recursions;
                    return true;
                }
                if (_word.compare_exchange_strong(w, w + recursion_unit, std::memory_order_acquire,
                                                  std::memory_order_acquire)) {
                    return true;
                }
                continue;  // inflated and handed to us
            }
            if (record* r = t.owned_record(&_word, true)) {
                ++r->recursions;
                return true;
            }
            // Inflated, not ours: take it if the record is free.
            record* r = t.try_enter(&_word);
            if (r == nullptr) return false;
            std::uint64_t cur = _word.load(std::memory_order_acquire);
            if (cur == inflated) return true;
            if (cur == 0 && _word.compare_exchange_strong(cur, inflated, std::memory_order_acq_rel,
                                                          std::memory_order_relaxed)) {
                return true;
            }
            t.exit(r);  // thin-locked by someone: not free
            return false;
        }
    }

    void unlock(table_type& t) {
        const std::uint32_t me = detail::monitor_thread_id();
        // acquire (here and on CAS failure): seeing `inflated` must show the hand-over.
        std::uint64_t w = _word.load(std::memory_order_acquire);
        for (;;) {
            if (is_thin(w)) {
                if (owner_of(w) != me) {
                    detail::lock_misuse("monitor_word unlock by a thread that does not own the monitor", this);
                }
                const std::uint64_t next = recursions_of(w) > 0 ? w - recursion_unit : 0;
                if (_word.compare_exchange_strong(w, next, std::memory_order_release,
                                                  std::memory_order_acquire)) {
                    return;
                }
                continue;  // a contender inflated it and handed the record to us
            }
            if (w == 0) detail::lock_misuse("monitor_word unlock of a monitor that is not held", this);
            record* r = claimed(t);
            if (r->recursions > 0) {
                --r->recursions;
                return;
            }
            // Nobody entering or waiting (pins are visible to us as the owner): go
            // back to thin mode. A thread that pins later finds 0 and handles it.
            if (r->contentions.load(std::memory_order_seq_cst) == 0) {
                _word.store(0, std::memory_order_release);
            }
            table_type::release(r);
            return;
        }
    }

    void wait(table_type& t) {
        const std::uint32_t me = detail::monitor_thread_id();
        const std::uint64_t w = _word.load(std::memory_order_acquire);
        if (is_thin(w) && owner_of(w) == me) {
            inflate_self(t, me);
        } else if (w != inflated) {
            detail::lock_misuse("monitor_word wait by a thread that does not own the monitor", this);
        }
        t.wait(claimed(t));
    }

    void notify(table_type& t) {
        if (record* r = owned_inflated(t, "monitor_word notify by a thread that does not own the monitor")) {
            t.notify(r);
        }
    }

    void notify_all(table_type& t) {
        if (record* r = owned_inflated(t, "monitor_word notify_all by a thread that does not own the monitor")) {
            t.notify_all(r);
        }
    }

    /// Whether the word is inflated now (racy; for tests and diagnostics).
    [[nodiscard]] bool is_inflated() const noexcept { return _word.load(std::memory_order_relaxed) == inflated; }
    /// Whether the word is held in thin mode now (racy).
    [[nodiscard]] bool is_thin_locked() const noexcept { return is_thin(_word.load(std::memory_order_relaxed)); }

private:
    static constexpr std::uint64_t thin_tag = 1;
    static constexpr std::uint64_t recursion_unit = 4;
    static constexpr std::uint64_t max_recursions = (std::uint64_t{1} << 30) - 1;

    static constexpr std::uint64_t thin(std::uint32_t owner, std::uint64_t recursions) noexcept {
        return (std::uint64_t{owner} << 32) | (recursions << 2) | thin_tag;
    }
    static constexpr bool is_thin(std::uint64_t w) noexcept { return (w & 3) == thin_tag; }
    static constexpr std::uint32_t owner_of(std::uint64_t w) noexcept { return static_cast<std::uint32_t>(w >> 32); }
    static constexpr std::uint64_t recursions_of(std::uint64_t w) noexcept { return (w >> 2) & max_recursions; }

    // The record of our inflated word, which we hold: entered by us, or handed to us
    // as its thin owner (anonymous_owner with handed_to == us), which we claim.
    record* claimed(table_type& t, const char* misuse = "monitor_word unlock by a thread that does not own the monitor") {
        record* r = t.owned_record(&_word, true);
        if (r == nullptr) detail::lock_misuse(misuse, this);
        return r;
    }

    // For notify: nullptr when thin-locked by us (no waiters can exist: waiting
    // inflates, and a word with waiters stays inflated); aborts when not the owner.
    record* owned_inflated(table_type& t, const char* misuse) {
        const std::uint64_t w = _word.load(std::memory_order_acquire);
        if (is_thin(w) && owner_of(w) == detail::monitor_thread_id()) return nullptr;
        if (w != inflated) detail::lock_misuse(misuse, this);
        return claimed(t, misuse);
    }

    // Lock when the word is inflated or thin-locked by another thread.
    void contend(table_type& t) {
        for (;;) {
            bool recursive = false;
            record* r = t.enter(&_word, &recursive);
            if (recursive) return;  // inflated and ours already
            for (;;) {              // we hold the record: the inflation lock
                std::uint64_t w = _word.load(std::memory_order_acquire);
                if (w == inflated) return;
                if (w == 0) {
                    if (_word.compare_exchange_strong(w, inflated, std::memory_order_acq_rel,
                                                      std::memory_order_relaxed)) {
                        return;
                    }
                    continue;
                }
                // thin(T, n): hand the record to T, then wait for it like any entrant.
                const std::uint32_t me = r->owner.load(std::memory_order_relaxed);
                r->recursions = static_cast<std::uint32_t>(recursions_of(w));
                r->handed_to.store(owner_of(w), std::memory_order_relaxed);
                r->owner.store(detail::anonymous_owner, std::memory_order_release);
                if (_word.compare_exchange_strong(w, inflated, std::memory_order_acq_rel,
                                                  std::memory_order_relaxed)) {
                    table_type::wake_entrants(r, true);  // T may be parked in inflate_self
                    break;
                }
                r->owner.store(me, std::memory_order_relaxed);  // T changed its word: retry
                r->recursions = 0;
            }
        }
    }

    // The thin owner inflates its own word (for wait() or deep nesting). Returns the
    // record, owned by us with the thin recursion count.
    record* inflate_self(table_type& t, std::uint32_t me) {
        record* r = t.pin(&_word);
        for (;;) {
            // A contender may have handed the record to us already.
            if (_word.load(std::memory_order_acquire) == inflated) {
                claim_handed(r, me);
                break;
            }
            std::uint32_t cur = r->owner.load(std::memory_order_seq_cst);
            if (cur == detail::monitor_free || cur == detail::deflater_marker) {
                if (table_type::take_pinned(r, cur, me)) {  // drops the pin
                    // We hold the record, so no contender touches the word now.
                    r->recursions = static_cast<std::uint32_t>(
                        recursions_of(_word.load(std::memory_order_relaxed)));
                    _word.store(inflated, std::memory_order_release);
                    return r;
                }
                continue;
            }
            const std::uint32_t seq = r->entry.load(std::memory_order_seq_cst);
            if (_word.load(std::memory_order_acquire) == inflated) {
                claim_handed(r, me);
                break;
            }
            cur = r->owner.load(std::memory_order_seq_cst);
            if (cur == detail::monitor_free || cur == detail::deflater_marker) continue;
            r->wait.wait(r->entry, seq);
        }
        table_type::unpin(r);
        return r;
    }

    static void claim_handed(record* r, std::uint32_t me) noexcept {
        std::uint32_t anon = detail::anonymous_owner;
        r->owner.compare_exchange_strong(anon, me, std::memory_order_acquire, std::memory_order_relaxed);
    }

    Atomic<std::uint64_t> _word{0};
};

/// A monitor that lives in one 8-byte word inside the object: put
/// `keel::sync::monitor_word monitor;` in a class (declare it `mutable` to synchronize
/// on const objects) and synchronized() uses it instead of the side table.
/// Uncontended (thin) lock+unlock is one CAS each on the object's own word, nesting
/// below 2^30 levels is counted in the word; contention or wait() inflates to a
/// side-table record (64 bytes while in use), and the last owner to unlock an
/// uncontended inflated word deflates it back to thin mode. Same semantics as
/// monitor (reentrant, Java wait/notify, misuse aborts). Thread-safe.
/// Cost: 8 bytes per object, versus 0 for the side table.
class monitor_word {
public:
    monitor_word() noexcept = default;
    monitor_word(const monitor_word&) = delete;
    monitor_word& operator=(const monitor_word&) = delete;

    void lock() { _impl.lock(detail::monitor_word_table()); }
    [[nodiscard]] bool try_lock() { return _impl.try_lock(detail::monitor_word_table()); }
    void unlock() { _impl.unlock(detail::monitor_word_table()); }
    void wait() { _impl.wait(detail::monitor_word_table()); }
    void notify() { _impl.notify(detail::monitor_word_table()); }
    void notify_all() { _impl.notify_all(detail::monitor_word_table()); }

    [[nodiscard]] bool is_inflated() const noexcept { return _impl.is_inflated(); }
    [[nodiscard]] bool is_thin_locked() const noexcept { return _impl.is_thin_locked(); }

private:
    basic_monitor_word<> _impl;
};

static_assert(sizeof(monitor_word) == 8);

}  // namespace keel::sync
