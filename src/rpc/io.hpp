#pragma once

// Private helpers of keel::rpc: an owning fd, deadlines, poll/send/recv loops that
// handle EINTR and partial transfers, and SCM_RIGHTS. Not installed.

#include <keel/result.hpp>

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace keel::rpc::detail {

using clock = std::chrono::steady_clock;

/// Closes its fd on destruction. Move-only.
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : _fd(fd) {}
    unique_fd(unique_fd&& o) noexcept : _fd(std::exchange(o._fd, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(std::exchange(o._fd, -1));
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }
    [[nodiscard]] int get() const noexcept { return _fd; }
    int release() noexcept { return std::exchange(_fd, -1); }
    void reset(int fd = -1) noexcept {
        if (_fd >= 0) ::close(_fd);
        _fd = fd;
    }

private:
    int _fd = -1;
};

/// Milliseconds left until `deadline` for poll(): 0 when past, -1 for "forever"
/// (time_point::max()), rounded up so a wait never ends early.
int poll_timeout(clock::time_point deadline) noexcept;

/// Polls one fd for `events` until `deadline`; returns the revents (0 on timeout) or
/// -errno. EINTR is retried with the remaining time.
int poll_until(int fd, short events, clock::time_point deadline) noexcept;

/// The most fds send_all attaches to one message.
inline constexpr std::size_t max_pass_fds = 4;

/// Sends all of [data, data + n) (MSG_NOSIGNAL), attaching `pass_fds` (at most
/// max_pass_fds; none when empty) to the first byte with SCM_RIGHTS. Waits for room
/// until `deadline`.
result<void> send_all(int fd, const void* data, std::size_t n, std::span<const int> pass_fds,
                      clock::time_point deadline) noexcept;

/// Receives exactly n bytes until `deadline`, collecting any fds passed with them
/// (MSG_CMSG_CLOEXEC) into `fds`. EOF before n bytes: errc::peer_closed (via caller).
/// Truncated ancillary data (MSG_CTRUNC) is an error (bad_message).
result<void> recv_exact(int fd, void* data, std::size_t n, std::vector<unique_fd>& fds,
                        clock::time_point deadline) noexcept;

/// strerror text for an errno value.
std::string errno_text(int err);

/// A deadline `timeout` from now (saturating at time_point::max()).
clock::time_point deadline_in(std::chrono::milliseconds timeout) noexcept;

}  // namespace keel::rpc::detail
