#include <keel/platform/cpu.hpp>
#include <keel/rpc/server.hpp>

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace keel::rpc::detail {

using clock = std::chrono::steady_clock;

struct server_core::conn_state {
    connection conn;
    channel_view ch;
    std::uint64_t next = 0;  // position of the next request
    bool blocked = false;    // the next response slot is still unread by the client
    bool bad = false;        // drop at the next opportunity
    // safety_mode::sandboxed: made on the first sandboxed call (destroyed before the
    // connection unmaps the arenas it tagged), or why that failed.
    std::optional<sandbox> box;
    std::optional<std::string> box_refused;
};

const void* copy_for_call(call_state& st, const void* src, std::size_t bytes, std::size_t align) noexcept {
    st.copy_wanted += bytes;
    const std::size_t at = (st.copy_used + align - 1) / align * align;
    if (st.copy_overflow || at > st.copy_capacity || bytes > st.copy_capacity - at) {
        st.copy_overflow = true;
        return nullptr;
    }
    auto r = copy_payload(src, bytes, {st.copy_buffer + at, st.copy_capacity - at}, st.copy_capacity - at);
    if (!r) {
        st.copy_overflow = true;
        return nullptr;
    }
    st.copy_used = at + bytes;
    return r->data();
}

namespace {

constexpr std::uint32_t hybrid_spin_rounds = platform::shared_hybrid_wait::default_spin_rounds;

listener_options to_listener_options(std::string_view service, std::uint64_t schema_hash, const server_options& o) {
    listener_options l;
    l.service = std::string(service);
    l.schema_hash = schema_hash;
    l.layout = o.layout;
    l.arena_bytes = o.arena_bytes;
    l.max_client_arena_bytes = o.max_client_arena_bytes;
    l.handshake_timeout = o.handshake_timeout;
    l.backlog = o.backlog;
    return l;
}

const server_options& checked(const server_options& o) {
    if (o.wait != wait_mode::busy_poll && o.wait != wait_mode::hybrid && o.wait != wait_mode::futex) {
        throw std::invalid_argument("rpc::server: server_options::wait is not a wait_mode");
    }
    if (o.layout.channel_bytes < channel_header_bytes + 2 * channel_slot_bytes) {
        throw std::invalid_argument("rpc::server: server_options::layout.channel_bytes (" +
                                    std::to_string(o.layout.channel_bytes) + ") leaves no room for the rings (at least " +
                                    std::to_string(channel_header_bytes + 2 * channel_slot_bytes) + " bytes)");
    }
    if (o.max_copy_bytes < 64) {
        throw std::invalid_argument("rpc::server: server_options::max_copy_bytes (" + std::to_string(o.max_copy_bytes) +
                                    ") must be at least 64");
    }
    if (o.housekeeping_interval <= std::chrono::milliseconds::zero() ||
        o.multi_wait_slice <= std::chrono::microseconds::zero()) {
        throw std::invalid_argument("rpc::server: housekeeping_interval and multi_wait_slice must be positive");
    }
    return o;
}

}  // namespace

server_core::server_core(std::string path, std::string_view service, std::uint64_t schema_hash, std::size_t methods,
                         std::vector<std::uint32_t> argument_bytes, server_options options)
    : _listener(std::move(path), to_listener_options(service, schema_hash, checked(options))),
      _options(std::move(options)),
      _handlers(methods),
      _required(methods, safety_mode::relaxed),
      _argument_bytes(std::move(argument_bytes)),
      _copy_storage(new std::byte[_options.max_copy_bytes + 64]) {
    const auto a = reinterpret_cast<std::uintptr_t>(_copy_storage.get());
    _copy_buffer = _copy_storage.get() + ((64 - a % 64) % 64);
}

server_core::~server_core() = default;

void server_core::set_handler(std::uint32_t index, handler_fn fn) { _handlers.at(index) = std::move(fn); }
void server_core::require_safety(std::uint32_t index, safety_mode minimum) { _required.at(index) = minimum; }

std::size_t server_core::connections() const noexcept { return _live.load(std::memory_order_relaxed); }

std::size_t server_core::poll_once() {
    const std::size_t n = serve_round();
    if (clock::now() >= _next_housekeeping) housekeeping();
    return n;
}

void server_core::run(std::stop_token stop) {
    while (!stop.stop_requested()) {
        if (poll_once() != 0) continue;
        idle_wait(_next_housekeeping);
    }
}

std::size_t server_core::serve_round() {
    std::size_t served = 0;
    bool any_bad = false;
    for (auto& c : _conns) {
        if (serve_one(*c)) ++served;
        any_bad |= c->bad;
    }
    if (any_bad) {
        std::erase_if(_conns, [this](const std::unique_ptr<conn_state>& c) {
            if (!c->bad) return false;
            ++_dropped_count;
            return true;
        });
        _dropped.store(_dropped_count, std::memory_order_relaxed);
        _live.store(_conns.size(), std::memory_order_relaxed);
    }
    return served;
}

bool server_core::serve_one(conn_state& c) {
    const std::uint64_t p = c.next;
    slot_header& rq = c.ch.requests.slot(p);
    const std::uint32_t free = c.ch.requests.free_value(p);
    const std::uint32_t v = rq.seq.load(std::memory_order_acquire);
    if (v == free) return false;
    if (v != free + 1) {
        c.bad = true;  // a request slot holds a state this server never left it in
        return false;
    }
    slot_header& rs = c.ch.responses.slot(p);
    const std::uint32_t rv = rs.seq.load(std::memory_order_acquire);
    if (rv != free) {
        if (p >= c.ch.responses.capacity && rv == free - 1) {
            c.blocked = true;  // the client has not read response p - capacity yet
        } else {
            c.bad = true;
        }
        return false;
    }
    c.blocked = false;
    // Copy the request out of shared memory once; validate and use only the copy.
    const std::uint32_t code = rq.code.load(std::memory_order_relaxed);
    const std::uint64_t id = rq.call_id.load(std::memory_order_relaxed);
    const std::uint32_t length = rq.length.load(std::memory_order_relaxed);
    if (id != p || length > max_inline_payload) {
        c.bad = true;
        return false;
    }
    alignas(64) std::byte args[max_inline_payload];
    if (length != 0) std::memcpy(args, c.ch.requests.payload(p), length);
    rq.seq.store(free + 2, std::memory_order_release);  // the slot is the client's again (next lap)
    c.next = p + 1;

    alignas(64) std::byte out[max_inline_payload];
    std::uint32_t out_length = 0;
    errc status{};
    std::string text;
    const std::uint32_t method = code & request_method_mask;
    const std::uint32_t mode_bits = code >> request_method_bits;
    call_state st;
    st.mode = static_cast<safety_mode>(mode_bits);
    if (mode_bits > static_cast<std::uint32_t>(safety_mode::sandboxed)) {
        status = errc::bad_arguments;
        text = "request code " + std::to_string(code) + " carries unknown bits above the method index (safety mode " +
               std::to_string(mode_bits) + ")";
    } else if (method >= _handlers.size() || !_handlers[method]) {
        status = errc::unknown_method;
        text = "method index " + std::to_string(method) + " has no handler (the service has " +
               std::to_string(_handlers.size()) + " methods)";
    } else if (length != _argument_bytes[method]) {
        status = errc::bad_arguments;
        text = "method index " + std::to_string(method) + " takes " + std::to_string(_argument_bytes[method]) +
               " bytes of arguments, the request has " + std::to_string(length);
    } else if (!satisfies(st.mode, _required[method])) {
        status = errc::safety_refused;
        text = "method index " + std::to_string(method) + " requires safety mode " +
               std::string(to_string(_required[method])) + " (or one that gives its guarantee); the call asked for " +
               std::string(to_string(st.mode)) + ", nothing ran";
    } else {
        if (st.mode == safety_mode::copy) {
            st.copy_buffer = _copy_buffer;
            st.copy_capacity = _options.max_copy_bytes;
        }
        call_context ctx(c.conn, p, &st);
        if (st.mode == safety_mode::sandboxed) {
            if (auto ready = ensure_sandbox(c); !ready) {
                status = errc::sandbox_unavailable;
                text = "sandboxed call refused, nothing ran: " + error_detail();
            } else {
                // The handler, its arguments and its result buffer live in the frame
                // run() places on the sandbox stack: it may write nothing else but
                // this side's arena.
                struct sandbox_result {
                    std::uint32_t length;
                    alignas(64) std::byte out[max_inline_payload];
                };
                struct argument_copy {
                    alignas(64) std::byte bytes[max_inline_payload];
                };
                argument_copy a;
                std::memcpy(a.bytes, args, length);
                handler_fn& fn = _handlers[method];
                auto r = c.box->run([&fn, &ctx, a]() {
                    sandbox_result out_frame;
                    out_frame.length = fn(ctx, a.bytes, out_frame.out);
                    return out_frame;
                });
                if (r) {
                    out_length = r->length;
                    std::memcpy(out, r->out, std::min<std::size_t>(out_length, max_inline_payload));
                } else {
                    status = r.error() == errc::sandbox_fault ? errc::sandbox_fault : errc::handler_failed;
                    text = error_detail();
                    if (text.empty()) text = r.error().message();
                }
            }
        } else {
            try {
                out_length = _handlers[method](ctx, args, out);
            } catch (const std::exception& e) {
                status = errc::handler_failed;
                text = e.what();
            } catch (...) {
                status = errc::handler_failed;
                text = "the handler threw a non-standard exception";
            }
        }
        if (st.copy_overflow) {
            // Whatever the handler made of the refused resolve, the caller learns why.
            status = errc::payload_too_large;
            text = "copy mode: the handler resolved " + std::to_string(st.copy_wanted) +
                   " bytes of the caller's memory, more than the copy bound of " +
                   std::to_string(st.copy_capacity) + " bytes (server_options::max_copy_bytes)";
        }
    }
    if (status != errc{}) {
        out_length = static_cast<std::uint32_t>(std::min(text.size(), max_inline_payload));
        std::memcpy(out, text.data(), out_length);
    }
    rs.code.store(static_cast<std::uint32_t>(status), std::memory_order_relaxed);
    rs.call_id.store(p, std::memory_order_relaxed);
    rs.length.store(out_length, std::memory_order_relaxed);
    if (out_length != 0) std::memcpy(c.ch.responses.payload(p), out, out_length);
    rs.seq.store(free + 1, std::memory_order_release);
    wake(c.ch.header->client_wait.load(std::memory_order_relaxed), rs.seq, c.ch.header->response_parking);
    return true;
}

result<void> server_core::ensure_sandbox(conn_state& c) {
    if (c.box) return {};
    if (c.box_refused) return fail(errc::sandbox_unavailable, *c.box_refused);
    auto box = sandbox::create(_options.sandbox);
    if (!box) {
        std::string why = error_detail();
        if (why.empty()) why = box.error().message();
        c.box_refused = why;
        return fail(errc::sandbox_unavailable, std::move(why));
    }
    try {
        const shared_space& space = c.conn.space();
        const auto own = space.own_arena();
        box->add(own.data(), own.size(), platform::access::read_write);
        const auto peer = space.arena_bytes(space.peer_role());
        box->add(const_cast<std::byte*>(peer.data()), peer.size(), platform::access::read);
    } catch (const std::exception& e) {
        c.box_refused = std::string("tagging the connection's arenas failed: ") + e.what();
        return fail(errc::sandbox_unavailable, *c.box_refused);
    }
    c.box.emplace(std::move(*box));
    return {};
}

void server_core::housekeeping() {
    // New clients: accept while some are waiting (each handshake is bounded by
    // handshake_timeout; a failed one affects only that client).
    for (;;) {
        pollfd pfd{_listener.fd(), POLLIN, 0};
        const int r = ::poll(&pfd, 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || (pfd.revents & POLLIN) == 0) break;
        auto c = _listener.accept(std::chrono::milliseconds(0));
        if (!c) continue;
        if (_conns.size() >= _options.max_connections) {
            c->close();
            continue;
        }
        auto ch = map_channels(c->shared_segment());
        if (!ch) continue;  // cannot happen: the constructor checked the layout
        ch->header->server_wait.store(static_cast<std::uint32_t>(_options.wait), std::memory_order_release);
        auto state = std::make_unique<conn_state>();
        state->conn = std::move(*c);
        state->ch = *ch;
        _conns.push_back(std::move(state));
    }
    // Dead clients: their connection goes; a request they left behind is dropped with
    // it, and so does its memory (both arenas unmap with the connection). Live ones:
    // free the results they gave back (the heap also does before it allocates).
    for (auto& c : _conns) {
        if (!c->conn.peer_alive()) {
            c->bad = true;
        } else {
            (void)c->conn.heap().collect_give_backs();
        }
    }
    std::erase_if(_conns, [this](const std::unique_ptr<conn_state>& c) {
        if (!c->bad) return false;
        ++_dropped_count;
        return true;
    });
    _dropped.store(_dropped_count, std::memory_order_relaxed);
    _live.store(_conns.size(), std::memory_order_relaxed);
    _next_housekeeping = clock::now() + _options.housekeeping_interval;
}

void server_core::idle_wait(clock::time_point until) {
    if (_conns.empty()) {
        // Nothing to serve: sleep on the listener (a new client ends the wait).
        const auto now = clock::now();
        if (now >= until) return;
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
        pollfd pfd{_listener.fd(), POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(std::min<long long>(ms, 1000))) > 0) _next_housekeeping = now;
        return;
    }
    for (const auto& c : _conns) {
        if (c->blocked) {
            // A client is slow to read its responses; it does not wake us when it does.
            std::this_thread::yield();
            return;
        }
    }
    conn_state* c = nullptr;
    auto end = until;
    if (_conns.size() == 1) {
        c = _conns.front().get();
    } else {
        if (_options.wait == wait_mode::busy_poll) {
            platform::cpu_relax();
            return;
        }
        c = _conns[_rr++ % _conns.size()].get();
        end = std::min(until, clock::now() + std::chrono::duration_cast<clock::duration>(_options.multi_wait_slice));
    }
    const std::uint64_t p = c->next;
    // Busy polling spins a while before wait_change reads the clock on every check.
    if (_options.wait == wait_mode::busy_poll &&
        platform::detail::spin_for_change(c->ch.requests.slot(p).seq, c->ch.requests.free_value(p), 4096)) {
        return;
    }
    auto r = wait_change(_options.wait, c->ch.requests.slot(p).seq, c->ch.requests.free_value(p), end,
                         c->ch.header->request_parking, hybrid_spin_rounds);
    if (!r && r.error() == errc::channel_corrupt) c->bad = true;
}

}  // namespace keel::rpc::detail
