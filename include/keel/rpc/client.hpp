#pragma once

#include <keel/result.hpp>
#include <keel/rpc/channel.hpp>
#include <keel/rpc/connection.hpp>
#include <keel/rpc/method.hpp>
#include <keel/rpc/safety.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace keel::rpc {

/// How a client connects and waits. Plain data.
struct client_options {
    /// How threads of this client wait for responses (announced to the server, which
    /// wakes them accordingly).
    wait_mode wait = wait_mode::hybrid;
    /// A waiting call checks that the server is alive (one poll()) this often: a call
    /// in flight when the server dies fails with errc::peer_dead within about this long.
    std::chrono::milliseconds peer_check_interval{10};
    std::chrono::milliseconds connect_timeout{5000};
    /// Retry a missing or refusing listener until connect_timeout (a server restarting).
    bool wait_for_listener = false;
    std::chrono::milliseconds handshake_timeout{5000};
    /// Bytes of this client's arena: its shared heap (heap()), where shm_ptr
    /// arguments live. Rounded up to a page; min_arena_bytes..1 TiB.
    std::size_t arena_bytes = default_arena_bytes;
    segment_attach_options attach{};
};

namespace detail {

/// The completion of one asynchronous call, type-erased (rpc/async_call.hpp builds it
/// from an Asio handler). complete() runs on the client's completion thread.
class async_completion {
public:
    virtual ~async_completion() = default;
    /// `status` is the call's outcome, `text` its error_detail() (empty on success);
    /// on success `payload` holds the result's bytes.
    virtual void complete(result<void> status, std::string text, const std::byte* payload) noexcept = 0;
};

/// A client's completion thread (rpc::client and rpc::net::client): started by the
/// first await()/refuse(), it completes refusals and receives the awaited calls in
/// call order through `receive` (which waits for one response), one at a time.
/// close() stops it: `receive` must see closing() and give up with
/// std::errc::operation_canceled, so every call still waiting completes with that.
/// Thread-safety: all members may be called from any thread.
class async_completer {
public:
    using receive_fn = std::function<result<void>(std::uint64_t id, std::byte* out, std::uint32_t result_bytes,
                                                  std::chrono::steady_clock::time_point deadline)>;
    explicit async_completer(receive_fn receive) noexcept : _receive(std::move(receive)) {}
    async_completer(const async_completer&) = delete;
    async_completer& operator=(const async_completer&) = delete;
    ~async_completer() { close(); }

    /// Hands call `id`'s response to the thread. Throws std::system_error when the
    /// thread cannot start (nobody then waits for `id`).
    void await(std::uint64_t id, std::uint32_t result_bytes, std::chrono::steady_clock::time_point deadline,
               std::unique_ptr<async_completion> done);
    /// Completes `done` with `ec` on the thread (a call refused before it was sent must
    /// not complete inside its initiating function).
    void refuse(error_code ec, std::string text, std::unique_ptr<async_completion> done);
    /// Sets closing() and joins the thread (idempotent).
    void close() noexcept;
    [[nodiscard]] bool closing() const noexcept { return _closing.load(std::memory_order_relaxed); }

private:
    struct pending {
        std::uint32_t result_bytes;
        std::chrono::steady_clock::time_point deadline;
        std::unique_ptr<async_completion> done;
    };
    struct refused {
        error_code ec;
        std::string text;
        std::unique_ptr<async_completion> done;
    };
    receive_fn _receive;
    std::mutex _lock;
    std::condition_variable _ready;
    std::map<std::uint64_t, pending> _pending;  // by call id or ring position: received in order
    std::vector<refused> _refused;
    std::atomic<bool> _closing{false};
    std::thread _thread;

    void start();  // under _lock
    void loop();
};

struct client_access;
/// How async_call reaches a client type's untyped core: specialised for rpc::client
/// (async_call.hpp) and rpc::net::client (net_async_call.hpp).
template <class Client>
struct async_access;

/// The untyped part of rpc::client (src/rpc/client.cpp).
class client_core {
public:
    client_core(connection conn, channel_view channels, client_options options) noexcept;
    client_core(const client_core&) = delete;
    client_core& operator=(const client_core&) = delete;
    /// Stops the completion thread: asynchronous calls still waiting complete with
    /// std::errc::operation_canceled.
    ~client_core();

    static result<std::unique_ptr<client_core>> open(std::string_view path, std::string_view service,
                                                     std::uint64_t schema_hash, const client_options& options);

    /// Puts a request in the ring (under the send lock); its position.
    result<std::uint64_t> send(std::uint32_t method, const std::byte* args, std::uint32_t length,
                               overload_policy overload, std::chrono::steady_clock::time_point deadline);
    /// Waits for call p's response, checks it, copies its payload into `out`
    /// (max_inline_payload bytes) and releases the slot. `result_bytes` is what a
    /// successful response must carry.
    result<void> receive(std::uint64_t p, std::byte* out, std::uint32_t result_bytes,
                         std::chrono::steady_clock::time_point deadline);

    /// Hands call p's response to the completion thread (started on first use), which
    /// receives responses in call order and runs `done` with each. Never blocks on the
    /// server.
    void await_async(std::uint64_t p, std::uint32_t result_bytes, std::chrono::steady_clock::time_point deadline,
                     std::unique_ptr<async_completion> done);
    /// Completes `done` with `ec` on the completion thread: for a call refused before it
    /// was sent, which must not complete inside the initiating function.
    void refuse_async(error_code ec, std::string text, std::unique_ptr<async_completion> done);

    [[nodiscard]] connection& conn() noexcept { return _conn; }
    /// A sealed call's argument `index` (a shm_ptr at `offset`): a window over the
    /// whole pages of its block when it is in this client's heap (which must come from
    /// allocate_sealable: errc::bad_arguments otherwise, naming the argument); an
    /// empty window for null and for pointers elsewhere (the server's arena, which the
    /// client cannot write; the server's resolve refuses anything out of bounds).
    result<protection_window> seal_argument(std::uint64_t offset, std::size_t index) noexcept;
    [[nodiscard]] bool peer_dead() const noexcept { return _dead.load(std::memory_order_relaxed); }

private:
    connection _conn;
    channel_view _ch;
    client_options _options;
    std::uint32_t _spin_rounds;
    std::mutex _send_lock;
    std::uint64_t _next = 0;  // guarded by _send_lock
    std::atomic<bool> _dead{false};
    std::mutex _abandoned_lock;
    std::vector<std::uint64_t> _abandoned;  // calls that timed out; their responses are released by whoever finds them

    async_completer _async{[this](std::uint64_t p, std::byte* out, std::uint32_t result_bytes,
                                  std::chrono::steady_clock::time_point deadline) {
        return receive(p, out, result_bytes, deadline);
    }};

    result<void> check_peer(std::chrono::steady_clock::time_point& next_check) noexcept;
    bool release_if_abandoned(std::uint64_t p) noexcept;
};

}  // namespace detail

/// An rpc client of `Service` (an rpc::service<...>): one connection to a server,
/// with its own segment and rings.
///
/// call<Method>(args...) sends the arguments by value in a ring slot and waits for the
/// result: keel::result<R> (result<void> for void methods). Errors: errc::overloaded
/// (ring full, overload_policy::reject), std::errc::timed_out (call_options::timeout),
/// errc::peer_dead (the server died or dropped us: within peer_check_interval),
/// errc::handler_failed (the handler threw; rpc::error_detail() has its what()),
/// errc::unknown_method (no handler), errc::channel_corrupt (the server wrote
/// nonsense; the connection is unusable after it).
///
/// Thread-safety: call() may be used from several threads at once: each call takes a
/// position in the request ring under a short lock and then waits for its own
/// response slot, so up to ring-capacity calls are outstanding at once (the server
/// runs a connection's calls in order). Cost: a slot write and a slot read in shared
/// memory, plus the wake the server's wait mode needs (nothing for busy_poll, an
/// atomic RMW or a FUTEX_WAKE for hybrid, a FUTEX_WAKE for futex).
template <class Service>
class client {
public:
    client() noexcept = default;

    /// Connects to the server at `path` and maps its rings. Errors as rpc::connect
    /// (schema_mismatch when the services differ), errc::bad_header when the segment
    /// has no room for channels.
    [[nodiscard]] static result<client> connect(std::string_view path, const client_options& options = {}) {
        auto core = detail::client_core::open(path, Service::name, Service::schema_hash, options);
        if (!core) return core.error();
        client c;
        c._core = std::move(*core);
        return c;
    }

    explicit operator bool() const noexcept { return _core != nullptr; }

    template <class Method, class... A>
    [[nodiscard]] result<typename Method::result_type> call(A&&... args) {
        return call_with<Method>(call_options{}, std::forward<A>(args)...);
    }

    /// call() with per-call options: overload policy, timeout, and the safety mode
    /// (call_options::safety, else Method::safety):
    ///  - relaxed: nothing extra;
    ///  - copy: the server's call_context::resolve copies what the handler reads of
    ///    this client's memory (errc::payload_too_large over its bound);
    ///  - sealed: every shm_ptr argument into this client's heap must be a block from
    ///    heap().allocate_sealable() (errc::bad_arguments otherwise, nothing is sent);
    ///    its pages are read-only in this process (protection_window) from before the
    ///    request is published until call_with returns: a write to them by any thread
    ///    of this process faults (SIGSEGV) instead of changing what the handler reads;
    ///  - sandboxed: the server runs the handler in an MPK sandbox
    ///    (errc::sandbox_unavailable where it has none; errc::sandbox_fault when the
    ///    handler strays).
    template <class Method, class... A>
    [[nodiscard]] result<typename Method::result_type> call_with(const call_options& options, A&&... args) {
        return invoke<Method>(options, static_cast<typename Method::signature*>(nullptr), std::forward<A>(args)...);
    }

    /// The connection (its segment and arenas, the server's pid).
    [[nodiscard]] connection& conn() noexcept { return _core->conn(); }
    [[nodiscard]] segment& shared_segment() noexcept { return _core->conn().shared_segment(); }

    /// This client's shared heap (its own arena, thread-safe): allocate shm_ptr
    /// arguments here (make, make_array, allocate; free with deallocate/destroy). The
    /// server reads them read-only, and only while the call runs.
    [[nodiscard]] shared_heap& heap() noexcept { return _core->conn().heap(); }
    /// The connection's range: resolve a result shm_ptr (into the server's arena,
    /// read-only here) with space().resolve(p, n), containers with rpc::verify.
    [[nodiscard]] const shared_space& space() noexcept { return _core->conn().space(); }
    /// Gives a block the server lent (a shm_ptr result) back to the server, which
    /// frees it at its next housekeeping or allocation. Do not read it afterwards.
    /// Errors as shared_heap::give_back (errc::give_back_full: retry later).
    template <class T>
    result<void> release(shm_ptr<T> p) noexcept {
        return _core->conn().heap().give_back(p);
    }

private:
    friend struct detail::client_access;
    std::unique_ptr<detail::client_core> _core;

    /// The windows a sealed call holds until its response: one per shm_ptr argument.
    template <class... Args>
    using seal_set = std::array<protection_window, (std::size_t{detail::is_shm_ptr_v<Args>} + ... + 0)>;

    /// Encodes the arguments and puts the request in the ring, in the method's own
    /// safety mode (async_call): the call's position. A sealed call is refused here
    /// (std::errc::operation_not_supported): its windows would have to outlive this.
    template <class Method, class R, class... Args, class... A>
    result<std::uint64_t> send_call(std::chrono::steady_clock::time_point deadline, overload_policy overload,
                                    R (*sig)(Args...), A&&... args) {
        return send_call<Method>(deadline, overload, Method::safety, sig, std::forward<A>(args)...);
    }
    /// The same in `mode` (e.g. call_options::safety.value_or(Method::safety)).
    template <class Method, class R, class... Args, class... A>
    result<std::uint64_t> send_call(std::chrono::steady_clock::time_point deadline, overload_policy overload,
                                    safety_mode mode, R (*sig)(Args...), A&&... args) {
        return send_call_as<Method, seal_set<Args...>>(deadline, overload, mode, nullptr, sig,
                                                       std::forward<A>(args)...);
    }

    /// As send_call, in `mode`; a sealed call seals its arguments into `*seals` first.
    template <class Method, class Seals, class R, class... Args, class... A>
    result<std::uint64_t> send_call_as(std::chrono::steady_clock::time_point deadline, overload_policy overload,
                                       safety_mode mode, Seals* seals, R (*)(Args...), A&&... args) {
        constexpr std::uint32_t index = Service::template index_of<Method>();
        static_assert(index != Service::npos, "keel::rpc::client::call: the method is not part of this service");
        static_assert(sizeof...(A) == sizeof...(Args), "keel::rpc::client::call: wrong number of arguments");
        alignas(64) std::byte in[Method::argument_bytes + 1];
        detail::encode_arguments<Args...>(in, std::index_sequence_for<Args...>{}, std::forward<A>(args)...);
        if (mode == safety_mode::sealed) {
            if (seals == nullptr) {
                return detail::fail(keel::make_error_code(std::errc::operation_not_supported),
                                    "rpc::client: sealed calls are synchronous only (call/call_with)");
            }
            if (auto r = seal_arguments<Args...>(in, *seals, std::index_sequence_for<Args...>{}); !r) return r.error();
        }
        return _core->send(detail::request_code(index, mode), in, static_cast<std::uint32_t>(Method::argument_bytes),
                           overload, deadline);
    }

    template <class... Args, class Seals, std::size_t... I>
    result<void> seal_arguments([[maybe_unused]] const std::byte* in, [[maybe_unused]] Seals& seals,
                                std::index_sequence<I...>) {
        [[maybe_unused]] constexpr auto offsets = detail::argument_offsets<Args...>();
        [[maybe_unused]] std::size_t next = 0;
        result<void> status;
        [[maybe_unused]] auto one = [&]<class T>(std::size_t i) {
            if constexpr (detail::is_shm_ptr_v<T>) {
                if (!status) return;
                T p;
                std::memcpy(&p, in + offsets[i], sizeof(T));
                auto w = _core->seal_argument(p.offset(), i);
                if (!w) {
                    status = w.error();
                    return;
                }
                seals[next++] = std::move(*w);
            }
        };
        (one.template operator()<Args>(I), ...);
        return status;
    }

    template <class Method, class R, class... Args, class... A>
    result<R> invoke(const call_options& options, R (*sig)(Args...), A&&... args) {
        const auto deadline = platform::deadline_after(options.timeout);
        // A sealed call's windows end when this returns: after the response (or the
        // call's failure) is known.
        seal_set<Args...> seals;
        auto p = send_call_as<Method>(deadline, options.overload, options.safety.value_or(Method::safety), &seals, sig,
                                      std::forward<A>(args)...);
        if (!p) return p.error();
        alignas(64) std::byte out[max_inline_payload];
        if (auto r = _core->receive(*p, out, static_cast<std::uint32_t>(Method::result_bytes), deadline); !r) {
            return r.error();
        }
        if constexpr (std::is_void_v<R>) {
            return {};
        } else {
            return R(*std::launder(reinterpret_cast<const R*>(out)));
        }
    }
};

}  // namespace keel::rpc
