// keel::rpc::net across two processes over UCX on loopback (fork: the child serves):
// the same service and handlers as the shared-memory tests, values and structs,
// handler errors and missing handlers, refusals at the handshake, several threads of
// one client, several clients, the server dying under a call, shm_ptr arguments
// (arrays, containers, linked nodes) shipped with the used part of the client's heap,
// and async_call (callbacks, use_future, cancellation when the client goes).
#include "../rpc_calls_support.hpp"

#include <keel/rpc/containers.hpp>
#include <keel/rpc/net.hpp>
#include <keel/rpc/net_async_call.hpp>

#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>
#include <catch_result.hpp>

#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <numeric>
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

/// A net server of `Service` in a child, its handlers registered by
/// `enroll(server, *this)`: serves until `clients` have come and gone.
template <class Service>
struct net_served {
    port_pipe port;
    signal_pipe in_hang;
    child server;
    template <class Enroll>
    explicit net_served(Enroll enroll, std::size_t clients = 1, net::server_options options = {})
        : server([this, enroll, clients, options] {
              net::server<Service> srv(net::address{"127.0.0.1", 0}, options);
              enroll(srv, *this);
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

/// test_service's handlers (those of the shared-memory tests) over the network.
struct served : net_served<test_service> {
    explicit served(std::size_t clients = 1, net::server_options options = {})
        : net_served([](auto& srv, auto& self) { register_handlers(srv, [&self] { self.in_hang.post(); }); },
                     clients, options) {}
};

// Pointer-rich arguments: a container and a linked list built in the client's heap.
using vec_t = rpc::vector<std::uint64_t>;
struct list_node {
    std::uint64_t value;
    rpc::shm_ptr<list_node> next;
};
using sum_vector = rpc::method<"sum_vector", std::uint64_t(rpc::shm_ptr<vec_t>)>;
using sum_list = rpc::method<"sum_list", std::uint64_t(rpc::shm_ptr<list_node>, std::uint32_t)>;
using shipping_service = rpc::service<"shipping", sum_vector, sum_list>;

void enroll_shipping(net::server<shipping_service>& srv, net_served<shipping_service>&) {
    srv.handle<sum_vector>([](rpc::call_context& ctx, rpc::shm_ptr<vec_t> p) {
        auto span = rpc::verify(ctx.space(), p);
        if (!span) throw std::runtime_error("vector refused: " + span.error().message());
        return std::accumulate(span->begin(), span->end(), std::uint64_t{0});
    });
    // Follows `next` links, each resolved (bounds-checked) on its own, at most `max` nodes.
    srv.handle<sum_list>([](rpc::call_context& ctx, rpc::shm_ptr<list_node> p, std::uint32_t max) {
        std::uint64_t sum = 0;
        for (std::uint32_t n = 0; p; ++n) {
            if (n == max) throw std::runtime_error("the list is longer than the bound");
            auto node = ctx.resolve(p);
            if (!node) throw std::runtime_error("bad node: " + node.error().message());
            sum += (*node)->value;
            p = (*node)->next;
        }
        return sum;
    });
}

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

TEST_CASE("net: shm_ptr arguments travel with the used part of the client's heap", "[rpc][net]") {
    served s;
    auto c = connect_to(s.port.receive());
    auto p = c.heap().make_array<std::uint64_t>(1000);
    REQUIRE(p);
    auto* a = *c.heap().resolve(*p, 1000);
    for (std::uint32_t i = 0; i < 1000; ++i) a[i] = i;
    auto sum = c.call<sum_array>(*p, 1000u);
    REQUIRE(sum);
    CHECK(*sum == 999u * 1000u / 2);
    // What the server reads is what the heap holds when the call is made.
    a[0] = 1000000;
    sum = c.call<sum_array>(*p, 1000u);
    REQUIRE(sum);
    CHECK(*sum == 999u * 1000u / 2 + 1000000);
    // A second block further up: shipped too, the first one still there.
    auto q = c.heap().make_array<std::uint64_t>(10);
    REQUIRE(q);
    auto* b = *c.heap().resolve(*q, 10);
    for (std::uint32_t i = 0; i < 10; ++i) b[i] = 7;
    auto sq = c.call<sum_array>(*q, 10u);
    REQUIRE(sq);
    CHECK(*sq == 70);
    // Offsets outside the client's heap are refused by the handler's resolve, and
    // the connection goes on.
    auto bad = c.call<sum_array>(rpc::shm_ptr<std::uint64_t>(c.heap().heap_offset() + c.heap().heap_size() - 8), 2u);
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == rpc::errc::handler_failed);
    CHECK(rpc::error_detail().find("bad array") != std::string::npos);
    auto huge = c.call<sum_array>(*p, 0xffffffffu);
    REQUIRE_FALSE(huge);
    CHECK(huge.error() == rpc::errc::handler_failed);
    REQUIRE(c.call<noop>());
    c = {};
    CHECK(s.server.join().empty());
}

TEST_CASE("net: containers and linked nodes built in the client's heap resolve on the server", "[rpc][net]") {
    net_served<shipping_service> s(enroll_shipping);
    auto c = net::client<shipping_service>::connect(net::address{"127.0.0.1", s.port.receive()});
    REQUIRE(c);
    auto& heap = c->heap();
    auto v = heap.make<vec_t>(heap);
    REQUIRE(v);
    vec_t& vec = **heap.resolve(*v);
    for (std::uint64_t i = 0; i < 20000; ++i) vec.push_back(i * 3);  // grows (reallocates) many times
    auto vs = c->call<sum_vector>(*v);
    REQUIRE(vs);
    CHECK(*vs == 3 * (19999ull * 20000ull / 2));

    // 1,000 nodes, allocated so that the list runs backwards through the heap.
    rpc::shm_ptr<list_node> head;
    std::uint64_t expected = 0;
    for (std::uint64_t i = 1; i <= 1000; ++i) {
        auto n = heap.make<list_node>(list_node{i * i, head});
        REQUIRE(n);
        head = *n;
        expected += i * i;
    }
    auto ls = c->call<sum_list>(head, 1000u);
    REQUIRE(ls);
    CHECK(*ls == expected);
    // A cycle made on the client is caught by the handler's bound, not followed forever.
    (*heap.resolve(head))->next = head;
    auto cyc = c->call<sum_list>(head, 1000u);
    REQUIRE_FALSE(cyc);
    CHECK(cyc.error() == rpc::errc::handler_failed);
    CHECK(rpc::error_detail().find("longer than the bound") != std::string::npos);
    *c = {};
    CHECK(s.server.join().empty());
}

TEST_CASE("net: a client without a heap cannot pass shm_ptrs, and a server refuses too big a heap", "[rpc][net]") {
    net::server_options small;
    small.max_client_arena_bytes = std::size_t{1} << 20;
    served s(1, small);
    const std::uint16_t port = s.port.receive();
    // The default heap (4 MiB) is more than this server accepts.
    auto refused = net::client<test_service>::connect(net::address{"127.0.0.1", port});
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == rpc::errc::rejected);
    CHECK(rpc::error_detail().find("larger than this server accepts") != std::string::npos);

    net::client_options none;
    none.arena_bytes = 0;
    auto c = net::client<test_service>::connect(net::address{"127.0.0.1", port}, none);
    REQUIRE(c);
    CHECK_THROWS_AS(c->heap(), std::logic_error);
    auto r = c->call<sum_array>(rpc::shm_ptr<std::uint64_t>(4096), 1u);
    REQUIRE_FALSE(r);
    CHECK(r.error() == rpc::errc::bad_arguments);
    CHECK(rpc::error_detail().find("arena_bytes 0") != std::string::npos);
    REQUIRE(c->call<noop>());  // nothing was sent; the connection is fine
    *c = {};
    CHECK(s.server.join().empty());
}

TEST_CASE("net: async_call with callbacks and futures, answered in call order", "[rpc][net][async]") {
    served s;
    auto c = connect_to(s.port.receive());
    constexpr std::uint32_t calls = 500;
    std::mutex lock;
    std::vector<std::uint64_t> results;
    std::atomic<std::uint32_t> done{0};
    for (std::uint32_t i = 0; i < calls; ++i) {
        net::async_call<add>(c, std::uint64_t{1000}, i, [&](keel::error_code ec, std::uint64_t v) {
            std::lock_guard guard(lock);
            results.push_back(ec ? ~std::uint64_t{0} : v);
            done.fetch_add(1, std::memory_order_release);
        });
    }
    // A shm_ptr argument ships the heap as it is when the call is made.
    auto p = c.heap().make_array<std::uint64_t>(100);
    REQUIRE(p);
    auto* a = *c.heap().resolve(*p, 100);
    for (std::uint32_t i = 0; i < 100; ++i) a[i] = 2;
    std::future<std::uint64_t> sum = net::async_call<sum_array>(c, *p, 100u, boost::asio::use_future);
    std::future<void> failing = net::async_call<fail>(c, std::int32_t{9}, boost::asio::use_future);
    std::future<void> missing = net::async_call<unhandled>(c, boost::asio::use_future);
    CHECK(sum.get() == 200);
    try {
        failing.get();
        FAIL("the failing call succeeded");
    } catch (const boost::system::system_error& e) {
        CHECK(e.code() == rpc::errc::handler_failed);
    }
    CHECK_THROWS_AS(missing.get(), boost::system::system_error);
    while (done.load(std::memory_order_acquire) != calls) std::this_thread::sleep_for(1ms);
    REQUIRE(results.size() == calls);
    for (std::uint32_t i = 0; i < calls; ++i) CHECK(results[i] == 1000 + i);
    // Synchronous calls share the connection with the completion thread.
    auto r = c.call<add>(std::uint64_t{1}, 2u);
    REQUIRE(r);
    CHECK(*r == 3);
    c = {};
    CHECK(s.server.join().empty());
}

TEST_CASE("net: async_call refusals complete on the completion thread, and destroying the client cancels",
          "[rpc][net][async]") {
    served s(2);
    const std::uint16_t port = s.port.receive();
    auto c = connect_to(port);
    net::client_options none;
    none.arena_bytes = 0;
    auto bare = net::client<test_service>::connect(net::address{"127.0.0.1", port}, none);
    REQUIRE(bare);
    std::promise<std::pair<keel::error_code, std::thread::id>> refused;
    net::async_call<sum_array>(*bare, rpc::shm_ptr<std::uint64_t>(4096), 1u, [&](keel::error_code ec, std::uint64_t) {
        refused.set_value({ec, std::this_thread::get_id()});
    });
    const auto [ec, where] = refused.get_future().get();
    CHECK(ec == rpc::errc::bad_arguments);
    CHECK(where != std::this_thread::get_id());
    *bare = {};
    std::promise<keel::error_code> result;
    net::async_call<hang>(c, [&](keel::error_code e) { result.set_value(e); });
    REQUIRE(s.in_hang.wait());
    c = {};  // joins the completion thread
    auto f = result.get_future();
    REQUIRE(f.wait_for(0s) == std::future_status::ready);
    CHECK(f.get() == std::errc::operation_canceled);
    s.server.kill(SIGKILL);
    (void)s.server.join();
}
