#pragma once

/// Exact processor utilisation and the utilisation bounds for rate-monotonic
/// scheduling (Liu & Layland 1973; Bini, Buttazzo & Buttazzo 2003, hyperbolic bound).
/// docs/sched.md, section "Fixed priority".

#include <keel/sched/task.hpp>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace keel::sched {

/// An exact rational number of arbitrary size, always reduced (gcd 1, positive
/// denominator), so equal values have equal representations and compare exactly: a sum
/// of n fractions C/T has a denominator up to lcm(T_1..T_n), far past 64 bits.
/// A value type; not synchronised; cost: arithmetic is big-integer arithmetic
/// (allocation per operation), meant for verdicts, not for inner loops.
class rational {
public:
    /// Zero.
    rational() = default;
    /// num / den, reduced. Throws std::invalid_argument when den is 0.
    rational(
        std::int64_t num,
        std::int64_t den = 1);  // NOLINT(google-explicit-constructor): an integer is a rational

    [[nodiscard]] bool is_negative() const noexcept { return _negative; }
    [[nodiscard]] bool is_zero() const noexcept { return _num.empty(); }
    /// "p/q", or "p" when the denominator is 1 (decimal, '-' for negatives).
    [[nodiscard]] std::string to_string() const;
    /// Nearest double (for display and plots; never for a verdict).
    [[nodiscard]] double to_double() const;
    /// Numerator and denominator when each fits 64 bits.
    [[nodiscard]] std::optional<std::int64_t> numerator() const;
    [[nodiscard]] std::optional<std::int64_t> denominator() const;

    friend rational operator+(const rational& a, const rational& b);
    friend rational operator-(const rational& a, const rational& b);
    friend rational operator*(const rational& a, const rational& b);
    /// Throws std::invalid_argument on division by zero.
    friend rational operator/(const rational& a, const rational& b);
    friend std::strong_ordering operator<=>(const rational& a, const rational& b);
    friend bool operator==(const rational& a, const rational& b) = default;

    // Magnitudes as little-endian base-2^32 digits (empty = 0); public to the
    // implementation only.
    struct digits_access;

private:
    bool _negative = false;
    std::vector<std::uint32_t> _num;     // |numerator|
    std::vector<std::uint32_t> _den{1};  // denominator > 0
};

/// U = sum C_i / T_i, exact. Throws std::invalid_argument naming the task when a task
/// is not well formed. Thread-safe (pure). Cost: O(n) big-integer additions.
[[nodiscard]] rational utilization(std::span<const task> tasks);

/// n (2^{1/n} - 1): the Liu & Layland bound for n tasks (1 for n = 1, 0.8284.. for
/// n = 2, ln 2 as n grows), as a double for display. The tests below decide exactly.
[[nodiscard]] double liu_layland_bound(std::size_t n);

/// Liu & Layland (JACM 1973), sufficient for rate-monotonic priorities:
/// U <= n (2^{1/n} - 1), decided exactly as (U/n + 1)^n <= 2 in integers.
/// Requires implicit deadlines, no jitter and no blocking (throws
/// std::invalid_argument naming the task otherwise). True for an empty set.
/// Thread-safe (pure). Cost: one big-integer power of degree n.
[[nodiscard]] bool liu_layland_bound_holds(std::span<const task> tasks);

/// The hyperbolic bound (Bini, Buttazzo & Buttazzo, IEEE TC 2003), sufficient for
/// rate-monotonic priorities and never weaker than Liu & Layland: prod (U_i + 1) <= 2,
/// decided exactly as prod (C_i + T_i) <= 2 prod T_i. Same preconditions as
/// liu_layland_bound_holds. Thread-safe (pure). Cost: O(n) big-integer products.
[[nodiscard]] bool hyperbolic_bound_holds(std::span<const task> tasks);

}  // namespace keel::sched
