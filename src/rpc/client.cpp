#include <keel/platform/cpu.hpp>
#include <keel/rpc/client.hpp>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

namespace keel::rpc::detail {

using clock = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t busy_poll_spin_rounds = 4096;

bool valid_mode(wait_mode m) noexcept {
    return m == wait_mode::busy_poll || m == wait_mode::hybrid || m == wait_mode::futex;
}

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

client_core::client_core(connection conn, channel_view channels, client_options options) noexcept
    : _conn(std::move(conn)),
      _ch(channels),
      _options(options),
      _spin_rounds(platform::shared_hybrid_wait::default_spin_rounds) {
    _ch.header->client_wait.store(static_cast<std::uint32_t>(_options.wait), std::memory_order_release);
}

client_core::~client_core() { _async.close(); }

result<std::unique_ptr<client_core>> client_core::open(std::string_view path, std::string_view service,
                                                       std::uint64_t schema_hash, const client_options& options) {
    if (!valid_mode(options.wait)) throw std::invalid_argument("rpc::client: client_options::wait is not a wait_mode");
    if (options.peer_check_interval <= std::chrono::milliseconds::zero()) {
        throw std::invalid_argument("rpc::client: client_options::peer_check_interval must be positive");
    }
    connect_options co;
    co.service = std::string(service);
    co.schema_hash = schema_hash;
    co.connect_timeout = options.connect_timeout;
    co.wait_for_listener = options.wait_for_listener;
    co.handshake_timeout = options.handshake_timeout;
    co.arena_bytes = options.arena_bytes;
    co.attach = options.attach;
    auto c = rpc::connect(path, co);
    if (!c) return c.error();
    auto ch = map_channels(c->shared_segment());
    if (!ch) return ch.error();
    return std::make_unique<client_core>(std::move(*c), *ch, options);
}

result<protection_window> client_core::seal_argument(std::uint64_t offset, std::size_t index) noexcept {
    shared_heap& heap = _conn.heap();
    if (offset < heap.heap_offset() || offset - heap.heap_offset() >= heap.heap_size()) return protection_window();
    auto n = heap.sealable_bytes(shm_ptr<std::byte>(offset));
    if (!n) {
        return fail(errc::bad_arguments, "rpc::client: sealed call: argument " + std::to_string(index) + " (offset " +
                                             hex(offset) + ") is not a sealable block of the client's heap (" +
                                             n.error().message() + "); allocate it with heap().allocate_sealable()");
    }
    auto w = protection_window::seal(_conn.space().base() + offset, *n);
    if (!w) return w.error();  // error_detail() names the range
    return std::move(*w);
}

result<void> client_core::check_peer(clock::time_point& next_check) noexcept {
    if (_dead.load(std::memory_order_relaxed)) return make_error_code(errc::peer_dead);
    const auto now = clock::now();
    if (now < next_check) return {};
    next_check = now + _options.peer_check_interval;
    if (_conn.peer_alive()) return {};
    _dead.store(true, std::memory_order_relaxed);
    return fail(errc::peer_dead, "rpc::client: the server (pid " + std::to_string(_conn.peer_pid()) +
                                     ") died or closed the connection");
}

result<std::uint64_t> client_core::send(std::uint32_t method, const std::byte* args, std::uint32_t length,
                                        overload_policy overload, clock::time_point deadline) {
    std::unique_lock lock(_send_lock, std::defer_lock);
    if (overload == overload_policy::reject || deadline == clock::time_point::max()) {
        lock.lock();  // held briefly, unless another thread blocks for room in the ring
    } else {
        // Not std::timed_mutex: its pthread_mutex_clocklock is invisible to
        // ThreadSanitizer. The lock is held briefly, so trying and yielding is cheap.
        while (!lock.try_lock()) {
            if (clock::now() >= deadline) {
                return fail(keel::make_error_code(std::errc::timed_out), "rpc::client: timed out waiting to send");
            }
            std::this_thread::yield();
        }
    }
    if (_dead.load(std::memory_order_relaxed)) {
        return fail(errc::peer_dead, "rpc::client: the connection is dead (server gone or channel corrupt)");
    }
    const std::uint64_t p = _next;
    slot_header& s = _ch.requests.slot(p);
    const std::uint32_t free = _ch.requests.free_value(p);
    clock::time_point next_check{};
    for (std::uint32_t round = 0;; ++round) {
        const std::uint32_t v = s.seq.load(std::memory_order_acquire);
        if (v == free) break;
        if (p < _ch.requests.capacity || v != free - 1) {
            _dead.store(true, std::memory_order_relaxed);
            return fail(errc::channel_corrupt, "rpc::client: request slot of call " + std::to_string(p) +
                                                   " has sequence " + hex(v) + ", expected " + hex(free) +
                                                   " or " + hex(free - 1));
        }
        // The ring is full: the server has not taken call p - capacity yet.
        if (overload == overload_policy::reject) {
            return fail(errc::overloaded, "rpc::client: the request ring (" + std::to_string(_ch.requests.capacity) +
                                              " slots) is full");
        }
        if (clock::now() >= deadline) {
            return fail(keel::make_error_code(std::errc::timed_out), "rpc::client: no room in the request ring");
        }
        if (next_check == clock::time_point{}) next_check = clock::now() + _options.peer_check_interval;
        if (auto r = check_peer(next_check); !r) return r.error();
        // The server does not wake senders waiting for room (that would cost it a
        // check per request); a full ring is an overload, so poll gently.
        if (round < 64) {
            platform::cpu_relax();
        } else {
            std::this_thread::yield();
        }
    }
    s.code.store(method, std::memory_order_relaxed);
    s.call_id.store(p, std::memory_order_relaxed);
    s.length.store(length, std::memory_order_relaxed);
    if (length != 0) std::memcpy(_ch.requests.payload(p), args, length);
    s.seq.store(free + 1, std::memory_order_release);
    _next = p + 1;
    lock.unlock();
    wake(_ch.header->server_wait.load(std::memory_order_relaxed), s.seq, _ch.header->request_parking);
    return p;
}

bool client_core::release_if_abandoned(std::uint64_t q) noexcept {
    std::lock_guard guard(_abandoned_lock);
    const auto it = std::find(_abandoned.begin(), _abandoned.end(), q);
    if (it == _abandoned.end()) return false;
    _abandoned.erase(it);
    _ch.responses.slot(q).seq.store(_ch.responses.free_value(q) + 2, std::memory_order_release);
    return true;
}

result<void> client_core::receive(std::uint64_t p, std::byte* out, std::uint32_t result_bytes,
                                  clock::time_point deadline) {
    slot_header& s = _ch.responses.slot(p);
    const std::uint32_t free = _ch.responses.free_value(p);
    const bool has_previous = p >= _ch.responses.capacity;
    // Busy polling spins a while before it reads the clock for the first time: a
    // clock read per check would add to every round trip.
    std::uint32_t spin_first = _options.wait == wait_mode::busy_poll ? busy_poll_spin_rounds : 0;
    clock::time_point next_check{};
    auto abandon = [&] {
        std::lock_guard guard(_abandoned_lock);
        _abandoned.push_back(p);
    };
    for (;;) {
        const std::uint32_t v = s.seq.load(std::memory_order_acquire);
        if (v == free + 1) break;
        // Legal while waiting: free (ours, not answered yet); with an earlier lap, the
        // response of call p - capacity being written (free - 2) or unread (free - 1).
        if (has_previous && v == free - 1) {
            if (release_if_abandoned(p - _ch.responses.capacity)) continue;
        } else if (v != free && !(has_previous && v == free - 2)) {
            _dead.store(true, std::memory_order_relaxed);
            return fail(errc::channel_corrupt, "rpc::client: response slot of call " + std::to_string(p) +
                                                   " has sequence " + hex(v) + ", expected " + hex(free + 1));
        }
        if (spin_first != 0) {
            const bool changed = platform::detail::spin_for_change(s.seq, v, spin_first);
            spin_first = 0;
            if (changed) continue;
        }
        if (next_check == clock::time_point{}) next_check = clock::now() + _options.peer_check_interval;
        if (auto r = check_peer(next_check); !r) {
            abandon();
            return r.error();
        }
        if (clock::now() >= deadline) {
            abandon();
            return fail(keel::make_error_code(std::errc::timed_out),
                        "rpc::client: no response to call " + std::to_string(p) + " in time");
        }
        if (_async.closing()) {
            abandon();
            return fail(keel::make_error_code(std::errc::operation_canceled),
                        "rpc::client: the client was destroyed before call " + std::to_string(p) + " was answered");
        }
        const auto slice_end = std::min(deadline, next_check);
        if (auto r = wait_change(_options.wait, s.seq, v, slice_end, _ch.header->response_parking, _spin_rounds);
            !r && r.error() == errc::channel_corrupt) {
            _dead.store(true, std::memory_order_relaxed);
            return fail(errc::channel_corrupt, "rpc::client: the response ring's parking object was overwritten");
        }
    }
    const std::uint32_t code = s.code.load(std::memory_order_relaxed);
    const std::uint64_t id = s.call_id.load(std::memory_order_relaxed);
    const std::uint32_t length = s.length.load(std::memory_order_relaxed);
    if (id != p || length > max_inline_payload) {
        _dead.store(true, std::memory_order_relaxed);
        return fail(errc::channel_corrupt, "rpc::client: response for call " + std::to_string(p) + " carries call id " +
                                               std::to_string(id) + " and length " + std::to_string(length));
    }
    if (length != 0) std::memcpy(out, _ch.responses.payload(p), length);
    s.seq.store(free + 2, std::memory_order_release);  // the server polls for it: no wake
    if (code == 0) {
        if (length == result_bytes) return {};
        _dead.store(true, std::memory_order_relaxed);
        return fail(errc::channel_corrupt, "rpc::client: the result of call " + std::to_string(p) + " has " +
                                               std::to_string(length) + " bytes, expected " +
                                               std::to_string(result_bytes));
    }
    const std::string text(reinterpret_cast<const char*>(out), length);
    switch (static_cast<errc>(code)) {
    case errc::handler_failed:
    case errc::unknown_method:
    case errc::bad_arguments:
    case errc::payload_too_large:
    case errc::sandbox_unavailable:
    case errc::sandbox_fault:
    case errc::safety_refused: return fail(static_cast<errc>(code), text);
    default: break;
    }
    _dead.store(true, std::memory_order_relaxed);
    return fail(errc::channel_corrupt, "rpc::client: response status " + std::to_string(code) + " is not known");
}

void client_core::await_async(std::uint64_t p, std::uint32_t result_bytes, clock::time_point deadline,
                              std::unique_ptr<async_completion> done) {
    _async.await(p, result_bytes, deadline, std::move(done));
}

void client_core::refuse_async(error_code ec, std::string text, std::unique_ptr<async_completion> done) {
    _async.refuse(ec, std::move(text), std::move(done));
}

// ---- async_completer ----------------------------------------------------------------

void async_completer::await(std::uint64_t id, std::uint32_t result_bytes, clock::time_point deadline,
                            std::unique_ptr<async_completion> done) {
    {
        std::lock_guard guard(_lock);
        _pending.emplace(id, pending{result_bytes, deadline, std::move(done)});
        try {
            start();
        } catch (...) {
            _pending.erase(id);  // the caller sees the exception; nobody waits for id
            throw;
        }
    }
    _ready.notify_one();
}

void async_completer::refuse(error_code ec, std::string text, std::unique_ptr<async_completion> done) {
    {
        std::lock_guard guard(_lock);
        _refused.push_back({ec, std::move(text), std::move(done)});
        try {
            start();
        } catch (...) {
            _refused.pop_back();
            throw;
        }
    }
    _ready.notify_one();
}

void async_completer::close() noexcept {
    {
        std::lock_guard guard(_lock);
        _closing.store(true, std::memory_order_relaxed);
    }
    _ready.notify_all();
    if (_thread.joinable()) _thread.join();
}

void async_completer::start() {
    if (!_thread.joinable()) _thread = std::thread([this] { loop(); });
}

void async_completer::loop() {
    alignas(64) std::byte out[max_inline_payload];
    for (;;) {
        std::unique_lock lock(_lock);
        _ready.wait(lock, [&] { return !_pending.empty() || !_refused.empty() || closing(); });
        if (!_refused.empty()) {
            std::vector<refused> now;
            now.swap(_refused);
            lock.unlock();
            for (auto& r : now) r.done->complete(r.ec, std::move(r.text), nullptr);
            continue;
        }
        if (_pending.empty()) return;  // closing, nothing left
        // A connection's calls are answered in order, so waiting for the oldest first
        // costs nothing; a later call's earlier deadline is noticed after it.
        auto node = _pending.extract(_pending.begin());
        lock.unlock();
        pending& op = node.mapped();
        result<void> r = _receive(node.key(), out, op.result_bytes, op.deadline);
        op.done->complete(r, r ? std::string() : error_detail(), out);
    }
}

}  // namespace keel::rpc::detail
