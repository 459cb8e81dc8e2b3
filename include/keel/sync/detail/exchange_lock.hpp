#pragma once

#include <atomic>
#include <cstdint>

namespace keel::sync::detail {

/// What tas_lock and ttas_lock share: one word (0 free, 1 held) and every operation
/// but lock(), which is where they differ (how a waiter spins). Not for direct use.
template <template <class> class Atomic, class Stats, class Checks>
class exchange_lock {
public:
    exchange_lock(const exchange_lock&) = delete;
    exchange_lock& operator=(const exchange_lock&) = delete;

    [[nodiscard]] bool try_lock() noexcept {
        _checks.before_lock(this);
        // A plain load first: a failing try_lock then does not take the line exclusive.
        if (_word.load(std::memory_order_relaxed) != 0 ||
            _word.exchange(1, std::memory_order_acquire) != 0) {
            return false;
        }
        _stats.on_acquire(false, 0);
        _checks.after_lock();
        return true;
    }

    void unlock() noexcept {
        _checks.before_unlock(this);
        _word.store(0, std::memory_order_release);
    }

    /// Declares that the calling thread now owns a lock another thread acquired.
    void adopt() noexcept { _checks.adopt(); }
    /// Whether some thread holds the lock (a racy hint, for tests and diagnostics).
    [[nodiscard]] bool is_locked() const noexcept { return _word.load(std::memory_order_relaxed) != 0; }
    [[nodiscard]] const Stats& stats() const noexcept { return _stats; }

protected:
    exchange_lock() noexcept = default;
    ~exchange_lock() { _checks.on_destroy(this); }

    Atomic<std::uint32_t> _word{0};
    [[no_unique_address]] Stats _stats;
    [[no_unique_address]] Checks _checks;
};

}  // namespace keel::sync::detail
