#include <keel/sched/fp.hpp>
#include <keel/sched/utilization.hpp>

#include <boost/multiprecision/cpp_int.hpp>

#include <cmath>
#include <iterator>
#include <stdexcept>

namespace keel::sched {

namespace mp = boost::multiprecision;

struct rational::digits_access {
    static mp::cpp_int magnitude(const std::vector<std::uint32_t>& d) {
        mp::cpp_int v;
        if (!d.empty()) mp::import_bits(v, d.begin(), d.end(), 32, false);
        return v;
    }
    static std::vector<std::uint32_t> digits(const mp::cpp_int& v) {
        std::vector<std::uint32_t> d;
        if (v != 0) mp::export_bits(v, std::back_inserter(d), 32, false);
        return d;
    }
    static mp::cpp_int num(const rational& r) {
        mp::cpp_int v = magnitude(r._num);
        return r._negative ? mp::cpp_int(-v) : v;
    }
    static mp::cpp_int den(const rational& r) { return magnitude(r._den); }
    /// Reduces num/den (den != 0) into a rational.
    static rational make(mp::cpp_int n, mp::cpp_int d) {
        if (d < 0) {
            n = -n;
            d = -d;
        }
        const mp::cpp_int g = mp::gcd(mp::cpp_int(mp::abs(n)), d);
        if (g > 1) {
            n /= g;
            d /= g;
        }
        rational r;
        r._negative = n < 0;
        r._num = digits(mp::cpp_int(mp::abs(n)));
        r._den = digits(d);
        if (r._num.empty()) {
            r._negative = false;
            r._den = {1};
        }
        return r;
    }
};

using access = rational::digits_access;

rational::rational(std::int64_t num, std::int64_t den) {
    if (den == 0) throw std::invalid_argument("rational: denominator 0");
    *this = access::make(mp::cpp_int(num), mp::cpp_int(den));
}

std::string rational::to_string() const {
    std::string s = access::num(*this).str();
    if (!(_den.size() == 1 && _den[0] == 1)) s += "/" + access::den(*this).str();
    return s;
}

double rational::to_double() const {
    return static_cast<double>(mp::cpp_rational(access::num(*this), access::den(*this)));
}

std::optional<std::int64_t> rational::numerator() const {
    const mp::cpp_int n = access::num(*this);
    if (n > std::numeric_limits<std::int64_t>::max() ||
        n < std::numeric_limits<std::int64_t>::min())
        return std::nullopt;
    return static_cast<std::int64_t>(n);
}

std::optional<std::int64_t> rational::denominator() const {
    const mp::cpp_int d = access::den(*this);
    if (d > std::numeric_limits<std::int64_t>::max()) return std::nullopt;
    return static_cast<std::int64_t>(d);
}

rational operator+(const rational& a, const rational& b) {
    return access::make(access::num(a) * access::den(b) + access::num(b) * access::den(a),
                        access::den(a) * access::den(b));
}

rational operator-(const rational& a, const rational& b) {
    return access::make(access::num(a) * access::den(b) - access::num(b) * access::den(a),
                        access::den(a) * access::den(b));
}

rational operator*(const rational& a, const rational& b) {
    return access::make(access::num(a) * access::num(b), access::den(a) * access::den(b));
}

rational operator/(const rational& a, const rational& b) {
    if (b.is_zero()) throw std::invalid_argument("rational: division by zero");
    return access::make(access::num(a) * access::den(b), access::den(a) * access::num(b));
}

std::strong_ordering operator<=>(const rational& a, const rational& b) {
    const mp::cpp_int l = access::num(a) * access::den(b);
    const mp::cpp_int r = access::num(b) * access::den(a);
    if (l < r) return std::strong_ordering::less;
    if (l > r) return std::strong_ordering::greater;
    return std::strong_ordering::equal;
}

namespace {

void check_all(const char* analysis, std::span<const task> tasks) {
    for (std::size_t i = 0; i < tasks.size(); ++i)
        detail::check_task(analysis, i, tasks[i]);
}

/// The bounds are for implicit deadlines without jitter or blocking.
void check_bound_model(const char* analysis, std::span<const task> tasks) {
    check_all(analysis, tasks);
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const task& t = tasks[i];
        if (t.deadline != t.period)
            detail::throw_invalid_task(
                analysis, i, "deadline", t.deadline,
                "must equal the period (the bound is for implicit deadlines)");
        if (t.jitter != 0)
            detail::throw_invalid_task(analysis, i, "jitter", t.jitter,
                                       "must be 0 (the bound ignores jitter)");
        if (t.blocking != 0)
            detail::throw_invalid_task(analysis, i, "blocking", t.blocking,
                                       "must be 0 (the bound ignores blocking)");
    }
}

/// sum C/T as an unreduced-then-reduced fraction in big integers.
void utilization_fraction(std::span<const task> tasks, mp::cpp_int& num, mp::cpp_int& den) {
    num = 0;
    den = 1;
    for (const task& t : tasks) {
        const mp::cpp_int p = t.period;
        const mp::cpp_int g = mp::gcd(den, p);
        const mp::cpp_int l = den / g * p;
        num = num * (l / den) + mp::cpp_int(t.wcet) * (l / p);
        den = l;
    }
    const mp::cpp_int g = mp::gcd(num, den);
    if (g > 1) {
        num /= g;
        den /= g;
    }
}

}  // namespace

namespace detail {

int utilization_compare_one_exact(std::span<const task> tasks, const task& last) {
    mp::cpp_int num, den;
    utilization_fraction(tasks, num, den);
    // + C/T of the last task
    const mp::cpp_int n = num * last.period + mp::cpp_int(last.wcet) * den;
    const mp::cpp_int d = den * last.period;
    return n < d ? -1 : (n == d ? 0 : 1);
}

}  // namespace detail

rational utilization(std::span<const task> tasks) {
    check_all("utilization", tasks);
    mp::cpp_int num, den;
    utilization_fraction(tasks, num, den);
    return access::make(num, den);
}

double liu_layland_bound(std::size_t n) {
    if (n == 0) return 1.0;
    const double k = static_cast<double>(n);
    return k * (std::exp2(1.0 / k) - 1.0);
}

bool liu_layland_bound_holds(std::span<const task> tasks) {
    check_bound_model("liu_layland_bound_holds", tasks);
    if (tasks.empty()) return true;
    mp::cpp_int num, den;
    utilization_fraction(tasks, num, den);
    // U <= n (2^{1/n} - 1)  <=>  (U/n + 1)^n <= 2  <=>  (num + n den)^n <= 2 (n den)^n.
    const mp::cpp_int n = tasks.size();
    const auto e = static_cast<unsigned>(tasks.size());
    return mp::pow(mp::cpp_int(num + n * den), e) <= 2 * mp::pow(mp::cpp_int(n * den), e);
}

bool hyperbolic_bound_holds(std::span<const task> tasks) {
    check_bound_model("hyperbolic_bound_holds", tasks);
    mp::cpp_int lhs = 1, rhs = 2;
    for (const task& t : tasks) {
        lhs *= mp::cpp_int(t.wcet) + t.period;
        rhs *= t.period;
    }
    return lhs <= rhs;
}

}  // namespace keel::sched
