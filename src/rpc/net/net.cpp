// keel::rpc::net: typed rpc calls over a UCX worker (ucx_worker.hpp).
#include "ucx_worker.hpp"

#include <keel/rpc/net.hpp>
#include <keel/rpc/segment.hpp>
#include <keel/rpc/shared_heap.hpp>

#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>

namespace keel::rpc::net::detail {

namespace ucx = rpc::detail::ucx;

namespace {

using clock = std::chrono::steady_clock;
using rpc::detail::fail;
using rpc::detail::ucx::endpoint_id;

// Active-message ids.
constexpr unsigned am_hello = 1;     // client -> server: who I am and what I want
constexpr unsigned am_welcome = 2;   // server -> client: accepted, or why not
constexpr unsigned am_request = 3;   // client -> server: a call
constexpr unsigned am_response = 4;  // server -> client: its outcome

constexpr std::uint64_t net_magic = 0x5445'4e52'4c45'454bULL;  // "KEELRNET"
constexpr std::size_t max_service_name = 64;

// The client's heap geometry travels with the hello: the server builds its mirror
// with the same sizes and checks that the heap part lands at the same offsets.
struct heap_geometry {
    std::uint64_t arena_bytes;    // 0: the client has no heap
    std::uint64_t channel_bytes;  // segment layout of the client's private range
    std::uint64_t heap_offset;    // of the client's heap part in the range
    std::uint64_t heap_size;
};

struct hello {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t name_length;
    std::uint64_t fingerprint;
    std::uint64_t schema_hash;
    heap_geometry heap;
    char name[max_service_name];
};

struct welcome {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t status;  // 0 accepted, else an rpc::errc; the data is the reason
};

// The data: `length` argument bytes, then `shipped` bytes of the client's heap part
// (from its start).
struct request_header {
    std::uint64_t call_id;
    std::uint32_t method;
    std::uint32_t length;
    std::uint64_t shipped;
};

struct response_header {
    std::uint64_t call_id;
    std::uint32_t code;  // 0 or an rpc::errc; the data is the result or the error text
    std::uint32_t length;
};

template <class T>
std::span<const std::byte> bytes_of(const T& v) noexcept {
    return {reinterpret_cast<const std::byte*>(&v), sizeof(T)};
}

template <class T>
bool read_exact(std::span<const std::byte> in, T& out) noexcept {
    if (in.size() != sizeof(T)) return false;
    std::memcpy(&out, in.data(), sizeof(T));
    return true;
}

/// Resolves `where` to a socket address (numeric or by name).
result<std::pair<sockaddr_storage, socklen_t>> resolve_address(const address& where, bool passive) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(where.port);
    if (int rc = ::getaddrinfo(where.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        return fail(errc::transport_failed,
                    "rpc::net: cannot resolve '" + where.host + "': " + ::gai_strerror(rc));
    }
    std::pair<sockaddr_storage, socklen_t> r{};
    std::memcpy(&r.first, found->ai_addr, found->ai_addrlen);
    r.second = found->ai_addrlen;
    ::freeaddrinfo(found);
    return r;
}

std::string describe(const address& a) { return a.host + ":" + std::to_string(a.port); }

// Copies the used extent of a heap, free blocks included. Under AddressSanitizer the
// heap poisons its free blocks, so the copy reads them without instrumentation (a
// volatile loop, so the compiler does not turn it back into an intercepted memcpy).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
__attribute__((no_sanitize_address)) void copy_heap_bytes(std::byte* to, const std::byte* from, std::size_t n) noexcept {
    const volatile std::byte* src = from;
    for (std::size_t i = 0; i < n; ++i) to[i] = src[i];
}
#else
void copy_heap_bytes(std::byte* to, const std::byte* from, std::size_t n) noexcept { std::memcpy(to, from, n); }
#endif

}  // namespace

// ---------------------------------------------------------------------------- server

class net_server_core {
public:
    net_server_core(std::string_view service, std::uint64_t schema_hash, std::vector<std::uint32_t> argument_bytes,
                    server_options options)
        : _service(service),
          _schema_hash(schema_hash),
          _argument_bytes(std::move(argument_bytes)),
          _handlers(_argument_bytes.size()),
          _options(std::move(options)) {}

    void start(const address& where) {
        auto w = ucx::worker::create({am_hello, am_request},
                                     [this](endpoint_id from, unsigned am, std::span<const std::byte> header,
                                            std::span<const std::byte> data) { on_message(from, am, header, data); });
        if (!w) throw std::system_error(w.error(), "rpc::net::server: " + error_detail());
        _worker = std::move(*w);
        auto addr = resolve_address(where, true);
        if (!addr) throw std::system_error(addr.error(), error_detail());
        if (auto r = _worker->listen(addr->first, addr->second); !r) {
            throw std::system_error(r.error(), "rpc::net::server: cannot listen on " + describe(where) + ": " +
                                                   error_detail());
        }
    }

    void set_handler(std::uint32_t index, rpc::detail::handler_fn fn) { _handlers.at(index) = std::move(fn); }

    std::size_t poll_once() {
        _served = 0;
        _worker->progress();
        (void)_worker->take_accepted();  // a connection counts once it has said hello
        for (endpoint_id id : _worker->take_failed()) {
            _greeted.erase(id);
        }
        _live.store(_greeted.size(), std::memory_order_relaxed);
        return _served;
    }

    void run(std::stop_token stop) {
        while (!stop.stop_requested()) {
            if (poll_once() == 0) _worker->wait(clock::now() + _options.housekeeping_interval);
        }
    }

    [[nodiscard]] std::uint16_t port() const noexcept { return _worker->port(); }
    [[nodiscard]] std::size_t connections() const noexcept { return _live.load(std::memory_order_relaxed); }

private:
    std::string _service;
    std::uint64_t _schema_hash;
    std::vector<std::uint32_t> _argument_bytes;
    std::vector<rpc::detail::handler_fn> _handlers;
    server_options _options;
    std::unique_ptr<ucx::worker> _worker;

    // A connection's private mirror of the caller's range: the client's heap part is
    // written here from what each call ships (through `client_arena`, this process's
    // writable mapping of the mirror's client arena; the space maps it read-only as
    // a peer's); the server's arena is the handlers' scratch heap.
    struct mirror {
        arena client_arena;
        shared_space space;
        std::unique_ptr<shared_heap> heap;
        std::uint64_t shipped = 0;  // bytes of the heap part the last call shipped
    };
    struct peer {
        heap_geometry geometry{};
        std::unique_ptr<mirror> m;  // built at the first call
    };
    std::unordered_map<endpoint_id, peer> _greeted;
    std::size_t _served = 0;
    std::atomic<std::size_t> _live{0};

    void refuse(endpoint_id to, errc why, const std::string& text) {
        const welcome w{net_magic, protocol_version, static_cast<std::uint32_t>(why)};
        (void)_worker->send(to, am_welcome, bytes_of(w), std::as_bytes(std::span(text)));
    }

    void on_message(endpoint_id from, unsigned am, std::span<const std::byte> header, std::span<const std::byte> data) {
        if (am == am_hello) {
            on_hello(from, header);
        } else if (am == am_request && _greeted.count(from) != 0) {
            on_request(from, header, data);
        } else {
            _worker->close(from);  // a request before the handshake, or nonsense
            _greeted.erase(from);
        }
    }

    void on_hello(endpoint_id from, std::span<const std::byte> header) {
        // The hello can be delivered in the same progress() as the connection itself,
        // before take_accepted() lists it: any endpoint not yet greeted may say hello.
        if (_greeted.count(from) != 0) {  // a second hello: nonsense
            _worker->close(from);
            _greeted.erase(from);
            return;
        }
        if (_greeted.size() >= _options.max_connections) {
            refuse(from, errc::rejected,
                   "rpc::net: the server has its maximum of " + std::to_string(_options.max_connections) + " clients");
            return;
        }
        hello h{};
        if (!read_exact(header, h) || h.magic != net_magic) {
            refuse(from, errc::bad_message, "rpc::net: the hello is malformed");
            return;
        }
        if (h.heap.arena_bytes > _options.max_client_arena_bytes ||
            h.heap.heap_offset > h.heap.heap_offset + h.heap.heap_size ||
            h.heap.channel_bytes > (std::uint64_t{1} << 32)) {
            refuse(from, errc::rejected,
                   "rpc::net: the client's heap (" + std::to_string(h.heap.arena_bytes) +
                       " bytes) is larger than this server accepts (" +
                       std::to_string(_options.max_client_arena_bytes) + ") or its geometry is absurd");
            return;
        }
        if (h.version != protocol_version) {
            refuse(from, errc::version_mismatch,
                   "protocol version mismatch: client speaks " + std::to_string(h.version) + ", server speaks " +
                       std::to_string(protocol_version));
            return;
        }
        if (h.fingerprint != layout_fingerprint) {
            refuse(from, errc::fingerprint_mismatch, "layout fingerprint mismatch between client and server builds");
            return;
        }
        const std::string_view name(h.name, std::min<std::size_t>(h.name_length, max_service_name));
        if (h.name_length > max_service_name || name != _service) {
            refuse(from, errc::unknown_service,
                   "unknown service '" + std::string(name) + "': this server offers '" + _service + "'");
            return;
        }
        if (h.schema_hash != _schema_hash) {
            refuse(from, errc::schema_mismatch, "schema hash mismatch for service '" + _service + "'");
            return;
        }
        const welcome w{net_magic, protocol_version, 0};
        if (_worker->send(from, am_welcome, bytes_of(w), {})) _greeted.emplace(from, peer{h.heap, nullptr});
    }

    void respond(endpoint_id to, std::uint64_t call_id, std::uint32_t code, std::span<const std::byte> data) {
        const response_header h{call_id, code, static_cast<std::uint32_t>(data.size())};
        (void)_worker->send(to, am_response, bytes_of(h), data);  // a dead client is noticed by take_failed
    }

    // The connection's mirror, built with the client's geometry at its first call.
    result<mirror*> mirror_of(peer& p) {
        if (p.m) return p.m.get();
        const heap_geometry& g = p.geometry;
        auto m = std::make_unique<mirror>();
        auto a = arena::create(arena_role::client, g.arena_bytes == 0 ? min_arena_bytes : g.arena_bytes);
        if (!a) return a.error();
        m->client_arena = std::move(*a);
        space_options so;
        so.layout.channel_bytes = static_cast<std::size_t>(g.channel_bytes);
        so.arena_bytes = _options.arena_bytes;
        so.max_peer_arena_bytes = m->client_arena.size();
        auto s = shared_space::create_server(m->client_arena.fd(), so);
        if (!s) return s.error();
        m->space = std::move(*s);
        if (g.arena_bytes != 0 && (m->space.heap_offset(arena_role::client) != g.heap_offset ||
                                   m->space.heap_size(arena_role::client) != g.heap_size)) {
            return fail(errc::fingerprint_mismatch,
                        "rpc::net: the client's heap lies at [" + std::to_string(g.heap_offset) + ", +" +
                            std::to_string(g.heap_size) + ") but this server's mirror puts it at [" +
                            std::to_string(m->space.heap_offset(arena_role::client)) + ", +" +
                            std::to_string(m->space.heap_size(arena_role::client)) + ")");
        }
        m->heap = std::make_unique<shared_heap>(m->space);
        p.m = std::move(m);
        return p.m.get();
    }

    // Copies what the call shipped into the mirror's heap part; what an earlier call
    // shipped beyond it is cleared, so no stale bytes outlive the client's blocks.
    static void take_shipped(mirror& m, std::span<const std::byte> shipped) noexcept {
        const std::uint64_t heap_in_arena =
            m.space.heap_offset(arena_role::client) - m.space.arena_offset(arena_role::client);
        std::byte* heap = m.client_arena.data() + heap_in_arena;
        if (!shipped.empty()) std::memcpy(heap, shipped.data(), shipped.size());
        if (m.shipped > shipped.size()) std::memset(heap + shipped.size(), 0, m.shipped - shipped.size());
        m.shipped = shipped.size();
    }

    void on_request(endpoint_id from, std::span<const std::byte> header, std::span<const std::byte> data) {
        request_header h{};
        if (!read_exact(header, h) || data.size() > _options.max_request_bytes || h.length > data.size() ||
            h.shipped != data.size() - h.length) {
            _worker->close(from);
            _greeted.erase(from);
            return;
        }
        peer& caller = _greeted.at(from);
        const auto shipped = data.subspan(h.length);
        data = data.first(h.length);
        ++_served;
        auto error = [&](errc e, const std::string& text) {
            const std::string t = text.substr(0, max_inline_payload);
            respond(from, h.call_id, static_cast<std::uint32_t>(e), std::as_bytes(std::span(t)));
        };
        if (h.method >= _handlers.size() || !_handlers[h.method]) {
            error(errc::unknown_method, "rpc::net: method " + std::to_string(h.method) + " has no handler");
            return;
        }
        if (data.size() != _argument_bytes[h.method]) {
            error(errc::bad_arguments, "rpc::net: method " + std::to_string(h.method) + " takes " +
                                           std::to_string(_argument_bytes[h.method]) + " bytes of arguments, got " +
                                           std::to_string(data.size()));
            return;
        }
        if (shipped.size() > caller.geometry.heap_size) {
            error(errc::bad_arguments, "rpc::net: the call shipped " + std::to_string(shipped.size()) +
                                           " bytes of heap, more than the client's heap of " +
                                           std::to_string(caller.geometry.heap_size) + " bytes");
            return;
        }
        auto m = mirror_of(caller);
        if (!m) {
            error(errc::transport_failed, "rpc::net: the server cannot build its mirror of the client's heap: " +
                                              error_detail());
            return;
        }
        take_shipped(**m, shipped);
        alignas(64) std::byte args[max_inline_payload];
        alignas(64) std::byte out[max_inline_payload];
        if (!data.empty()) std::memcpy(args, data.data(), data.size());
        // The mirror is this server's own memory: the caller cannot change it while
        // the handler runs, which is what copy and sealed promise; resolves read in place.
        rpc::detail::call_state state;
        call_context ctx((*m)->space, *(*m)->heap, h.call_id, &state);
        try {
            const std::uint32_t n = _handlers[h.method](ctx, args, out);
            respond(from, h.call_id, 0, {out, n});
        } catch (const std::exception& e) {
            error(errc::handler_failed, e.what());
        } catch (...) {
            error(errc::handler_failed, "rpc::net: the handler threw a non-standard exception");
        }
    }
};

server_core_ptr make_server_core(const address& where, std::string_view service,
                                                  std::uint64_t schema_hash, std::vector<std::uint32_t> argument_bytes,
                                                  server_options options) {
    server_core_ptr core(new net_server_core(service, schema_hash, std::move(argument_bytes), std::move(options)));
    core->start(where);
    return core;
}
void destroy(net_server_core* core) noexcept { delete core; }
void set_handler(net_server_core& core, std::uint32_t index, rpc::detail::handler_fn fn) {
    core.set_handler(index, std::move(fn));
}
void run(net_server_core& core, std::stop_token stop) { core.run(std::move(stop)); }
std::size_t poll_once(net_server_core& core) { return core.poll_once(); }
std::uint16_t port(const net_server_core& core) noexcept { return core.port(); }
std::size_t connections(const net_server_core& core) noexcept { return core.connections(); }

// ---------------------------------------------------------------------------- client

class net_client_core {
public:
    result<void> open(const address& where, std::string_view service, std::uint64_t schema_hash,
                      const client_options& options) {
        auto w = ucx::worker::create({am_welcome, am_response},
                                     [this](endpoint_id from, unsigned am, std::span<const std::byte> header,
                                            std::span<const std::byte> data) { on_message(from, am, header, data); });
        if (!w) return w.error();
        _worker = std::move(*w);
        auto addr = resolve_address(where, false);
        if (!addr) return addr.error();
        hello h{};
        if (options.arena_bytes != 0) {
            if (auto r = make_heap(options.arena_bytes); !r) return r.error();
            h.heap = {_space.arena_bytes(arena_role::client).size(), heap_channel_bytes,
                      _space.heap_offset(arena_role::client), _space.heap_size(arena_role::client)};
        }
        auto ep = _worker->connect(addr->first, addr->second);
        if (!ep) return ep.error();
        _ep = *ep;
        h.magic = net_magic;
        h.version = protocol_version;
        h.name_length = static_cast<std::uint32_t>(service.size());
        h.fingerprint = layout_fingerprint;
        h.schema_hash = schema_hash;
        if (service.size() > max_service_name) {
            throw std::invalid_argument("rpc::net: service names are at most 64 bytes");
        }
        std::memcpy(h.name, service.data(), service.size());
        if (auto r = _worker->send(_ep, am_hello, bytes_of(h), {}); !r) return r.error();
        const auto deadline = clock::now() + options.connect_timeout;
        while (!_welcomed) {
            _worker->progress();
            if (!_refusal.empty() || !_worker->take_failed().empty()) break;
            if (clock::now() >= deadline) {
                return fail(keel::make_error_code(std::errc::timed_out),
                            "rpc::net: no answer from " + describe(where) + " in time");
            }
            _worker->wait(std::min(deadline, clock::now() + std::chrono::milliseconds(1)));
        }
        if (_welcomed) return {};
        if (!_refusal.empty()) return fail(_refusal_code, _refusal);
        return fail(errc::peer_dead, "rpc::net: cannot connect to " + describe(where));
    }

    ~net_client_core() { _async.close(); }

    result<void> call(std::uint32_t method, const std::byte* args, std::uint32_t length, bool ship_heap,
                      std::byte* out, std::uint32_t result_bytes, clock::time_point deadline) {
        auto id = send(method, args, length, ship_heap);
        if (!id) return id.error();
        return receive(*id, out, result_bytes, deadline);
    }

    /// Sends a call; its id, to receive() the response.
    result<std::uint64_t> send(std::uint32_t method, const std::byte* args, std::uint32_t length, bool ship_heap) {
        if (ship_heap && !_heap) {
            return fail(errc::bad_arguments,
                        "rpc::net: the method passes shm_ptrs but the client was opened with arena_bytes 0");
        }
        // Arguments, then the used part of the heap (one copy: the worker copies
        // what it sends anyway, so the heap may change as soon as send returns).
        const std::uint64_t shipped = ship_heap ? _heap->used_extent() : 0;
        std::vector<std::byte> joined;
        std::span<const std::byte> data(args, length);
        if (shipped != 0) {
            joined.resize(length + shipped);
            if (length != 0) std::memcpy(joined.data(), args, length);
            copy_heap_bytes(joined.data() + length, _space.base() + _space.heap_offset(arena_role::client), shipped);
            data = joined;
        }
        std::lock_guard guard(_lock);
        if (_dead) return fail(errc::peer_dead, "rpc::net: the connection is dead");
        const std::uint64_t id = _next_id++;
        const request_header h{id, method, length, shipped};
        if (auto r = _worker->send(_ep, am_request, bytes_of(h), data); !r) return r.error();
        _waiting.emplace(id, response{});
        return id;
    }

    /// Waits for call `id`'s response (progressing the worker; other threads' responses
    /// are filed for them) until `deadline`, or until the client is destroyed.
    result<void> receive(std::uint64_t id, std::byte* out, std::uint32_t result_bytes, clock::time_point deadline) {
        std::unique_lock lock(_lock);
        for (;;) {
            auto it = _waiting.find(id);
            if (it->second.arrived) {
                response r = std::move(it->second);
                _waiting.erase(it);
                return finish(id, r, out, result_bytes);
            }
            if (_dead) {
                _waiting.erase(it);
                return fail(errc::peer_dead, "rpc::net: the server died or the connection broke during call " +
                                                 std::to_string(id));
            }
            if (_async.closing()) {
                _waiting.erase(it);
                return fail(keel::make_error_code(std::errc::operation_canceled),
                            "rpc::net: the client was destroyed while call " + std::to_string(id) + " waited");
            }
            if (clock::now() >= deadline) {
                _waiting.erase(it);
                return fail(keel::make_error_code(std::errc::timed_out),
                            "rpc::net: no response to call " + std::to_string(id) + " in time");
            }
            if (!_worker->progress()) {
                // Let other threads send (and progress) before this one sleeps.
                lock.unlock();
                std::this_thread::yield();
                lock.lock();
                if (_waiting.at(id).arrived || _dead) continue;
                _worker->wait(std::min(deadline, clock::now() + std::chrono::milliseconds(1)));
            }
            for (endpoint_id failed : _worker->take_failed()) {
                if (failed == _ep) _dead = true;
            }
        }
    }

    void await_async(std::uint64_t id, std::uint32_t result_bytes, clock::time_point deadline,
                     std::unique_ptr<rpc::detail::async_completion> done) {
        _async.await(id, result_bytes, deadline, std::move(done));
    }
    void refuse_async(error_code ec, std::string text, std::unique_ptr<rpc::detail::async_completion> done) {
        _async.refuse(ec, std::move(text), std::move(done));
    }

    shared_heap* heap() noexcept { return _heap.get(); }

private:
    // The client's heap: a range laid out like a shared-memory connection's, private
    // to this process (its "server" side exists only to complete the layout).
    static constexpr std::size_t heap_channel_bytes = 0;
    shared_space _space;
    std::unique_ptr<shared_heap> _heap;

    result<void> make_heap(std::size_t arena_bytes) {
        auto own = arena::create(arena_role::client, arena_bytes);
        if (!own) return own.error();
        space_options so;
        so.layout.channel_bytes = heap_channel_bytes;
        so.arena_bytes = min_arena_bytes;
        so.max_peer_arena_bytes = own->size();
        auto other = shared_space::create_server(own->fd(), so);
        if (!other) return other.error();
        segment_attach_options ao;
        ao.max_arena_size = min_arena_bytes;
        auto mine = shared_space::attach_client(other->shared_segment().fd(), other->arena_fd(arena_role::server),
                                                std::move(*own), ao);
        if (!mine) return mine.error();
        _space = std::move(*mine);
        _heap = std::make_unique<shared_heap>(_space);
        return {};
    }

    struct response {
        bool arrived = false;
        std::uint32_t code = 0;
        std::vector<std::byte> data;
    };

    std::mutex _lock;
    std::unique_ptr<ucx::worker> _worker;
    endpoint_id _ep = 0;
    bool _welcomed = false;
    bool _dead = false;
    errc _refusal_code = errc::rejected;
    std::string _refusal;
    std::uint64_t _next_id = 1;
    std::map<std::uint64_t, response> _waiting;
    // async_call's completion thread: receives the awaited calls in sending order.
    rpc::detail::async_completer _async{[this](std::uint64_t id, std::byte* out, std::uint32_t result_bytes,
                                               clock::time_point deadline) {
        return receive(id, out, result_bytes, deadline);
    }};

    void on_message(endpoint_id, unsigned am, std::span<const std::byte> header, std::span<const std::byte> data) {
        if (am == am_welcome) {
            welcome w{};
            if (!read_exact(header, w) || w.magic != net_magic) {
                _refusal_code = errc::bad_message;
                _refusal = "rpc::net: the server's answer is malformed";
            } else if (w.status == 0) {
                _welcomed = true;
            } else {
                _refusal_code = static_cast<errc>(w.status);
                _refusal.assign(reinterpret_cast<const char*>(data.data()), std::min<std::size_t>(data.size(), 512));
                if (_refusal.empty()) _refusal = "rpc::net: the server refused the connection";
            }
            return;
        }
        response_header h{};
        if (am != am_response || !read_exact(header, h) || h.length != data.size()) {
            _dead = true;  // the server speaks nonsense: nothing it says can be trusted now
            return;
        }
        const auto it = _waiting.find(h.call_id);
        if (it == _waiting.end()) return;  // a call that timed out
        it->second.arrived = true;
        it->second.code = h.code;
        it->second.data.assign(data.begin(), data.end());
    }

    result<void> finish(std::uint64_t id, const response& r, std::byte* out, std::uint32_t result_bytes) {
        if (r.code == 0) {
            if (r.data.size() != result_bytes) {
                _dead = true;
                return fail(errc::channel_corrupt, "rpc::net: the result of call " + std::to_string(id) + " has " +
                                                       std::to_string(r.data.size()) + " bytes, expected " +
                                                       std::to_string(result_bytes));
            }
            if (result_bytes != 0) std::memcpy(out, r.data.data(), result_bytes);
            return {};
        }
        const std::string text(reinterpret_cast<const char*>(r.data.data()), r.data.size());
        switch (static_cast<errc>(r.code)) {
        case errc::handler_failed:
        case errc::transport_failed:
        case errc::unknown_method:
        case errc::bad_arguments: return fail(static_cast<errc>(r.code), text);
        default: break;
        }
        _dead = true;
        return fail(errc::channel_corrupt, "rpc::net: response status " + std::to_string(r.code) + " is not known");
    }
};

result<client_core_ptr> connect_core(const address& where, std::string_view service,
                                                      std::uint64_t schema_hash, const client_options& options) {
    client_core_ptr core(new net_client_core());
    if (auto r = core->open(where, service, schema_hash, options); !r) return r.error();
    return core;
}
void destroy(net_client_core* core) noexcept { delete core; }
result<void> call(net_client_core& core, std::uint32_t method, const std::byte* args, std::uint32_t length,
                  bool ship_heap, std::byte* out, std::uint32_t result_bytes, clock::time_point deadline) {
    return core.call(method, args, length, ship_heap, out, result_bytes, deadline);
}
shared_heap* heap(net_client_core& core) noexcept { return core.heap(); }
result<std::uint64_t> send(net_client_core& core, std::uint32_t method, const std::byte* args, std::uint32_t length,
                           bool ship_heap) {
    return core.send(method, args, length, ship_heap);
}
void await_async(net_client_core& core, std::uint64_t id, std::uint32_t result_bytes, clock::time_point deadline,
                 std::unique_ptr<rpc::detail::async_completion> done) {
    core.await_async(id, result_bytes, deadline, std::move(done));
}
void refuse_async(net_client_core& core, error_code ec, std::string text,
                  std::unique_ptr<rpc::detail::async_completion> done) {
    core.refuse_async(ec, std::move(text), std::move(done));
}

}  // namespace keel::rpc::net::detail
