#include "ucx_worker.hpp"

#include <keel/rpc/error.hpp>

#include <ucm/api/ucm.h>

#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace keel::rpc::detail::ucx {

namespace {

error_code ucx_failure(const char* what, ucs_status_t status) {
    return fail(errc::transport_failed, std::string("rpc::net: ") + what + " failed: " + ucs_status_string(status));
}

}  // namespace

struct worker::pending_receive {
    worker* owner;
    message msg;
};

struct worker::pending_send {
    worker* owner;
    std::vector<std::byte> header;
    std::vector<std::byte> data;
};

result<std::unique_ptr<worker>> worker::create(std::vector<unsigned> am_ids, receiver on_message) {
    std::unique_ptr<worker> w(new worker());
    w->_on_message = std::move(on_message);
    ucp_config_t* config = nullptr;
    if (ucs_status_t s = ucp_config_read(nullptr, nullptr, &config); s != UCS_OK) return ucx_failure("ucp_config_read", s);
    // keel copies every message into buffers of its own and registers no user memory,
    // so it needs no memory events; without them UCX leaves the process's mmap and
    // malloc alone (its hooks also break under ASan/TSan). An explicit UCX_MEM_EVENTS
    // in the environment still wins.
    if (std::getenv("UCX_MEM_EVENTS") == nullptr) {
        ucm_global_config_t ucm = ucm_global_opts;
        ucm.enable_events = 0;
        ucm_set_global_opts(&ucm);
    }
    // Large messages go eager (fragmented sends) rather than by rendezvous: rendezvous
    // receives of active messages (on_am's ucp_am_recv_data_nbx) never complete with
    // Debian's UCX 1.13 on loopback, tcp or shared memory, memory events on or off
    // (the cause is not found; tests/rpc/net shows it with UCX_RNDV_THRESH=16k). keel
    // copies every message anyway, so rendezvous would save little on these transports.
    // An explicit UCX_RNDV_THRESH still wins.
    if (std::getenv("UCX_RNDV_THRESH") == nullptr) {
        if (ucs_status_t s = ucp_config_modify(config, "RNDV_THRESH", "inf"); s != UCS_OK) {
            ucp_config_release(config);
            return ucx_failure("ucp_config_modify(RNDV_THRESH)", s);
        }
    }
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES;
    params.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
    const ucs_status_t init = ucp_init(&params, config, &w->_context);
    ucp_config_release(config);
    if (init != UCS_OK) {
        w->_context = nullptr;
        return ucx_failure("ucp_init", init);
    }
    ucp_worker_params_t wp{};
    wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wp.thread_mode = UCS_THREAD_MODE_SERIALIZED;
    if (ucs_status_t s = ucp_worker_create(w->_context, &wp, &w->_worker); s != UCS_OK) {
        w->_worker = nullptr;
        return ucx_failure("ucp_worker_create", s);
    }
    if (ucs_status_t s = ucp_worker_get_efd(w->_worker, &w->_efd); s != UCS_OK) {
        return ucx_failure("ucp_worker_get_efd", s);
    }
    for (unsigned id : am_ids) {
        ucp_am_handler_param_t hp{};
        hp.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG;
        hp.id = id;
        hp.cb = &worker::on_am;
        hp.arg = w.get();
        if (ucs_status_t s = ucp_worker_set_am_recv_handler(w->_worker, &hp); s != UCS_OK) {
            return ucx_failure("ucp_worker_set_am_recv_handler", s);
        }
    }
    return w;
}

worker::~worker() {
    if (_listener != nullptr) ucp_listener_destroy(_listener);
    for (auto& [id, ep] : _endpoints) {
        ucp_request_param_t p{};
        p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
        p.flags = UCP_EP_CLOSE_FLAG_FORCE;
        void* r = ucp_ep_close_nbx(ep, &p);
        if (UCS_PTR_IS_PTR(r)) {
            while (ucp_request_check_status(r) == UCS_INPROGRESS) ucp_worker_progress(_worker);
            ucp_request_free(r);
        }
    }
    // Sends and receives still in flight complete (with an error) while the worker is
    // destroyed, or never: _sends and _receives free what is left.
    if (_worker != nullptr) ucp_worker_destroy(_worker);
    if (_context != nullptr) ucp_cleanup(_context);
}

result<void> worker::listen(const sockaddr_storage& address, socklen_t length) {
    ucp_listener_params_t lp{};
    lp.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
    lp.sockaddr.addr = reinterpret_cast<const sockaddr*>(&address);
    lp.sockaddr.addrlen = length;
    lp.conn_handler.cb = &worker::on_connection;
    lp.conn_handler.arg = this;
    if (ucs_status_t s = ucp_listener_create(_worker, &lp, &_listener); s != UCS_OK) {
        _listener = nullptr;
        return ucx_failure("ucp_listener_create (address in use or not local?)", s);
    }
    ucp_listener_attr_t attr{};
    attr.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR;
    if (ucs_status_t s = ucp_listener_query(_listener, &attr); s != UCS_OK) return ucx_failure("ucp_listener_query", s);
    if (attr.sockaddr.ss_family == AF_INET) {
        _port = ntohs(reinterpret_cast<const sockaddr_in*>(&attr.sockaddr)->sin_port);
    } else if (attr.sockaddr.ss_family == AF_INET6) {
        _port = ntohs(reinterpret_cast<const sockaddr_in6*>(&attr.sockaddr)->sin6_port);
    }
    return {};
}

result<endpoint_id> worker::adopt(const ucp_ep_params_t& base) {
    ucp_ep_params_t params = base;
    params.field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLER | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
    params.err_mode = UCP_ERR_HANDLING_MODE_PEER;  // a dead peer fails the endpoint instead of hanging
    params.err_handler.cb = &worker::on_endpoint_error;
    params.err_handler.arg = this;
    ucp_ep_h ep = nullptr;
    if (ucs_status_t s = ucp_ep_create(_worker, &params, &ep); s != UCS_OK) return ucx_failure("ucp_ep_create", s);
    const endpoint_id id = _next_id++;
    _endpoints.emplace(id, ep);
    _ids.emplace(ep, id);
    return id;
}

result<endpoint_id> worker::connect(const sockaddr_storage& address, socklen_t length) {
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR;
    params.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
    params.sockaddr.addr = reinterpret_cast<const sockaddr*>(&address);
    params.sockaddr.addrlen = length;
    return adopt(params);
}

void worker::on_connection(ucp_conn_request_h request, void* arg) {
    auto* self = static_cast<worker*>(arg);
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_CONN_REQUEST;
    params.conn_request = request;
    if (auto id = self->adopt(params)) self->_accepted.push_back(*id);
}

void worker::on_endpoint_error(void* arg, ucp_ep_h ep, ucs_status_t) {
    static_cast<worker*>(arg)->mark_failed(ep);
}

void worker::mark_failed(ucp_ep_h ep) {
    const auto it = _ids.find(ep);
    if (it == _ids.end()) return;
    _failed.push_back(it->second);
}

std::vector<endpoint_id> worker::take_failed() {
    std::vector<endpoint_id> failed;
    failed.swap(_failed);
    for (endpoint_id id : failed) close(id);
    return failed;
}

std::vector<endpoint_id> worker::take_accepted() {
    std::vector<endpoint_id> accepted;
    accepted.swap(_accepted);
    std::erase_if(accepted, [&](endpoint_id id) { return !alive(id); });
    return accepted;
}

void worker::close(endpoint_id id) {
    const auto it = _endpoints.find(id);
    if (it == _endpoints.end()) return;
    ucp_ep_h ep = it->second;
    _endpoints.erase(it);
    _ids.erase(ep);
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = UCP_EP_CLOSE_FLAG_FORCE;
    void* r = ucp_ep_close_nbx(ep, &p);
    if (UCS_PTR_IS_PTR(r)) {
        while (ucp_request_check_status(r) == UCS_INPROGRESS) ucp_worker_progress(_worker);
        ucp_request_free(r);
    }
}

ucs_status_t worker::on_am(void* arg, const void* header, std::size_t header_length, void* data, std::size_t length,
                           const ucp_am_recv_param_t* param) {
    auto* self = static_cast<worker*>(arg);
    if ((param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) == 0) return UCS_OK;  // we always send with a reply ep
    const auto from = self->_ids.find(param->reply_ep);
    if (from == self->_ids.end()) return UCS_OK;  // an endpoint we already closed
    // The handler id is not passed to the callback: it is the first byte of our header.
    const auto* h = static_cast<const std::byte*>(header);
    if (header_length == 0) return UCS_OK;
    message msg{from->second, static_cast<unsigned>(h[0]), std::vector<std::byte>(h + 1, h + header_length), {}};
    if ((param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) == 0) {
        const auto* d = static_cast<const std::byte*>(data);
        msg.data.assign(d, d + length);
        self->_inbox.push_back(std::move(msg));
        return UCS_OK;
    }
    // Rendezvous: the data is fetched into our buffer; delivered when that completes.
    auto pending = std::make_unique<pending_receive>(pending_receive{self, std::move(msg)});
    pending->msg.data.resize(length);
    ucp_request_param_t rp{};
    rp.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    rp.cb.recv_am = &worker::on_receive_done;
    rp.user_data = pending.get();
    void* r = ucp_am_recv_data_nbx(self->_worker, data, pending->msg.data.data(), length, &rp);
    if (r == nullptr) {
        self->_inbox.push_back(std::move(pending->msg));
    } else if (UCS_PTR_IS_ERR(r)) {
        // Dropped: the sender's call times out or its endpoint fails.
    } else {
        // Kept until on_receive_done; receives the worker's end cancels are freed with it.
        pending_receive* key = pending.get();
        self->_receives.emplace(key, std::move(pending));
        ucp_request_free(r);
    }
    return UCS_OK;
}

void worker::on_receive_done(void*, ucs_status_t status, std::size_t, void* user) {
    auto* key = static_cast<pending_receive*>(user);
    worker* owner = key->owner;
    auto node = owner->_receives.extract(key);
    if (status == UCS_OK && !node.empty()) owner->_inbox.push_back(std::move(node.mapped()->msg));
}

void worker::on_send_done(void*, ucs_status_t, void* user) {
    auto* pending = static_cast<pending_send*>(user);
    pending->owner->_sends.erase(pending);
}

result<void> worker::send(endpoint_id id, unsigned am_id, std::span<const std::byte> header,
                          std::span<const std::byte> data) {
    const auto it = _endpoints.find(id);
    if (it == _endpoints.end()) return fail(errc::peer_dead, "rpc::net: the connection is closed");
    auto pending = std::make_unique<pending_send>();
    pending->owner = this;
    pending->header.reserve(header.size() + 1);
    pending->header.push_back(static_cast<std::byte>(am_id));
    pending->header.insert(pending->header.end(), header.begin(), header.end());
    pending->data.assign(data.begin(), data.end());
    ucp_request_param_t rp{};
    rp.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS | UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    rp.flags = UCP_AM_SEND_FLAG_REPLY;
    rp.cb.send = &worker::on_send_done;
    rp.user_data = pending.get();
    void* r = ucp_am_send_nbx(it->second, am_id, pending->header.data(), pending->header.size(),
                              pending->data.data(), pending->data.size(), &rp);
    if (r == nullptr) return {};  // done at once; the callback is not called
    if (UCS_PTR_IS_ERR(r)) return ucx_failure("ucp_am_send_nbx", UCS_PTR_STATUS(r));
    // Kept until on_send_done; sends an endpoint close drops are freed with the worker.
    pending_send* key = pending.get();
    _sends.emplace(key, std::move(pending));
    ucp_request_free(r);
    return {};
}

bool worker::progress() {
    bool any = false;
    while (ucp_worker_progress(_worker) != 0) any = true;
    if (!_inbox.empty()) {
        any = true;
        deliver_inbox();
    }
    return any || !_failed.empty() || !_accepted.empty();
}

void worker::deliver_inbox() {
    std::vector<message> inbox;
    inbox.swap(_inbox);
    for (auto& m : inbox) _on_message(m.from, m.am_id, m.header, m.data);
}

void worker::wait(std::chrono::steady_clock::time_point until) {
    // Arm, and sleep on the worker's fd only if nothing is pending (UCS_ERR_BUSY).
    if (ucp_worker_arm(_worker) != UCS_OK) return;
    const auto now = std::chrono::steady_clock::now();
    if (until <= now) return;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    pollfd p{_efd, POLLIN, 0};
    (void)::poll(&p, 1, static_cast<int>(std::min<long long>(ms, 1000)));
}

}  // namespace keel::rpc::detail::ucx
