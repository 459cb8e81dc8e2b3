#pragma once

#include <keel/sched/task.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

/// keel::sched generators: random task sets for experiments and property tests.
/// Seeded and reproducible: the random stream is keel's own (xoshiro256** seeded
/// through splitmix64, no std:: distributions, whose output differs between standard
/// libraries); doubles are built from the top 53 bits. The transcendental functions
/// (pow, log, exp) come from the C library, so bit-identical output across platforms
/// needs the same libm; the integers drawn are identical everywhere.
namespace keel::sched {

/// A small, fast, seedable random source (xoshiro256**, Blackman & Vigna 2018).
/// Not thread-safe: one per thread. Cost: a few ns per draw.
class rng {
public:
    explicit rng(std::uint64_t seed) noexcept;
    /// The next 64 random bits.
    std::uint64_t next() noexcept;
    /// Uniform in [0, 1), 53-bit resolution.
    double uniform01() noexcept;
    /// Uniform in (0, 1] (never 0: safe for log and for pow(r, 1/k)).
    double uniform_open0() noexcept;
    /// Uniform integer in [0, bound) without modulo bias (bound > 0).
    std::uint64_t below(std::uint64_t bound) noexcept;

private:
    std::uint64_t _s[4];
};

/// UUniFast (Bini & Buttazzo 2005): n shares summing to u, uniform on the simplex.
/// Unbiased for any u > 0, but shares may exceed 1 when u > 1 (use the discard variant
/// or randfixedsum then). Throws std::invalid_argument for n == 0 or u <= 0. O(n).
std::vector<double> uunifast(std::size_t n, double u, rng& r);

/// UUniFast-Discard (Davis & Burns 2009): redraws until every share is <= max_share.
/// Throws std::invalid_argument when u > n * max_share (impossible) and
/// std::runtime_error after max_attempts rejected draws (the acceptance rate collapses
/// as u approaches n * max_share; use randfixedsum there).
std::vector<double> uunifast_discard(std::size_t n, double u, double max_share, rng& r,
                                     std::size_t max_attempts = 1'000'000);

/// RandFixedSum (Stafford 2006; for task sets Emberson, Stafford & Davis, WATERS 2010):
/// n values in [lo, hi] summing to u, uniformly distributed over that polytope, with no
/// rejection. Throws std::invalid_argument unless n >= 1, lo <= hi and n*lo <= u <= n*hi.
/// O(n^2) time and memory.
std::vector<double> randfixedsum(std::size_t n, double u, double lo, double hi, rng& r);

/// Per-task bounds sampler in the role of Dirichlet-Rescale (Griffin, Bate & Davis,
/// RTSS 2020): n values with lo[i] <= x[i] <= hi[i] summing to u. This implementation
/// draws the flat Dirichlet point (uniform on the simplex of the free share u - sum lo)
/// and, where an upper bound is violated, redraws (up to max_attempts, then
/// std::runtime_error): exactly uniform over the constrained region, but NOT the
/// paper's rescaling step (which avoids redraws and is not always uniform, as its
/// authors later noted). Throws std::invalid_argument on sizes that differ from n,
/// lo > hi, or u outside [sum lo, sum hi].
std::vector<double> dirichlet_rescale(std::size_t n, double u, const std::vector<double>& lo,
                                      const std::vector<double>& hi, rng& r,
                                      std::size_t max_attempts = 1'000'000);

/// n periods log-uniform between tmin and tmax, rounded down to a multiple of
/// `granularity`: x = exp(U[log tmin, log(tmax + granularity))), T = floor(x / g) * g,
/// clamped into [ceil(tmin/g)*g, floor(tmax/g)*g] (each multiple in range is reachable;
/// Emberson, Stafford & Davis 2010). Throws std::invalid_argument unless
/// 0 < granularity, granularity <= tmax and 0 < tmin <= tmax. O(n).
std::vector<time_value> periods_log_uniform(std::size_t n, time_value tmin, time_value tmax,
                                            time_value granularity, rng& r);

/// Which sampler generate_task_set uses for the utilisations (the functions above;
/// uunifast_discard and the bounded samplers use generator_options' per-task bounds).
enum class utilization_method { uunifast, uunifast_discard, randfixedsum, dirichlet_rescale };

/// implicit: D = T. constrained: D = C + f (T - C), f uniform in [deadline_min_fraction, 1].
/// arbitrary: D = C + f (arbitrary_max_factor * T - C), f uniform in [0, 1] (so D ranges
/// over [C, factor * T]; factor 2 gives about half the tasks D > T). D is rounded to the
/// nearest integer and never below C.
enum class deadline_kind { implicit, constrained, arbitrary };

/// What generate_task_set draws. A plain aggregate.
struct generator_options {
    std::size_t n = 10;
    double utilization = 0.8;
    utilization_method method = utilization_method::uunifast_discard;
    double min_task_utilization = 0.0;   ///< lo for randfixedsum / dirichlet_rescale
    double max_task_utilization = 1.0;   ///< hi for the bounded methods
    time_value period_min = 10;
    time_value period_max = 1000;
    time_value granularity = 1;
    deadline_kind deadlines = deadline_kind::implicit;
    double deadline_min_fraction = 0.0;  ///< constrained deadlines
    double arbitrary_max_factor = 2.0;   ///< arbitrary deadlines
};

/// A task set drawn from `seed`: first the n utilisations (method), then the n periods,
/// then (constrained/arbitrary) one deadline draw per task. C = max(1, round(u_i T_i)),
/// so the set's utilisation differs from the target by the rounding (at most 0.5/T_i per
/// task). Jitter and blocking are 0; names empty. Same seed and options, same set.
/// Throws std::invalid_argument on impossible options (as the samplers do). O(n) (O(n^2)
/// for randfixedsum).
task_set generate_task_set(const generator_options& options, std::uint64_t seed);

}  // namespace keel::sched
