// keel::rpc::net across two processes over UCX on loopback (fork: the child serves):
// the same service and handlers as the shared-memory tests, values and structs,
// handler errors and missing handlers, refusals at the handshake, several threads of
// one client, several clients, and the server dying under a call.
#include "../rpc_calls_support.hpp"

#include <keel/rpc/net.hpp>

#include <catch2/catch.hpp>
#include <catch_result.hpp>

#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

namespace rpc = keel::rpc;
namespace net = keel::rpc::net;
using namespace keel::test;
using namespace std::chrono_literals;

namespace {

/// Passes the server's port from the child to the parent.
struct port_pipe {
    int fds[2] = {-1, -1};
    port_pipe() {
        if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    }
    ~port_pipe() {
        for (int fd : fds)
            if (fd >= 0) ::close(fd);
    }
    void send(std::uint16_t port) const {
        if (::write(fds[1], &port, sizeof port) != sizeof port) std::abort();
    }
    /// In the parent: closes the writing end first, so a child that dies before it
    /// sends gives EOF instead of a hang.
    std::uint16_t receive() {
        if (fds[1] >= 0) {
            ::close(fds[1]);
            fds[1] = -1;
        }
        std::uint16_t port = 0;
        if (::read(fds[0], &port, sizeof port) != sizeof port) throw std::runtime_error("the server died before listening");
        return port;
    }
};

/// A net server of test_service in a child: serves until `clients` have come and gone.
struct served {
    port_pipe port;
    signal_pipe in_hang;
    child server;
    explicit served(std::size_t clients = 1)
        : server([this, clients] {
              net::server<test_service> srv(net::address{"127.0.0.1", 0});
              srv.handle<noop>([] {});
              srv.handle<add>([](std::uint64_t a, std::uint32_t b) { return a + b; });
              srv.handle<echo64>([](const blob64& b) {
                  blob64 r = b;
                  for (auto& x : r.bytes) x = static_cast<std::uint8_t>(x + 1);
                  return r;
              });
              srv.handle<fail>([](std::int32_t code) -> void {
                  throw std::runtime_error("failing on purpose: " + std::to_string(code));
              });
              srv.handle<connections>([&srv] { return static_cast<std::uint64_t>(srv.connections()); });
              srv.handle<hang>([this] {
                  in_hang.post();
                  for (;;) std::this_thread::sleep_for(1s);
              });
              port.send(srv.port());
              std::size_t seen = 0;
              for (;;) {
                  srv.poll_once();
                  seen = std::max(seen, srv.connections());
                  if (seen >= clients && srv.connections() == 0) break;
              }
              return std::string();
          }) {}
};

net::client<test_service> connect_to(std::uint16_t port) {
    auto c = net::client<test_service>::connect(net::address{"127.0.0.1", port});
    if (!c) throw std::runtime_error("connect: " + c.error().message() + ": " + rpc::error_detail());
    return std::move(*c);
}

}  // namespace

TEST_CASE("net: values, structs, void, errors and missing handlers over loopback", "[rpc][net]") {
    served s;
    auto c = connect_to(s.port.receive());
    for (std::uint32_t i = 0; i < 500; ++i) {
        REQUIRE(c.call<noop>());
        auto r = c.call<add>(std::uint64_t{1} << 40, i);
        REQUIRE(r);
        CHECK(*r == (std::uint64_t{1} << 40) + i);
    }
    blob64 b{};
    for (std::size_t i = 0; i < b.bytes.size(); ++i) b.bytes[i] = static_cast<std::uint8_t>(i);
    auto e = c.call<echo64>(b);
    REQUIRE(e);
    for (std::size_t i = 0; i < b.bytes.size(); ++i) CHECK(e->bytes[i] == static_cast<std::uint8_t>(i + 1));
    auto f = c.call<fail>(std::int32_t{7});
    REQUIRE_FALSE(f);
    CHECK(f.error() == rpc::errc::handler_failed);
    CHECK(rpc::error_detail().find("failing on purpose: 7") != std::string::npos);
    auto u = c.call<unhandled>();
    REQUIRE_FALSE(u);
    CHECK(u.error() == rpc::errc::unknown_method);
    REQUIRE(c.call<noop>());  // the connection survives handler errors
    c = {};
    CHECK(s.server.join().empty());
}

TEST_CASE("net: a client of another schema is refused at the handshake", "[rpc][net]") {
    served s;
    const std::uint16_t port = s.port.receive();
    using other = rpc::service<"calls", noop>;  // same name, other methods
    auto bad = net::client<other>::connect(net::address{"127.0.0.1", port});
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == rpc::errc::schema_mismatch);
    CHECK(rpc::error_detail().find("schema hash mismatch") != std::string::npos);
    using stranger = rpc::service<"elsewhere", noop>;
    auto wrong = net::client<stranger>::connect(net::address{"127.0.0.1", port});
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error() == rpc::errc::unknown_service);
    auto c = connect_to(port);  // the server still serves
    REQUIRE(c.call<noop>());
    c = {};
    s.server.kill(SIGKILL);  // it counted the refused clients as visitors or not: don't depend on it
    (void)s.server.join();
}

TEST_CASE("net: several threads of one client and several clients", "[rpc][net]") {
    served s(2);
    const std::uint16_t port = s.port.receive();
    auto c1 = connect_to(port);
    auto c2 = connect_to(port);
    std::atomic<int> failures{0};
    std::vector<std::jthread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            auto& c = t % 2 == 0 ? c1 : c2;
            for (std::uint32_t i = 0; i < 300; ++i) {
                auto r = c.call<add>(std::uint64_t(t) * 1000000, i);
                if (!r || *r != std::uint64_t(t) * 1000000 + i) failures.fetch_add(1);
            }
        });
    }
    threads.clear();
    CHECK(failures.load() == 0);
    auto n = c1.call<connections>();
    REQUIRE(n);
    CHECK(*n == 2);
    c1 = {};
    c2 = {};
    CHECK(s.server.join().empty());
}

TEST_CASE("net: the server dies during a call: the call fails with peer_dead", "[rpc][net]") {
    served s;
    auto c = connect_to(s.port.receive());
    REQUIRE(c.call<noop>());
    std::jthread killer([&] {
        if (s.in_hang.wait()) s.server.kill(SIGKILL);
    });
    rpc::call_options o;
    o.timeout = 20s;  // far longer than detection should take
    auto r = c.call_with<hang>(o);
    REQUIRE_FALSE(r);
    CHECK(r.error() == rpc::errc::peer_dead);
    auto again = c.call<noop>();
    REQUIRE_FALSE(again);
    CHECK(again.error() == rpc::errc::peer_dead);
    killer.join();
    CHECK(s.server.join().find("killed by signal 9") != std::string::npos);
}
