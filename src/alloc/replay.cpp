#include <keel/alloc/replay.hpp>

#include <keel/platform/anonymous_memory.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace keel::alloc {
namespace {

struct block {
    void* p = nullptr;
    std::size_t size = 0;
    std::size_t align = 0;
};

void fill(void* p, std::size_t size, replay_fill how) noexcept {
    if (p == nullptr || how == replay_fill::none) return;
    std::memset(p, 0xa5, how == replay_fill::all ? size : std::min<std::size_t>(size, 64));
}

// A cheap clock: the TSC on x86-64 (about 7 ns to read, against about 20 for
// steady_clock), calibrated once against steady_clock.
struct ticker {
    double ns_per_tick = 1.0;

    static std::uint64_t now() noexcept {
#if defined(__x86_64__)
        return __rdtsc();
#else
        return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              std::chrono::steady_clock::now().time_since_epoch())
                                              .count());
#endif
    }
    static const ticker& get() {
        static const ticker t = [] {
            ticker k;
#if defined(__x86_64__)
            const auto c0 = std::chrono::steady_clock::now();
            const auto t0 = now();
            while (std::chrono::steady_clock::now() - c0 < std::chrono::milliseconds(20)) {
            }
            const auto c1 = std::chrono::steady_clock::now();
            const auto t1 = now();
            const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(c1 - c0).count());
            if (t1 > t0) k.ns_per_tick = ns / static_cast<double>(t1 - t0);
#endif
            return k;
        }();
        return t;
    }
};

// Records one duration per op, in ticks, saturating at 2^32 - 1.
class latency_log {
public:
    explicit latency_log(std::size_t ops) { _ticks.reserve(ops); }
    void add(std::uint64_t t0, std::uint64_t t1) {
        const std::uint64_t d = t1 >= t0 ? t1 - t0 : 0;
        _ticks.push_back(static_cast<std::uint32_t>(std::min<std::uint64_t>(d, 0xffffffffU)));
        _sum += d;
    }
    void finish(replay_result& r) {
        const double k = ticker::get().ns_per_tick;
        r.has_timing = true;
        r.ops = _ticks.size();
        r.seconds = static_cast<double>(_sum) * k * 1e-9;
        r.ops_per_second = r.seconds > 0 ? static_cast<double>(r.ops) / r.seconds : 0;
        if (_ticks.empty()) return;
        // Nearest rank: the smallest value with at least q of the samples at or below it.
        auto rank = [&](double q) {
            const auto n = static_cast<double>(_ticks.size());
            auto idx = static_cast<std::size_t>(q * n + 0.999999);
            return std::clamp<std::size_t>(idx, 1, _ticks.size()) - 1;
        };
        auto from = _ticks.begin();
        auto pick = [&](double q) {
            auto nth = _ticks.begin() + static_cast<std::ptrdiff_t>(rank(q));
            std::nth_element(from, nth, _ticks.end());
            from = nth;
            return static_cast<double>(*nth) * k;
        };
        r.latency.p50 = pick(0.50);
        r.latency.p90 = pick(0.90);
        r.latency.p99 = pick(0.99);
        r.latency.p999 = pick(0.999);
        r.latency.max = static_cast<double>(*std::max_element(from, _ticks.end())) * k;
    }

private:
    std::vector<std::uint32_t> _ticks;
    std::uint64_t _sum = 0;
};

void check(const trace& t) {
    if (auto e = check_trace(t); !e.empty()) throw std::invalid_argument("replay: the trace is invalid: " + e);
}

// A realloc on a keel heap: in place when the heap can (try_resize; the block
// keeps its alignment), else allocate, copy min(old, new) bytes, free the old
// block. Returns the new block (p null when the heap refused) and clears old.p.
block heap_realloc(any_heap& heap, block& old, std::size_t size, std::size_t align) noexcept {
    if (old.p != nullptr && (align == 0 || reinterpret_cast<std::uintptr_t>(old.p) % align == 0) &&
        heap.try_resize(old.p, old.size, size, old.align)) {
        const block b{old.p, size, old.align};
        old.p = nullptr;
        return b;
    }
    const block b{heap.allocate(size, align), size, align};
    if (b.p != nullptr && old.p != nullptr) std::memcpy(b.p, old.p, std::min(old.size, size));
    if (old.p != nullptr) heap.deallocate(old.p, old.size, old.align);
    old.p = nullptr;
    return b;
}

// The calls a timing pass makes, for a keel heap and for the C library.
// reallocate() may leave old.p set when it refuses; the caller then frees it
// untimed (the trace says the old block ended anyway).
struct heap_calls {
    any_heap& heap;
    void* allocate(std::size_t size, std::size_t align) noexcept { return heap.allocate(size, align); }
    void deallocate(const block& b) noexcept { heap.deallocate(b.p, b.size, b.align); }
    block reallocate(block& old, std::size_t size, std::size_t align) noexcept {
        return heap_realloc(heap, old, size, align);
    }
};

struct malloc_calls {
    void* allocate(std::size_t size, std::size_t align) noexcept {
        if (align <= default_alignment) return std::malloc(size);
        void* p = nullptr;
        return posix_memalign(&p, std::max(align, sizeof(void*)), size) == 0 ? p : nullptr;
    }
    void deallocate(const block& b) noexcept { std::free(b.p); }
    block reallocate(block& old, std::size_t size, std::size_t align) noexcept {
        if (size == 0) {
            // realloc(p, 0) frees in glibc; the trace wants a live 0-byte block.
            void* p = std::malloc(0);
            std::free(old.p);
            old.p = nullptr;
            return {p, size, align};
        }
        void* p = std::realloc(old.p, size);
        if (p != nullptr) old.p = nullptr;
        return {p, size, align};
    }
};

// The timing pass: each call of `calls` timed on its own.
template <class Calls>
replay_result time_calls(Calls& calls, std::string name, const trace& t, const replay_options& options) {
    replay_result r;
    r.heap = std::move(name);
    std::vector<block> blocks(t.blocks);
    latency_log log(t.ops.size());
    for (const trace_op& op : t.ops) {
        switch (op.what) {
            case trace_op::kind::allocate: {
                const auto t0 = ticker::now();
                void* p = calls.allocate(op.size, op.align);
                log.add(t0, ticker::now());
                blocks[op.id] = {p, op.size, op.align};
                if (p == nullptr) ++r.failed_allocations;
                fill(p, op.size, options.fill);
                break;
            }
            case trace_op::kind::free: {
                block& b = blocks[op.id];
                if (b.p == nullptr) break;
                const auto t0 = ticker::now();
                calls.deallocate(b);
                log.add(t0, ticker::now());
                b.p = nullptr;
                break;
            }
            case trace_op::kind::reallocate: {
                block& old = blocks[op.old_id];
                const auto t0 = ticker::now();
                const block b = calls.reallocate(old, op.size, op.align);
                log.add(t0, ticker::now());
                if (old.p != nullptr) {  // refused: the trace says the old block ended anyway
                    calls.deallocate(old);
                    old.p = nullptr;
                }
                blocks[op.id] = b;
                if (b.p == nullptr) ++r.failed_allocations;
                break;
            }
        }
    }
    for (const auto& b : blocks) {
        if (b.p != nullptr) calls.deallocate(b);
    }
    log.finish(r);
    return r;
}

}  // namespace

std::size_t default_region_bytes(const trace& t) {
    const auto s = summarize(t);
    const std::uint64_t cap = std::uint64_t{1} << 46;
    std::uint64_t want = std::max<std::uint64_t>(std::uint64_t{64} << 20,
                                                 std::min(cap / 32, s.peak_live_bytes) * 16 + std::uint64_t{s.max_align} * 16);
    want = (want + 4095) & ~std::uint64_t{4095};
    return static_cast<std::size_t>(want);
}

replay_result replay_metrics(any_heap& heap, const trace& t, const replay_options& options) {
    const trace_summary summary = summarize(t);  // also checks the invariants
    replay_result r;
    r.heap = std::string(heap.name());
    r.has_metrics = true;
    std::vector<block> blocks(t.blocks);
    std::uint64_t live = 0;
    std::uint64_t peak_live = 0;
    std::uint64_t heap_at_peak_live = 0;
    std::uint64_t peak_heap = 0;
    std::uint64_t live_at_peak_heap = 0;
    double ratio_sum = 0;
    std::uint64_t ratio_points = 0;
    bool snapped = false;

    for (std::size_t i = 0; i < t.ops.size(); ++i) {
        const trace_op& op = t.ops[i];
        switch (op.what) {
            case trace_op::kind::allocate: {
                block& b = blocks[op.id];
                b = {heap.allocate(op.size, op.align), op.size, op.align};
                if (b.p == nullptr) {
                    ++r.failed_allocations;
                } else {
                    live += op.size;
                    fill(b.p, b.size, options.fill);
                }
                break;
            }
            case trace_op::kind::free: {
                block& b = blocks[op.id];
                if (b.p != nullptr) {
                    heap.deallocate(b.p, b.size, b.align);
                    live -= b.size;
                    b.p = nullptr;
                }
                break;
            }
            case trace_op::kind::reallocate: {
                block& old = blocks[op.old_id];
                const std::size_t old_size = old.p != nullptr ? old.size : 0;
                live -= old_size;
                const block b = heap_realloc(heap, old, op.size, op.align);
                blocks[op.id] = b;
                if (b.p == nullptr) {
                    ++r.failed_allocations;
                } else {
                    live += op.size;
                    if (options.fill == replay_fill::all && b.size > old_size) {
                        std::memset(static_cast<std::byte*>(b.p) + old_size, 0xa5, b.size - old_size);
                    }
                }
                break;
            }
        }
        const std::uint64_t fp = heap.footprint();
        if (live > 0) {
            ratio_sum += static_cast<double>(fp) / static_cast<double>(live);
            ++ratio_points;
        }
        if (live > peak_live) {
            peak_live = live;
            heap_at_peak_live = fp;
        }
        if (fp > peak_heap) {
            peak_heap = fp;
            live_at_peak_heap = live;
        }
        if (!snapped && i == summary.peak_live_op && summary.peak_live_bytes > 0) {
            const heap_stats s = heap.stats();
            r.external_fragmentation = s.external_fragmentation();
            r.internal_fragmentation = s.internal_fragmentation();
            snapped = true;
        }
    }
    for (auto& b : blocks) {
        if (b.p != nullptr) heap.deallocate(b.p, b.size, b.align);
        b.p = nullptr;
    }
    auto div = [](std::uint64_t a, std::uint64_t b) {
        return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
    };
    r.jw1 = ratio_points == 0 ? 0.0 : ratio_sum / static_cast<double>(ratio_points);
    r.jw2 = div(heap_at_peak_live, peak_live);
    r.jw3 = div(peak_heap, live_at_peak_heap);
    r.jw4 = div(peak_heap, peak_live);
    r.resized_in_place = heap.stats().resizes;
    r.peak_footprint = static_cast<std::size_t>(peak_heap);
    r.peak_live = static_cast<std::size_t>(peak_live);
    if (options.verify) r.verify_error = heap.verify();
    return r;
}

replay_result replay_timing(any_heap& heap, const trace& t, const replay_options& options) {
    check(t);
    heap_calls calls{heap};
    return time_calls(calls, std::string(heap.name()), t, options);
}

replay_result replay(const heap_factory& make, const trace& t, const replay_options& options) {
    check(t);
    const std::size_t bytes = options.region_bytes != 0 ? options.region_bytes : default_region_bytes(t);
    platform::anonymous_memory source;
    auto fresh = [&] {
        auto region = platform::map_unique(source, bytes);
        if (!region) {
            throw std::system_error(static_cast<int>(region.error().value()), std::generic_category(),
                                    "replay: cannot map a region of " + std::to_string(bytes) + " bytes");
        }
        return std::move(*region);
    };
    replay_result r;
    if (options.metrics) {
        auto region = fresh();
        any_heap heap = make(region.get());
        r = replay_metrics(heap, t, options);
    }
    if (options.timing) {
        auto region = fresh();
        any_heap heap = make(region.get());
        replay_result timed = replay_timing(heap, t, options);
        r.heap = timed.heap;
        r.has_timing = true;
        r.ops = timed.ops;
        r.seconds = timed.seconds;
        r.ops_per_second = timed.ops_per_second;
        r.latency = timed.latency;
        if (!options.metrics) r.failed_allocations = timed.failed_allocations;
    }
    return r;
}

replay_result replay_malloc(const trace& t, const replay_options& options) {
    check(t);
    malloc_calls calls;
    return time_calls(calls, "malloc", t, options);
}

}  // namespace keel::alloc
