#pragma once

// async_apply: trust<T>'s request in Asio's completion-token model. Header-only and kept
// out of <keel/trust.hpp>, so only code that uses Asio parses Asio.

#include <keel/trust/trust.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace keel::trust {
namespace detail {

template <class R>
struct async_signature_of {
    using type = void(std::exception_ptr, R);
};
template <>
struct async_signature_of<void> {
    using type = void(std::exception_ptr);
};
template <class R>
using async_signature = typename async_signature_of<R>::type;

/// The record of one async_apply: the trustee runs f, then hands the completion to the
/// handler's associated executor (dispatch: inline on the trustee for a plain callback,
/// queued for an io_context's coroutine). Work is tracked on that executor meanwhile.
template <class T, class F, class Handler>
struct async_record : record {
    using result_type = apply_result_t<T, F>;
    using executor_type = std::decay_t<decltype(boost::asio::prefer(
        boost::asio::get_associated_executor(std::declval<Handler&>()),
        boost::asio::execution::outstanding_work.tracked))>;

    object_block<T>* block;
    stored<F> fn;
    stored<Handler> handler;
    std::optional<executor_type> work;  ///< keeps the executor's work count up meanwhile

    template <class FA>
    async_record(channel* ch, object_block<T>* b, FA&& f, Handler&& h)
        : record{&run_op, record_size<async_record>(), 0},
          block(b),
          fn(std::in_place, std::forward<FA>(f)),
          handler(std::in_place, std::move(h)),
          work(boost::asio::prefer(boost::asio::get_associated_executor(handler.get()),
                                   boost::asio::execution::outstanding_work.tracked)) {
        object_hold::take(*this, ch, *b);  // last: nothing after it can throw
    }

    static void run_op(record* base, record_op op, channel* ch) {
        auto* self = static_cast<async_record*>(base);
        if (op == record_op::serve) {
            self->serve();
            return;
        }
        const std::uint32_t size = self->size;
        object_block<T>* b = self->block;
        const std::uint32_t flags = self->flags;
        self->~async_record();
        ch->release_front(size);
        object_hold::release(flags, ch, *b);
    }

    void serve() noexcept {
        outcome<result_type> result;
        result.produce([this]() -> result_type {
            return std::invoke(std::move(fn.get()), block->checked_object());
        });
        std::exception_ptr error = result.error();
        try {
            if constexpr (std::is_void_v<result_type>) {
                boost::asio::dispatch(*work, [h = std::move(handler.get()), error]() mutable {
                    std::move(h)(error);
                });
            } else {
                result_type value = error ? result_type{} : result.take();
                boost::asio::dispatch(*work, [h = std::move(handler.get()), error, v = std::move(value)]() mutable {
                    std::move(h)(error, std::move(v));
                });
            }
        } catch (...) {
            // A plain callback dispatched inline threw: nobody on the trustee can take it.
            std::terminate();
        }
        // The completion is on its way: the executor no longer needs our work count.
        work.reset();
    }
};

}  // namespace detail

/// Runs f(T&) on the object's trustee and completes `token` with (exception_ptr, result)
/// — or (exception_ptr) for a void f — in Asio's completion-token model:
///  - a callback `void(std::exception_ptr, R)`: called on the trustee unless an executor
///    is bound to it (boost::asio::bind_executor), so keep it short;
///  - boost::asio::use_future: returns std::future<R>; f's exception comes out of get();
///  - boost::asio::use_awaitable: `R r = co_await async_apply(t, f, use_awaitable);`
///    resumes on the coroutine's executor and rethrows f's exception.
/// The request is published at once. Unlike apply_then, nothing needs this thread to
/// poll: the completion is dispatched by the trustee. R must be default-constructible
/// (the error completion passes R{}).
template <class T, class F, class CompletionToken>
    requires detail::request_for<T, std::decay_t<F>>
auto async_apply(const trust<T>& target, F&& f, CompletionToken&& token) {
    using fn_type = std::decay_t<F>;
    using result_type = apply_result_t<T, fn_type>;
    static_assert(std::is_void_v<result_type> || std::is_default_constructible_v<result_type>,
                  "async_apply: the result type must be default-constructible (it is passed as R{} with an error)");
    return boost::asio::async_initiate<CompletionToken, detail::async_signature<result_type>>(
        [](auto handler, trust<T> t, fn_type fn) {
            auto& b = detail::trust_access::block(t);
            using handler_type = decltype(handler);
            using rec = detail::async_record<T, fn_type, handler_type>;
            detail::channel* ch = detail::channel_to(*b.home);
            if (ch == nullptr) {
                // Called on the object's own trustee: run it here, complete the same way.
                alignas(rec) std::byte space[sizeof(rec)];
                auto* r = ::new (space) rec(nullptr, &b, std::move(fn), std::move(handler));
                r->serve();
                r->~rec();
                return;
            }
            detail::emplace_record<rec>(*ch, ch, &b, std::move(fn), std::move(handler));
            ch->commit(true);
        },
        token, trust<T>(target), fn_type(std::forward<F>(f)));
}

}  // namespace keel::trust
