#pragma once

#include <algorithm>
#include <cstdint>

namespace keel::iospec {

/// Settings of the adaptive pre-issue depth (graph_options::adaptive).
struct adaptive_options {
    /// The depth a graph starts at (before any signal).
    unsigned initial = 4;
    /// The most node instances kept ahead of the program.
    unsigned max = 32;
    /// One read in this many is probed for being cached (preadv2 with RWF_NOWAIT, or
    /// mincore where the file system refuses RWF_NOWAIT); 1 probes every read.
    unsigned probe_interval = 8;
    /// Signals that show no gain (a hit that was ready before the program asked, a miss)
    /// needed for one step down; the depth never decays below 1 this way.
    unsigned decay_interval = 16;
    /// Metadata calls (openat, stat, getdents64) have no RWF_NOWAIT: one in
    /// probe_interval is not pre-issued but made by the program and timed; one that
    /// returns within this many nanoseconds found its metadata cached.
    std::uint64_t metadata_cached_ns = 20'000;
    /// A dormant scope (scope_options::rest_when_cached) probes its first read and then
    /// one in this many (and times one metadata call in this many): its probes only tell
    /// the graph's next scope whether to speculate again, and each one costs a trip
    /// through the library that the calls between probes skip. 1 probes every call.
    unsigned dormant_probe_interval = 64;
};

/// The adaptive pre-issue depth: grows quickly while speculation pays, decays slowly
/// while it shows no gain, and drops to zero when the data is cached (where pre-issuing
/// only adds work). Re-probing at depth zero brings it back when the cache goes cold.
///
/// Signals (fed by the scope, or by a test):
///  - paid(): a probe found the data not cached, or the program had to wait for a
///    pre-issued read that was still in flight: the depth doubles (0 becomes 1), up to max.
///  - unpaid(): a hit whose result was ready before the program asked, or a miss: every
///    decay_interval-th such signal takes one off the depth, not below 1.
///  - cached(): a probe found the data in the page cache: the depth becomes 0.
/// probe_due() says whether the next read should be probed (the first, then every
/// probe_interval-th).
///
/// Plain value; not thread-safe (one per scope; the graph keeps the learned depth
/// between scopes). Cost: a few integer operations per signal.
class depth_controller {
public:
    constexpr explicit depth_controller(adaptive_options options = {}) noexcept
        : depth_controller(options, options.initial) {}
    constexpr depth_controller(adaptive_options options, unsigned start) noexcept
        : _options(options), _depth(std::min(start, options.max)) {}

    [[nodiscard]] constexpr unsigned depth() const noexcept { return _depth; }
    [[nodiscard]] constexpr const adaptive_options& options() const noexcept { return _options; }
    /// Probes asked for so far (probe_due() returning true).
    [[nodiscard]] constexpr std::uint64_t probes() const noexcept { return _probes; }

    constexpr void paid() noexcept {
        _neutral = 0;
        const unsigned grown = _depth == 0 ? 1U : (_depth > _options.max / 2 ? _options.max : _depth * 2);
        _depth = std::min(grown, _options.max);
    }

    constexpr void unpaid() noexcept {
        if (_depth <= 1) return;
        if (++_neutral >= std::max(_options.decay_interval, 1U)) {
            _neutral = 0;
            --_depth;
        }
    }

    constexpr void cached() noexcept {
        _neutral = 0;
        _depth = 0;
    }

    /// Counts one read; true when this one should be probed.
    [[nodiscard]] constexpr bool probe_due() noexcept {
        // The first read is probed, then one in probe_interval.
        if (_reads++ % std::max(_options.probe_interval, 1U) != 0) return false;
        ++_probes;
        return true;
    }

private:
    adaptive_options _options;
    unsigned _depth;
    unsigned _neutral = 0;
    unsigned _reads = 0;
    std::uint64_t _probes = 0;
};

}  // namespace keel::iospec
