#pragma once

#include <keel/platform/io_engine.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace keel::platform {

namespace detail {
struct io_engine_access;
}

/// An io engine that runs the blocking system calls on N worker threads: works on
/// every kernel and for every io_op. A bounded queue (queue_depth operations in
/// flight) feeds the workers; completions wait in a second queue for reap().
/// cancel() removes work no thread has started (it completes with -ECANCELED);
/// started work runs to its end. The destructor cancels queued work and waits for
/// the running system calls to return.
/// Fully thread-safe (one mutex). Cost per operation: a mutex round trip and a
/// thread wake-up on each side, about 5-20 us on an idle core. A moved-from engine
/// may only be destroyed or assigned to.
class thread_pool_io_engine {
public:
    static constexpr std::string_view name = "thread_pool";

    /// Available unless KEEL_DISABLE_BACKENDS names it. Never throws.
    [[nodiscard]] static backend_status probe();

    /// Starts the workers. Throws std::invalid_argument for a queue depth outside
    /// 1..32768 or more than 1024 threads, std::system_error if a thread cannot start
    /// or KEEL_DISABLE_BACKENDS names the engine.
    explicit thread_pool_io_engine(io_engine_options options = {});
    ~thread_pool_io_engine();
    thread_pool_io_engine(thread_pool_io_engine&&) noexcept;
    thread_pool_io_engine& operator=(thread_pool_io_engine&&) noexcept;
    thread_pool_io_engine(const thread_pool_io_engine&) = delete;
    thread_pool_io_engine& operator=(const thread_pool_io_engine&) = delete;

    result<std::size_t> submit(std::span<const io_request> requests);
    result<std::size_t> reap(std::span<io_completion> out, std::size_t min_complete, io_timeout timeout = {});
    result<void> cancel(std::uint64_t user_data);
    [[nodiscard]] bool supports(io_op) const noexcept { return true; }
    [[nodiscard]] std::size_t in_flight() const noexcept;
    [[nodiscard]] unsigned queue_depth() const noexcept;
    [[nodiscard]] unsigned threads() const noexcept;

private:
    friend struct detail::io_engine_access;
    struct state;
    std::unique_ptr<state> _state;
};

}  // namespace keel::platform
