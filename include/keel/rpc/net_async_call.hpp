#pragma once

// async_call for rpc::net clients: the Asio completion-token API of keel/rpc/async_call.hpp
// over the network. Header-only; kept out of <keel/rpc/net.hpp> so only code that uses
// Asio parses Asio.

#include <keel/rpc/async_call.hpp>
#include <keel/rpc/net.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace keel::rpc {
namespace detail {

template <class Service>
struct async_access<net::client<Service>> {
    template <class Method, class... A>
    static result<std::uint64_t> send(net::client<Service>& c, const call_options&,
                                      std::chrono::steady_clock::time_point, A&&... args) {
        return c.template send_call<Method>(static_cast<typename Method::signature*>(nullptr),
                                            std::forward<A>(args)...);
    }
    static void await(net::client<Service>& c, std::uint64_t id, std::uint32_t result_bytes,
                      std::chrono::steady_clock::time_point deadline, std::unique_ptr<async_completion> done) {
        net::detail::await_async(*c._core, id, result_bytes, deadline, std::move(done));
    }
    static void refuse(net::client<Service>& c, error_code ec, std::string text,
                       std::unique_ptr<async_completion> done) {
        net::detail::refuse_async(*c._core, ec, std::move(text), std::move(done));
    }
};

}  // namespace detail

namespace net {

/// rpc::async_call_with over the network: sends at once and completes `token` with
/// (error_code, R) — (error_code) for a void method — as a callback, use_future or
/// use_awaitable (see keel/rpc/async_call.hpp). shm_ptr arguments ship the client's
/// heap as call() does, at the moment of the call. call_options::timeout applies;
/// safety needs nothing over the network (the server reads its own copy).
/// One completion thread per client (started by its first async call) receives the
/// responses in call order; destroying the client completes calls still waiting with
/// std::errc::operation_canceled. Thread-safety: as client::call. Cost: call's, plus
/// one heap allocation for the completion and a hand-off to the completion thread.
template <class Method, class Service, class... ArgsAndToken>
auto async_call_with(client<Service>& c, const call_options& options, ArgsAndToken&&... args_and_token) {
    return rpc::detail::async_call_split<Method>(c, options, std::forward<ArgsAndToken>(args_and_token)...);
}

/// async_call_with with default call_options.
template <class Method, class Service, class... ArgsAndToken>
auto async_call(client<Service>& c, ArgsAndToken&&... args_and_token) {
    return async_call_with<Method>(c, call_options{}, std::forward<ArgsAndToken>(args_and_token)...);
}

}  // namespace net
}  // namespace keel::rpc
