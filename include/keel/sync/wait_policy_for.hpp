#pragma once

#include <keel/result.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>

namespace keel::sync {

/// platform::wait_policy generalised over the atomic template, for sync primitives
/// that take `template <class> class Atomic`: P waits on and wakes an
/// Atomic<std::uint32_t>. With Atomic = std::atomic every platform wait policy
/// (spin_wait, spin_yield_wait, futex_wait, hybrid_wait) satisfies it; with
/// Atomic = testing::deterministic_atomic, testing::deterministic_wait does.
///  - wait(w, expected): returns once w != expected was seen; never spuriously.
///  - wait_until(w, expected, deadline): the same, or errc::timed_out.
///  - wake_one(w) / wake_all(w): after changing w.
template <class P, template <class> class Atomic>
concept wait_policy_for = requires(P& p, const Atomic<std::uint32_t>& cw, Atomic<std::uint32_t>& w,
                                   std::uint32_t v, std::chrono::steady_clock::time_point deadline) {
    { p.wait(cw, v) } noexcept -> std::same_as<void>;
    { p.wait_until(cw, v, deadline) } -> std::same_as<result<void>>;
    { p.wake_one(w) } noexcept;
    { p.wake_all(w) } noexcept;
};

}  // namespace keel::sync
