#pragma once

#include <keel/sync/monitor.hpp>
#include <keel/sync/monitor_word.hpp>

#include <concepts>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace keel::sync {

/// True when an object carries its own monitor word: either an ADL function
/// `monitor_word_of(obj)` returning `keel::sync::monitor_word&` (the customization
/// point), or a member `monitor` of type monitor_word.
template <class T>
concept has_monitor_word = requires(T& obj) {
    { monitor_word_of(obj) } -> std::same_as<monitor_word&>;
} || requires(T& obj) {
    { (obj.monitor) } -> std::same_as<monitor_word&>;
};

namespace detail {

template <class T>
monitor_word& word_of(T& obj) {
    if constexpr (requires { { monitor_word_of(obj) } -> std::same_as<monitor_word&>; }) {
        return monitor_word_of(obj);
    } else {
        return obj.monitor;
    }
}

// An object whose word is reachable only when non-const must not silently fall back
// to the side table when const: the two would not exclude each other.
template <class T>
inline constexpr bool consistent_monitor =
    has_monitor_word<T> || !has_monitor_word<std::remove_const_t<T>>;

}  // namespace detail

/// Holds obj's monitor for its lifetime (RAII): the object's monitor_word when it has
/// one (has_monitor_word), else its side-table monitor. wait(), notify() and
/// notify_all() act on that monitor. Reentrant: guards on the same object nest.
/// Not copyable or movable; use on the thread that made it. Cost: the monitor's.
template <class T>
class monitor_guard {
    static_assert(detail::consistent_monitor<T>,
                  "this object's monitor_word is not reachable through const: declare it mutable");

public:
    explicit monitor_guard(T& obj) : _obj(std::addressof(obj)) {
        if constexpr (has_monitor_word<T>) {
            detail::word_of(obj).lock();
        } else {
            _record = global_monitor_table().enter(_obj);
        }
    }
    ~monitor_guard() {
        if constexpr (has_monitor_word<T>) {
            detail::word_of(*_obj).unlock();
        } else {
            global_monitor_table().exit(_record);
        }
    }
    monitor_guard(const monitor_guard&) = delete;
    monitor_guard& operator=(const monitor_guard&) = delete;

    /// Releases the monitor completely, waits for a notify, re-acquires it.
    void wait() {
        if constexpr (has_monitor_word<T>) {
            detail::word_of(*_obj).wait();
        } else {
            global_monitor_table().wait(_record);
        }
    }
    void notify() {
        if constexpr (has_monitor_word<T>) {
            detail::word_of(*_obj).notify();
        } else {
            global_monitor_table().notify(_record);
        }
    }
    void notify_all() {
        if constexpr (has_monitor_word<T>) {
            detail::word_of(*_obj).notify_all();
        } else {
            global_monitor_table().notify_all(_record);
        }
    }

private:
    T* _obj;
    monitor_table::record* _record = nullptr;  // side table: the entered record
};

/// Runs f (as f(obj) if that compiles, else f()) while holding obj's monitor and
/// returns what f returns; the monitor is released on return and on throw.
template <class T, class F>
decltype(auto) synchronized(T& obj, F&& f) {
    monitor_guard<T> guard(obj);
    if constexpr (std::is_invocable_v<F, T&>) {
        return std::invoke(std::forward<F>(f), obj);
    } else {
        return std::invoke(std::forward<F>(f));
    }
}

/// wait/notify on obj's monitor, which the calling thread must own (through a
/// monitor_guard or synchronized); misuse aborts with a message.
template <class T>
void monitor_wait(T& obj) {
    static_assert(detail::consistent_monitor<T>);
    if constexpr (has_monitor_word<T>) {
        detail::word_of(obj).wait();
    } else {
        monitor(std::addressof(obj)).wait();
    }
}

template <class T>
void monitor_notify(T& obj) {
    static_assert(detail::consistent_monitor<T>);
    if constexpr (has_monitor_word<T>) {
        detail::word_of(obj).notify();
    } else {
        monitor(std::addressof(obj)).notify();
    }
}

template <class T>
void monitor_notify_all(T& obj) {
    static_assert(detail::consistent_monitor<T>);
    if constexpr (has_monitor_word<T>) {
        detail::word_of(obj).notify_all();
    } else {
        monitor(std::addressof(obj)).notify_all();
    }
}

}  // namespace keel::sync
