// Calls across two processes (fork: the child serves): every wait mode on both
// sides, values, 64-byte structs, shm_ptr arguments resolved with bounds checks,
// handler exceptions, methods without a handler, several threads of one client,
// overload (reject at once, block with a timeout), schema mismatch.
#include "../rpc_calls_support.hpp"

#include <catch2/catch.hpp>
#include <catch_result.hpp>

#include <thread>
#include <vector>

namespace rpc = keel::rpc;
using namespace keel::test;
using namespace std::chrono_literals;

namespace {

std::string run_server(const std::string& name, rpc::wait_mode w, std::size_t clients = 1) {
    rpc::server_options o;
    o.wait = w;
    rpc::server<test_service> srv(name, o);
    register_handlers(srv, [] {});
    serve_until_clients_leave(srv, clients);
    return {};
}

}  // namespace

TEST_CASE("calls: values, structs, void, in every wait-mode pairing", "[rpc][calls]") {
    const rpc::wait_mode modes[] = {rpc::wait_mode::busy_poll, rpc::wait_mode::hybrid, rpc::wait_mode::futex};
    for (auto sw : modes) {
        for (auto cw : modes) {
            CAPTURE(rpc::to_string(sw), rpc::to_string(cw));
            const auto name = abstract_name("calls");
            child server([&] { return run_server(name, sw); });
            auto c = rpc::client<test_service>::connect(name, client_opts(cw));
            REQUIRE(c);
            for (std::uint32_t i = 0; i < 300; ++i) {  // more than a ring's worth: slots are reused
                REQUIRE(c->call<noop>());
                auto r = c->call<add>(std::uint64_t{1} << 40, i);
                REQUIRE(r);
                CHECK(*r == (std::uint64_t{1} << 40) + i);
            }
            blob64 b{};
            for (std::size_t i = 0; i < b.bytes.size(); ++i) b.bytes[i] = static_cast<std::uint8_t>(i);
            auto e = c->call<echo64>(b);
            REQUIRE(e);
            for (std::size_t i = 0; i < b.bytes.size(); ++i) CHECK(e->bytes[i] == static_cast<std::uint8_t>(i + 1));
            c = {};  // the server sees the hang-up and ends
            CHECK(server.join().empty());
        }
    }
}

TEST_CASE("calls: shm_ptr arguments, handler errors, missing handlers", "[rpc][calls]") {
    const auto name = abstract_name("ptr");
    child server([&] { return run_server(name, rpc::wait_mode::hybrid); });
    auto c = rpc::client<test_service>::connect(name, client_opts());
    REQUIRE(c);
    auto p = c->heap().make_array<std::uint64_t>(1000);
    REQUIRE(p);
    auto* a = *c->heap().resolve(*p, 1000);
    for (std::uint32_t i = 0; i < 1000; ++i) a[i] = i;
    auto s = c->call<sum_array>(*p, 1000u);
    REQUIRE(s);
    CHECK(*s == 999u * 1000u / 2);

    // A pointer past the arenas: the handler's resolve refuses it, the call fails, the
    // server stays up.
    auto bad = c->call<sum_array>(rpc::shm_ptr<std::uint64_t>(c->space().size() - 8), 2u);
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == rpc::errc::handler_failed);
    CHECK(rpc::error_detail().find("bad array") != std::string::npos);
    auto huge = c->call<sum_array>(*p, 0xffffffffu);
    REQUIRE_FALSE(huge);
    CHECK(huge.error() == rpc::errc::handler_failed);

    auto f = c->call<fail>(42);
    REQUIRE_FALSE(f);
    CHECK(f.error() == rpc::errc::handler_failed);
    CHECK(rpc::error_detail() == "failing on purpose: 42");

    auto u = c->call<unhandled>();
    REQUIRE_FALSE(u);
    CHECK(u.error() == rpc::errc::unknown_method);

    auto r = c->call<add>(std::uint64_t{2}, 3u);  // still serving
    REQUIRE(r);
    CHECK(*r == 5);
    CHECK(c->heap().deallocate(*p));
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("calls: several threads of one client, several clients", "[rpc][calls]") {
    const auto name = abstract_name("threads");
    child server([&] { return run_server(name, rpc::wait_mode::hybrid, 2); });
    auto c1 = rpc::client<test_service>::connect(name, client_opts());
    auto c2 = rpc::client<test_service>::connect(name, client_opts(rpc::wait_mode::futex));
    REQUIRE(c1);
    REQUIRE(c2);
    std::atomic<int> failures{0};
    {
        std::vector<std::jthread> threads;
        for (std::uint32_t t = 0; t < 4; ++t) {
            auto& c = t % 2 == 0 ? *c1 : *c2;
            threads.emplace_back([&c, &failures, t] {
                for (std::uint32_t i = 0; i < 500; ++i) {
                    auto r = c.call<add>(std::uint64_t{t} << 32, i);
                    if (!r || *r != ((std::uint64_t{t} << 32) + i)) ++failures;
                }
            });
        }
    }
    CHECK(failures.load() == 0);
    auto n = c1->call<connections>();
    REQUIRE(n);
    CHECK(*n == 2);
    c1 = {};
    c2 = {};
    CHECK(server.join().empty());
}

TEST_CASE("calls: overload policy (reject at once, block with a timeout)", "[rpc][calls][overload]") {
    const auto name = abstract_name("overload");
    signal_pipe go;
    child server([&] {
        rpc::server<test_service> srv(name);
        register_handlers(srv, [] {});
        while (srv.connections() == 0) {
            (void)srv.poll_once();
            std::this_thread::sleep_for(1ms);
        }
        if (!go.wait()) return std::string("no go");  // the client fills the ring meanwhile
        serve_until_clients_leave(srv);
        return std::string();
    });
    auto c = rpc::client<test_service>::connect(name, client_opts());
    REQUIRE(c);
    auto noop_with = [&](rpc::overload_policy p, std::chrono::milliseconds t) {
        return c->call_with<noop>(rpc::call_options{.overload = p, .timeout = t});
    };
    // The server does not serve yet: each call is queued and times out waiting.
    std::size_t queued = 0;
    for (;;) {
        auto r = noop_with(rpc::overload_policy::reject, 1ms);
        REQUIRE_FALSE(r);
        if (r.error() == rpc::errc::overloaded) break;
        REQUIRE(r.error() == std::errc::timed_out);
        ++queued;
        REQUIRE(queued <= 1024);
    }
    CHECK(queued >= 2);  // the ring's capacity (64 with the default layout)
    auto blocked = noop_with(rpc::overload_policy::block, 20ms);
    REQUIRE_FALSE(blocked);
    CHECK(blocked.error() == std::errc::timed_out);

    go.post();
    // The timed-out calls still run; their responses are released by later calls.
    for (int i = 0; i < 200; ++i) {
        auto r = c->call_with<add>(rpc::call_options{.overload = rpc::overload_policy::block, .timeout = 20s},
                                   std::uint64_t{7}, 8u);
        REQUIRE(r);
        CHECK(*r == 15);
    }
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("calls: a client of another schema is refused", "[rpc][calls]") {
    using other = rpc::service<"calls", rpc::method<"noop", void(int)>>;
    const auto name = abstract_name("schema");
    child server([&] { return run_server(name, rpc::wait_mode::hybrid); });
    auto bad = rpc::client<other>::connect(name, client_opts());
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == rpc::errc::schema_mismatch);
    auto good = rpc::client<test_service>::connect(name, client_opts());
    REQUIRE(good);
    REQUIRE(good->call<noop>());
    good = {};
    CHECK(server.join().empty());
}

TEST_CASE("calls: schema hashes follow names, order and signatures", "[rpc][calls]") {
    using a = rpc::method<"a", int(int)>;
    using b = rpc::method<"b", int(int)>;
    using a_long = rpc::method<"a", long(int)>;
    STATIC_REQUIRE(rpc::service<"s", a, b>::schema_hash != rpc::service<"s", b, a>::schema_hash);
    STATIC_REQUIRE(rpc::service<"s", a, b>::schema_hash != rpc::service<"t", a, b>::schema_hash);
    STATIC_REQUIRE(rpc::service<"s", a>::schema_hash != rpc::service<"s", a_long>::schema_hash);
    STATIC_REQUIRE(rpc::service<"s", a, b>::index_of<b>() == 1);
    STATIC_REQUIRE(add::argument_bytes == 12);
    STATIC_REQUIRE(echo64::argument_bytes == 64);
}
