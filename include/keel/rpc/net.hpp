#pragma once

// keel::rpc::net: the rpc::server / rpc::client API between hosts, over UCX (RDMA where
// the fabric has it, TCP or shared memory otherwise). Built when KEEL_WITH_UCX is on
// (target keel::rpc_net); UCX's headers stay inside the library.

#include <keel/result.hpp>
#include <keel/rpc/channel.hpp>
#include <keel/rpc/client.hpp>
#include <keel/rpc/error.hpp>
#include <keel/rpc/method.hpp>
#include <keel/rpc/segment.hpp>
#include <keel/rpc/server.hpp>
#include <keel/rpc/shared_heap.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace keel::rpc::net {

/// Where a server listens or a client connects: a numeric IPv4/IPv6 address or a host
/// name, and a port (0 for a listener: the system picks one, see server::port()).
struct address {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
};

/// How a network server serves. Plain data.
struct server_options {
    /// How long an idle run() sleeps at most before it looks at its stop token.
    std::chrono::milliseconds housekeeping_interval{10};
    /// Connections beyond this are closed as they arrive.
    std::size_t max_connections = 64;
    /// The largest request accepted (arguments plus shipped heap chunks); a bigger one
    /// closes the connection (the client's calls fail with peer_dead).
    std::size_t max_request_bytes = std::size_t{64} << 20;
    /// The largest client heap accepted at the handshake (errc::rejected otherwise).
    std::size_t max_client_arena_bytes = std::size_t{1} << 30;
    /// Bytes of the server's own arena per connection (call_context::heap(): scratch
    /// for handlers; results travel as values).
    std::size_t arena_bytes = min_arena_bytes;
};

/// How a network client connects. Plain data.
struct client_options {
    /// How long connect() waits for the server's handshake answer.
    std::chrono::milliseconds connect_timeout{5000};
    /// Bytes of the client's heap for shm_ptr arguments (client::heap()): a private
    /// arena laid out as a shared-memory connection's, so offsets (and offset_ptr
    /// links inside it) mean the same on the server once shipped. 0: no heap (calls
    /// that pass shm_ptrs fail with errc::bad_arguments). Reserved address space; pages
    /// are allocated when touched.
    std::size_t arena_bytes = default_arena_bytes;
};

namespace detail {

/// Network handlers are the shared-memory ones (rpc::detail::handler_maker): f(args...)
/// or f(call_context&, args...). Results travel as values only.
template <class Signature>
struct net_handler_maker;
template <class R, class... Args>
struct net_handler_maker<R(Args...)> {
    static_assert(!rpc::detail::is_shm_ptr_v<R>,
                  "keel::rpc::net: a shm_ptr result would need the server's heap shipped back; return values "
                  "(shm_ptr arguments are shipped, see net::client::heap)");
    template <class Method, class F>
    static rpc::detail::handler_fn make(F&& f) {
        return rpc::detail::handler_maker<R(Args...)>::template make<Method>(std::forward<F>(f));
    }
};

/// True when a method's arguments include a shm_ptr: its calls ship the client's heap.
template <class Signature>
inline constexpr bool passes_shm_ptr_v = false;
template <class R, class... Args>
inline constexpr bool passes_shm_ptr_v<R(Args...)> = (rpc::detail::is_shm_ptr_v<Args> || ...);

/// The untyped part of net::server (src/rpc/net/net.cpp).
class net_server_core;
/// The untyped part of net::client (src/rpc/net/net.cpp).
class net_client_core;
void destroy(net_server_core* core) noexcept;
void destroy(net_client_core* core) noexcept;

/// Deletes a core (their types are complete only in the library).
struct core_deleter {
    void operator()(net_server_core* c) const noexcept { destroy(c); }
    void operator()(net_client_core* c) const noexcept { destroy(c); }
};
using server_core_ptr = std::unique_ptr<net_server_core, core_deleter>;
using client_core_ptr = std::unique_ptr<net_client_core, core_deleter>;

server_core_ptr make_server_core(const address& where, std::string_view service,
                                                  std::uint64_t schema_hash, std::vector<std::uint32_t> argument_bytes,
                                                  server_options options);
void set_handler(net_server_core& core, std::uint32_t index, rpc::detail::handler_fn fn);
void run(net_server_core& core, std::stop_token stop);
std::size_t poll_once(net_server_core& core);
std::uint16_t port(const net_server_core& core) noexcept;
std::size_t connections(const net_server_core& core) noexcept;

result<client_core_ptr> connect_core(const address& where, std::string_view service,
                                                      std::uint64_t schema_hash, const client_options& options);
/// Sends a call (with the used part of the client's heap when `ship_heap`) and waits
/// for its result bytes (into `out`, max_inline_payload).
result<void> call(net_client_core& core, std::uint32_t method, const std::byte* args, std::uint32_t length,
                  bool ship_heap, std::byte* out, std::uint32_t result_bytes,
                  std::chrono::steady_clock::time_point deadline);
/// The client's heap for shm_ptr arguments; nullptr when client_options::arena_bytes was 0.
shared_heap* heap(net_client_core& core) noexcept;
/// For async_call (keel/rpc/net_async_call.hpp): sends without waiting (the call's id),
/// then hands the wait to the client's completion thread, or completes a refusal there.
result<std::uint64_t> send(net_client_core& core, std::uint32_t method, const std::byte* args, std::uint32_t length,
                           bool ship_heap);
void await_async(net_client_core& core, std::uint64_t id, std::uint32_t result_bytes,
                 std::chrono::steady_clock::time_point deadline, std::unique_ptr<rpc::detail::async_completion> done);
void refuse_async(net_client_core& core, error_code ec, std::string text,
                  std::unique_ptr<rpc::detail::async_completion> done);


}  // namespace detail

/// rpc::server<Service>'s API over the network: the same services and handlers,
/// f(args...) or f(call_context&, args...), serve remote clients. shm_ptr arguments
/// arrive with the used part of the caller's heap, copied into a mirror of the
/// caller's range private to this server (one per connection); call_context::resolve
/// checks them against it as over shared memory. Results are values (a shm_ptr result
/// is refused at compile time). One thread serves every connection;
/// a connection's calls run in order. A handler's exception reaches the caller as
/// errc::handler_failed with its what(); a client that disappears is dropped.
/// Thread-safety: register handlers before serving; run()/poll_once() from one thread.
template <class Service>
class server {
public:
    /// Listens on `where` (port 0: any free port). Throws std::system_error naming the
    /// address when UCX cannot listen there.
    explicit server(const address& where, server_options options = {})
        : _core(detail::make_server_core(where, Service::name, Service::schema_hash,
                                         rpc::detail::service_methods<Service>::argument_sizes(), std::move(options))) {}

    template <class Method, class F>
    void handle(F&& f) {
        constexpr std::uint32_t index = Service::template index_of<Method>();
        static_assert(index != Service::npos, "keel::rpc::net::server::handle: the method is not part of this service");
        detail::set_handler(*_core, index,
                            detail::net_handler_maker<typename Method::signature>::template make<Method>(
                                std::forward<F>(f)));
    }

    /// Serves until `stop` is requested (noticed within housekeeping_interval).
    void run(std::stop_token stop) { detail::run(*_core, std::move(stop)); }
    /// Serves what has arrived, without waiting; the number of calls served.
    std::size_t poll_once() { return detail::poll_once(*_core); }
    /// The port it listens on.
    [[nodiscard]] std::uint16_t port() const noexcept { return detail::port(*_core); }
    [[nodiscard]] std::size_t connections() const noexcept { return detail::connections(*_core); }

private:
    detail::server_core_ptr _core;
};

/// rpc::client<Service>'s call API over the network. Thread-safe: calls from several
/// threads share the connection (each waits for its own response).
/// Errors: as rpc::client (peer_dead when the server dies or the connection breaks,
/// handler_failed, unknown_method, std::errc::timed_out), plus errc::transport_failed
/// when UCX refuses (error_detail() names the UCX call and status).
template <class Service>
class client {
public:
    client() noexcept = default;

    /// Connects and checks the service name and schema hash with the server
    /// (errc::schema_mismatch, errc::unknown_service), within connect_timeout.
    [[nodiscard]] static result<client> connect(const address& where, const client_options& options = {}) {
        auto core = detail::connect_core(where, Service::name, Service::schema_hash, options);
        if (!core) return core.error();
        client c;
        c._core = std::move(*core);
        return c;
    }

    explicit operator bool() const noexcept { return _core != nullptr; }

    /// Where shm_ptr arguments live: a shared_heap over this client's private arena
    /// (client_options::arena_bytes; throws std::logic_error when that was 0). A call
    /// of a method that takes shm_ptrs ships the used part of this heap
    /// (shared_heap::used_extent(), one copy per call) into the server's mirror of it,
    /// at the same offsets, so shm_ptrs and offset_ptr links (rpc::vector, string, map)
    /// resolve there as they would over shared memory. The server reads its own copy:
    /// nothing the client does during the call can change what the handler sees.
    [[nodiscard]] shared_heap& heap() const {
        shared_heap* h = detail::heap(*_core);
        if (h == nullptr) throw std::logic_error("rpc::net::client::heap: the client was opened with arena_bytes 0");
        return *h;
    }

    template <class Method, class... A>
    [[nodiscard]] result<typename Method::result_type> call(A&&... args) {
        return call_with<Method>(call_options{}, std::forward<A>(args)...);
    }

    template <class Method, class... A>
    [[nodiscard]] result<typename Method::result_type> call_with(const call_options& options, A&&... args) {
        return invoke<Method>(options, static_cast<typename Method::signature*>(nullptr), std::forward<A>(args)...);
    }

private:
    friend struct rpc::detail::async_access<client>;
    detail::client_core_ptr _core;

    // Encodes the arguments and sends the call (async_call); its id.
    template <class Method, class R, class... Args, class... A>
    result<std::uint64_t> send_call(R (*)(Args...), A&&... args) {
        constexpr std::uint32_t index = Service::template index_of<Method>();
        static_assert(index != Service::npos, "keel::rpc::net::async_call: the method is not part of this service");
        static_assert(sizeof...(A) == sizeof...(Args), "keel::rpc::net::async_call: wrong number of arguments");
        alignas(64) std::byte in[Method::argument_bytes + 1];
        rpc::detail::encode_arguments<Args...>(in, std::index_sequence_for<Args...>{}, std::forward<A>(args)...);
        return detail::send(*_core, index, in, static_cast<std::uint32_t>(Method::argument_bytes),
                            detail::passes_shm_ptr_v<typename Method::signature>);
    }

    template <class Method, class R, class... Args, class... A>
    result<R> invoke(const call_options& options, R (*)(Args...), A&&... args) {
        constexpr std::uint32_t index = Service::template index_of<Method>();
        static_assert(index != Service::npos, "keel::rpc::net::client::call: the method is not part of this service");
        static_assert(sizeof...(A) == sizeof...(Args), "keel::rpc::net::client::call: wrong number of arguments");
        alignas(64) std::byte in[Method::argument_bytes + 1];
        rpc::detail::encode_arguments<Args...>(in, std::index_sequence_for<Args...>{}, std::forward<A>(args)...);
        alignas(64) std::byte out[max_inline_payload];
        if (auto r = detail::call(*_core, index, in, static_cast<std::uint32_t>(Method::argument_bytes),
                                  detail::passes_shm_ptr_v<typename Method::signature>, out,
                                  static_cast<std::uint32_t>(Method::result_bytes),
                                  platform::deadline_after(options.timeout));
            !r) {
            return r.error();
        }
        if constexpr (std::is_void_v<R>) {
            return {};
        } else {
            return R(*std::launder(reinterpret_cast<const R*>(out)));
        }
    }
};

}  // namespace keel::rpc::net
