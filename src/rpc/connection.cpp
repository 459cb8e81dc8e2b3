#include <keel/platform/backend_status.hpp>
#include <keel/rpc/channel.hpp>
#include <keel/rpc/connection.hpp>
#include <keel/rpc/detail/wire.hpp>

#include "io.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77  // Linux 6.5; older kernels answer ENOPROTOOPT
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace keel::rpc {

namespace detail {

struct connection_access {
    // Fills in the peer's pid and how it is watched, from the connected socket.
    static void watch_peer(connection& c) {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(c._socket, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) c._peer_pid = cred.pid;
        if (platform::disabled_by_environment("pidfd")) {
            c._watch = peer_watch::socket_hangup;
            c._watch_note = "pidfd " + std::string(platform::disabled_reason) + "; watching the socket for hang-up";
            return;
        }
        // SO_PEERPIDFD names the very process at the other end (no pid-reuse race).
        int pidfd = -1;
        len = sizeof pidfd;
        if (::getsockopt(c._socket, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0) {
            (void)::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
            c._pidfd = pidfd;
            c._watch = peer_watch::pidfd;
            c._watch_note = "pidfd from SO_PEERPIDFD";
            return;
        }
        const int peer_err = errno;
        if (c._peer_pid > 0) {
            // pidfd_open by number: the pid could have been reused if the peer died
            // already, but then the socket has hung up too, which peer_alive() checks.
            const long fd = ::syscall(SYS_pidfd_open, c._peer_pid, 0);
            if (fd >= 0) {
                (void)::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
                c._pidfd = static_cast<int>(fd);
                c._watch = peer_watch::pidfd;
                c._watch_note = "pidfd from pidfd_open (SO_PEERPIDFD refused: " + errno_text(peer_err) + ")";
                return;
            }
            c._watch_note = "pidfd_open refused: " + errno_text(errno) + "; watching the socket for hang-up";
        } else {
            c._watch_note = "no peer pid (SO_PEERCRED failed); watching the socket for hang-up";
        }
        c._watch = peer_watch::socket_hangup;
    }

    static connection make(unique_fd socket, connection::side role, shared_space space, std::string service,
                           std::uint64_t schema_hash) {
        connection c;
        c._socket = socket.release();
        c._role = role;
        c._space = std::move(space);
        c._heap = std::make_unique<shared_heap>(c._space);
        c._service = std::move(service);
        c._schema_hash = schema_hash;
        watch_peer(c);
        return c;
    }
};

}  // namespace detail

namespace {

using detail::clock;
using detail::unique_fd;
using detail::hello_message;
using detail::reply_message;

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
    return buf;
}

struct address {
    sockaddr_un addr{};
    socklen_t length = 0;
    bool abstract = false;
};

address make_address(std::string_view path, const char* who) {
    address a;
    a.addr.sun_family = AF_UNIX;
    if (path.empty()) throw std::invalid_argument(std::string(who) + ": the socket path is empty");
    if (path.find('\0') != std::string_view::npos) {
        throw std::invalid_argument(std::string(who) + ": the socket path contains NUL");
    }
    constexpr std::size_t room = sizeof(a.addr.sun_path);
    if (path.front() == '@') {
        const std::string_view name = path.substr(1);
        if (name.empty() || name.size() > room - 1) {
            throw std::invalid_argument(std::string(who) + ": abstract socket name '" + std::string(path) +
                                        "' must have 1.." + std::to_string(room - 1) + " bytes after '@'");
        }
        a.abstract = true;
        a.addr.sun_path[0] = '\0';
        std::memcpy(a.addr.sun_path + 1, name.data(), name.size());
        a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    } else {
        if (path.size() > room - 1) {
            throw std::invalid_argument(std::string(who) + ": socket path '" + std::string(path) + "' is " +
                                        std::to_string(path.size()) + " bytes; at most " +
                                        std::to_string(room - 1) + " fit in sockaddr_un");
        }
        std::memcpy(a.addr.sun_path, path.data(), path.size());
        a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    }
    return a;
}

void check_service(const std::string& service, const char* who) {
    if (service.empty() || service.size() > detail::max_service_name) {
        throw std::invalid_argument(std::string(who) + ": service name '" + service + "' must have 1.." +
                                    std::to_string(detail::max_service_name) + " bytes");
    }
}

unique_fd new_socket() {
    return unique_fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
}

// Connects `fd` (non-blocking) to `a`: 0 or an errno.
int connect_once(int fd, const address& a, clock::time_point deadline) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.length) == 0) return 0;
    int err = errno;
    if (err == EINPROGRESS || err == EINTR) {
        const int r = detail::poll_until(fd, POLLOUT, deadline);
        if (r < 0) return -r;
        if (r == 0) return ETIMEDOUT;
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
        return err;
    }
    return err;
}

std::string_view text_of(const reply_message& m) {
    return {m.text, std::min<std::size_t>(m.text_length, detail::max_reason_text)};
}

reply_message make_reply(std::uint32_t status, std::uint64_t schema_hash, std::string_view text) {
    reply_message m{};
    m.magic = detail::reply_magic;
    m.version = protocol_version;
    m.message_size = sizeof(reply_message);
    m.fingerprint = layout_fingerprint;
    m.schema_hash = schema_hash;
    m.pid = ::getpid();
    m.status = status;
    m.text_length = static_cast<std::uint32_t>(std::min(text.size(), detail::max_reason_text));
    if (m.text_length != 0) std::memcpy(m.text, text.data(), m.text_length);
    return m;
}

// The reason to refuse a hello, or {} to accept it.
std::pair<errc, std::string> judge(const hello_message& h, const listener_options& o) {
    if (h.magic != detail::hello_magic) {
        return {errc::bad_magic, "hello magic is " + hex(h.magic) + ", expected " + hex(detail::hello_magic)};
    }
    if (h.version != protocol_version) {
        return {errc::version_mismatch, "protocol version mismatch: client speaks " + std::to_string(h.version) +
                                            ", server speaks " + std::to_string(protocol_version)};
    }
    if (h.message_size != sizeof(hello_message)) {
        return {errc::bad_message, "hello message_size is " + std::to_string(h.message_size) + ", expected " +
                                       std::to_string(sizeof(hello_message))};
    }
    if (h.fingerprint != layout_fingerprint) {
        return {errc::fingerprint_mismatch, "layout fingerprint mismatch: client " + hex(h.fingerprint) +
                                                ", server " + hex(layout_fingerprint)};
    }
    if (h.service_length == 0 || h.service_length > detail::max_service_name) {
        return {errc::bad_message, "hello service_length is " + std::to_string(h.service_length) + ", must be 1.." +
                                       std::to_string(detail::max_service_name)};
    }
    const std::string_view asked(h.service, h.service_length);
    if (asked != o.service) {
        return {errc::unknown_service,
                "unknown service: client asked for '" + std::string(asked) + "', this listener serves '" + o.service + "'"};
    }
    if (h.schema_hash != o.schema_hash) {
        return {errc::schema_mismatch, "schema hash mismatch for service '" + o.service + "': client " +
                                           hex(h.schema_hash) + ", server " + hex(o.schema_hash)};
    }
    return {errc{}, {}};
}

constexpr std::uint32_t max_errc = static_cast<std::uint32_t>(errc::misaligned);

}  // namespace

// ---- connection ------------------------------------------------------------------

std::string_view to_string(peer_watch w) noexcept {
    return w == peer_watch::pidfd ? "pidfd" : "socket_hangup";
}

platform::backend_status probe_peer_watch() {
    platform::backend_status s{"peer_watch", "pidfd", false, {}};
    if (platform::disabled_by_environment("pidfd")) {
        s.reason = std::string(platform::disabled_reason) + "; peers are watched by socket hang-up";
        return s;
    }
    const long fd = ::syscall(SYS_pidfd_open, ::getpid(), 0);
    if (fd < 0) {
        s.reason = "pidfd_open refused: " + detail::errno_text(errno) + "; peers are watched by socket hang-up";
        return s;
    }
    ::close(static_cast<int>(fd));
    s.available = true;
    s.reason = "pidfd_open works";
    return s;
}

connection::connection(connection&& o) noexcept
    : _socket(std::exchange(o._socket, -1)),
      _pidfd(std::exchange(o._pidfd, -1)),
      _peer_pid(std::exchange(o._peer_pid, 0)),
      _role(o._role),
      _watch(o._watch),
      _watch_note(std::move(o._watch_note)),
      _space(std::move(o._space)),
      _heap(std::move(o._heap)),
      _service(std::move(o._service)),
      _schema_hash(o._schema_hash) {}

connection& connection::operator=(connection&& o) noexcept {
    if (this != &o) {
        close();
        _socket = std::exchange(o._socket, -1);
        _pidfd = std::exchange(o._pidfd, -1);
        _peer_pid = std::exchange(o._peer_pid, 0);
        _role = o._role;
        _watch = o._watch;
        _watch_note = std::move(o._watch_note);
        _space = std::move(o._space);
        _heap = std::move(o._heap);
        _service = std::move(o._service);
        _schema_hash = o._schema_hash;
    }
    return *this;
}

connection::~connection() { close(); }

void connection::close() noexcept {
    if (_socket >= 0) ::close(_socket);
    if (_pidfd >= 0) ::close(_pidfd);
    _socket = -1;
    _pidfd = -1;
    _heap.reset();  // before the arena it lives in goes
    _space = shared_space();
}

namespace {
// Polls the watch fds once with `timeout_ms`: 1 gone, 0 alive, -errno.
int poll_gone(int socket, int pidfd, int timeout_ms) noexcept {
    pollfd p[2] = {{socket, POLLRDHUP, 0}, {pidfd, POLLIN, 0}};
    const nfds_t n = pidfd >= 0 ? 2 : 1;
    const int r = ::poll(p, n, timeout_ms);
    if (r < 0) return -errno;
    if ((p[0].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0) return 1;
    if (n == 2 && (p[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0) return 1;
    return 0;
}
}  // namespace

bool connection::peer_alive() const noexcept {
    if (_socket < 0) return false;
    for (;;) {
        const int r = poll_gone(_socket, _pidfd, 0);
        if (r == -EINTR) continue;
        return r == 0;
    }
}

result<void> connection::wait_peer_exit(std::chrono::milliseconds timeout) const noexcept {
    if (_socket < 0) return {};
    const auto deadline = detail::deadline_in(timeout);
    for (;;) {
        const int r = poll_gone(_socket, _pidfd, detail::poll_timeout(deadline));
        if (r == 1) return {};
        if (r == -EINTR) continue;
        if (r < 0) return errno_code(-r);
        if (clock::now() >= deadline) return keel::make_error_code(std::errc::timed_out);
    }
}

pollable connection::peer_watch_fd() const noexcept {
    if (_pidfd >= 0) return {_pidfd, POLLIN};
    return {_socket, static_cast<short>(POLLRDHUP)};
}

// ---- listener --------------------------------------------------------------------

listener::listener(std::string path, listener_options options) : _path(std::move(path)), _options(std::move(options)) {
    const char* who = "rpc::listener";
    check_service(_options.service, who);
    if (_options.arena_bytes < min_arena_bytes || _options.arena_bytes > (std::size_t{1} << 40)) {
        throw std::invalid_argument("rpc::listener: arena_bytes " + std::to_string(_options.arena_bytes) +
                                    " is outside " + std::to_string(min_arena_bytes) + "..2^40");
    }
    if (_options.layout.channel_bytes > (std::size_t{1} << 40)) {
        throw std::invalid_argument("rpc::listener: layout.channel_bytes " +
                                    std::to_string(_options.layout.channel_bytes) + " is absurdly large");
    }
    if (_options.backlog <= 0) throw std::invalid_argument("rpc::listener: backlog must be positive");
    const address a = make_address(_path, who);
    unique_fd fd = new_socket();
    if (fd.get() < 0) throw std::system_error(errno, std::system_category(), "rpc::listener: socket");
    for (int attempt = 0;; ++attempt) {
        if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a.addr), a.length) == 0) break;
        const int err = errno;
        if (err != EADDRINUSE || a.abstract || attempt >= 2) {
            throw std::system_error(err, std::system_category(),
                                    "rpc::listener: bind '" + _path + "'" +
                                        (err == EADDRINUSE ? " (a live listener holds it)" : ""));
        }
        // Something is at the path. Unlink it only if it is a socket nobody listens on.
        struct stat st{};
        if (::lstat(_path.c_str(), &st) != 0) {
            if (errno == ENOENT) continue;  // gone meanwhile: bind again
            throw std::system_error(errno, std::system_category(), "rpc::listener: lstat '" + _path + "'");
        }
        if (!S_ISSOCK(st.st_mode)) {
            throw std::system_error(EADDRINUSE, std::system_category(),
                                    "rpc::listener: '" + _path + "' exists and is not a socket; not removing it");
        }
        unique_fd probe = new_socket();
        if (probe.get() < 0) throw std::system_error(errno, std::system_category(), "rpc::listener: socket");
        const int r = connect_once(probe.get(), a, detail::deadline_in(std::chrono::milliseconds(100)));
        if (r != ECONNREFUSED) {
            throw std::system_error(EADDRINUSE, std::system_category(),
                                    "rpc::listener: '" + _path + "' is in use by a live listener");
        }
        if (::unlink(_path.c_str()) != 0 && errno != ENOENT) {
            throw std::system_error(errno, std::system_category(),
                                    "rpc::listener: unlink stale socket '" + _path + "'");
        }
    }
    if (::listen(fd.get(), _options.backlog) != 0) {
        const int err = errno;
        if (!a.abstract) ::unlink(_path.c_str());
        throw std::system_error(err, std::system_category(), "rpc::listener: listen on '" + _path + "'");
    }
    if (!a.abstract) {
        struct stat st{};
        if (::stat(_path.c_str(), &st) == 0) {
            _dev = st.st_dev;
            _ino = st.st_ino;
        }
    }
    _fd = fd.release();
}

listener::listener(listener&& o) noexcept
    : _path(std::move(o._path)),
      _options(std::move(o._options)),
      _fd(std::exchange(o._fd, -1)),
      _dev(std::exchange(o._dev, 0)),
      _ino(std::exchange(o._ino, 0)) {}

listener& listener::operator=(listener&& o) noexcept {
    if (this != &o) {
        listener old(std::move(*this));  // closes and unlinks what this held
        _path = std::move(o._path);
        _options = std::move(o._options);
        _fd = std::exchange(o._fd, -1);
        _dev = std::exchange(o._dev, 0);
        _ino = std::exchange(o._ino, 0);
    }
    return *this;
}

listener::~listener() {
    if (_fd < 0) return;
    ::close(_fd);
    _fd = -1;
    if (_ino != 0) {
        // Unlink only the file we bound: a successor may have replaced it.
        struct stat st{};
        if (::lstat(_path.c_str(), &st) == 0 && st.st_dev == _dev && st.st_ino == _ino) ::unlink(_path.c_str());
    }
}

result<connection> listener::accept(std::chrono::milliseconds timeout) {
    const char* who = "rpc::listener::accept: ";
    const auto wait_deadline = detail::deadline_in(timeout);
    unique_fd client;
    for (;;) {
        const int r = detail::poll_until(_fd, POLLIN, wait_deadline);
        if (r < 0) return detail::fail(errno_code(-r), std::string(who) + "poll: " + detail::errno_text(-r));
        if (r == 0) return detail::fail(keel::make_error_code(std::errc::timed_out), std::string(who) + "no client came");
        const int fd = ::accept4(_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            client.reset(fd);
            break;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) continue;
        return detail::fail(errno_code(errno), std::string(who) + "accept4: " + detail::errno_text(errno));
    }
    const auto deadline = detail::deadline_in(_options.handshake_timeout);
    hello_message hello{};
    std::vector<unique_fd> fds;  // the client's arena; anything else is closed on return
    if (auto r = detail::recv_exact(client.get(), &hello, sizeof hello, fds, deadline); !r) {
        return detail::fail(r.error(), std::string(who) + "receiving the hello: " + r.error().message());
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    (void)::getsockopt(client.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len);
    auto [reason, text] = judge(hello, _options);
    if (reason == errc{} && fds.size() != 1) {
        reason = errc::bad_message;
        text = "the hello carried " + std::to_string(fds.size()) +
               " file descriptor(s), expected 1 (the client's arena)";
    }
    if (reason != errc{}) {
        const reply_message m = make_reply(static_cast<std::uint32_t>(reason), _options.schema_hash, text);
        (void)detail::send_all(client.get(), &m, sizeof m, {}, deadline);
        return detail::fail(reason, std::string(who) + "refused client pid " + std::to_string(cred.pid) + ": " + text);
    }
    // Checks the client's arena (seals, size before mapping, header), creates the
    // segment and the server's arena, and maps the three back to back.
    auto space = shared_space::create_server(
        fds.front().get(), space_options{.layout = _options.layout,
                                         .arena_bytes = _options.arena_bytes,
                                         .max_peer_arena_bytes = _options.max_client_arena_bytes});
    if (!space) {
        // The client's fault (its arena): tell it why; else the server's own trouble.
        const bool theirs = space.error().category() == rpc_category();
        const std::string why = theirs ? error_detail()
                                       : "the server could not set up the connection's memory: " + error_detail();
        const auto status = theirs ? static_cast<std::uint32_t>(space.error().value())
                                   : static_cast<std::uint32_t>(errc::rejected);
        const reply_message m = make_reply(status, _options.schema_hash, why);
        (void)detail::send_all(client.get(), &m, sizeof m, {}, deadline);
        return detail::fail(space.error(), std::string(who) + "refused client pid " + std::to_string(cred.pid) +
                                               ": " + why);
    }
    // The channel header must be in place before the segment leaves this process.
    detail::init_channels(space->shared_segment());
    const reply_message m = make_reply(detail::reply_accept, _options.schema_hash, {});
    const int pass[2] = {space->shared_segment().fd(), space->arena_fd(arena_role::server)};
    if (auto r = detail::send_all(client.get(), &m, sizeof m, pass, deadline); !r) {
        return detail::fail(r.error(), std::string(who) + "sending the reply: " + r.error().message());
    }
    return detail::connection_access::make(std::move(client), connection::side::server, std::move(*space),
                                           _options.service, _options.schema_hash);
}

// ---- connect ---------------------------------------------------------------------

result<connection> connect(std::string_view path, const connect_options& options) {
    const char* who = "rpc::connect: ";
    check_service(options.service, "rpc::connect");
    const address a = make_address(path, "rpc::connect");
    // This client's arena: created, mapped and sealed before its fd goes anywhere.
    auto own = arena::create(arena_role::client, options.arena_bytes);
    if (!own) return detail::fail(own.error(), std::string(who) + "creating the client's arena: " + own.error().message());
    const auto connect_deadline = detail::deadline_in(options.connect_timeout);
    unique_fd fd;
    for (;;) {
        fd = new_socket();
        if (fd.get() < 0) return detail::fail(errno_code(errno), std::string(who) + "socket: " + detail::errno_text(errno));
        const int err = connect_once(fd.get(), a, connect_deadline);
        if (err == 0) break;
        const bool retry = err == EAGAIN || (options.wait_for_listener && (err == ENOENT || err == ECONNREFUSED));
        if (!retry || clock::now() >= connect_deadline) {
            const auto code = err == ETIMEDOUT || (retry && clock::now() >= connect_deadline)
                                  ? keel::make_error_code(std::errc::timed_out)
                                  : errno_code(err);
            return detail::fail(code, std::string(who) + "connecting to '" + std::string(path) +
                                          "': " + detail::errno_text(err));
        }
        // The listener is not there yet (restarting) or its backlog is full: retry soon.
        std::this_thread::sleep_for(std::chrono::milliseconds(err == EAGAIN ? 1 : 10));
    }
    const auto deadline = detail::deadline_in(options.handshake_timeout);
    hello_message h{};
    h.magic = detail::hello_magic;
    h.version = protocol_version;
    h.message_size = sizeof h;
    h.fingerprint = layout_fingerprint;
    h.schema_hash = options.schema_hash;
    h.pid = ::getpid();
    h.service_length = static_cast<std::uint32_t>(options.service.size());
    std::memcpy(h.service, options.service.data(), options.service.size());
    const int pass[1] = {own->fd()};
    if (auto r = detail::send_all(fd.get(), &h, sizeof h, pass, deadline); !r) {
        return detail::fail(r.error(), std::string(who) + "sending the hello: " + r.error().message());
    }
    reply_message m{};
    std::vector<unique_fd> fds;
    if (auto r = detail::recv_exact(fd.get(), &m, sizeof m, fds, deadline); !r) {
        return detail::fail(r.error(), std::string(who) + "receiving the reply: " + r.error().message());
    }
    if (m.magic != detail::reply_magic) {
        return detail::fail(errc::bad_magic,
                            std::string(who) + "reply magic is " + hex(m.magic) + ", expected " + hex(detail::reply_magic));
    }
    if (m.version != protocol_version) {
        return detail::fail(errc::version_mismatch, std::string(who) + "protocol version mismatch: client speaks " +
                                                        std::to_string(protocol_version) + ", server speaks " +
                                                        std::to_string(m.version));
    }
    if (m.message_size != sizeof(reply_message)) {
        return detail::fail(errc::bad_message, std::string(who) + "reply message_size is " +
                                                   std::to_string(m.message_size) + ", expected " +
                                                   std::to_string(sizeof(reply_message)));
    }
    if (m.status != detail::reply_accept) {
        const errc reason = m.status <= max_errc ? static_cast<errc>(m.status) : errc::rejected;
        return detail::fail(reason, std::string(who) + "the server refused: " + std::string(text_of(m)));
    }
    if (m.fingerprint != layout_fingerprint) {
        return detail::fail(errc::fingerprint_mismatch, std::string(who) + "layout fingerprint mismatch: client " +
                                                            hex(layout_fingerprint) + ", server " + hex(m.fingerprint));
    }
    if (m.schema_hash != options.schema_hash) {
        return detail::fail(errc::schema_mismatch, std::string(who) + "schema hash mismatch for service '" +
                                                       options.service + "': client " + hex(options.schema_hash) +
                                                       ", server " + hex(m.schema_hash));
    }
    if (fds.size() != 2) {
        return detail::fail(errc::bad_message, std::string(who) + "the accepting reply carried " +
                                                   std::to_string(fds.size()) +
                                                   " file descriptors, expected 2 (the segment and the server's arena)");
    }
    auto space = shared_space::attach_client(fds[0].get(), fds[1].get(), std::move(*own), options.attach);
    if (!space) return space.error();  // attach_client set error_detail
    return detail::connection_access::make(std::move(fd), connection::side::client, std::move(*space),
                                           options.service, options.schema_hash);
}

}  // namespace keel::rpc
