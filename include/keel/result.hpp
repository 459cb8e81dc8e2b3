#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace keel {

/// Outcome of a hot-path operation that can fail for environmental reasons
/// (peer died, timeout, queue full, kernel refused): a value or an error_code,
/// never a silent default. An alias of boost::system::result, so it converts to
/// and from what Boost users already have; error codes interoperate with std::error_code.
/// Cost: the size of T plus an error_code; no allocation.
template <class T>
using result = boost::system::result<T>;

using error_code = boost::system::error_code;

/// The error_code for an errno value (system category).
inline error_code errno_code(int err) noexcept {
    return error_code(err, boost::system::system_category());
}

/// The error_code for a portable condition such as std::errc::timed_out (generic category).
inline error_code make_error_code(std::errc e) noexcept {
    return error_code(static_cast<int>(e), boost::system::generic_category());
}

}  // namespace keel
