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

/// An io engine on Linux io_uring (liburing): each submit() batch is one
/// io_uring_submit system call, reap() takes completions straight from the
/// shared completion ring (no system call when they are already there).
/// Supports every io_op except getdents64, which io_uring lacks (submit rejects
/// it; make_io_engine's automatic engine routes it to a thread pool).
/// Not thread-safe: one thread at a time (as with the ring itself).
/// Cost: a ring of queue_depth entries (a few pages of locked memory) and a slot
/// table; cancel() is O(queue_depth). The destructor cancels what is in flight and
/// waits for it (the kernel may be writing into the caller's buffers). A moved-from
/// engine may only be destroyed or assigned to.
class io_uring_engine {
public:
    static constexpr std::string_view name = "io_uring";

    /// Whether the kernel lets this process use io_uring: checks KEEL_DISABLE_BACKENDS,
    /// /proc/sys/kernel/io_uring_disabled, sets up and tears down a small ring and
    /// checks the opcodes keel needs. Never throws.
    [[nodiscard]] static backend_status probe();

    /// Sets up a ring. Throws std::invalid_argument for a queue depth outside 1..32768,
    /// std::system_error naming the cause when the kernel (or keel's build, or
    /// KEEL_DISABLE_BACKENDS) refuses io_uring.
    explicit io_uring_engine(io_engine_options options = {});
    ~io_uring_engine();
    io_uring_engine(io_uring_engine&&) noexcept;
    io_uring_engine& operator=(io_uring_engine&&) noexcept;
    io_uring_engine(const io_uring_engine&) = delete;
    io_uring_engine& operator=(const io_uring_engine&) = delete;

    result<std::size_t> submit(std::span<const io_request> requests);
    result<std::size_t> reap(std::span<io_completion> out, std::size_t min_complete, io_timeout timeout = {});
    result<void> cancel(std::uint64_t user_data);
    [[nodiscard]] bool supports(io_op op) const noexcept { return op != io_op::getdents64; }
    [[nodiscard]] std::size_t in_flight() const noexcept;
    [[nodiscard]] unsigned queue_depth() const noexcept;

private:
    friend struct detail::io_engine_access;
    struct impl;
    std::unique_ptr<impl> _impl;
};

}  // namespace keel::platform
