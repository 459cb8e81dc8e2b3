#pragma once

#include <keel/rpc/channel.hpp>
#include <keel/rpc/connection.hpp>
#include <keel/rpc/method.hpp>
#include <keel/rpc/safety.hpp>

#include <array>
#include <atomic>
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

namespace keel::rpc {

/// What a server offers and how it serves. Plain data.
struct server_options {
    /// How the serve loop waits for requests (announced to each client, which wakes it
    /// accordingly). See wait_mode.
    wait_mode wait = wait_mode::hybrid;
    /// Each connection's segment (header page and channel area: layout.channel_bytes).
    segment_layout layout{};
    /// Bytes of the server's arena per connection: its shared heap, where handlers
    /// allocate results (call_context::heap()). Rounded up to a page.
    std::size_t arena_bytes = default_arena_bytes;
    /// The largest client arena accepted (refused before mapping).
    std::size_t max_client_arena_bytes = std::size_t{1} << 30;
    /// How long the serve loop waits for a new client's hello. The handshake runs on
    /// the serve thread: a client that connects and says nothing stalls the other
    /// connections for up to this long.
    std::chrono::milliseconds handshake_timeout{1000};
    /// How often the serve loop accepts new clients, checks that its clients are alive
    /// (one poll() per connection) and, in run(), looks at the stop token. Also the
    /// longest an idle run() parks at once.
    std::chrono::milliseconds housekeeping_interval{10};
    /// With several connections and a parking wait mode, an idle loop parks on one
    /// connection at a time for at most this long, round robin (no futex can watch
    /// several segments): a request on another connection waits up to this long.
    std::chrono::microseconds multi_wait_slice{100};
    /// safety_mode::copy: the most bytes of the caller's memory one call's handler may
    /// resolve (call_context::resolve copies each range into a private buffer of this
    /// size, reused by every call). A call whose handler asks for more fails with
    /// errc::payload_too_large. Default one page (default_copy_threshold); at least 64.
    std::size_t max_copy_bytes = default_copy_threshold;
    /// safety_mode::sandboxed: the sandbox each connection gets on its first sandboxed
    /// call (where MPK is available; elsewhere such calls fail with
    /// errc::sandbox_unavailable).
    sandbox_options sandbox{};
    /// Connections beyond this are accepted and closed at once.
    std::size_t max_connections = 64;
    int backlog = 64;
};

namespace detail {
/// Per-call state of the serve loop that call_context reads: the call's safety mode
/// and, in copy mode, the private buffer its resolves copy into.
struct call_state {
    safety_mode mode = safety_mode::relaxed;
    std::byte* copy_buffer = nullptr;  // private memory of the server, 64-aligned
    std::size_t copy_capacity = 0;
    std::size_t copy_used = 0;
    std::size_t copy_wanted = 0;  // bytes the handler asked to resolve in the caller's arena
    bool copy_overflow = false;   // some resolve exceeded copy_capacity: the call answers payload_too_large
};
/// copy mode: copies [src, src + bytes) into st's buffer (aligned to `align`); null
/// (and st.copy_overflow set) when the buffer cannot hold it.
[[nodiscard]] const void* copy_for_call(call_state& st, const void* src, std::size_t bytes, std::size_t align) noexcept;
}  // namespace detail

/// What a handler may ask about the call it serves.
///
/// Memory rules: the caller's argument memory (shm_ptrs into the client's arena,
/// read-only here) may be read only while the call runs: the client may free or
/// reuse it once the call returns, and may change it while it runs (copy what must
/// not change; see the safety modes). Results that do not fit inline go into the
/// server's arena: allocate them from heap(), and lend() what the client is to keep
/// (a returned shm_ptr<T> is lent automatically): the client gives it back with
/// client::release(), and the server frees it then (running ~T). The server must
/// not touch a lent block afterwards.
class call_context {
public:
    call_context(const connection& conn, std::uint64_t call_id) noexcept
        : _space(&conn.space()), _heap(&conn.heap()), _conn(&conn), _call_id(call_id) {}
    call_context(const connection& conn, std::uint64_t call_id, detail::call_state* state) noexcept
        : _space(&conn.space()), _heap(&conn.heap()), _conn(&conn), _call_id(call_id), _state(state) {}
    /// A call that came over the network (rpc::net): `space` is the server's private
    /// mirror of the caller's range (the shipped heap, and the server's own arena).
    call_context(const shared_space& space, shared_heap& heap, std::uint64_t call_id,
                 detail::call_state* state) noexcept
        : _space(&space), _heap(&heap), _call_id(call_id), _state(state) {}

    /// The shared-memory connection the call came on (its segment, its peer's pid);
    /// nullptr for a call that came over the network.
    [[nodiscard]] const connection* local_connection() const noexcept { return _conn; }
    [[nodiscard]] const segment& shared_segment() const noexcept { return _space->shared_segment(); }
    [[nodiscard]] const shared_space& space() const noexcept { return *_space; }
    [[nodiscard]] std::uint64_t call_id() const noexcept { return _call_id; }
    /// The call's safety mode (what the caller asked for, or the method's default).
    [[nodiscard]] safety_mode mode() const noexcept { return _state ? _state->mode : safety_mode::relaxed; }

    /// shared_space::resolve on this connection's range: a read-only pointer into
    /// either arena (the caller's arguments, or the server's own blocks), bounds-,
    /// overflow- and alignment-checked. No system call.
    ///
    /// In safety_mode::copy, a range in the caller's arena of a trivially copyable T
    /// is copied once into the server's private per-call buffer
    /// (server_options::max_copy_bytes for all resolves of one call together) and the
    /// pointer returned is the copy's, valid until the handler returns: the caller can
    /// no longer change what the handler reads. More than the buffer holds:
    /// errc::payload_too_large, and the call fails with it whatever the handler does.
    /// Each resolve copies again (resolve a range once). Not copied: the server's own
    /// blocks, and types that are not trivially copyable (containers over offset_ptr
    /// cannot be moved by memcpy): those, and whatever the handler reaches through
    /// links, are read in place.
    template <class T>
    [[nodiscard]] result<const T*> resolve(shm_ptr<T> p, std::size_t count = 1) const noexcept {
        auto r = _space->resolve(p, count);
        if constexpr (std::is_trivially_copyable_v<T>) {
            if (r && count != 0 && _state != nullptr && _state->mode == safety_mode::copy &&
                !_space->resolve_own(p, count)) {
                const void* c = detail::copy_for_call(*_state, *r, count * sizeof(T), alignof(T));
                if (c == nullptr) return make_error_code(errc::payload_too_large);
                return static_cast<const T*>(c);
            }
        }
        return r;
    }
    /// A writable pointer into the server's own arena only.
    template <class T>
    [[nodiscard]] result<T*> resolve_own(shm_ptr<T> p, std::size_t count = 1) const noexcept {
        return _space->resolve_own(p, count);
    }

    /// The server's heap for this connection (its arena): allocate results here.
    [[nodiscard]] shared_heap& heap() const noexcept { return *_heap; }

    /// Gives block `p` of heap() to the caller (see shared_heap::lend): returns `p`
    /// for chaining; throws std::runtime_error (the call fails with
    /// errc::handler_failed) when `p` is not a live block of heap().
    template <class T>
    shm_ptr<T> lend(shm_ptr<T> p) const {
        if (auto r = heap().lend(p); !r) throw std::runtime_error("rpc::call_context::lend: " + r.error().message());
        return p;
    }

private:
    const shared_space* _space;
    shared_heap* _heap;
    const connection* _conn = nullptr;
    std::uint64_t _call_id;
    detail::call_state* _state = nullptr;
};

namespace detail {

/// A type-erased handler: decodes `args` (already copied out of shared memory and
/// length-checked), runs the user's callable, writes the result into `out`
/// (max_inline_payload bytes, 64-aligned) and returns its length. Exceptions pass
/// through to the serve loop, which reports them as errc::handler_failed.
using handler_fn = std::function<std::uint32_t(call_context&, const std::byte* args, std::byte* out)>;

/// The untyped part of rpc::server (src/rpc/server.cpp).
class server_core {
public:
    server_core(std::string path, std::string_view service, std::uint64_t schema_hash, std::size_t methods,
                std::vector<std::uint32_t> argument_bytes, server_options options);
    server_core(const server_core&) = delete;
    server_core& operator=(const server_core&) = delete;
    ~server_core();

    void set_handler(std::uint32_t index, handler_fn fn);
    void require_safety(std::uint32_t index, safety_mode minimum);
    void run(std::stop_token stop);
    std::size_t poll_once();
    [[nodiscard]] std::size_t connections() const noexcept;
    [[nodiscard]] std::uint64_t dropped() const noexcept { return _dropped.load(std::memory_order_relaxed); }
    [[nodiscard]] const listener& get_listener() const noexcept { return _listener; }

private:
    struct conn_state;

    listener _listener;
    server_options _options;
    std::vector<handler_fn> _handlers;
    std::vector<safety_mode> _required;  // per method: what a call's mode must satisfy
    std::vector<std::uint32_t> _argument_bytes;
    std::vector<std::unique_ptr<conn_state>> _conns;
    std::unique_ptr<std::byte[]> _copy_storage;  // copy mode's per-call buffer (one call at a time)
    std::byte* _copy_buffer = nullptr;           // _copy_storage, 64-aligned
    std::chrono::steady_clock::time_point _next_housekeeping{};
    std::size_t _rr = 0;
    std::uint64_t _dropped_count = 0;
    // Mirrors for other threads (connections(), dropped() while run() serves).
    std::atomic<std::size_t> _live{0};
    std::atomic<std::uint64_t> _dropped{0};

    std::size_t serve_round();
    bool serve_one(conn_state& c);
    result<void> ensure_sandbox(conn_state& c);
    void housekeeping();
    void idle_wait(std::chrono::steady_clock::time_point until);
};

template <class R, class... Args, class F, std::size_t... I>
std::uint32_t invoke_handler(F& f, call_context& ctx, [[maybe_unused]] const std::byte* args, [[maybe_unused]] std::byte* out,
                             [[maybe_unused]] const std::array<std::size_t, sizeof...(Args) + 1>& offsets, std::index_sequence<I...>) {
    // The argument bytes were memcpy'd into a 64-aligned local buffer: for trivially
    // copyable types that creates the objects, which we now name.
    auto call = [&]() -> decltype(auto) {
        if constexpr (std::is_invocable_v<F&, call_context&, const Args&...>) {
            return std::invoke(f, ctx, *std::launder(reinterpret_cast<const Args*>(args + offsets[I]))...);
        } else {
            static_assert(std::is_invocable_v<F&, const Args&...>,
                          "keel::rpc::server::handle: the handler must be callable as f(args...) or "
                          "f(rpc::call_context&, args...) with the method's arguments");
            return std::invoke(f, *std::launder(reinterpret_cast<const Args*>(args + offsets[I]))...);
        }
    };
    if constexpr (std::is_void_v<R>) {
        call();
        return 0;
    } else if constexpr (is_shm_ptr_v<R>) {
        // A shm_ptr result into the server's heap goes to the caller to keep: lent
        // (given back with client::release). Other shm_ptrs (null, into the caller's
        // arena) travel as they are.
        const R r = call();
        if (r && ctx.space().resolve_own(r, 0)) (void)ctx.heap().lend(r);
        std::memcpy(out, &r, sizeof(R));
        return static_cast<std::uint32_t>(sizeof(R));
    } else {
        static_assert(std::is_convertible_v<decltype(call()), R>,
                      "keel::rpc::server::handle: the handler's return value must convert to the method's result");
        const R r = call();
        std::memcpy(out, &r, sizeof(R));
        return static_cast<std::uint32_t>(sizeof(R));
    }
}

template <class R, class... Args>
struct handler_maker;
template <class R, class... Args>
struct handler_maker<R(Args...)> {
    template <class Method, class F>
    static handler_fn make(F&& f) {
        return [fn = std::forward<F>(f)](call_context& ctx, const std::byte* args, std::byte* out) mutable {
            return invoke_handler<R, Args...>(fn, ctx, args, out, Method::offsets, std::index_sequence_for<Args...>{});
        };
    }
};

template <class S>
struct service_methods;
template <fixed_string Name, class... Methods>
struct service_methods<service<Name, Methods...>> {
    static std::vector<std::uint32_t> argument_sizes() { return {static_cast<std::uint32_t>(Methods::argument_bytes)...}; }
};

}  // namespace detail

/// An rpc server for `Service` (an rpc::service<...>): owns a listener on `path`,
/// accepts any number of clients (each gets its own segment and rings) and serves
/// their calls on one thread, polling the connections round robin. Handlers are
/// registered per method; a method without one answers errc::unknown_method.
///
/// Calls of one connection run in order, one at a time; a handler's exception goes
/// back to the caller as errc::handler_failed with its what() and the server keeps
/// serving. A client that dies, drops its socket or corrupts its rings
/// (errc::channel_corrupt) loses its connection; the others are not affected.
/// Everything read from shared memory is copied once and validated first.
///
/// Thread-safety: register handlers before serving; run()/poll_once() from one thread
/// at a time. Cost per call: one slot read and one slot write in shared memory, plus
/// the wake the client's wait mode needs (nothing for busy_poll; an atomic RMW, or a
/// FUTEX_WAKE when the client is parked, for hybrid; a FUTEX_WAKE for futex).
template <class Service>
class server {
public:
    /// Binds `path` (see rpc::listener; '@' for the abstract namespace). Throws like
    /// rpc::listener, and std::invalid_argument when the layout leaves no channel area.
    explicit server(std::string path, server_options options = {})
        : _core(std::make_unique<detail::server_core>(std::move(path), Service::name, Service::schema_hash,
                                                      Service::size,
                                                      detail::service_methods<Service>::argument_sizes(),
                                                      std::move(options))) {}

    /// Registers `f` for `Method`: f(args...) or f(call_context&, args...), returning
    /// the method's result (or void). Replaces an earlier handler.
    template <class Method, class F>
    void handle(F&& f) {
        constexpr std::uint32_t index = Service::template index_of<Method>();
        static_assert(index != Service::npos, "keel::rpc::server::handle: the method is not part of this service");
        _core->set_handler(index, detail::handler_maker<typename Method::signature>::template make<Method>(
                                      std::forward<F>(f)));
    }

    /// Refuses calls of `Method` whose safety mode does not give `minimum`'s guarantee
    /// (see rpc::satisfies): they fail with errc::safety_refused before the handler
    /// runs, whatever mode the client asked for. Without it a client may call any
    /// method in any mode (a per-call choice overrides the method's default).
    template <class Method>
    void require_safety(safety_mode minimum) {
        constexpr std::uint32_t index = Service::template index_of<Method>();
        static_assert(index != Service::npos, "keel::rpc::server::require_safety: the method is not part of this service");
        _core->require_safety(index, minimum);
    }

    /// Serves until `stop` is requested (noticed within options.housekeeping_interval).
    void run(std::stop_token stop) { _core->run(std::move(stop)); }

    /// Serves the requests that are ready now (at most one per connection), and every
    /// housekeeping_interval accepts new clients and drops dead ones. Never waits for
    /// a request (a new client's handshake may wait, see handshake_timeout). Returns
    /// the number of calls served.
    std::size_t poll_once() { return _core->poll_once(); }

    /// Live connections.
    [[nodiscard]] std::size_t connections() const noexcept { return _core->connections(); }
    /// Connections dropped so far (dead peers, corrupt channels).
    [[nodiscard]] std::uint64_t dropped() const noexcept { return _core->dropped(); }
    [[nodiscard]] const std::string& path() const noexcept { return _core->get_listener().path(); }

private:
    std::unique_ptr<detail::server_core> _core;
};

}  // namespace keel::rpc
