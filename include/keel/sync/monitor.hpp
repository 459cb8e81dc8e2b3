#pragma once

#include <keel/sync/detail/monitor_table.hpp>

#include <cstddef>

namespace keel::sync {

/// The side table behind keel's object monitors: address -> monitor record.
/// Time/space trade-off: 0 bytes in the object; a record (64 bytes, one cache line)
/// exists only while the monitor is in use or until the next deflation pass of its
/// shard, and records are recycled through per-shard free lists, so the table's size
/// follows the peak number of monitors in use, not the number of objects ever locked.
/// Uncontended enter+exit on a recently used object: a thread-local cache hit, a CAS
/// and an exchange (about the cost of a std::mutex lock+unlock); on a cache miss add a
/// shard lock and a hash lookup. See detail/monitor_table.hpp for the deflation protocol.
using monitor_table = detail::basic_monitor_table<std::atomic, platform::hybrid_wait>;

/// The process-wide side table used by monitor and synchronized(). Thread-safe.
[[nodiscard]] monitor_table& global_monitor_table() noexcept;

/// Deflates every idle monitor record of the process-wide tables (side-table monitors
/// and inflated monitor_words); returns how many. Deflation also runs on its own: a
/// shard that is about to inflate past its threshold (64 live records, then twice what
/// stayed live after its last pass) first deflates its idle records, so memory stays
/// bounded without calling this. Thread-safe; O(live records).
std::size_t deflate_idle_monitors();

/// Counters of the process-wide side table (inflations, deflations, live, records).
[[nodiscard]] monitor_table_stats monitor_stats();

/// A reentrant monitor (lock + wait/notify/notify_all with Java semantics) of any
/// object address, kept in the side table: the object needs no bytes for it.
/// A monitor is a view {address}: any number of them name the same monitor.
/// Lockable (std::unique_lock works); reentrant: lock() by the owner nests, and
/// unlock() must match each lock(). wait() releases every nesting level, waits for a
/// notify, and re-acquires to the same depth; it never returns spuriously, but as in
/// Java re-check the condition in a loop (another thread may run first). notify()
/// releases the longest waiter (FIFO), notify_all() every current waiter.
/// Misuse (unlock, wait, notify by a thread that does not own the monitor) aborts
/// with a message, in every build: the owner is tracked anyway, so the check is one
/// compare. Thread-safe. Cost: see monitor_table.
class monitor {
public:
    explicit monitor(const void* object) noexcept : _object(object) {}

    void lock() { (void)global_monitor_table().enter(_object); }
    [[nodiscard]] bool try_lock() { return global_monitor_table().try_enter(_object) != nullptr; }
    void unlock() { global_monitor_table().exit(owned("monitor unlock by a thread that does not own the monitor")); }

    void wait() { global_monitor_table().wait(owned("monitor wait by a thread that does not own the monitor")); }
    void notify() { global_monitor_table().notify(owned("monitor notify by a thread that does not own the monitor")); }
    void notify_all() {
        global_monitor_table().notify_all(owned("monitor notify_all by a thread that does not own the monitor"));
    }

    /// Whether the calling thread owns this monitor.
    [[nodiscard]] bool owned_by_this_thread() const { return global_monitor_table().owned_record(_object) != nullptr; }
    [[nodiscard]] const void* object() const noexcept { return _object; }

private:
    monitor_table::record* owned(const char* misuse) const {
        monitor_table::record* r = global_monitor_table().owned_record(_object);
        if (r == nullptr) detail::lock_misuse(misuse, _object);
        return r;
    }

    const void* _object;
};

}  // namespace keel::sync
