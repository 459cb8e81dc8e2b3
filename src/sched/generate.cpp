#include <keel/sched/generate.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace keel::sched {

namespace {

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("generate: " + what); }

/// Flat Dirichlet draw scaled to `total`: normalised exponential spacings.
void flat_dirichlet(std::vector<double>& x, double total, rng& r) {
    double sum = 0;
    for (double& v : x) {
        v = -std::log(r.uniform_open0());
        sum += v;
    }
    for (double& v : x) v = v / sum * total;
}

}  // namespace

rng::rng(std::uint64_t seed) noexcept {
    std::uint64_t x = seed;
    for (auto& s : _s) s = splitmix64(x);
}

std::uint64_t rng::next() noexcept {
    const std::uint64_t result = rotl(_s[1] * 5, 7) * 9;
    const std::uint64_t t = _s[1] << 17;
    _s[2] ^= _s[0];
    _s[3] ^= _s[1];
    _s[1] ^= _s[2];
    _s[0] ^= _s[3];
    _s[2] ^= t;
    _s[3] = rotl(_s[3], 45);
    return result;
}

double rng::uniform01() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double rng::uniform_open0() noexcept { return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; }

std::uint64_t rng::below(std::uint64_t bound) noexcept {
    // Rejection on the top of the range keeps every value equally likely.
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() -
                                std::numeric_limits<std::uint64_t>::max() % bound;
    for (;;) {
        const std::uint64_t v = next();
        if (v < limit) return v % bound;
    }
}

std::vector<double> uunifast(std::size_t n, double u, rng& r) {
    if (n == 0) bad("uunifast needs n >= 1");
    if (!(u > 0)) bad("uunifast needs a positive total utilisation");
    std::vector<double> out(n);
    double sum = u;
    for (std::size_t i = 1; i < n; ++i) {
        // The remaining sum after this share is distributed as sum * r^(1/(n-i)).
        const double next = sum * std::pow(r.uniform01(), 1.0 / static_cast<double>(n - i));
        out[i - 1] = sum - next;
        sum = next;
    }
    out[n - 1] = sum;
    return out;
}

std::vector<double> uunifast_discard(std::size_t n, double u, double max_share, rng& r,
                                     std::size_t max_attempts) {
    if (!(max_share > 0)) bad("uunifast_discard needs a positive maximum share");
    if (u > static_cast<double>(n) * max_share)
        bad("uunifast_discard: total " + std::to_string(u) + " exceeds n * max_share");
    for (std::size_t a = 0; a < max_attempts; ++a) {
        auto v = uunifast(n, u, r);
        if (std::all_of(v.begin(), v.end(), [&](double x) { return x <= max_share; })) return v;
    }
    throw std::runtime_error("generate: uunifast_discard rejected " + std::to_string(max_attempts) +
                             " draws; use randfixedsum");
}

// RandFixedSum, after Stafford's description: map to the unit cube (s = (u - n lo)/(hi - lo)),
// whose slice {sum x = s} is cut into simplices; a table of their relative volumes (w,
// computed by a recurrence on the dimension) gives, coordinate by coordinate, the
// probability of stepping to the neighbouring simplex (t); a point uniform in the chosen
// simplex is then built from powers of uniform draws, and the coordinates are shuffled.
std::vector<double> randfixedsum(std::size_t n, double u, double lo, double hi, rng& r) {
    if (n == 0) bad("randfixedsum needs n >= 1");
    if (!(lo <= hi)) bad("randfixedsum needs lo <= hi");
    const double nd = static_cast<double>(n);
    if (u < nd * lo - 1e-12 || u > nd * hi + 1e-12) bad("randfixedsum: total outside [n*lo, n*hi]");
    if (hi - lo <= 0 || n == 1) return std::vector<double>(n, n == 1 ? u : lo);

    double s = (u - nd * lo) / (hi - lo);
    const long k = std::max(std::min(static_cast<long>(std::floor(s)), static_cast<long>(n) - 1), 0L);
    s = std::max(std::min(s, static_cast<double>(k + 1)), static_cast<double>(k));
    std::vector<double> s1(n), s2(n);
    for (std::size_t i = 0; i < n; ++i) {
        s1[i] = s - static_cast<double>(k - static_cast<long>(i));
        s2[i] = static_cast<double>(k + static_cast<long>(n) - static_cast<long>(i)) - s;
    }
    // w[row][col], rows 0..n-1, cols 0..n; t[row][col], rows 0..n-2, cols 0..n-1.
    std::vector<double> w(n * (n + 1), 0.0);
    std::vector<double> t((n - 1) * n, 0.0);
    auto W = [&](std::size_t row, std::size_t col) -> double& { return w[row * (n + 1) + col]; };
    auto T = [&](std::size_t row, std::size_t col) -> double& { return t[row * n + col]; };
    W(0, 1) = std::numeric_limits<double>::max();  // scaled volumes: start huge, they shrink
    constexpr double tiny = std::numeric_limits<double>::denorm_min();
    for (std::size_t row = 1; row < n; ++row) {
        const double dim = static_cast<double>(row + 1);
        for (std::size_t j = 0; j <= row; ++j) {
            const double a = W(row - 1, j + 1) * s1[j] / dim;
            const double b = W(row - 1, j) * s2[n - row - 1 + j] / dim;
            W(row, j + 1) = a + b;
            const double sum = W(row, j + 1) + tiny;
            T(row - 1, j) = (s2[n - row - 1 + j] > s1[j]) ? b / sum : 1.0 - a / sum;
        }
    }
    std::vector<double> x(n);
    double sm = 0;
    double pr = 1;
    long col = k;
    for (std::size_t i = n - 1; i >= 1; --i) {
        const double rt = r.uniform01();
        const double rs = r.uniform01();
        const bool step = rt <= T(i - 1, static_cast<std::size_t>(col));
        const double sx = std::pow(rs, 1.0 / static_cast<double>(i));
        sm += (1.0 - sx) * pr * s / static_cast<double>(i + 1);
        pr *= sx;
        x[n - i - 1] = sm + pr * (step ? 1.0 : 0.0);
        if (step) {
            s -= 1.0;
            --col;
        }
    }
    x[n - 1] = sm + pr * s;
    // Fisher-Yates shuffle: the construction orders coordinates; symmetry needs a shuffle.
    for (std::size_t i = n - 1; i > 0; --i) std::swap(x[i], x[r.below(i + 1)]);
    for (double& v : x) v = std::clamp(lo + (hi - lo) * v, lo, hi);
    return x;
}

std::vector<double> dirichlet_rescale(std::size_t n, double u, const std::vector<double>& lo,
                                      const std::vector<double>& hi, rng& r, std::size_t max_attempts) {
    if (n == 0) bad("dirichlet_rescale needs n >= 1");
    if (lo.size() != n || hi.size() != n) bad("dirichlet_rescale: bound vectors must have n entries");
    double lo_sum = 0;
    double hi_sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!(lo[i] <= hi[i])) bad("dirichlet_rescale: lo > hi for entry " + std::to_string(i));
        lo_sum += lo[i];
        hi_sum += hi[i];
    }
    if (u < lo_sum - 1e-12 || u > hi_sum + 1e-12) bad("dirichlet_rescale: total outside [sum lo, sum hi]");
    const double free = std::max(0.0, u - lo_sum);
    std::vector<double> x(n);
    for (std::size_t a = 0; a < max_attempts; ++a) {
        flat_dirichlet(x, free, r);
        bool ok = true;
        for (std::size_t i = 0; i < n && ok; ++i) ok = x[i] <= hi[i] - lo[i];
        if (!ok) continue;
        for (std::size_t i = 0; i < n; ++i) x[i] += lo[i];
        return x;
    }
    throw std::runtime_error("generate: dirichlet_rescale rejected " + std::to_string(max_attempts) +
                             " draws");
}

std::vector<time_value> periods_log_uniform(std::size_t n, time_value tmin, time_value tmax,
                                            time_value granularity, rng& r) {
    if (granularity <= 0) bad("periods_log_uniform needs a positive granularity");
    if (tmin <= 0 || tmin > tmax) bad("periods_log_uniform needs 0 < tmin <= tmax");
    const time_value low = (tmin + granularity - 1) / granularity * granularity;
    const time_value high = tmax / granularity * granularity;
    if (low > high) bad("periods_log_uniform: no multiple of the granularity in [tmin, tmax]");
    const double a = std::log(static_cast<double>(tmin));
    const double b = std::log(static_cast<double>(tmax) + static_cast<double>(granularity));
    std::vector<time_value> out(n);
    for (auto& p : out) {
        const double x = std::exp(a + (b - a) * r.uniform01());
        const auto v = static_cast<time_value>(std::floor(x / static_cast<double>(granularity))) * granularity;
        p = std::clamp(v, low, high);
    }
    return out;
}

task_set generate_task_set(const generator_options& o, std::uint64_t seed) {
    rng r(seed);
    std::vector<double> u;
    switch (o.method) {
        case utilization_method::uunifast: u = uunifast(o.n, o.utilization, r); break;
        case utilization_method::uunifast_discard:
            u = uunifast_discard(o.n, o.utilization, o.max_task_utilization, r);
            break;
        case utilization_method::randfixedsum:
            u = randfixedsum(o.n, o.utilization, o.min_task_utilization, o.max_task_utilization, r);
            break;
        case utilization_method::dirichlet_rescale:
            u = dirichlet_rescale(o.n, o.utilization, std::vector<double>(o.n, o.min_task_utilization),
                                  std::vector<double>(o.n, o.max_task_utilization), r);
            break;
    }
    const auto periods = periods_log_uniform(o.n, o.period_min, o.period_max, o.granularity, r);
    task_set s;
    s.tasks.resize(o.n);
    for (std::size_t i = 0; i < o.n; ++i) {
        task& t = s.tasks[i];
        t.period = periods[i];
        t.wcet = std::max<time_value>(1, static_cast<time_value>(std::llround(u[i] * static_cast<double>(t.period))));
        t.deadline = t.period;
    }
    if (o.deadlines == deadline_kind::constrained) {
        if (!(o.deadline_min_fraction >= 0 && o.deadline_min_fraction <= 1))
            bad("deadline_min_fraction must be in [0, 1]");
        for (auto& t : s.tasks) {
            const double f = o.deadline_min_fraction + (1.0 - o.deadline_min_fraction) * r.uniform01();
            const double span = static_cast<double>(std::max<time_value>(0, t.period - t.wcet));
            t.deadline = std::min(t.period, t.wcet + static_cast<time_value>(std::llround(f * span)));
            t.deadline = std::max(t.deadline, std::min(t.wcet, t.period));
        }
    } else if (o.deadlines == deadline_kind::arbitrary) {
        if (!(o.arbitrary_max_factor >= 1)) bad("arbitrary_max_factor must be >= 1");
        for (auto& t : s.tasks) {
            const double f = r.uniform01();
            const double top = o.arbitrary_max_factor * static_cast<double>(t.period);
            const double span = std::max(0.0, top - static_cast<double>(t.wcet));
            t.deadline = t.wcet + static_cast<time_value>(std::llround(f * span));
        }
    }
    return s;
}

}  // namespace keel::sched
