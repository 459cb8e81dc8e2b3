#pragma once

// async_call: rpc::client calls in Asio's completion-token model. Header-only and kept
// out of <keel/rpc.hpp>, so only code that uses Asio parses Asio.

#include <keel/rpc/client.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>

#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace keel::rpc {
namespace detail {

template <class R>
struct call_signature_of {
    using type = void(error_code, R);
};
template <>
struct call_signature_of<void> {
    using type = void(error_code);
};
template <class R>
using call_signature = typename call_signature_of<R>::type;

/// Completes one async_call: the client's completion thread calls complete(), which
/// hands (error_code, R) to the handler's associated executor (dispatch: inline on the
/// completion thread for a plain callback, queued for an io_context). The executor's
/// work count stays up while the call is outstanding, so io_context::run() waits for it.
template <class R, class Handler>
class asio_completion final : public async_completion {
public:
    explicit asio_completion(Handler&& h)
        : _handler(std::move(h)),
          _work(boost::asio::prefer(boost::asio::get_associated_executor(_handler),
                                    boost::asio::execution::outstanding_work.tracked)) {}

    void complete(result<void> status, std::string text, const std::byte* payload) noexcept override {
        const error_code ec = status ? error_code() : status.error();
        try {
            if constexpr (std::is_void_v<R>) {
                boost::asio::dispatch(_work, [h = std::move(_handler), ec, text = std::move(text)]() mutable {
                    if (ec) fail(ec, std::move(text));  // error_detail() on the handler's thread
                    std::move(h)(ec);
                });
            } else {
                R value{};
                if (!ec) std::memcpy(static_cast<void*>(&value), payload, sizeof(R));
                boost::asio::dispatch(_work, [h = std::move(_handler), ec, text = std::move(text), value]() mutable {
                    if (ec) fail(ec, std::move(text));
                    std::move(h)(ec, value);
                });
            }
        } catch (...) {
            // A plain callback dispatched inline threw: no caller is there to take it.
            std::terminate();
        }
    }

private:
    using work_type = std::decay_t<decltype(boost::asio::prefer(
        boost::asio::get_associated_executor(std::declval<Handler&>()),
        boost::asio::execution::outstanding_work.tracked))>;
    Handler _handler;
    work_type _work;
};

struct client_access {
    template <class Service>
    static client_core& core(client<Service>& c) noexcept {
        return *c._core;
    }
    template <class Method, class Service, class... A>
    static result<std::uint64_t> send(client<Service>& c, const call_options& options,
                                      std::chrono::steady_clock::time_point deadline, A&&... args) {
        return c.template send_call<Method>(deadline, options.overload, options.safety.value_or(Method::safety),
                                            static_cast<typename Method::signature*>(nullptr),
                                            std::forward<A>(args)...);
    }
};

template <class Service>
struct async_access<client<Service>> {
    template <class Method, class... A>
    static result<std::uint64_t> send(client<Service>& c, const call_options& options,
                                      std::chrono::steady_clock::time_point deadline, A&&... args) {
        return client_access::send<Method>(c, options, deadline, std::forward<A>(args)...);
    }
    static void await(client<Service>& c, std::uint64_t p, std::uint32_t result_bytes,
                      std::chrono::steady_clock::time_point deadline, std::unique_ptr<async_completion> done) {
        client_access::core(c).await_async(p, result_bytes, deadline, std::move(done));
    }
    static void refuse(client<Service>& c, error_code ec, std::string text, std::unique_ptr<async_completion> done) {
        client_access::core(c).refuse_async(ec, std::move(text), std::move(done));
    }
};

/// The method's argument types as a tuple of values: async_initiate stores them, so
/// a deferred initiation (use_awaitable, deferred) never reads the caller's temporaries.
template <class Signature>
struct argument_tuple_of;
template <class R, class... Args>
struct argument_tuple_of<R(Args...)> {
    using type = std::tuple<Args...>;
};

template <class Method, class Client>
struct async_initiation {
    template <class Handler, class... Args>
    void operator()(Handler handler, Client* c, call_options options, std::tuple<Args...> args) const {
        using R = typename Method::result_type;
        using access = async_access<Client>;
        if (!*c) throw std::logic_error("keel::rpc::async_call: the client is not connected");
        const auto deadline = platform::deadline_after(options.timeout);
        auto done = std::make_unique<asio_completion<R, Handler>>(std::move(handler));
        auto p = std::apply(
            [&](Args&... a) { return access::template send<Method>(*c, options, deadline, std::move(a)...); }, args);
        if (!p) {
            // Refused before it was sent (overloaded, dead, timed out).
            access::refuse(*c, p.error(), error_detail(), std::move(done));
            return;
        }
        access::await(*c, *p, static_cast<std::uint32_t>(Method::result_bytes), deadline, std::move(done));
    }
};

/// Starts an async call on any client type async_access knows (rpc::client, rpc::net::client).
template <class Method, class Client, class Token, class Refs, std::size_t... I>
auto start_async_call(Client& c, const call_options& options, Token&& token, Refs&& refs,
                      std::index_sequence<I...>) {
    using R = typename Method::result_type;
    using values = typename argument_tuple_of<typename Method::signature>::type;
    static_assert(std::is_void_v<R> || std::is_default_constructible_v<R>,
                  "keel::rpc::async_call: the result type must be default-constructible (an error passes R{})");
    static_assert(sizeof...(I) == std::tuple_size_v<values>, "keel::rpc::async_call: wrong number of arguments");
    return boost::asio::async_initiate<Token, call_signature<R>>(
        async_initiation<Method, Client>{}, token, &c, options,
        values(std::tuple_element_t<I, values>(std::get<I>(std::move(refs)))...));
}

template <class... T, std::size_t... I>
auto leading(std::tuple<T...>&& all, std::index_sequence<I...>) {
    return std::forward_as_tuple(std::get<I>(std::move(all))...);
}

/// Splits (args..., token) and starts the call.
template <class Method, class Client, class... ArgsAndToken>
auto async_call_split(Client& c, const call_options& options, ArgsAndToken&&... args_and_token) {
    static_assert(sizeof...(ArgsAndToken) >= 1, "keel::rpc::async_call: the last argument is the completion token");
    constexpr std::size_t n = sizeof...(ArgsAndToken) - 1;
    auto all = std::forward_as_tuple(std::forward<ArgsAndToken>(args_and_token)...);
    auto&& token = std::get<n>(std::move(all));
    return start_async_call<Method>(c, options, std::forward<decltype(token)>(token),
                                            leading(std::move(all), std::make_index_sequence<n>{}),
                                            std::make_index_sequence<n>{});
}

}  // namespace detail

/// Calls `Method` without blocking: `async_call_with<Method>(client, options, args..., token)`
/// sends the request at once and completes `token` with (error_code, R) — (error_code)
/// for a void method — in Asio's completion-token model:
///  - a callback `void(keel::error_code, R)`: runs on the client's completion thread
///    unless an executor is bound to it (boost::asio::bind_executor), so keep it short;
///  - boost::asio::use_future: std::future<R>; an error comes out of get() as
///    boost::system::system_error;
///  - boost::asio::use_awaitable: `R r = co_await async_call<M>(c, args..., use_awaitable);`
///    resumes on the coroutine's executor and throws boost::system::system_error on error.
/// call_options::safety chooses the mode as for call(), except sealed, which needs the
/// caller to wait (its seals end with the call) and is refused with
/// std::errc::operation_not_supported.
/// Errors are those of client::call; rpc::error_detail() has the sentence on the thread
/// the handler runs on. Many calls may be outstanding; the completion thread (one per
/// client, started by its first async_call) receives responses in call order, so a
/// call's timeout is noticed once the calls before it are answered or have timed out.
/// Destroying the client completes calls still waiting with std::errc::operation_canceled.
/// Thread-safety: as client::call. Cost: call's, plus one heap allocation for the
/// completion and a hand-off to the completion thread.
template <class Method, class Service, class... ArgsAndToken>
auto async_call_with(client<Service>& c, const call_options& options, ArgsAndToken&&... args_and_token) {
    return detail::async_call_split<Method>(c, options, std::forward<ArgsAndToken>(args_and_token)...);
}

/// async_call_with with default call_options.
template <class Method, class Service, class... ArgsAndToken>
auto async_call(client<Service>& c, ArgsAndToken&&... args_and_token) {
    return async_call_with<Method>(c, call_options{}, std::forward<ArgsAndToken>(args_and_token)...);
}

}  // namespace keel::rpc
