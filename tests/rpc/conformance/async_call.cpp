// async_call across two processes (fork: the child serves): the three completion-token
// kinds (callback, use_future, use_awaitable), many calls outstanding from one thread,
// errors carried as error codes with their detail, a bound executor, the server dying
// under outstanding calls, and a client destroyed while calls wait.
#include "../rpc_calls_support.hpp"

#include <keel/rpc/async_call.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace rpc = keel::rpc;
using namespace keel::test;
using namespace std::chrono_literals;

namespace {

struct served {
    std::string name = abstract_name("async");
    signal_pipe in_hang;
    child server{[this] {
        rpc::server<test_service> srv(name);
        register_handlers(srv, [this] { in_hang.post(); });
        serve_until_clients_leave(srv);
        return std::string();
    }};
};

rpc::client<test_service> connect_to(const std::string& name) {
    auto c = rpc::client<test_service>::connect(name, client_opts());
    if (!c) throw std::runtime_error("connect: " + c.error().message() + ": " + rpc::error_detail());
    return std::move(*c);
}

}  // namespace

TEST_CASE("async_call: callbacks, many outstanding from one thread, answered in order", "[rpc][async]") {
    served s;
    auto c = connect_to(s.name);
    constexpr std::uint32_t calls = 1000;  // far more than the ring's 64 slots
    std::mutex lock;
    std::vector<std::uint64_t> results;
    std::atomic<std::uint32_t> done{0};
    for (std::uint32_t i = 0; i < calls; ++i) {
        rpc::async_call<add>(c, std::uint64_t{1000}, i, [&](keel::error_code ec, std::uint64_t v) {
            std::lock_guard guard(lock);
            results.push_back(ec ? ~std::uint64_t{0} : v);
            done.fetch_add(1, std::memory_order_release);
        });
    }
    std::promise<keel::error_code> void_done;
    rpc::async_call<noop>(c, [&](keel::error_code ec) { void_done.set_value(ec); });
    CHECK_FALSE(void_done.get_future().get());
    while (done.load(std::memory_order_acquire) != calls) std::this_thread::sleep_for(1ms);
    REQUIRE(results.size() == calls);
    for (std::uint32_t i = 0; i < calls; ++i) CHECK(results[i] == 1000 + i);  // one completion thread, call order
    c = {};
    CHECK(s.server.join().empty());
}

TEST_CASE("async_call: use_future gives values and throws the call's error", "[rpc][async]") {
    served s;
    auto c = connect_to(s.name);
    std::future<std::uint64_t> f = rpc::async_call<add>(c, std::uint64_t{40}, 2u, asio::use_future);
    CHECK(f.get() == 42);
    blob64 b{};
    b.bytes[7] = 7;
    std::future<blob64> e = rpc::async_call<echo64>(c, b, asio::use_future);
    CHECK(e.get().bytes[7] == 8);
    std::future<void> failing = rpc::async_call<fail>(c, std::int32_t{5}, asio::use_future);
    try {
        failing.get();
        FAIL("no exception");
    } catch (const boost::system::system_error& x) {
        CHECK(x.code() == rpc::errc::handler_failed);
    }
    std::future<void> missing = rpc::async_call<unhandled>(c, asio::use_future);
    try {
        missing.get();
        FAIL("no exception");
    } catch (const boost::system::system_error& x) {
        CHECK(x.code() == rpc::errc::unknown_method);
    }
    c = {};
    CHECK(s.server.join().empty());
}

TEST_CASE("async_call: use_awaitable in a coroutine, completions on the io_context thread", "[rpc][async]") {
    served s;
    auto c = connect_to(s.name);
    asio::io_context io;
    std::uint64_t sum = 0;
    bool threw = false;
    std::string detail;
    std::thread::id resumed_on{};
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (std::uint32_t i = 0; i < 200; ++i) sum += co_await rpc::async_call<add>(c, std::uint64_t{0}, i, asio::use_awaitable);
            try {
                co_await rpc::async_call<fail>(c, std::int32_t{9}, asio::use_awaitable);
            } catch (const boost::system::system_error& x) {
                threw = x.code() == rpc::errc::handler_failed;
                detail = rpc::error_detail();  // set on this thread before it resumed
            }
            resumed_on = std::this_thread::get_id();
        },
        asio::detached);
    io.run();  // returns once the coroutine is done: outstanding calls keep it busy
    CHECK(sum == 199 * 200 / 2);
    CHECK(threw);
    CHECK(detail.find("failing on purpose: 9") != std::string::npos);
    CHECK(resumed_on == std::this_thread::get_id());

    // A callback bound to an executor runs there, not on the completion thread.
    std::thread::id ran_on{};
    io.restart();
    rpc::async_call<noop>(c, asio::bind_executor(io, [&](keel::error_code ec) {
                              CHECK_FALSE(ec);
                              ran_on = std::this_thread::get_id();
                          }));
    io.run();
    CHECK(ran_on == std::this_thread::get_id());
    c = {};
    CHECK(s.server.join().empty());
}

TEST_CASE("async_call: the server dies under outstanding calls: each completes with peer_dead", "[rpc][async]") {
    served s;
    auto c = connect_to(s.name);
    REQUIRE(c.call<noop>());
    std::future<void> hung = rpc::async_call<hang>(c, asio::use_future);
    std::vector<std::future<std::uint64_t>> queued;
    for (std::uint32_t i = 0; i < 10; ++i) queued.push_back(rpc::async_call<add>(c, std::uint64_t{1}, i, asio::use_future));
    REQUIRE(s.in_hang.wait());
    s.server.kill(SIGKILL);
    auto code_of = [](auto& f) {
        try {
            f.get();
        } catch (const boost::system::system_error& x) {
            return x.code();
        }
        return keel::error_code();
    };
    CHECK(code_of(hung) == rpc::errc::peer_dead);
    for (auto& f : queued) CHECK(code_of(f) == rpc::errc::peer_dead);
    // A call after the death is refused before it is sent, and still completes.
    auto late = rpc::async_call<noop>(c, asio::use_future);
    CHECK(code_of(late) == rpc::errc::peer_dead);
    CHECK(s.server.join().find("killed by signal 9") != std::string::npos);
}

TEST_CASE("async_call: destroying the client cancels calls still waiting", "[rpc][async]") {
    served s;
    auto c = connect_to(s.name);
    std::promise<keel::error_code> result;
    rpc::async_call<hang>(c, [&](keel::error_code ec) { result.set_value(ec); });
    REQUIRE(s.in_hang.wait());
    c = {};  // joins the completion thread
    auto f = result.get_future();
    REQUIRE(f.wait_for(0s) == std::future_status::ready);
    CHECK(f.get() == std::errc::operation_canceled);
    s.server.kill(SIGKILL);
    (void)s.server.join();
}
