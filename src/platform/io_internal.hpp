#pragma once
// Private to keel's io engine sources: not installed, not part of the API.

#include <keel/platform/io_engine.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace keel::platform {
class thread_pool_io_engine;
class io_uring_engine;
}

namespace keel::platform::detail {

/// Largest queue depth any engine accepts (io_uring's own limit).
inline constexpr unsigned max_queue_depth = 32768;

/// Runs one request as a blocking system call; returns its result or -errno.
/// EINTR is retried (except for close, which must not be).
std::int64_t execute_blocking(const io_request& request) noexcept;

/// Throws std::invalid_argument naming `who` when the options are out of range.
void check_options(const io_engine_options& options, std::string_view who);

/// Throws std::system_error when KEEL_DISABLE_BACKENDS names `engine`.
void throw_if_disabled(std::string_view engine);

/// backend_status for an engine KEEL_DISABLE_BACKENDS names, or nullopt.
std::optional<backend_status> disabled_status(std::string_view engine);

/// Why a batch must be rejected whole, or an empty error_code: an op outside io_op
/// (invalid_argument), getdents64 when !with_getdents64 (operation_not_supported),
/// a pread/pwrite offset beyond INT64_MAX (invalid_argument).
keel::error_code validate(std::span<const io_request> requests, bool with_getdents64) noexcept;

/// True when the op value is one of io_op's enumerators.
constexpr bool valid_op(io_op op) noexcept { return static_cast<unsigned>(op) <= static_cast<unsigned>(io_op::getdents64); }

/// Hooks between engines that make_io_engine combines.
struct io_engine_access {
    /// An eventfd the pool signals after each completion it queues (created on first use).
    static int completion_fd(thread_pool_io_engine& pool);
    /// The io_uring engine with a lazily started thread pool for the ops io_uring lacks.
    /// Waits until the ring has a completion or `fd` is readable or the timeout passes.
    static result<void> wait_cqe_or_readable(io_uring_engine& engine, int fd, io_timeout timeout);
    /// The io_uring engine with a lazily started thread pool for the ops io_uring lacks.
    static any_io_engine make_uring_with_pool(const io_engine_options& options, std::string reason);
};

}  // namespace keel::platform::detail
