#pragma once

#include <keel/alloc/any_heap.hpp>
#include <keel/alloc/trace.hpp>
#include <keel/platform/memory_source.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

// Trace replay: drives a heap through a trace and measures it.
//  - The metrics pass reads footprint() after every operation and takes one
//    stats() snapshot, at the trace's peak of live bytes, for the
//    fragmentation numbers.
//  - The timing pass times every heap call and nothing else.
// Two passes, each over a fresh heap, so that the metrics' reads do not
// disturb the timings. A realloc first tries to resize the block in place
// (any_heap::try_resize, for heaps that are a resizable_heap); when it cannot,
// it is allocate new + copy min(old, new) bytes + free old. Either way it is
// timed as one operation.

namespace keel::alloc {

/// How much of each block the replay writes after allocating it (never timed).
///  - none: nothing; the fastest replay, but pages of a fresh region are then
///    touched only by the heap's own headers.
///  - first_line: the first min(size, 64) bytes, as a program initialising a
///    header would; the default: it makes placement matter to the caches
///    without letting big blocks dominate the run.
///  - all: every byte, as programs that fill their buffers do.
enum class replay_fill { none, first_line, all };

/// Options for a replay. Plain data.
///  - region_bytes: size of the region each fresh heap gets; 0 chooses
///    max(64 MiB, 16 x the trace's peak live bytes + 16 x its max alignment),
///    page-rounded (mapped lazily, so a generous region costs address space only).
///  - verify: call heap.verify() at the end of the metrics pass and report it.
struct replay_options {
    replay_fill fill = replay_fill::first_line;
    bool metrics = true;
    bool timing = true;
    bool verify = false;
    std::size_t region_bytes = 0;
};

/// Latency percentiles of one pass, in nanoseconds, nearest-rank. Plain data.
struct latency_percentiles {
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};

/// What a replay measured. Plain data; fields of a pass that did not run
/// stay 0 (has_metrics / has_timing say which ran).
///  - jw1: heap / live averaged over the operations after which live > 0.
///  - jw2: heap at the first point of peak live / peak live.
///  - jw3: peak heap / live at the first point of peak heap.
///  - jw4: peak heap / peak live.
///    (heap = footprint(), live = requested bytes of live blocks, as replayed:
///    blocks whose allocation failed are not live).
///  - external_fragmentation, internal_fragmentation: from stats() taken after
///    the op at which the trace reaches its peak live bytes.
///  - failed_allocations: allocations (and reallocs) the heap refused; the
///    later free of such a block is skipped. A refused realloc still ends the
///    old block, as the trace says it ended.
///  - ops_per_second: operations / the sum of their timed durations (timer
///    overhead, about 10-25 ns, included in each).
struct replay_result {
    std::string heap;
    bool has_metrics = false;
    bool has_timing = false;

    double jw1 = 0, jw2 = 0, jw3 = 0, jw4 = 0;
    double external_fragmentation = 0;
    double internal_fragmentation = 0;
    std::size_t peak_footprint = 0;
    std::size_t peak_live = 0;
    std::uint64_t failed_allocations = 0;
    std::string verify_error;  ///< heap.verify() at the end, with options.verify
    std::uint64_t resized_in_place = 0;  ///< reallocs served by try_resize (metrics pass)

    std::uint64_t ops = 0;
    double seconds = 0;  ///< sum of timed durations
    double ops_per_second = 0;
    latency_percentiles latency;
};

/// Builds a fresh heap over the region the replay maps for it.
using heap_factory = std::function<any_heap(platform::memory_region)>;

/// The metrics pass over `heap` (fresh, and big enough for the trace).
/// Frees every block still live at the end. Not thread-safe on one heap.
/// Throws std::invalid_argument when `t` breaks the trace invariants.
[[nodiscard]] replay_result replay_metrics(any_heap& heap, const trace& t, const replay_options& options = {});

/// The timing pass over `heap`. Cost: one clock read per operation plus
/// 4 bytes per operation for the latencies.
[[nodiscard]] replay_result replay_timing(any_heap& heap, const trace& t, const replay_options& options = {});

/// Both passes (as options say), each on a fresh heap from `make` over a fresh
/// anonymous region of options.region_bytes. Throws std::system_error when the
/// region cannot be mapped, and whatever `make` throws.
[[nodiscard]] replay_result replay(const heap_factory& make, const trace& t, const replay_options& options = {});

/// The timing pass over the C library's malloc, free and realloc (and
/// posix_memalign for alignments above 16), for comparison; has_metrics false.
[[nodiscard]] replay_result replay_malloc(const trace& t, const replay_options& options = {});

/// The region size replay() maps for `t` when options.region_bytes is 0.
[[nodiscard]] std::size_t default_region_bytes(const trace& t);

}  // namespace keel::alloc
