#pragma once

// A test service for keel::rpc calls, and a server that runs in a forked child until
// its clients have come and gone (or it is killed).

#include "rpc_test_support.hpp"

#include <keel/rpc.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>

namespace keel::test {

namespace rpc = keel::rpc;

struct blob64 {
    std::array<std::uint8_t, 64> bytes;
};

using noop = rpc::method<"noop", void()>;
using add = rpc::method<"add", std::uint64_t(std::uint64_t, std::uint32_t)>;
using echo64 = rpc::method<"echo64", blob64(blob64)>;
using sum_array = rpc::method<"sum_array", std::uint64_t(rpc::shm_ptr<std::uint64_t>, std::uint32_t)>;
using fail = rpc::method<"fail", void(std::int32_t)>;
using unhandled = rpc::method<"unhandled", void()>;
using connections = rpc::method<"connections", std::uint64_t()>;
using hang = rpc::method<"hang", void()>;  // never returns (for crash tests)
using test_service = rpc::service<"calls", noop, add, echo64, sum_array, fail, unhandled, connections, hang>;

/// Registers the handlers of test_service (all but `unhandled`) on an rpc::server or
/// an rpc::net::server. `on_hang` runs in the hang handler before it sleeps forever.
template <class Server, class OnHang>
void register_handlers(Server& srv, OnHang on_hang) {
    srv.template handle<noop>([] {});
    srv.template handle<add>([](std::uint64_t a, std::uint32_t b) { return a + b; });
    srv.template handle<echo64>([](const blob64& b) {
        blob64 r = b;
        for (auto& x : r.bytes) x = static_cast<std::uint8_t>(x + 1);
        return r;
    });
    srv.template handle<sum_array>([](rpc::call_context& ctx, rpc::shm_ptr<std::uint64_t> p, std::uint32_t n) {
        auto a = ctx.resolve(p, n);
        if (!a) throw std::runtime_error("bad array: " + a.error().message());
        std::uint64_t s = 0;
        for (std::uint32_t i = 0; i < n; ++i) s += (*a)[i];
        return s;
    });
    srv.template handle<fail>([](std::int32_t code) { throw std::runtime_error("failing on purpose: " + std::to_string(code)); });
    srv.template handle<connections>([&srv] { return static_cast<std::uint64_t>(srv.connections()); });
    srv.template handle<hang>([on_hang] {
        on_hang();
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    });
}

/// Runs `srv` until it has had `expected` clients and all of them are gone.
template <class Service>
void serve_until_clients_leave(rpc::server<Service>& srv, std::size_t expected = 1) {
    std::stop_source stop;
    std::jthread watcher([&] {
        std::size_t seen = 0;
        for (;;) {
            const std::size_t now = srv.connections();
            seen = std::max(seen, now + static_cast<std::size_t>(srv.dropped()));
            if (seen >= expected && now == 0) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        stop.request_stop();
    });
    srv.run(stop.get_token());
}

inline rpc::client_options client_opts(rpc::wait_mode w = rpc::wait_mode::hybrid) {
    rpc::client_options o;
    o.wait = w;
    o.wait_for_listener = true;
    o.connect_timeout = std::chrono::seconds(20);
    o.handshake_timeout = std::chrono::seconds(20);
    return o;
}

}  // namespace keel::test
