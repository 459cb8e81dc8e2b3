#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace keel::sched {

/// Thrown when an analysis step would leave the 64-bit time range: the task set's
/// numbers are too large for the analysis asked for (a busy period or a demand past
/// 2^63 ticks). Never undefined behaviour, never a wrapped value taken as an answer.
/// In a constant expression the throw makes the evaluation fail to compile.
class analysis_overflow : public std::overflow_error {
public:
    using std::overflow_error::overflow_error;
};

}  // namespace keel::sched

namespace keel::sched::detail {

[[noreturn]] inline void throw_overflow(const char* what) {
    throw analysis_overflow(std::string("keel::sched: 64-bit time overflow in ") + what);
}

/// a + b, or analysis_overflow naming the step.
constexpr std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* what = "addition") {
    std::int64_t r = 0;
    if (__builtin_add_overflow(a, b, &r)) throw_overflow(what);
    return r;
}

constexpr std::int64_t checked_sub(std::int64_t a, std::int64_t b, const char* what = "subtraction") {
    std::int64_t r = 0;
    if (__builtin_sub_overflow(a, b, &r)) throw_overflow(what);
    return r;
}

constexpr std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what = "multiplication") {
    std::int64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r)) throw_overflow(what);
    return r;
}

/// ceil(a / b) for a >= 0, b > 0 (the number of releases in a window).
constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
    return a / b + (a % b != 0 ? 1 : 0);
}

/// floor(a / b) for b > 0 and any a (rounds toward minus infinity).
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    const std::int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

}  // namespace keel::sched::detail
