#pragma once

// Typed request records: what a client writes into a channel and how the trustee and
// the client each run their half. Small closures, results and continuations live in
// the record itself; large ones are boxed so a record stays within a quarter ring.

#include <keel/trust/detail/block.hpp>
#include <keel/trust/detail/channel.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace keel::trust::detail {

/// Objects up to this size (and nothrow-movable) are stored inside a record.
inline constexpr std::size_t inline_limit = 192;

template <class X>
inline constexpr bool stored_inline =
    sizeof(X) <= inline_limit && alignof(X) <= record_align && std::is_nothrow_move_constructible_v<X>;

/// An X stored in a record: in place when small, behind a unique_ptr otherwise.
template <class X, bool Inline = stored_inline<X>>
class stored {
public:
    template <class... A>
    explicit stored(std::in_place_t, A&&... args) : _value(std::forward<A>(args)...) {}
    X& get() noexcept { return _value; }

private:
    [[no_unique_address]] X _value;
};

template <class X>
class stored<X, false> {
public:
    template <class... A>
    explicit stored(std::in_place_t, A&&... args)
        : _value(std::make_unique<X>(std::forward<A>(args)...)) {}
    X& get() noexcept { return *_value; }

private:
    std::unique_ptr<X> _value;
};

/// A result or the exception that replaced it, built in place on the trustee.
template <class R>
class outcome {
public:
    outcome() noexcept {}
    outcome(const outcome&) = delete;
    outcome& operator=(const outcome&) = delete;
    ~outcome() { reset(); }

    template <class Fn>
    void produce(Fn&& fn) noexcept {
        try {
            ::new (static_cast<void*>(&_value)) stored<R>(std::in_place, std::forward<Fn>(fn)());
            _state = state::value;
        } catch (...) {
            ::new (static_cast<void*>(&_error)) std::exception_ptr(std::current_exception());
            _state = state::error;
        }
    }

    /// Takes the value over from `other` (which is left empty).
    void adopt(outcome& other) noexcept {
        reset();
        if (other._state == state::value)
            ::new (static_cast<void*>(&_value)) stored<R>(std::move(other._value));
        else if (other._state == state::error)
            ::new (static_cast<void*>(&_error)) std::exception_ptr(std::move(other._error));
        _state = other._state;
        other.reset();
    }

    [[nodiscard]] std::exception_ptr error() const noexcept {
        return _state == state::error ? _error : nullptr;
    }

    /// The value, or rethrows the exception.
    R take() {
        if (_state == state::error) std::rethrow_exception(_error);
        return std::move(_value.get());
    }

private:
    enum class state : std::uint8_t { empty, value, error };

    void reset() noexcept {
        if (_state == state::value)
            _value.~stored<R>();
        else if (_state == state::error)
            _error.~exception_ptr();
        _state = state::empty;
    }

    union {
        stored<R> _value;
        std::exception_ptr _error;
    };
    state _state = state::empty;
};

/// A void result is success unless an exception is there: 8 bytes, and the trustee
/// writes nothing into the record unless f throws (the record's lines travel one way).
template <>
class outcome<void> {
public:
    outcome() noexcept = default;
    outcome(const outcome&) = delete;
    outcome& operator=(const outcome&) = delete;

    template <class Fn>
    void produce(Fn&& fn) noexcept {
        try {
            std::forward<Fn>(fn)();
        } catch (...) {
            _error = std::current_exception();
        }
    }
    void adopt(outcome& other) noexcept { _error = std::exchange(other._error, nullptr); }
    [[nodiscard]] std::exception_ptr error() const noexcept { return _error; }
    void take() {
        if (_error) std::rethrow_exception(std::exchange(_error, nullptr));
    }

private:
    std::exception_ptr _error;
};

template <class Rec>
constexpr std::uint32_t record_size() {
    return static_cast<std::uint32_t>((sizeof(Rec) + record_align - 1) / record_align * record_align);
}

/// Constructs a record of type Rec in space reserved on `ch`; if construction throws,
/// the space becomes padding so the ring stays well formed.
template <class Rec, class... A>
Rec* emplace_record(channel& ch, A&&... args) {
    constexpr std::uint32_t size = record_size<Rec>();
    static_assert(size <= 1024, "a record must fit a quarter of the smallest ring (4 KiB)");
    void* at = ch.reserve(size);
    try {
        return ::new (at) Rec(std::forward<A>(args)...);
    } catch (...) {
        ::new (at) record{nullptr, size, 0};
        throw;
    }
}

/// A closure the waiting client keeps alive: a small copy in the record (the trustee
/// reads it from lines it fetches anyway) or a pointer to the client's own.
template <class F>
class borrowed_closure {
    using value_type = std::remove_cvref_t<F>;
    static constexpr bool copy = stored_inline<value_type> &&
                                 std::is_nothrow_constructible_v<value_type, F&&>;

public:
    explicit borrowed_closure(F&& f) noexcept : _f(init(std::forward<F>(f))) {}

    template <class T>
    decltype(auto) call(T& object) {
        if constexpr (copy)
            return std::invoke(std::move(_f), object);
        else
            return std::invoke(std::forward<F>(*_f), object);
    }

private:
    using holder = std::conditional_t<copy, value_type, std::remove_reference_t<F>*>;
    static holder init(F&& f) noexcept {
        if constexpr (copy)
            return holder(std::forward<F>(f));
        else
            return std::addressof(f);
    }
    holder _f;
};

/// The result type of running F on a T, checked for what a trustee may hand back.
template <class T, class F>
using apply_result_t = std::invoke_result_t<F, T&>;

template <class T, class F>
concept request_for = std::invocable<F, T&> && !std::is_reference_v<apply_result_t<T, F>>;

/// apply(): the client waits, so the closure is borrowed; the result travels back in
/// the record and is moved to the waiter's `outcome` when the record is finished.
template <class T, class F>
struct sync_record : record {
    using result_type = apply_result_t<T, F>;
    object_block<T>* block;
    borrowed_closure<F> fn;
    outcome<result_type> result;
    outcome<result_type>* out;

    sync_record(object_block<T>* b, F&& f, outcome<result_type>* o) noexcept
        : record{&run_op, record_size<sync_record>(), 0}, block(b), fn(std::forward<F>(f)), out(o) {}

    static void run_op(record* base, record_op op, channel* ch) {
        auto* self = static_cast<sync_record*>(base);
        if (op == record_op::serve) {
            self->result.produce([self]() -> result_type {
                return self->fn.call(self->block->checked_object());
            });
            return;
        }
        self->out->adopt(self->result);
        const std::uint32_t size = self->size;
        self->~sync_record();
        ch->release_front(size);
    }
};

/// Keeps a request's object alive until the client has finished its record: a share
/// of the channel's reference, or a reference of its own when the table is full (noted
/// in the record's flags). Without a channel (run inline on its own trustee) it holds
/// nothing.
struct object_hold {
    static void take(record& r, channel* ch, block_base& b) noexcept {
        if (ch == nullptr || ch->pin(b)) return;
        b.refs.fetch_add(1, std::memory_order_relaxed);
        r.flags |= record::owns_reference;
    }
    static void release(std::uint32_t flags, channel* ch, block_base& b) noexcept {
        if (flags & record::owns_reference)
            drop_reference(b);
        else if (ch != nullptr)
            ch->unpin(b);
    }
};

/// apply_then(): the closure and the continuation are owned by the record; the
/// continuation runs on the client, with the result, when the record is finished.
template <class T, class F, class C>
struct then_record : record {
    using result_type = apply_result_t<T, F>;
    object_block<T>* block;
    outcome<result_type> result;
    [[no_unique_address]] stored<F> fn;
    [[no_unique_address]] stored<C> then;

    template <class FA, class CA>
    then_record(channel& ch, object_block<T>* b, FA&& f, CA&& c)
        : record{&run_op, record_size<then_record>(), 0}, block(b), fn(std::in_place, std::forward<FA>(f)),
          then(std::in_place, std::forward<CA>(c)) {
        object_hold::take(*this, &ch, *b);  // last: nothing after it can throw
    }

    static void run_op(record* base, record_op op, channel* ch) {
        auto* self = static_cast<then_record*>(base);
        if (op == record_op::serve) {
            self->result.produce([self]() -> result_type {
                return std::invoke(std::move(self->fn.get()), self->block->checked_object());
            });
            return;
        }
        // Move what the continuation needs off the ring, give the bytes back, then run
        // user code: it may issue requests on this same channel.
        outcome<result_type> result;
        result.adopt(self->result);
        C then(std::move(self->then.get()));
        const std::uint32_t size = self->size;
        object_block<T>* b = self->block;
        const std::uint32_t flags = self->flags;
        self->~then_record();
        ch->release_front(size);
        object_hold::release(flags, ch, *b);
        if constexpr (std::is_void_v<result_type>) {
            result.take();
            std::move(then)();
        } else {
            std::move(then)(result.take());
        }
    }
};

/// Builds the object in its block on the trustee (entrust).
template <class T, class Make>
struct construct_record : record {
    object_block<T>* block;
    Make* make;
    outcome<void> result;
    outcome<void>* out;

    construct_record(object_block<T>* b, Make* m, outcome<void>* o) noexcept
        : record{&run_op, record_size<construct_record>(), 0}, block(b), make(m), out(o) {}

    static void run_op(record* base, record_op op, channel* ch) {
        auto* self = static_cast<construct_record*>(base);
        if (op == record_op::serve) {
            self->result.produce([self] { self->block->construct(*self->make); });
            return;
        }
        self->out->adopt(self->result);
        const std::uint32_t size = self->size;
        self->~construct_record();
        ch->release_front(size);
    }
};

/// The last handle went away on another thread: destroy the object on its trustee.
struct destroy_record : record {
    block_base* block;

    explicit destroy_record(block_base* b) noexcept
        : record{&run_op, record_size<destroy_record>(), 0}, block(b) {}

    static void run_op(record* base, record_op op, channel* ch) {
        auto* self = static_cast<destroy_record*>(base);
        if (op == record_op::serve) {
            self->block->destroy_on_trustee();
            return;
        }
        const std::uint32_t size = self->size;
        ch->release_front(size);
    }
};

}  // namespace keel::trust::detail
