#pragma once

#include <keel/iospec/ops.hpp>

#include <concepts>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace keel::iospec {
class context;
}

namespace keel::iospec::detail {

/// Every call's arguments; the index is the op_kind's value.
using any_args = std::variant<openat_args, pread_args, pwrite_args, fstat_args, fstatat_args, statx_args,
                              close_args, getdents64_args>;

static_assert(std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(op_kind::getdents64), any_args>,
                             getdents64_args>);

/// A generator behind one signature: fills `out` and returns true, or returns false
/// for "not computable yet". One indirect call per evaluation.
using erased_generator = std::function<bool(const context&, any_args&)>;

/// Wraps a user generator `std::optional<Op::args>(const context&)`.
template <class Op, class F>
erased_generator erase_generator(F&& f) {
    using args = typename Op::args;
    static_assert(std::is_invocable_v<F&, const context&>,
                  "an iospec generator is called as gen(const keel::iospec::context&)");
    using returned = std::invoke_result_t<F&, const context&>;
    static_assert(std::is_convertible_v<returned, std::optional<args>>,
                  "an iospec generator returns std::optional of the node's argument struct "
                  "(e.g. std::optional<keel::iospec::pread_args>); std::nullopt means 'not computable yet'");
    return [fn = std::forward<F>(f)](const context& c, any_args& out) mutable -> bool {
        std::optional<args> a = fn(c);
        if (!a) return false;
        out.template emplace<args>(std::move(*a));
        return true;
    };
}

}  // namespace keel::iospec::detail
