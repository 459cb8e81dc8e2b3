#include "io.hpp"

#include <keel/platform/wait_policy.hpp>
#include <keel/rpc/error.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace keel::rpc::detail {

int poll_timeout(clock::time_point deadline) noexcept {
    if (deadline == clock::time_point::max()) return -1;
    const auto now = clock::now();
    if (deadline <= now) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

int poll_until(int fd, short events, clock::time_point deadline) noexcept {
    for (;;) {
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, poll_timeout(deadline));
        if (n > 0) return p.revents;
        if (n == 0) {
            if (clock::now() >= deadline) return 0;
            continue;  // poll rounds to ms; go on until the deadline has really passed
        }
        if (errno != EINTR) return -errno;
    }
}

clock::time_point deadline_in(std::chrono::milliseconds timeout) noexcept {
    return platform::deadline_after(timeout);
}

result<void> send_all(int fd, const void* data, std::size_t n, std::span<const int> pass_fds,
                      clock::time_point deadline) noexcept {
    if (pass_fds.size() > max_pass_fds) return make_error_code(errc::bad_message);
    const auto* p = static_cast<const char*>(data);
    std::size_t sent = 0;
    while (sent < n) {
        iovec iov{const_cast<char*>(p + sent), n - sent};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(max_pass_fds * sizeof(int))];
        if (!pass_fds.empty() && sent == 0) {
            const std::size_t bytes = pass_fds.size() * sizeof(int);
            std::memset(control, 0, sizeof control);
            msg.msg_control = control;
            msg.msg_controllen = CMSG_SPACE(bytes);
            cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(bytes);
            std::memcpy(CMSG_DATA(c), pass_fds.data(), bytes);
        }
        const ssize_t k = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) {
            sent += static_cast<std::size_t>(k);
            continue;
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            const int r = poll_until(fd, POLLOUT, deadline);
            if (r < 0) return errno_code(-r);
            if (r == 0) return keel::make_error_code(std::errc::timed_out);
            continue;
        }
        return errno_code(k < 0 ? errno : EIO);
    }
    return {};
}

result<void> recv_exact(int fd, void* data, std::size_t n, std::vector<unique_fd>& fds,
                        clock::time_point deadline) noexcept {
    auto* p = static_cast<char*>(data);
    std::size_t got = 0;
    while (got < n) {
        iovec iov{p + got, n - got};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        // Room for a few fds: a peer sending more than we expect must not make the
        // kernel drop them silently (MSG_CTRUNC); we close what we do not use.
        alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t k = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (k > 0 || (k == 0 && msg.msg_controllen > 0)) {
            for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
                const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (std::size_t i = 0; i < count; ++i) {
                    int received = -1;
                    std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                    try {
                        fds.emplace_back(received);
                    } catch (...) {
                        ::close(received);
                    }
                }
            }
            if ((msg.msg_flags & MSG_CTRUNC) != 0) return make_error_code(errc::bad_message);
            got += static_cast<std::size_t>(k);
            if (k == 0) return make_error_code(errc::peer_closed);
            continue;
        }
        if (k == 0) return make_error_code(errc::peer_closed);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            const int r = poll_until(fd, POLLIN, deadline);
            if (r < 0) return errno_code(-r);
            if (r == 0) return keel::make_error_code(std::errc::timed_out);
            continue;
        }
        if (errno == ECONNRESET) return make_error_code(errc::peer_closed);
        return errno_code(errno);
    }
    return {};
}

std::string errno_text(int err) {
    char buf[128];
    // GNU strerror_r returns the message (maybe not in buf).
    return ::strerror_r(err, buf, sizeof buf);
}

}  // namespace keel::rpc::detail
