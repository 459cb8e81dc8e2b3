#pragma once

#include <keel/platform/backend_status.hpp>
#include <keel/result.hpp>
#include <keel/rpc/error.hpp>
#include <keel/rpc/segment.hpp>
#include <keel/rpc/shared_heap.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace keel::rpc {

namespace detail {
struct connection_access;  // src/rpc: builds connections
}

/// How a connection notices that its peer is gone.
enum class peer_watch {
    pidfd,          ///< a pidfd of the peer process (readable once it exits) plus socket hang-up
    socket_hangup,  ///< only the connection socket's hang-up (the fallback when pidfds are refused)
};

/// "pidfd" or "socket_hangup".
[[nodiscard]] std::string_view to_string(peer_watch w) noexcept;

/// Whether this machine gives pidfds of socket peers (SO_PEERPIDFD or pidfd_open);
/// backend kind "peer_watch", name "pidfd". Honours KEEL_DISABLE_BACKENDS=pidfd.
[[nodiscard]] platform::backend_status probe_peer_watch();

/// An fd and the poll() events that mean "the peer is gone", for an event loop.
struct pollable {
    int fd = -1;
    short events = 0;
};

/// One established connection: its shared memory (a shared_space: the segment the
/// server created for this connection, the client's arena and the server's arena,
/// one address range laid out the same in both processes), this side's shared_heap
/// in its own arena, and the means to watch the peer. Which side holds it is role().
/// Restarting either side needs no clean-up: segment and arenas are anonymous memfds
/// and the socket dies with its process.
/// Move-only; destruction closes the socket and the pidfd and unmaps the range (the
/// peer's mapping stays valid).
/// Thread-safety: const members may be called from any thread; close() and moves
/// need exclusive access.
/// Cost: peer_alive() is one poll() system call with timeout 0.
class connection {
public:
    /// Which end of the connection this object is.
    enum class side { server, client };

    connection() noexcept = default;
    connection(connection&& other) noexcept;
    connection& operator=(connection&& other) noexcept;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection();

    explicit operator bool() const noexcept { return _socket >= 0; }

    /// The segment both sides map read-write (header page and channel area).
    [[nodiscard]] rpc::segment& shared_segment() noexcept { return _space.shared_segment(); }
    [[nodiscard]] const rpc::segment& shared_segment() const noexcept { return _space.shared_segment(); }

    /// The connection's address range: resolve() shm_ptrs (read-only, either arena),
    /// resolve_own() (writable, this side's arena), to_shm().
    [[nodiscard]] const shared_space& space() const noexcept { return _space; }

    /// This side's heap in its own arena (thread-safe). Only on an established
    /// connection (not after close()).
    [[nodiscard]] shared_heap& heap() const noexcept { return *_heap; }

    [[nodiscard]] side role() const noexcept { return _role; }
    [[nodiscard]] const std::string& service() const noexcept { return _service; }
    [[nodiscard]] std::uint64_t schema_hash() const noexcept { return _schema_hash; }

    /// The peer's pid from the kernel (SO_PEERCRED, in this process's pid namespace),
    /// not the number the peer claimed in the handshake.
    [[nodiscard]] pid_t peer_pid() const noexcept { return _peer_pid; }

    /// How this connection watches its peer, and why (e.g. "pidfd_open refused:
    /// Function not implemented; watching the socket for hang-up").
    [[nodiscard]] peer_watch watch() const noexcept { return _watch; }
    [[nodiscard]] const std::string& watch_note() const noexcept { return _watch_note; }

    /// False once the peer process has exited (pidfd readable) or its end of the
    /// connection socket is closed (closed, crashed, or killed). With socket_hangup
    /// watching, a peer whose forked children still hold the socket looks alive.
    [[nodiscard]] bool peer_alive() const noexcept;

    /// Waits until !peer_alive() or `timeout` has passed: {} once the peer is gone,
    /// errc timed_out otherwise (or the kernel's error). EINTR is retried.
    [[nodiscard]] result<void> wait_peer_exit(std::chrono::milliseconds timeout) const noexcept;

    /// The connection socket (poll POLLRDHUP | POLLHUP for the peer closing it).
    [[nodiscard]] int socket_fd() const noexcept { return _socket; }
    /// The peer's pidfd (poll POLLIN for its exit), -1 with socket_hangup watching.
    [[nodiscard]] int pidfd() const noexcept { return _pidfd; }
    /// The best fd to poll for the peer going away: the pidfd if there is one, else the socket.
    [[nodiscard]] pollable peer_watch_fd() const noexcept;

    /// Closes the socket and the pidfd and unmaps the segment; the peer sees the hang-up.
    void close() noexcept;

private:
    friend struct detail::connection_access;

    int _socket = -1;
    int _pidfd = -1;
    pid_t _peer_pid = 0;
    side _role = side::client;
    peer_watch _watch = peer_watch::socket_hangup;
    std::string _watch_note;
    shared_space _space;
    std::unique_ptr<shared_heap> _heap;  // over _space's own arena; destroyed first
    std::string _service;
    std::uint64_t _schema_hash = 0;
};

/// What a listener serves and how. Plain data.
struct listener_options {
    std::string service;            ///< the service name clients must ask for (1..128 bytes)
    std::uint64_t schema_hash = 0;  ///< the hash of the service description; clients must match it
    segment_layout layout{};        ///< each connection's segment (the channel area's size)
    /// Bytes of the server's arena per connection (its shared heap for results),
    /// rounded up to a page; min_arena_bytes..1 TiB.
    std::size_t arena_bytes = default_arena_bytes;
    /// The largest client arena accepted: a bigger one is refused before it is
    /// mapped (errc::segment_too_large).
    std::size_t max_client_arena_bytes = std::size_t{1} << 30;
    /// How long accept() waits for a connected client's hello before dropping it.
    std::chrono::milliseconds handshake_timeout{5000};
    int backlog = 64;
};

/// The server side of connection set-up: a Unix stream socket listening on `path`,
/// a file system path or, with a leading '@', a name in the abstract namespace (no
/// file at all). A file left by a listener that died is reused: bind's EADDRINUSE
/// is answered by connecting to it, and only a socket file nobody listens on
/// (ECONNREFUSED) is unlinked. The destructor unlinks the file it bound (if it is
/// still that file). All fds are CLOEXEC.
/// Thread-safety: one thread at a time. Cost: accept() is accept4 + a handshake
/// (two small messages) + shared_space::create_server per connection (two memfds,
/// a reservation and three mappings).
class listener {
public:
    /// Binds and listens. Throws std::invalid_argument for a bad path or service name,
    /// std::system_error (naming the path) when the kernel refuses or a live listener
    /// already holds the path.
    listener(std::string path, listener_options options);
    listener(listener&& other) noexcept;
    listener& operator=(listener&& other) noexcept;
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
    ~listener();

    /// Waits up to `timeout` for one client, then runs the handshake: checks its hello
    /// (magic, version, fingerprint, service, schema hash, exactly one fd: the
    /// client's arena, sealed, within max_client_arena_bytes, with a valid header),
    /// creates its segment and the server's arena and sends both with the accepting
    /// reply, or sends a refusal with the reason code and text. Returns the connection, or the error (the client's fault or a timeout;
    /// rpc::error_detail() says which field and both values). A failed handshake
    /// closes that client only: call accept() again.
    [[nodiscard]] result<connection> accept(
        std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

    /// The listening socket (poll POLLIN: a client is waiting).
    [[nodiscard]] int fd() const noexcept { return _fd; }
    [[nodiscard]] const std::string& path() const noexcept { return _path; }
    [[nodiscard]] const listener_options& options() const noexcept { return _options; }

private:
    std::string _path;
    listener_options _options;
    int _fd = -1;
    dev_t _dev = 0;  // the socket file we bound (to unlink only our own)
    ino_t _ino = 0;
};

/// What a client asks for and how long it waits. Plain data.
struct connect_options {
    std::string service;            ///< the service name (1..128 bytes)
    std::uint64_t schema_hash = 0;  ///< must equal the server's
    /// Until the socket is connected. With wait_for_listener, a missing or refusing
    /// listener (ENOENT, ECONNREFUSED) is retried until then (a server restarting).
    std::chrono::milliseconds connect_timeout{5000};
    bool wait_for_listener = false;
    /// From connected to the server's reply.
    std::chrono::milliseconds handshake_timeout{5000};
    /// Bytes of the client's arena (its shared heap for arguments), rounded up to a
    /// page; min_arena_bytes..1 TiB. Created and sealed before the hello.
    std::size_t arena_bytes = default_arena_bytes;
    /// Limits on the segment and the server's arena (checked before mapping).
    segment_attach_options attach{};
};

/// Connects to the listener at `path` (see listener for '@'), creates this client's
/// arena and sends it with the hello, waits for the reply and maps the segment and
/// the server's arena that came with it (shared_space::attach_client). Errors: the server's
/// refusal as its rpc::errc (schema_mismatch, version_mismatch, ...), a bad reply
/// (bad_magic, bad_message, fingerprint_mismatch, ...), segment::attach's errors,
/// timed_out, or the kernel's errno (ENOENT, ECONNREFUSED, ...); rpc::error_detail()
/// names the field and both values. Throws std::invalid_argument for a bad path,
/// service name or arena size.
[[nodiscard]] result<connection> connect(std::string_view path, const connect_options& options);

}  // namespace keel::rpc
