// The process-wide monitor side tables and the monitor thread ids.

#include <keel/sync/monitor.hpp>
#include <keel/sync/monitor_word.hpp>

#include <atomic>
#include <cstdint>

namespace keel::sync {

namespace detail {

std::uint32_t allocate_monitor_thread_id() noexcept {
    // 0 is "no id yet", 1 the deflater's marker, 2 the anonymous owner. 2^32 threads
    // over a process's life would wrap; we accept that limit.
    static std::atomic<std::uint32_t> next{3};
    return next.fetch_add(1, std::memory_order_relaxed);
}

monitor_table& monitor_word_table() noexcept {
    // Never destroyed: threads may still leave monitors during static destruction.
    static monitor_table* const table = new monitor_table();
    return *table;
}

}  // namespace detail

monitor_table& global_monitor_table() noexcept {
    static monitor_table* const table = new monitor_table();
    return *table;
}

std::size_t deflate_idle_monitors() {
    return global_monitor_table().deflate_idle() + detail::monitor_word_table().deflate_idle();
}

monitor_table_stats monitor_stats() { return global_monitor_table().stats(); }

}  // namespace keel::sync
