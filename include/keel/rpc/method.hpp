#pragma once

#include <keel/rpc/channel.hpp>
#include <keel/rpc/safety.hpp>
#include <keel/rpc/segment.hpp>
#include <keel/rpc/shm_ptr.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <utility>

namespace keel::rpc {

/// A string usable as a template argument: method<"get", ...>.
template <std::size_t N>
struct fixed_string {
    char data[N]{};
    constexpr fixed_string(const char (&s)[N]) noexcept { std::copy_n(s, N, data); }  // NOLINT: implicit on purpose
    [[nodiscard]] constexpr std::string_view view() const noexcept { return {data, N - 1}; }
};

namespace detail {

/// The compiler's spelling of T, at compile time (from __PRETTY_FUNCTION__).
template <class T>
constexpr std::string_view type_name() noexcept {
    constexpr std::string_view f = __PRETTY_FUNCTION__;
    constexpr std::size_t begin = f.find("T = ") + 4;
    constexpr std::size_t semi = f.find(';', begin);
    constexpr std::size_t end = semi != std::string_view::npos ? semi : f.rfind(']');
    return f.substr(begin, end - begin);
}

constexpr std::uint64_t fnv1a_bytes(std::uint64_t h, std::string_view s) noexcept {
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

template <class T>
constexpr std::uint64_t hash_type(std::uint64_t h) noexcept {
    h = fnv1a_bytes(h, type_name<T>());
    if constexpr (!std::is_void_v<T>) {
        h = fnv1a(h, sizeof(T));
        h = fnv1a(h, alignof(T));
    }
    return h;
}

constexpr std::size_t align_up(std::size_t v, std::size_t a) noexcept { return (v + a - 1) / a * a; }

template <class T>
inline constexpr bool is_shm_ptr_v = false;
template <class T>
inline constexpr bool is_shm_ptr_v<shm_ptr<T>> = true;

/// Offsets of each argument in the payload (each aligned for its type), and the total
/// size as the last element.
template <class... Args>
constexpr std::array<std::size_t, sizeof...(Args) + 1> argument_offsets() noexcept {
    std::array<std::size_t, sizeof...(Args) + 1> r{};
    std::size_t off = 0;
    std::size_t i = 0;
    ((off = align_up(off, alignof(Args)), r[i++] = off, off += sizeof(Args)), ...);
    r[sizeof...(Args)] = off;
    return r;
}

template <class T>
constexpr bool is_wire_value() noexcept {
    if constexpr (std::is_void_v<T> || std::is_reference_v<T>) {
        return false;
    } else {
        return std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> && alignof(T) <= 64;
    }
}
template <class T>
inline constexpr bool wire_value = is_wire_value<T>();

/// Writes each argument, converted to the method's parameter type, at its offset in
/// `in` (argument_offsets<Args...>() bytes): the wire form of a call's arguments.
template <class... Args, std::size_t... I, class... A>
void encode_arguments([[maybe_unused]] std::byte* in, std::index_sequence<I...>, A&&... args) {
    [[maybe_unused]] constexpr auto offsets = argument_offsets<Args...>();
    ([&] {
        const Args v(std::forward<A>(args));
        std::memcpy(in + offsets[I], &v, sizeof(Args));
    }(), ...);
}

}  // namespace detail

/// A method: a name and a signature R(Args...). Arguments and the result travel by
/// value in the call's ring slot, so they must be trivially copyable and fit in
/// max_inline_payload bytes together; data beyond that goes into the connection's
/// heap area and travels as a shm_ptr<T> (the receiver resolves it with bounds
/// checks). R may be void. Raw pointers are refused (they mean nothing in the other
/// process); use shm_ptr.
///   using get = rpc::method<"get", std::uint64_t(std::uint64_t key)>;
/// `Safety` is the method's default safety mode (call_options::safety overrides it
/// per call); a mode other than relaxed is part of the method's hash, so peers that
/// disagree on it refuse each other at connect.
///   using put = rpc::method<"put", void(rpc::shm_ptr<std::byte>, std::uint32_t), rpc::safety_mode::copy>;
template <fixed_string Name, class Signature, safety_mode Safety = safety_mode::relaxed>
struct method;

/// The method `R Name(Args...)`: its argument and result types, wire sizes and hash.
template <fixed_string Name, class R, class... Args, safety_mode Safety>
struct method<Name, R(Args...), Safety> {
    static_assert(Name.view().size() > 0, "keel::rpc::method: the name must not be empty");
    static_assert((detail::wire_value<Args> && ...),
                  "keel::rpc::method: every argument must be a trivially copyable value (no references, "
                  "no raw pointers, alignment <= 64); pass other data as rpc::shm_ptr<T> into the "
                  "connection's heap area");
    static_assert(std::is_void_v<R> || detail::is_wire_value<R>(),
                  "keel::rpc::method: the result must be void or a trivially copyable value (no references, "
                  "no raw pointers); return other data as rpc::shm_ptr<T>");

    static constexpr std::string_view name = Name.view();
    /// The mode a call uses unless call_options::safety says otherwise.
    static constexpr safety_mode safety = Safety;
    using result_type = R;
    using signature = R(Args...);

    static constexpr auto offsets = detail::argument_offsets<Args...>();
    /// Bytes of arguments on the wire.
    static constexpr std::size_t argument_bytes = offsets[sizeof...(Args)];
    static constexpr std::size_t result_bytes = [] {
        if constexpr (std::is_void_v<R>) return std::size_t{0};
        else return sizeof(R);
    }();
    static_assert(argument_bytes <= max_inline_payload,
                  "keel::rpc::method: the arguments take more than rpc::max_inline_payload bytes; "
                  "put big data in the connection's heap area and pass an rpc::shm_ptr");
    static_assert(result_bytes <= max_inline_payload,
                  "keel::rpc::method: the result takes more than rpc::max_inline_payload bytes; "
                  "return an rpc::shm_ptr to data in the heap area");

    /// FNV-1a over the name, then the result's and each argument's type name (as the
    /// compiler spells it), size and alignment.
    static constexpr std::uint64_t hash = [] {
        std::uint64_t h = detail::fnv1a_bytes(0xcbf29ce484222325ULL, Name.view());
        h = detail::hash_type<R>(h);
        ((h = detail::hash_type<Args>(h)), ...);
        if constexpr (Safety != safety_mode::relaxed) h = detail::fnv1a(h, static_cast<std::uint64_t>(Safety));
        return h;
    }();
};

template <class T>
struct is_method : std::false_type {};
template <fixed_string Name, class Sig, safety_mode Safety>
struct is_method<method<Name, Sig, Safety>> : std::true_type {};

/// A service: a name (what clients ask the listener for) and its methods. On the wire
/// a method is its index in this list; schema_hash (FNV-1a over the service name and
/// every method's hash, in order) goes into the handshake, so a client and a server
/// that disagree on any name, order, signature, type name or size refuse each other
/// at connect (errc::schema_mismatch). Type names are as the compiler spells them:
/// peers built by compilers that spell a type differently refuse each other too.
template <fixed_string Name, class... Methods>
struct service {
    static_assert(sizeof...(Methods) > 0, "keel::rpc::service: a service needs at least one method");
    static_assert((is_method<Methods>::value && ...), "keel::rpc::service: every entry must be an rpc::method<...>");
    static_assert(sizeof...(Methods) <= detail::request_method_mask,
                  "keel::rpc::service: too many methods for the request code's index bits");

    static constexpr std::string_view name = Name.view();
    static constexpr std::size_t size = sizeof...(Methods);

    static constexpr std::uint32_t npos = 0xffffffffu;

    /// M's index in the service (its id on the wire), npos when M is not in it.
    template <class M>
    static constexpr std::uint32_t index_of() noexcept {
        std::uint32_t i = 0;
        std::uint32_t r = npos;
        ((std::is_same_v<M, Methods> ? (r = (r == npos ? i : r), ++i) : ++i), ...);
        return r;
    }

    static constexpr std::uint64_t schema_hash = [] {
        std::uint64_t h = detail::fnv1a_bytes(0xcbf29ce484222325ULL, Name.view());
        ((h = detail::fnv1a(h, Methods::hash)), ...);
        return h;
    }();

private:
    static constexpr bool unique_names() noexcept {
        const std::array<std::string_view, sizeof...(Methods)> names{Methods::name...};
        for (std::size_t i = 0; i < names.size(); ++i)
            for (std::size_t j = i + 1; j < names.size(); ++j)
                if (names[i] == names[j]) return false;
        return true;
    }
    static_assert(unique_names(), "keel::rpc::service: two methods have the same name");
};

}  // namespace keel::rpc
