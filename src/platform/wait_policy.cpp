#include <keel/platform/wait_policy.hpp>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace keel::platform {
namespace {

std::atomic<std::uint64_t> fallback_count{0};

// The futex takes the word's address; std::atomic<uint32_t> is that word (asserted
// in the header: same size, always lock-free).
std::uint32_t* address_of(const wait_word& word) noexcept {
    return const_cast<std::uint32_t*>(reinterpret_cast<const std::uint32_t*>(&word));
}

long futex_call(const wait_word& word, int op, std::uint32_t val, const timespec* ts,
                std::uint32_t val3, bool shared) noexcept {
    if (!shared) op |= FUTEX_PRIVATE_FLAG;
    return ::syscall(SYS_futex, address_of(word), op, val, ts, nullptr, val3);
}

backend_status unavailable(std::string_view name, std::string reason) {
    return backend_status{"wait_policy", std::string(name), false, std::move(reason)};
}

}  // namespace

namespace detail {

int sys_futex_wait(const wait_word& word, std::uint32_t expected, bool shared) noexcept {
    if (futex_call(word, FUTEX_WAIT_BITSET, expected, nullptr, FUTEX_BITSET_MATCH_ANY, shared) == 0)
        return 0;
    return errno;
}

int sys_futex_wait_until(const wait_word& word, std::uint32_t expected,
                         std::chrono::steady_clock::time_point deadline, bool shared) noexcept {
    const auto since_epoch = deadline.time_since_epoch();
    // The kernel rejects negative times with EINVAL; such a deadline has passed anyway.
    if (since_epoch.count() < 0) return ETIMEDOUT;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs);
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(secs.count());
    ts.tv_nsec = static_cast<long>(nanos.count());
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, steady_clock's clock.
    if (futex_call(word, FUTEX_WAIT_BITSET, expected, &ts, FUTEX_BITSET_MATCH_ANY, shared) == 0)
        return 0;
    return errno;
}

int sys_futex_wake(const wait_word& word, int count, bool shared) noexcept {
    const long woken = futex_call(word, FUTEX_WAKE, static_cast<std::uint32_t>(count), nullptr, 0, shared);
    return woken < 0 ? -errno : static_cast<int>(woken);
}

void note_futex_fallback() noexcept { fallback_count.fetch_add(1, std::memory_order_relaxed); }

backend_status probe_futex(std::string_view name) {
    if (disabled_by_environment(name)) return unavailable(name, std::string(disabled_reason));
    wait_word local{0};
    // A wake with nobody waiting, and a wait whose value does not match: both return
    // at once where futex works, and both go through the filter a sandbox would use.
    if (futex_call(local, FUTEX_WAKE, 1, nullptr, 0, false) < 0) {
        return unavailable(name, std::string("futex(FUTEX_WAKE) failed: ") + std::strerror(errno));
    }
    if (futex_call(local, FUTEX_WAIT_BITSET, 1, nullptr, FUTEX_BITSET_MATCH_ANY, false) < 0 &&
        errno != EAGAIN) {
        return unavailable(name, std::string("futex(FUTEX_WAIT_BITSET) failed: ") + std::strerror(errno));
    }
    return backend_status{"wait_policy", std::string(name), true,
                          name == "hybrid" ? "spin, then FUTEX_WAIT_BITSET; FUTEX_WAKE only when parked"
                                           : "FUTEX_WAIT_BITSET and FUTEX_WAKE work"};
}

}  // namespace detail

std::uint64_t futex_fallback_count() noexcept { return fallback_count.load(std::memory_order_relaxed); }

backend_status spin_wait::probe() {
    if (disabled_by_environment(name)) return unavailable(name, std::string(disabled_reason));
    return backend_status{"wait_policy", std::string(name), true, "cpu_relax with capped exponential backoff"};
}

backend_status spin_yield_wait::probe() {
    if (disabled_by_environment(name)) return unavailable(name, std::string(disabled_reason));
    return backend_status{"wait_policy", std::string(name), true, "cpu_relax, then sched_yield"};
}

std::vector<backend_status> probe_wait_policies() {
    return {hybrid_wait::probe(), futex_wait::probe(), spin_yield_wait::probe(), spin_wait::probe()};
}

}  // namespace keel::platform
