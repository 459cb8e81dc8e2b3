#pragma once

#include <keel/platform/backend_status.hpp>
#include <keel/result.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

struct statx;  // <sys/stat.h>; only pointers to it are stored here

namespace keel::platform {

/// The system calls an io engine can issue on a caller's behalf.
enum class io_op : std::uint8_t { nop, openat, close, pread, pwrite, statx, fsync, getdents64 };

/// The operation's name, e.g. "pread".
[[nodiscard]] std::string_view to_string(io_op op) noexcept;

/// One system call to issue asynchronously: a plain value built by the named
/// factories below. Pointers (buffer, path, statx output) are borrowed and must
/// stay valid until the operation's completion has been reaped; every engine
/// may read them at any time before that. `user_data` comes back unchanged in
/// the completion; keep it unique among operations in flight so that cancel()
/// can name one. Cost: 48 bytes, trivially copyable.
struct io_request {
    /// Longest transfer one request carries; Linux caps read/write at this anyway
    /// (a longer request would come back as a short transfer).
    static constexpr std::size_t max_length = 0x7ffff000;

    io_op op = io_op::nop;
    int fd = -1;               ///< file, or directory fd for openat/statx (AT_FDCWD)
    int flags = 0;             ///< open flags, AT_* flags (statx), 1 = data-only (fsync)
    std::uint32_t mode = 0;    ///< open mode, or the statx mask
    std::uint32_t length = 0;  ///< bytes to transfer (pread, pwrite, getdents64)
    std::uint64_t offset = 0;  ///< file offset (pread, pwrite)
    void* buffer = nullptr;    ///< data (pread, pwrite, getdents64) or a struct statx*
    const char* path = nullptr;
    std::uint64_t user_data = 0;

    /// Does nothing; completes with 0. Measures an engine's own overhead.
    [[nodiscard]] static io_request nop(std::uint64_t user_data) noexcept {
        io_request r;
        r.user_data = user_data;
        return r;
    }
    /// openat(dirfd, path, flags, mode); completes with the new fd.
    [[nodiscard]] static io_request openat(int dirfd, const char* path, int flags, std::uint32_t mode,
                                           std::uint64_t user_data) noexcept {
        io_request r;
        r.op = io_op::openat;
        r.fd = dirfd;
        r.path = path;
        r.flags = flags;
        r.mode = mode;
        r.user_data = user_data;
        return r;
    }
    /// close(fd); completes with 0.
    [[nodiscard]] static io_request close(int fd, std::uint64_t user_data) noexcept {
        io_request r;
        r.op = io_op::close;
        r.fd = fd;
        r.user_data = user_data;
        return r;
    }
    /// pread(fd, buffer, length, offset); completes with the bytes read.
    [[nodiscard]] static io_request pread(int fd, void* buffer, std::size_t length, std::uint64_t offset,
                                          std::uint64_t user_data) noexcept {
        io_request r;
        r.op = io_op::pread;
        r.fd = fd;
        r.buffer = buffer;
        r.length = clamp_length(length);
        r.offset = offset;
        r.user_data = user_data;
        return r;
    }
    /// pwrite(fd, buffer, length, offset); completes with the bytes written.
    [[nodiscard]] static io_request pwrite(int fd, const void* buffer, std::size_t length, std::uint64_t offset,
                                           std::uint64_t user_data) noexcept {
        io_request r = pread(fd, const_cast<void*>(buffer), length, offset, user_data);
        r.op = io_op::pwrite;
        return r;
    }
    /// statx(dirfd, path, flags, mask, out); completes with 0 and fills *out.
    /// fstatat is statx with STATX_BASIC_STATS; fstat is fstat() below.
    [[nodiscard]] static io_request statx(int dirfd, const char* path, int flags, std::uint32_t mask,
                                          struct ::statx* out, std::uint64_t user_data) noexcept {
        io_request r;
        r.op = io_op::statx;
        r.fd = dirfd;
        r.path = path;
        r.flags = flags;
        r.mode = mask;
        r.buffer = out;
        r.user_data = user_data;
        return r;
    }
    /// fstat through statx: statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, out).
    [[nodiscard]] static io_request fstat(int fd, struct ::statx* out, std::uint64_t user_data) noexcept {
        return statx(fd, "", empty_path_flag, basic_stats_mask, out, user_data);
    }
    /// fsync(fd); completes with 0.
    [[nodiscard]] static io_request fsync(int fd, std::uint64_t user_data) noexcept {
        io_request r;
        r.op = io_op::fsync;
        r.fd = fd;
        r.user_data = user_data;
        return r;
    }
    /// fdatasync(fd); completes with 0.
    [[nodiscard]] static io_request fdatasync(int fd, std::uint64_t user_data) noexcept {
        io_request r = fsync(fd, user_data);
        r.flags = 1;
        return r;
    }
    /// getdents64(fd, buffer, length): the next directory entries (struct linux_dirent64
    /// records) at the fd's position; completes with the bytes filled, 0 at the end.
    [[nodiscard]] static io_request getdents64(int fd, void* buffer, std::size_t length,
                                               std::uint64_t user_data) noexcept {
        io_request r = pread(fd, buffer, length, 0, user_data);
        r.op = io_op::getdents64;
        return r;
    }

private:
    static constexpr int empty_path_flag = 0x1000;           // AT_EMPTY_PATH
    static constexpr std::uint32_t basic_stats_mask = 0x7ff;  // STATX_BASIC_STATS
    static constexpr std::uint32_t clamp_length(std::size_t n) noexcept {
        return static_cast<std::uint32_t>(n < max_length ? n : max_length);
    }
};

/// The outcome of one request: its user_data and the system call's result
/// (>= 0 success: bytes, fd or 0; < 0 the negated errno, -ECANCELED when cancelled).
/// Plain data, 16 bytes.
struct io_completion {
    std::uint64_t user_data = 0;
    std::int64_t result = 0;

    [[nodiscard]] constexpr bool ok() const noexcept { return result >= 0; }
    /// The errno, or 0 on success.
    [[nodiscard]] constexpr int error() const noexcept { return result < 0 ? static_cast<int>(-result) : 0; }
    /// The success value as a count (bytes, fd); 0 on failure.
    [[nodiscard]] constexpr std::size_t value() const noexcept {
        return result >= 0 ? static_cast<std::size_t>(result) : 0;
    }
    /// The failure as an error_code (system category); empty on success.
    [[nodiscard]] keel::error_code code() const noexcept { return ok() ? keel::error_code{} : errno_code(error()); }
};

/// How long reap() may wait; std::nullopt waits until min_complete have arrived.
using io_timeout = std::optional<std::chrono::nanoseconds>;

/// An io engine issues io_requests asynchronously and hands back one io_completion
/// per accepted request, exactly once.
///  - submit(requests): accepts a prefix of the batch and returns its length. The
///    engine holds at most its queue depth of operations in flight (submitted, not
///    yet reaped); a shorter prefix means the queue filled up, and an empty one is the
///    error resource_unavailable_try_again (reap, then retry). A batch containing an
///    operation the engine does not support is rejected whole (operation_not_supported).
///  - reap(out, min_complete, timeout): copies completions into out; waits until
///    min(min_complete, out.size(), in_flight()) have arrived or the timeout passes,
///    then returns how many it copied (fewer than asked only on timeout). Never waits
///    for completions that cannot come.
///  - cancel(user_data): asks the engine to drop that operation. It still completes
///    exactly once: with -ECANCELED, or with its real result if it had already run.
///    No operation in flight with that user_data is the error ENOENT.
///  - supports(op), in_flight(), E::name, E::probe().
/// Failures of the operations themselves arrive in completions, never in these results.
template <class E>
concept io_engine = requires(E& e, const E& ce, std::span<const io_request> requests,
                             std::span<io_completion> out, std::size_t n, io_timeout timeout,
                             std::uint64_t user_data, io_op op) {
    { e.submit(requests) } -> std::same_as<result<std::size_t>>;
    { e.reap(out, n, timeout) } -> std::same_as<result<std::size_t>>;
    { e.cancel(user_data) } -> std::same_as<result<void>>;
    { ce.supports(op) } noexcept -> std::same_as<bool>;
    { ce.in_flight() } noexcept -> std::same_as<std::size_t>;
    { E::name } -> std::convertible_to<std::string_view>;
    { E::probe() } -> std::same_as<backend_status>;
};

/// Settings every engine accepts (each uses those that apply to it).
struct io_engine_options {
    /// Most operations in flight at once (submitted, not yet reaped); 1..32768.
    unsigned queue_depth = 64;
    /// Worker threads of the thread-pool engine; 0 = min(queue_depth, 16).
    unsigned threads = 0;
};

/// Which engine make_io_engine builds. automatic: io_uring if the kernel allows it
/// (with a small thread pool for the operations io_uring lacks), else the thread
/// pool, else the synchronous engine.
enum class io_engine_kind : std::uint8_t { automatic, io_uring, thread_pool, synchronous };

namespace detail {

// The type-erased interface: one virtual call per batch.
class any_io_engine_base {
public:
    virtual ~any_io_engine_base() = default;
    virtual result<std::size_t> submit(std::span<const io_request> requests) = 0;
    virtual result<std::size_t> reap(std::span<io_completion> out, std::size_t min_complete, io_timeout timeout) = 0;
    virtual result<void> cancel(std::uint64_t user_data) = 0;
    [[nodiscard]] virtual bool supports(io_op op) const noexcept = 0;
    [[nodiscard]] virtual std::size_t in_flight() const noexcept = 0;
    [[nodiscard]] virtual std::string_view name() const noexcept = 0;
};

template <class E>
class any_io_engine_model final : public any_io_engine_base {
public:
    template <class... Args>
    explicit any_io_engine_model(std::in_place_t, Args&&... args) : _engine(std::forward<Args>(args)...) {}
    result<std::size_t> submit(std::span<const io_request> requests) override { return _engine.submit(requests); }
    result<std::size_t> reap(std::span<io_completion> out, std::size_t min_complete, io_timeout timeout) override {
        return _engine.reap(out, min_complete, timeout);
    }
    result<void> cancel(std::uint64_t user_data) override { return _engine.cancel(user_data); }
    [[nodiscard]] bool supports(io_op op) const noexcept override { return _engine.supports(op); }
    [[nodiscard]] std::size_t in_flight() const noexcept override { return _engine.in_flight(); }
    [[nodiscard]] std::string_view name() const noexcept override { return E::name; }
    E& engine() noexcept { return _engine; }

private:
    E _engine;
};

}  // namespace detail

/// Any io engine behind one interface, chosen at run time (make_io_engine). Costs one
/// virtual call per batch, not per operation, plus one heap allocation at creation.
/// Move-only; thread-safety is the backend's (io_uring and synchronous: one thread
/// at a time; thread pool: fully thread-safe). It does not model io_engine itself
/// only because name and probe are per object here: see name() and reason().
class any_io_engine {
public:
    /// Wraps `engine` (moved in); `reason` says why it was chosen.
    template <class E>
        requires(io_engine<std::remove_cvref_t<E>> && !std::same_as<std::remove_cvref_t<E>, any_io_engine>)
    explicit any_io_engine(E&& engine, std::string reason = {})
        : _impl(std::make_unique<detail::any_io_engine_model<std::remove_cvref_t<E>>>(std::in_place,
                                                                                        std::forward<E>(engine))),
          _reason(std::move(reason)) {}

    /// Adopts an implementation (used by make_io_engine's combined engines).
    any_io_engine(std::unique_ptr<detail::any_io_engine_base> impl, std::string reason) noexcept
        : _impl(std::move(impl)), _reason(std::move(reason)) {}

    result<std::size_t> submit(std::span<const io_request> requests) { return _impl->submit(requests); }
    result<std::size_t> reap(std::span<io_completion> out, std::size_t min_complete, io_timeout timeout = {}) {
        return _impl->reap(out, min_complete, timeout);
    }
    result<void> cancel(std::uint64_t user_data) { return _impl->cancel(user_data); }
    [[nodiscard]] bool supports(io_op op) const noexcept { return _impl->supports(op); }
    [[nodiscard]] std::size_t in_flight() const noexcept { return _impl->in_flight(); }
    /// The backend's name: "io_uring", "thread_pool" or "synchronous" (or a custom engine's).
    [[nodiscard]] std::string_view name() const noexcept { return _impl->name(); }
    /// Why this backend was chosen (the probes' findings).
    [[nodiscard]] const std::string& reason() const noexcept { return _reason; }

private:
    std::unique_ptr<detail::any_io_engine_base> _impl;
    std::string _reason;
};

/// Builds an engine. automatic probes io_uring first and falls back to the thread
/// pool (then the synchronous engine); the io_uring choice routes getdents64, which
/// io_uring lacks, to a small thread pool behind the same interface. An explicitly
/// requested kind that is unavailable throws std::system_error carrying its probe's
/// reason; bad options throw std::invalid_argument. Cost: a probe (a ring set up and
/// torn down) and the engine's own set-up.
[[nodiscard]] any_io_engine make_io_engine(io_engine_kind kind = io_engine_kind::automatic,
                                           io_engine_options options = {});

/// The probes of every io engine, in automatic's order of preference.
[[nodiscard]] std::vector<backend_status> probe_io_engines();

}  // namespace keel::platform
