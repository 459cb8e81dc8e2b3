#pragma once

#include <catch2/catch.hpp>

#include <boost/system/result.hpp>

#include <string>

// A failed check on a keel::result prints its error, not the value (which may not
// be printable).
namespace Catch {
template <class T, class E>
struct StringMaker<boost::system::result<T, E>> {
    static std::string convert(const boost::system::result<T, E>& r) {
        return r.has_value() ? std::string("{value}") : "{error: " + r.error().message() + "}";
    }
};
}  // namespace Catch
