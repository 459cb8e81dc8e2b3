#pragma once

#include <keel/alloc/trace.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

// Synthetic and adversarial allocation traces. Every generator is a pure
// function of its arguments: the same seed gives the same trace, on every
// platform (the random engine is std::mt19937_64 and the distributions are
// written here, not taken from the standard library, whose are unspecified).

namespace keel::alloc {

/// How a synthetic trace draws request sizes in [min_size, max_size].
///  - uniform: every size equally likely.
///  - exponential: min_size + an exponential variate of mean mean_size - min_size,
///    redrawn above max_size (many small requests, a long tail of big ones).
enum class size_distribution { uniform, exponential };

/// How a synthetic trace decides when blocks die.
///  - random: each step frees a uniformly chosen live block with probability
///    live / (2 x live_blocks), so the live count hovers around live_blocks.
///  - exponential: each block lives an exponential number of allocations of
///    mean mean_lifetime (most die young, a few live long).
enum class lifetime_distribution { random, exponential };

/// Parameters of a synthetic trace. Plain data; generate_synthetic throws
/// std::invalid_argument for inconsistent values (min_size > max_size, ...).
struct synthetic_options {
    std::size_t allocations = 10000;
    std::size_t min_size = 16;
    std::size_t max_size = 4096;
    std::size_t mean_size = 0;  ///< exponential sizes; 0: min + (max - min) / 8
    size_distribution sizes = size_distribution::uniform;
    lifetime_distribution lifetimes = lifetime_distribution::random;
    std::size_t live_blocks = 1000;  ///< random lifetimes
    double mean_lifetime = 1000;     ///< exponential lifetimes, in allocations
    double realloc_fraction = 0;     ///< chance that a step reallocates a live block
    double aligned_fraction = 0;     ///< chance that an allocation asks 32..4096 alignment
    bool free_at_end = true;         ///< free the survivors at the end (else they leak)
};

/// A synthetic trace of options.allocations allocations (reallocations count).
[[nodiscard]] trace generate_synthetic(const synthetic_options& options, std::uint64_t seed);

/// A program in phases: each phase runs its own options; at a phase change all
/// blocks of the earlier phases die except a `survivor_fraction` of them,
/// which live to the end (long-lived data under changing churn).
[[nodiscard]] trace generate_phased(std::span<const synthetic_options> phases, double survivor_fraction,
                                    std::uint64_t seed);

/// A named trace generator: `make(seed, scale)` gives a trace whose size grows
/// linearly with scale (scale >= 1; 1 is a few thousand to a few hundred
/// thousand ops). `target` is the policy an adversarial generator attacks
/// ("" for synthetic ones; "all" for the Robson attack), `fine` one that
/// copes with it, `summary` one line for listings.
struct trace_generator {
    std::string_view name;
    std::string_view target;
    std::string_view fine;
    std::string_view summary;
    trace (*make)(std::uint64_t seed, std::size_t scale);
};

/// The synthetic presets: uniform, exponential, realloc_heavy, phased.
[[nodiscard]] std::span<const trace_generator> synthetic_generators() noexcept;

/// The adversarial suite, one attack per policy and the universal one:
/// anti_first_fit, anti_next_fit, anti_best_fit, anti_worst_fit, anti_buddy,
/// robson. Each attack is documented in docs/alloc-trace-format.md and above
/// its generator in src/alloc/trace_generators.cpp.
[[nodiscard]] std::span<const trace_generator> adversarial_suite() noexcept;

/// The generator called `name` among both lists, or nullptr.
[[nodiscard]] const trace_generator* find_generator(std::string_view name) noexcept;

/// find_generator(name)->make(seed, scale); throws std::invalid_argument for
/// an unknown name (listing the known ones) or scale 0.
[[nodiscard]] trace generate(std::string_view name, std::uint64_t seed, std::size_t scale = 1);

}  // namespace keel::alloc
