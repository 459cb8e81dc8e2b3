#pragma once

#include <keel/trust/trust.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace keel::trust {

/// How a runtime sets up its trustees and channels.
struct runtime_options {
    /// Trustee threads; objects are spread over them round-robin unless placed.
    unsigned trustees = 1;
    /// Trustee i is pinned to cpus[i % cpus.size()]; empty: not pinned.
    std::vector<unsigned> cpus = {};
    /// Bytes of ring per client/trustee pair: a power of two, 4 KiB to 1 MiB. Bounds how
    /// many apply_then requests one thread can have outstanding at one trustee.
    std::uint32_t channel_bytes = 16 * 1024;
    /// apply_then requests a thread gathers before publishing them (1: publish each).
    /// apply, poll() and drain() publish whatever is gathered.
    std::uint32_t publish_batch = 16;
    /// Most requests a trustee serves from one channel before visiting the next.
    std::uint32_t burst = 64;
    /// How long an idle trustee keeps polling its channels before it starts yielding
    /// the CPU between passes, and how long it polls and yields before it parks.
    /// Budgets in time, not rounds: a pause costs 10-140 cycles depending on the CPU.
    std::chrono::nanoseconds idle_spin{20'000};
    std::chrono::nanoseconds idle_yield{200'000};
    /// The same two budgets for a client waiting in apply (or for ring space).
    std::chrono::nanoseconds wait_spin{10'000};
    std::chrono::nanoseconds wait_yield{100'000};
};

/// What one trustee has done so far. Counters are read without stopping the trustee.
struct trustee_stats {
    unsigned index = 0;
    std::optional<unsigned> cpu;      ///< where it is pinned, if it is
    std::uint64_t served = 0;         ///< requests run (entrust, apply, apply_then, destroy)
    std::uint64_t batches = 0;        ///< channel visits that found requests
    /// Visits by batch size: [0] = 1 request, [1] = 2-3, [2] = 4-7, ... [7] = 128 or more.
    std::array<std::uint64_t, 8> batch_sizes{};
    std::uint64_t parks = 0;          ///< times it slept for lack of work
    std::uint64_t clients = 0;        ///< channels open to it now
    std::chrono::nanoseconds busy{};  ///< time in passes that found work (approximate)
    std::chrono::nanoseconds lifetime{};

    /// Requests per visit.
    [[nodiscard]] double mean_batch() const noexcept {
        return batches == 0 ? 0.0 : static_cast<double>(served) / static_cast<double>(batches);
    }
    /// Fraction of its life the trustee spent serving.
    [[nodiscard]] double utilisation() const noexcept {
        return lifetime.count() == 0 ? 0.0
                                     : static_cast<double>(busy.count()) / static_cast<double>(lifetime.count());
    }
};

/// Owns the trustee threads. Objects are entrusted to it and live on one trustee each.
///
/// Shutdown (shutdown() or the destructor) finishes every request already accepted,
/// including those trustees send each other while finishing, then destroys the objects
/// still entrusted (each on its trustee) and joins the threads. Handles that outlive
/// the runtime stay valid to copy and destroy; apply on them throws runtime_stopped.
/// Other threads must have stopped issuing requests by then.
///
/// Thread-safety: entrust, stats and trustee_count from any thread; shutdown from one
/// thread that is not one of the trustees.
class runtime {
public:
    /// Starts the trustees. Throws std::invalid_argument for impossible options and
    /// std::system_error when a thread cannot be started or pinned.
    explicit runtime(runtime_options options = {});
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    /// Builds a T from args on the next trustee (round-robin) and returns its handle.
    /// Exceptions from T's constructor reach the caller.
    template <class T, class... A>
    trust<T> entrust(A&&... args) {
        return detail::make_trust<T>(next_trustee(), _core, std::forward<A>(args)...);
    }

    /// The same, on trustee `index` (< trustee_count(), else std::out_of_range).
    template <class T, class... A>
    trust<T> entrust_on(unsigned index, A&&... args) {
        return detail::make_trust<T>(trustee_at(index), _core, std::forward<A>(args)...);
    }

    [[nodiscard]] unsigned trustee_count() const noexcept;
    [[nodiscard]] std::vector<trustee_stats> stats() const;

    /// Finishes accepted work, destroys remaining objects, joins the trustees. Idempotent.
    /// Throws std::logic_error when called on one of this runtime's trustees.
    void shutdown();

private:
    detail::trustee& next_trustee();
    detail::trustee& trustee_at(unsigned index);

    std::shared_ptr<detail::runtime_core> _core;
};

}  // namespace keel::trust
