#include <keel/platform/io_engine.hpp>
#include <keel/platform/io_uring_engine.hpp>
#include <keel/platform/sync_io_engine.hpp>
#include <keel/platform/thread_pool_io_engine.hpp>
#include "io_internal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <system_error>

namespace keel::platform {

std::string_view to_string(io_op op) noexcept {
    switch (op) {
        case io_op::nop: return "nop";
        case io_op::openat: return "openat";
        case io_op::close: return "close";
        case io_op::pread: return "pread";
        case io_op::pwrite: return "pwrite";
        case io_op::statx: return "statx";
        case io_op::fsync: return "fsync";
        case io_op::getdents64: return "getdents64";
    }
    return "unknown";
}

namespace detail {
namespace {

std::int64_t from_syscall(long long r) noexcept { return r < 0 ? -static_cast<std::int64_t>(errno) : r; }

template <class Call>
std::int64_t retrying(Call call) noexcept {
    for (;;) {
        long long r = call();
        if (r < 0 && errno == EINTR) continue;
        return from_syscall(r);
    }
}

constexpr std::uint64_t max_offset = static_cast<std::uint64_t>(INT64_MAX);

}  // namespace

std::int64_t execute_blocking(const io_request& q) noexcept {
    switch (q.op) {
        case io_op::nop: return 0;
        case io_op::openat:
            return retrying([&] { return ::openat(q.fd, q.path, q.flags, static_cast<mode_t>(q.mode)); });
        case io_op::close:
            // Linux closes the fd even when close() reports EINTR: never retry.
            return from_syscall(::close(q.fd));
        case io_op::pread:
            return retrying([&] { return ::pread(q.fd, q.buffer, q.length, static_cast<off_t>(q.offset)); });
        case io_op::pwrite:
            return retrying([&] { return ::pwrite(q.fd, q.buffer, q.length, static_cast<off_t>(q.offset)); });
        case io_op::statx:
            return retrying([&] {
                return ::statx(q.fd, q.path, q.flags, q.mode, static_cast<struct ::statx*>(q.buffer));
            });
        case io_op::fsync:
            return retrying([&] { return (q.flags & 1) != 0 ? ::fdatasync(q.fd) : ::fsync(q.fd); });
        case io_op::getdents64:
            return retrying([&] { return ::syscall(SYS_getdents64, q.fd, q.buffer, q.length); });
    }
    return -EINVAL;
}

keel::error_code validate(std::span<const io_request> requests, bool with_getdents64) noexcept {
    for (const auto& q : requests) {
        if (!valid_op(q.op)) return keel::make_error_code(std::errc::invalid_argument);
        if (q.op == io_op::getdents64 && !with_getdents64) {
            return keel::make_error_code(std::errc::operation_not_supported);
        }
        if ((q.op == io_op::pread || q.op == io_op::pwrite) && q.offset > max_offset) {
            return keel::make_error_code(std::errc::invalid_argument);
        }
    }
    return {};
}

void check_options(const io_engine_options& options, std::string_view who) {
    if (options.queue_depth == 0 || options.queue_depth > max_queue_depth) {
        throw std::invalid_argument(std::string(who) + ": queue_depth " + std::to_string(options.queue_depth) +
                                    " is outside 1.." + std::to_string(max_queue_depth));
    }
    if (options.threads > 1024) {
        throw std::invalid_argument(std::string(who) + ": " + std::to_string(options.threads) +
                                    " threads is more than 1024");
    }
}

std::optional<backend_status> disabled_status(std::string_view engine) {
    if (!disabled_by_environment(engine)) return std::nullopt;
    return backend_status{"io_engine", std::string(engine), false, std::string(disabled_reason)};
}

void throw_if_disabled(std::string_view engine) {
    if (disabled_by_environment(engine)) {
        throw std::system_error(std::make_error_code(std::errc::operation_not_permitted),
                                std::string(engine) + " io engine: " + std::string(disabled_reason));
    }
}

}  // namespace detail

std::vector<backend_status> probe_io_engines() {
    return {io_uring_engine::probe(), thread_pool_io_engine::probe(), sync_io_engine::probe()};
}

namespace {

[[noreturn]] void refuse(const backend_status& s) {
    throw std::system_error(std::make_error_code(std::errc::operation_not_supported),
                            s.name + " io engine unavailable: " + s.reason);
}

}  // namespace

any_io_engine make_io_engine(io_engine_kind kind, io_engine_options options) {
    detail::check_options(options, "make_io_engine");
    switch (kind) {
        case io_engine_kind::io_uring: {
            auto s = io_uring_engine::probe();
            if (!s.available) refuse(s);
            return any_io_engine(io_uring_engine(options), "requested; " + s.reason);
        }
        case io_engine_kind::thread_pool: {
            auto s = thread_pool_io_engine::probe();
            if (!s.available) refuse(s);
            return any_io_engine(thread_pool_io_engine(options), "requested; " + s.reason);
        }
        case io_engine_kind::synchronous: {
            auto s = sync_io_engine::probe();
            if (!s.available) refuse(s);
            return any_io_engine(sync_io_engine(options), "requested; " + s.reason);
        }
        case io_engine_kind::automatic: break;
    }
    // automatic: the first engine that probes available and sets up.
    std::string why;
    auto uring = io_uring_engine::probe();
    if (uring.available) {
        try {
            return detail::io_engine_access::make_uring_with_pool(
                options, "io_uring available (" + uring.reason + "); getdents64 goes to a thread pool");
        } catch (const std::system_error& e) {
            why = std::string("io_uring failed to set up (") + e.what() + ")";
        }
    } else {
        why = "io_uring unavailable (" + uring.reason + ")";
    }
    auto pool = thread_pool_io_engine::probe();
    if (pool.available) {
        try {
            return any_io_engine(thread_pool_io_engine(options), why + "; fell back to the thread pool");
        } catch (const std::system_error& e) {
            why += std::string("; thread pool failed to start (") + e.what() + ")";
        }
    } else {
        why += "; thread pool unavailable (" + pool.reason + ")";
    }
    auto sync = sync_io_engine::probe();
    if (!sync.available) {
        throw std::system_error(std::make_error_code(std::errc::operation_not_supported),
                                "no io engine available: " + why + "; synchronous: " + sync.reason);
    }
    return any_io_engine(sync_io_engine(options), why + "; fell back to the synchronous engine");
}

}  // namespace keel::platform
