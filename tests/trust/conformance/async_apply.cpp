// async_apply with Asio's three kinds of completion token.
#include <keel/trust.hpp>
#include <keel/trust/async_apply.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

namespace asio = boost::asio;
namespace kt = keel::trust;

TEST_CASE("async_apply with a callback", "[trust][async]") {
    kt::runtime rt;
    auto c = rt.entrust<long>(0L);
    const auto trustee = c.apply([](long&) { return std::this_thread::get_id(); });

    std::promise<std::pair<long, std::thread::id>> done;
    kt::async_apply(c, [](long& v) { return v += 5; }, [&](std::exception_ptr e, long v) {
        CHECK_FALSE(e);
        done.set_value({v, std::this_thread::get_id()});
    });
    const auto [value, ran_on] = done.get_future().get();
    CHECK(value == 5);
    CHECK(ran_on == trustee);  // no executor bound: completes on the trustee

    std::promise<std::string> failed;
    kt::async_apply(c, [](long&) -> long { throw std::runtime_error("no"); }, [&](std::exception_ptr e, long v) {
        CHECK(v == 0);
        try {
            std::rethrow_exception(e);
        } catch (const std::runtime_error& x) {
            failed.set_value(x.what());
        }
    });
    CHECK(failed.get_future().get() == "no");
}

TEST_CASE("async_apply with a callback bound to an io_context runs it there", "[trust][async]") {
    kt::runtime rt;
    auto c = rt.entrust<long>(1L);
    asio::io_context io;
    std::thread::id ran_on;
    long got = 0;
    kt::async_apply(c, [](long& v) { return v * 3; },
                    asio::bind_executor(io, [&](std::exception_ptr, long v) {
                        got = v;
                        ran_on = std::this_thread::get_id();
                    }));
    // run() must not return before the completion arrives: the request holds work.
    io.run();
    CHECK(got == 3);
    CHECK(ran_on == std::this_thread::get_id());
}

TEST_CASE("async_apply with use_future", "[trust][async]") {
    kt::runtime rt;
    auto c = rt.entrust<long>(10L);
    std::future<long> f = kt::async_apply(c, [](long& v) { return ++v; }, asio::use_future);
    CHECK(f.get() == 11);
    std::future<void> g = kt::async_apply(c, [](long& v) { v = 0; }, asio::use_future);
    g.get();
    std::future<long> h = kt::async_apply(c, [](long&) -> long { throw std::out_of_range("gone"); }, asio::use_future);
    CHECK_THROWS_AS(h.get(), std::out_of_range);
    CHECK(c.apply([](long& v) { return v; }) == 0);
}

TEST_CASE("async_apply with use_awaitable in a C++20 coroutine", "[trust][async]") {
    kt::runtime rt(kt::runtime_options{.trustees = 2});
    auto a = rt.entrust_on<long>(0, 0L);
    auto b = rt.entrust_on<std::string>(1, "x");
    asio::io_context io;
    long total = 0;
    std::string text;
    bool caught = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 100; ++i) total = co_await kt::async_apply(a, [](long& v) { return ++v; }, asio::use_awaitable);
        text = co_await kt::async_apply(b, [](std::string& s) { return s += "yz"; }, asio::use_awaitable);
        try {
            co_await kt::async_apply(a, [](long&) { throw std::logic_error("bad"); }, asio::use_awaitable);
        } catch (const std::logic_error&) {
            caught = true;
        }
    }, asio::detached);
    io.run();
    CHECK(total == 100);
    CHECK(text == "xyz");
    CHECK(caught);
}

TEST_CASE("async_apply on the object's own trustee completes inline", "[trust][async]") {
    kt::runtime rt;
    auto c = rt.entrust<long>(0L);
    const long seen = c.apply([c](long& v) {
        v = 41;
        long got = 0;
        kt::async_apply(c, [](long& w) { return ++w; }, [&](std::exception_ptr, long r) { got = r; });
        return got;
    });
    CHECK(seen == 42);
}
