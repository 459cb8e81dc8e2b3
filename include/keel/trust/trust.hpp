#pragma once

#include <keel/trust/detail/records.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace keel::trust {

/// Thrown by apply on an object whose runtime has shut down (the object was destroyed
/// then), and by requests issued from other threads after shutdown began.
class runtime_stopped : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// Publishes this thread's gathered apply_then requests and runs the continuations of
/// those that have completed. Continuations run only inside poll, drain and apply.
void poll();
/// Publishes this thread's requests and waits until every one has completed and its
/// continuation has run.
void drain();

/// The result apply returns for a function F applied to a T.
template <class T, class F>
using apply_result_t = detail::apply_result_t<T, F>;

template <class T>
class trust;

namespace detail {
/// The calling thread's channel to `t`, opened on first use; nullptr when the calling
/// thread is `t` itself. Throws runtime_stopped when the runtime no longer accepts.
channel* channel_to(trustee& t);
/// The same for a handle's last release: never throws; nullptr when the runtime has
/// stopped or the calling thread is `t`.
channel* channel_for_release(trustee& t) noexcept;
/// True when the calling thread is `t`.
bool on_trustee(const trustee& t) noexcept;
unsigned trustee_index(const trustee& t) noexcept;

template <class T, class... A>
trust<T> make_trust(trustee& t, std::shared_ptr<runtime_core> rt, A&&... args);

/// For request forms built outside trust<T> (async_apply): the handle's block.
struct trust_access {
    template <class T>
    static object_block<T>& block(const trust<T>& t) {
        return t.block();
    }
};
}  // namespace detail

/// A handle to an object that lives on a trustee thread. Instead of locking it, callers
/// send it functions: the trustee runs them one at a time, so F needs no locking and
/// the object's cache lines stay on the trustee.
///
/// Handles are copyable (a reference count); the object is destroyed on its trustee
/// when the last handle goes. A handle may be used from any thread, including trustees:
/// on the object's own trustee apply runs inline; on another trustee the caller keeps
/// serving its own clients while it waits, so trustees may call each other in cycles.
/// Note that this means a function that waits on another trustee is not atomic with
/// respect to other requests its own trustee serves meanwhile.
///
/// Cost: apply is a round trip (two cache-line transfers plus the trustee's queueing);
/// apply_then writes a record into this thread's ring and returns.
template <class T>
class trust {
public:
    using element_type = T;

    /// An empty handle; apply on it throws std::logic_error.
    trust() noexcept = default;
    trust(const trust& other) noexcept : _block(other._block) {
        if (_block) _block->refs.fetch_add(1, std::memory_order_relaxed);
    }
    trust(trust&& other) noexcept : _block(std::exchange(other._block, nullptr)) {}
    trust& operator=(trust other) noexcept {
        std::swap(_block, other._block);
        return *this;
    }
    ~trust() { reset(); }

    /// Drops this handle (the object goes with the last one).
    void reset() noexcept {
        if (auto* b = std::exchange(_block, nullptr)) detail::drop_reference(*b);
    }

    /// Runs f(T&) on the trustee and returns its result; an exception thrown by f is
    /// rethrown here. Blocks until done. Also runs the continuations of this thread's
    /// completed apply_then requests to the same trustee (in order, before returning).
    template <class F>
        requires detail::request_for<T, F>
    apply_result_t<T, F> apply(F&& f) const {
        auto& b = block();
        detail::channel* ch = detail::channel_to(*b.home);
        if (ch == nullptr) return std::invoke(std::forward<F>(f), b.checked_object());
        using rec = detail::sync_record<T, F>;
        detail::outcome<apply_result_t<T, F>> out;
        detail::emplace_record<rec>(*ch, &b, std::forward<F>(f), &out);
        ch->wait_finished(ch->commit(true));
        return out.take();
    }

    /// Sends f(T&) to the trustee and returns at once; `then(result)` (or `then()` for
    /// a void f) runs later on this thread, inside poll, drain or apply. If f throws,
    /// `then` is not called and the exception is rethrown from that poll, drain or
    /// apply. f and then are moved into this thread's ring (boxed if larger than 192 B).
    template <class F, class C>
        requires detail::request_for<T, std::decay_t<F>>
    void apply_then(F&& f, C&& then) const {
        using fn_type = std::decay_t<F>;
        using then_type = std::decay_t<C>;
        using result_type = apply_result_t<T, fn_type>;
        static_assert(std::is_void_v<result_type> ? std::is_invocable_v<then_type>
                                                  : std::is_invocable_v<then_type, result_type>,
                      "apply_then: the continuation must accept f's result (or nothing for void)");
        auto& b = block();
        detail::channel* ch = detail::channel_to(*b.home);
        if (ch == nullptr) {
            if constexpr (std::is_void_v<result_type>) {
                std::invoke(std::forward<F>(f), b.checked_object());
                std::invoke(std::forward<C>(then));
            } else {
                std::invoke(std::forward<C>(then), std::invoke(std::forward<F>(f), b.checked_object()));
            }
            return;
        }
        using rec = detail::then_record<T, fn_type, then_type>;
        detail::emplace_record<rec>(*ch, *ch, &b, std::forward<F>(f), std::forward<C>(then));
        ch->commit(false);
    }

    /// The index of the object's trustee in its runtime.
    [[nodiscard]] unsigned trustee_index() const { return detail::trustee_index(*block().home); }
    /// Handles sharing this object (a snapshot; others may change it concurrently).
    [[nodiscard]] std::size_t use_count() const noexcept {
        return _block ? _block->refs.load(std::memory_order_relaxed) : 0;
    }
    explicit operator bool() const noexcept { return _block != nullptr; }
    friend bool operator==(const trust& a, const trust& b) noexcept { return a._block == b._block; }

private:
    friend struct detail::trust_access;
    template <class U, class... A>
    friend trust<U> detail::make_trust(detail::trustee&, std::shared_ptr<detail::runtime_core>, A&&...);

    explicit trust(detail::object_block<T>* b) noexcept : _block(b) {}

    detail::object_block<T>& block() const {
        if (_block == nullptr) throw std::logic_error("keel::trust: request on an empty trust handle");
        return *_block;
    }

    detail::object_block<T>* _block = nullptr;
};

namespace detail {

template <class T, class... A>
trust<T> make_trust(trustee& t, std::shared_ptr<runtime_core> rt, A&&... args) {
    static_assert(std::is_nothrow_destructible_v<T>, "an entrusted object's destructor must not throw");
    auto make = [&]() -> T { return T(std::forward<A>(args)...); };
    auto* b = new object_block<T>(&t, std::move(rt));
    try {
        channel* ch = channel_to(t);
        if (ch == nullptr) {
            b->construct(make);
        } else {
            outcome<void> out;
            emplace_record<construct_record<T, decltype(make)>>(*ch, b, &make, &out);
            ch->wait_finished(ch->commit(true));
            out.take();
        }
    } catch (...) {
        delete b;
        throw;
    }
    return trust<T>(b);
}

}  // namespace detail
}  // namespace keel::trust
