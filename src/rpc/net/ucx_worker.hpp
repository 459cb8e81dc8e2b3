#pragma once

// A UCX worker with active-message endpoints: the transport under keel::rpc::net.
// Private to the library (src/rpc/net): users never see UCX headers.

#include <keel/result.hpp>

#include <ucp/api/ucp.h>

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace keel::rpc::detail::ucx {

/// Names an endpoint of a worker (never reused within the worker's life).
using endpoint_id = std::uint64_t;

/// One UCP context and worker (active messages, wake-up by fd), its listener if it
/// listens, and its endpoints. Single-threaded: the owner serialises every call
/// (the worker is created in UCS_THREAD_MODE_SERIALIZED).
class worker {
public:
    /// What arrives: the sending endpoint, the active-message id, the message's header
    /// and data. The spans are valid during the call only.
    using receiver = std::function<void(endpoint_id, unsigned am_id, std::span<const std::byte> header,
                                        std::span<const std::byte> data)>;

    /// A context and a worker. Errors name the UCX call and its status.
    static result<std::unique_ptr<worker>> create(std::vector<unsigned> am_ids, receiver on_message);

    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;
    ~worker();

    /// Listens on `address` (IPv4 or IPv6); port 0 picks one (see port()).
    result<void> listen(const sockaddr_storage& address, socklen_t length);
    /// The port the listener is bound to (after listen).
    [[nodiscard]] std::uint16_t port() const noexcept { return _port; }

    /// Connects to a listener. The connection completes in the background: send at once,
    /// failures surface as a failed endpoint (take_failed).
    result<endpoint_id> connect(const sockaddr_storage& address, socklen_t length);

    /// Sends an active message; header and data are copied, so the caller's buffers
    /// are free at once. The receiver's reply endpoint is this one.
    result<void> send(endpoint_id ep, unsigned am_id, std::span<const std::byte> header,
                      std::span<const std::byte> data);

    /// Makes progress (callbacks, receives, completions). True if anything happened.
    bool progress();
    /// Waits until there may be something to progress, or `until`.
    void wait(std::chrono::steady_clock::time_point until);

    /// Endpoints that failed (peer died, connection refused or lost) since the last
    /// call; they are closed and forgotten.
    std::vector<endpoint_id> take_failed();
    /// Endpoints accepted by the listener since the last call.
    std::vector<endpoint_id> take_accepted();
    /// Closes an endpoint (forcefully: no flush; in-flight sends are dropped).
    void close(endpoint_id ep);
    [[nodiscard]] bool alive(endpoint_id ep) const noexcept { return _endpoints.count(ep) != 0; }
    [[nodiscard]] std::size_t endpoints() const noexcept { return _endpoints.size(); }

private:
    worker() = default;

    struct pending_receive;
    struct pending_send;

    ucp_context_h _context = nullptr;
    ucp_worker_h _worker = nullptr;
    ucp_listener_h _listener = nullptr;
    int _efd = -1;
    std::uint16_t _port = 0;
    receiver _on_message;
    endpoint_id _next_id = 1;
    std::unordered_map<endpoint_id, ucp_ep_h> _endpoints;
    std::unordered_map<ucp_ep_h, endpoint_id> _ids;
    std::vector<endpoint_id> _failed;
    std::vector<endpoint_id> _accepted;
    struct message {
        endpoint_id from;
        unsigned am_id;
        std::vector<std::byte> header;
        std::vector<std::byte> data;
    };
    std::unordered_map<pending_send*, std::unique_ptr<pending_send>> _sends;           // in flight
    std::unordered_map<pending_receive*, std::unique_ptr<pending_receive>> _receives;  // in flight
    std::vector<message> _inbox;  // delivered after ucp_worker_progress returns, never from a callback

    result<endpoint_id> adopt(const ucp_ep_params_t& params);
    void mark_failed(ucp_ep_h ep);
    void deliver_inbox();
    static void on_connection(ucp_conn_request_h request, void* arg);
    static void on_endpoint_error(void* arg, ucp_ep_h ep, ucs_status_t status);
    static ucs_status_t on_am(void* arg, const void* header, std::size_t header_length, void* data,
                              std::size_t length, const ucp_am_recv_param_t* param);
    static void on_receive_done(void* request, ucs_status_t status, std::size_t length, void* user);
    static void on_send_done(void* request, ucs_status_t status, void* user);
};

}  // namespace keel::rpc::detail::ucx
