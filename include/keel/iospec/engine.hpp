#pragma once

#include <keel/platform/io_engine.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace keel::iospec {

namespace detail {
struct scope_state;
}

/// A bound on the memory speculative operations may hold (read buffers, copies of
/// write data), shared by every engine that names it. Acquisition never blocks: a scope
/// that cannot get memory simply does not pre-issue (the program's call runs itself).
/// Thread-safe (one atomic). Cost: a compare-and-swap per acquire and release.
class buffer_budget {
public:
    explicit buffer_budget(std::size_t limit_bytes) noexcept : _limit(limit_bytes) {}
    buffer_budget(const buffer_budget&) = delete;
    buffer_budget& operator=(const buffer_budget&) = delete;

    /// Takes `bytes` if that keeps the total within the limit.
    [[nodiscard]] bool try_acquire(std::size_t bytes) noexcept;
    void release(std::size_t bytes) noexcept;
    [[nodiscard]] std::size_t used() const noexcept { return _used.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t limit() const noexcept { return _limit; }

    /// The process-wide default budget: 64 MiB.
    [[nodiscard]] static buffer_budget& global() noexcept;

private:
    std::size_t _limit;
    std::atomic<std::size_t> _used{0};
};

/// Settings of an iospec engine.
struct engine_options {
    /// Which platform io engine to build. automatic: io_uring if the kernel allows it
    /// (getdents64 then goes to a small thread pool), else the thread pool, else the
    /// synchronous engine; KEEL_DISABLE_BACKENDS is honoured.
    platform::io_engine_kind kind = platform::io_engine_kind::automatic;
    /// Most speculative operations in flight at once.
    unsigned queue_depth = 64;
    /// Where speculative buffers are accounted; nullptr = buffer_budget::global().
    buffer_budget* budget = nullptr;
};

/// Where a scope's speculative operations run: a platform io engine plus the buffer
/// budget. One scope at a time per engine (a second concurrent scope on the same engine
/// runs without speculation). Not thread-safe: use one engine per thread
/// (this_thread_engine()). Cost: the io engine's own (a ring, or a thread pool).
class engine {
public:
    /// Builds the platform engine; throws std::system_error (kind unavailable) or
    /// std::invalid_argument (bad options) as platform::make_io_engine does.
    explicit engine(engine_options options = {});
    /// Adopts an existing io engine (a custom one, or one built with other settings).
    explicit engine(platform::any_io_engine io, engine_options options = {});
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    /// The backend's name: "io_uring", "thread_pool", "synchronous", or a custom engine's.
    [[nodiscard]] std::string_view backend() const noexcept { return _io.name(); }
    /// Why the backend was chosen (the probes' findings).
    [[nodiscard]] const std::string& reason() const noexcept { return _io.reason(); }
    [[nodiscard]] unsigned queue_depth() const noexcept { return _queue_depth; }
    [[nodiscard]] buffer_budget& budget() const noexcept { return *_budget; }
    /// True while a scope uses the engine.
    [[nodiscard]] bool busy() const noexcept { return _busy; }

private:
    friend struct detail::scope_state;
    platform::any_io_engine _io;
    buffer_budget* _budget;
    unsigned _queue_depth;
    bool _busy = false;
    std::uint64_t _next_user_data = 1;
};

/// This thread's default engine (built on first use with engine_options{}).
[[nodiscard]] engine& this_thread_engine();

}  // namespace keel::iospec
