#pragma once

#include <atomic>
#include <cstdint>

namespace keel::sync {

/// The statistics policy a lock takes as its `Stats` template argument. A lock calls
///  - on_wait() once it has joined the waiters (for queue locks: after its place in
///    line is fixed), before it spins or parks;
///  - on_acquire(contended, spins) once it holds the lock; `contended` says whether
///    it had to wait (then on_wait() came first), `spins` counts its spin rounds;
///  - on_park() each time it blocks in the kernel (blocking locks only).
/// Readers: acquisitions(), contended(), spins(), parks(), waiting().
template <class S>
concept lock_stats_policy = requires(S& s, const S& cs, bool b, std::uint64_t n) {
    { S::enabled } -> std::convertible_to<bool>;
    s.on_wait();
    s.on_acquire(b, n);
    s.on_park();
    { cs.acquisitions() } -> std::same_as<std::uint64_t>;
    { cs.contended() } -> std::same_as<std::uint64_t>;
    { cs.spins() } -> std::same_as<std::uint64_t>;
    { cs.parks() } -> std::same_as<std::uint64_t>;
    { cs.waiting() } -> std::same_as<std::uint64_t>;
};

/// No statistics (the default): an empty type, stored with [[no_unique_address]], so
/// it adds no bytes to a lock and its hooks compile to nothing. Readers return 0.
struct no_lock_stats {
    static constexpr bool enabled = false;
    void on_wait() noexcept {}
    void on_acquire(bool, std::uint64_t) noexcept {}
    void on_park() noexcept {}
    [[nodiscard]] std::uint64_t acquisitions() const noexcept { return 0; }
    [[nodiscard]] std::uint64_t contended() const noexcept { return 0; }
    [[nodiscard]] std::uint64_t spins() const noexcept { return 0; }
    [[nodiscard]] std::uint64_t parks() const noexcept { return 0; }
    [[nodiscard]] std::uint64_t waiting() const noexcept { return 0; }
};

/// Counters a user can read while the lock is in use: acquisitions, contended
/// acquisitions, spin rounds, parks, and the number of threads waiting right now.
/// Thread-safe: relaxed atomic counters, so a reading is a consistent value of each
/// counter but not a snapshot across them. Cost: 40 bytes in the lock; one relaxed
/// read-modify-write per acquisition, three more per contended one (on the lock's own
/// cache line, which the acquirer owns at that moment anyway).
class lock_stats {
public:
    static constexpr bool enabled = true;

    void on_wait() noexcept { _waiting.fetch_add(1, std::memory_order_relaxed); }
    void on_acquire(bool contended, std::uint64_t spins) noexcept {
        _acquisitions.fetch_add(1, std::memory_order_relaxed);
        if (contended) {
            _contended.fetch_add(1, std::memory_order_relaxed);
            _spins.fetch_add(spins, std::memory_order_relaxed);
            _waiting.fetch_sub(1, std::memory_order_relaxed);
        }
    }
    void on_park() noexcept { _parks.fetch_add(1, std::memory_order_relaxed); }

    [[nodiscard]] std::uint64_t acquisitions() const noexcept { return _acquisitions.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t contended() const noexcept { return _contended.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t spins() const noexcept { return _spins.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t parks() const noexcept { return _parks.load(std::memory_order_relaxed); }
    /// Threads that have called on_wait() and not yet acquired: a queue-depth gauge.
    [[nodiscard]] std::uint64_t waiting() const noexcept { return _waiting.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> _acquisitions{0};
    std::atomic<std::uint64_t> _contended{0};
    std::atomic<std::uint64_t> _spins{0};
    std::atomic<std::uint64_t> _parks{0};
    std::atomic<std::uint64_t> _waiting{0};
};

static_assert(lock_stats_policy<no_lock_stats>);
static_assert(lock_stats_policy<lock_stats>);

}  // namespace keel::sync
