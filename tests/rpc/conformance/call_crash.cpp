// Crashes and corruption during calls: SIGKILL of the server during a call (the call
// fails with peer_dead), SIGKILL of one of two clients (the other keeps calling, the
// server drops the dead one), restarting the server on the same socket path with no
// clean-up, and a client that writes corrupt or random requests into its ring (the
// server answers with an error or drops that connection, and keeps serving others).
#include "../rpc_calls_support.hpp"

#include <catch2/catch.hpp>
#include <catch_result.hpp>
#include <temp_dir.hpp>

#include <random>
#include <thread>

namespace rpc = keel::rpc;
using namespace keel::test;
using namespace std::chrono_literals;

namespace {

rpc::client<test_service> connect_or_fail(const std::string& name, rpc::wait_mode w = rpc::wait_mode::hybrid) {
    auto c = rpc::client<test_service>::connect(name, client_opts(w));
    if (!c) throw std::runtime_error("connect: " + c.error().message() + ": " + rpc::error_detail());
    return std::move(*c);
}

}  // namespace

TEST_CASE("crash: SIGKILL of the server during a call fails the call with peer_dead", "[rpc][crash]") {
    for (auto w : {rpc::wait_mode::busy_poll, rpc::wait_mode::hybrid, rpc::wait_mode::futex}) {
        CAPTURE(rpc::to_string(w));
        const auto name = abstract_name("kill-server");
        signal_pipe in_handler;
        child server([&] {
            rpc::server<test_service> srv(name);
            register_handlers(srv, [&] { in_handler.post(); });
            serve_until_clients_leave(srv);
            return std::string();
        });
        auto c = connect_or_fail(name, w);
        REQUIRE(c.call<noop>());
        std::jthread killer([&] {
            if (in_handler.wait()) server.kill(SIGKILL);
        });
        auto r = c.call<hang>();  // returns once the death is noticed (peer_check_interval)
        REQUIRE_FALSE(r);
        CHECK(r.error() == rpc::errc::peer_dead);
        auto again = c.call<noop>();  // the connection stays dead
        REQUIRE_FALSE(again);
        CHECK(again.error() == rpc::errc::peer_dead);
        killer.join();
        CHECK(server.join().find("killed by signal 9") != std::string::npos);
    }
}

TEST_CASE("crash: SIGKILL of one client, the other keeps calling", "[rpc][crash]") {
    const auto name = abstract_name("kill-client");
    child server([&] {
        rpc::server<test_service> srv(name);
        register_handlers(srv, [] {});
        serve_until_clients_leave(srv, 2);
        return std::string();
    });
    signal_pipe calling;
    child victim([&] {
        auto c = connect_or_fail(name, rpc::wait_mode::busy_poll);
        for (std::uint64_t i = 0;; ++i) {
            auto r = c.call<add>(i, 1u);
            if (!r || *r != i + 1) return std::string("victim call failed");
            if (i == 100) calling.post();
        }
    });
    auto c = connect_or_fail(name);
    REQUIRE(calling.wait());
    auto n = c.call<connections>();
    REQUIRE(n);
    CHECK(*n == 2);
    victim.kill(SIGKILL);
    CHECK(victim.join().find("killed by signal 9") != std::string::npos);
    // The survivor keeps calling; the server notices the death within its
    // housekeeping interval and drops that connection.
    std::uint64_t live = 2;
    for (int i = 0; i < 100000 && live != 1; ++i) {
        auto r = c.call<add>(std::uint64_t{40}, 2u);
        REQUIRE(r);
        CHECK(*r == 42);
        auto k = c.call<connections>();
        REQUIRE(k);
        live = *k;
        if (live != 1) std::this_thread::sleep_for(1ms);
    }
    CHECK(live == 1);
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("crash: a restarted server on the same path needs no clean-up", "[rpc][crash]") {
    temp_dir dir;
    const auto path = dir.file("calls.sock");
    {
        child first([&] {
            rpc::server<test_service> srv(path);
            register_handlers(srv, [] {});
            srv.run(std::stop_token{});  // until killed
            return std::string();
        });
        auto c = connect_or_fail(path);
        REQUIRE(c.call<noop>());
        first.kill(SIGKILL);
        (void)first.join();
        auto r = c.call<noop>();
        REQUIRE_FALSE(r);
        CHECK(r.error() == rpc::errc::peer_dead);
    }
    child second([&] {
        rpc::server<test_service> srv(path);  // the killed server's socket file is reused
        register_handlers(srv, [] {});
        serve_until_clients_leave(srv);
        return std::string();
    });
    auto c = connect_or_fail(path);
    auto r = c.call<add>(std::uint64_t{1}, 1u);
    REQUIRE(r);
    CHECK(*r == 2);
    c = {};
    CHECK(second.join().empty());
}

TEST_CASE("crash: corrupt and random requests cost only their own connection", "[rpc][crash][fuzz]") {
    const auto name = abstract_name("corrupt");
    child server([&] {
        rpc::server<test_service> srv(name);
        register_handlers(srv, [] {});
        serve_until_clients_leave(srv, 3);
        return std::string();
    });
    auto good = connect_or_fail(name);
    REQUIRE(good.call<noop>());

    // 1. A random sequence number in the next request slot: the server drops the
    //    connection; the client's own next call sees the corrupt slot.
    {
        auto bad = connect_or_fail(name);
        REQUIRE(bad.call<noop>());
        auto ch = rpc::detail::map_channels(bad.shared_segment());
        REQUIRE(ch);
        ch->requests.slot(1).seq.store(0x1234567u, std::memory_order_release);
        // The server drops it; calls fail (corrupt slot on this side, or peer_dead).
        for (int i = 0; i < 100000 && bad.conn().peer_alive(); ++i) std::this_thread::sleep_for(1ms);
        CHECK_FALSE(bad.conn().peer_alive());
        auto r = bad.call<noop>();
        REQUIRE_FALSE(r);
        CHECK((r.error() == rpc::errc::channel_corrupt || r.error() == rpc::errc::peer_dead));
    }
    // 2. Seeded random requests (method index, length, call id) written by hand and
    //    published properly: each gets an error response or the connection is dropped;
    //    the server never crashes.
    {
        auto fuzz = connect_or_fail(name);
        auto ch = rpc::detail::map_channels(fuzz.shared_segment());
        REQUIRE(ch);
        std::mt19937_64 rng(20240607);
        std::uint64_t p = 0;
        int answered = 0;
        for (; p < 200 && fuzz.conn().peer_alive(); ++p) {
            auto& s = ch->requests.slot(p);
            const std::uint32_t free = ch->requests.free_value(p);
            const auto pick = rng() % 4;
            s.code.store(pick == 0 ? static_cast<std::uint32_t>(rng()) : static_cast<std::uint32_t>(rng() % 9));
            s.length.store(pick == 1 ? static_cast<std::uint32_t>(rng()) : static_cast<std::uint32_t>(rng() % 40));
            s.call_id.store(pick == 2 ? rng() : p);
            for (std::size_t i = 0; i < rpc::max_inline_payload; ++i) ch->requests.payload(p)[i] = std::byte(rng());
            s.seq.store(free + 1, std::memory_order_release);
            auto& rs = ch->responses.slot(p);
            bool got = false;
            for (int i = 0; i < 20000 && fuzz.conn().peer_alive(); ++i) {
                if (rs.seq.load(std::memory_order_acquire) == free + 1) {
                    got = true;
                    break;
                }
                std::this_thread::sleep_for(50us);
            }
            if (!got) break;  // dropped
            CHECK(rs.call_id.load() == p);
            CHECK(rs.length.load() <= rpc::max_inline_payload);
            rs.seq.store(free + 2, std::memory_order_release);
            ++answered;
        }
        CHECK(answered > 0);
    }
    // The well-behaved client was never affected.
    for (int i = 0; i < 100; ++i) {
        auto r = good.call<add>(std::uint64_t{1}, 2u);
        REQUIRE(r);
        CHECK(*r == 3);
    }
    good = {};
    CHECK(server.join().empty());
}
