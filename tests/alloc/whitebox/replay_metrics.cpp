// Trace replay over a bump heap whose footprint and free blocks can be
// worked out by hand: the Johnstone & Wilson numbers exactly, failed
// allocations, the timing pass's percentiles, and the malloc baseline.

#include <keel/alloc/replay.hpp>

#include <keel/alloc/detail/align.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace keel::alloc;
using keel::platform::memory_region;

namespace {

// Never reuses memory: each block goes at the cursor, 16-byte granules.
// Footprint: the end of the highest live block. Free blocks: the gaps between
// live blocks, and the tail.
class bump_heap {
public:
    static constexpr std::string_view name = "bump";
    explicit bump_heap(memory_region region) : _region(region) {}

    void* allocate(std::size_t n, std::size_t align) noexcept {
        const std::size_t granted = detail::align_up(n == 0 ? 1 : n, 16);
        const std::size_t start = detail::align_up(_cursor, std::max<std::size_t>(align, 16));
        if (!is_valid_alignment(align) || n > _region.size() || granted > _region.size() - start ||
            start > _region.size()) {
            ++_failed;
            return nullptr;
        }
        _cursor = start + granted;
        _live[start] = {n, granted};
        ++_allocations;
        return _region.data() + start;
    }
    void deallocate(void* p, std::size_t n, std::size_t) noexcept {
        if (p == nullptr) return;
        const auto off = static_cast<std::size_t>(static_cast<std::byte*>(p) - _region.data());
        auto it = _live.find(off);
        if (it == _live.end() || it->second.first != n) {
            bad_free = true;
            return;
        }
        _live.erase(it);
        ++_deallocations;
    }
    bool owns(void* p) const noexcept { return _region.contains(p); }
    std::size_t footprint() const noexcept {
        return _live.empty() ? 0 : _live.rbegin()->first + _live.rbegin()->second.second;
    }
    heap_stats stats() const noexcept {
        heap_stats s;
        s.capacity_bytes = _region.size();
        std::size_t end = 0;
        auto gap = [&](std::size_t g) {
            if (g == 0) return;
            s.free_bytes += g;
            ++s.free_blocks;
            s.largest_free_block = std::max(s.largest_free_block, g);
        };
        for (const auto& [off, sizes] : _live) {
            gap(off - end);
            s.requested_bytes += sizes.first;
            s.granted_bytes += sizes.second;
            end = off + sizes.second;
        }
        gap(_region.size() - end);
        s.footprint_bytes = footprint();
        s.allocations = _allocations;
        s.deallocations = _deallocations;
        s.failed_allocations = _failed;
        return s;
    }
    std::string verify() const { return bad_free ? "a free of a block the heap did not give" : ""; }

    bool bad_free = false;

private:
    memory_region _region;
    std::size_t _cursor = 0;
    std::map<std::size_t, std::pair<std::size_t, std::size_t>> _live;  // offset -> requested, granted
    std::uint64_t _allocations = 0, _deallocations = 0, _failed = 0;
};

struct buffer {
    explicit buffer(std::size_t n) : bytes(n + 4096) {}
    memory_region region(std::size_t n) {
        return {detail::align_up(bytes.data(), 4096), n};
    }
    std::vector<std::byte> bytes;
};

trace make(std::vector<trace_op> ops) {
    trace t;
    t.ops = std::move(ops);
    for (const auto& op : t.ops) {
        if (op.what != trace_op::kind::free) ++t.blocks;
    }
    REQUIRE(check_trace(t).empty());
    return t;
}

}  // namespace

TEST_CASE("the metrics pass gives the Johnstone & Wilson numbers worked out by hand") {
    using op = trace_op;
    // Block ids: a=0 x=1 b=2 c=3 d=4. Offsets in the bump heap, with heap
    // (footprint) and live after each op:
    //   0 m a 64   [0,64)      heap  64 live  64   ratio 1
    //   1 m x 32   [64,96)     heap  96 live  96   ratio 1
    //   2 f a                  heap  96 live  32   ratio 3
    //   3 m b 128  [96,224)    heap 224 live 160   ratio 1.4
    //   4 m c 64   [224,288)   heap 288 live 224   ratio 9/7   <- peak live
    //   5 f x                  heap 288 live 192   ratio 1.5
    //   6 f b                  heap 288 live  64   ratio 4.5
    //   7 m d 128  [288,416)   heap 416 live 192   ratio 13/6  <- peak heap
    //   8 f c                  heap 416 live 128   ratio 3.25
    //   9 f d                  heap   0 live   0   (not averaged)
    const trace t = make({op::allocate(0, 64), op::allocate(1, 32), op::free(0), op::allocate(2, 128),
                          op::allocate(3, 64), op::free(1), op::free(2), op::allocate(4, 128), op::free(3),
                          op::free(4)});
    buffer mem(4096);
    any_heap heap(std::in_place_type<bump_heap>, mem.region(4096));
    replay_options options;
    options.verify = true;
    const replay_result r = replay_metrics(heap, t, options);
    CHECK(r.heap == "bump");
    CHECK(r.has_metrics);
    CHECK_FALSE(r.has_timing);
    const double jw1 = (1 + 1 + 3 + 1.4 + 9.0 / 7 + 1.5 + 4.5 + 13.0 / 6 + 3.25) / 9;
    CHECK(r.jw1 == Approx(jw1).epsilon(1e-12));
    CHECK(r.jw2 == Approx(288.0 / 224));
    CHECK(r.jw3 == Approx(416.0 / 192));
    CHECK(r.jw4 == Approx(416.0 / 224));
    CHECK(r.peak_footprint == 416);
    CHECK(r.peak_live == 224);
    CHECK(r.failed_allocations == 0);
    // At op 4 the free blocks are the hole [0,64) and the tail [288,4096).
    CHECK(r.external_fragmentation == Approx(1.0 - 3808.0 / (3808 + 64)));
    CHECK(r.internal_fragmentation == 0.0);
    CHECK(r.verify_error.empty());
    CHECK(heap.stats().requested_bytes == 0);
}

TEST_CASE("internal fragmentation is read at the peak of live bytes") {
    using op = trace_op;
    // The peak of live bytes is the 100-byte block (112 granted) at op 0;
    // 20 and 40 bytes later take [112,144) and [144,192).
    const trace t = make({op::allocate(0, 100), op::free(0), op::allocate(1, 20), op::allocate(2, 40),
                          op::free(1), op::free(2)});
    buffer mem(4096);
    any_heap heap(std::in_place_type<bump_heap>, mem.region(4096));
    const replay_result r = replay_metrics(heap, t);
    CHECK(r.peak_live == 100);
    CHECK(r.internal_fragmentation == Approx(12.0 / 112));
    CHECK(r.peak_footprint == 192);
    CHECK(r.jw4 == Approx(192.0 / 100));
}

TEST_CASE("allocations the heap refuses are counted and their frees skipped") {
    using op = trace_op;
    const trace t = make({op::allocate(0, 100), op::allocate(1, 1000), op::allocate(2, 50, 8192),
                          op::reallocate(0, 3, 5000), op::free(1), op::allocate(4, 16), op::free(2),
                          op::free(3), op::free(4)});
    buffer mem(512);
    any_heap heap(std::in_place_type<bump_heap>, mem.region(512));
    const replay_result r = replay_metrics(heap, t);
    // 1000 bytes do not fit, 8192 is no valid alignment, the realloc to 5000
    // does not fit (its old block still ends).
    CHECK(r.failed_allocations == 3);
    CHECK(r.peak_live == 100);
    auto* bump = heap.target<bump_heap>();
    REQUIRE(bump != nullptr);
    CHECK_FALSE(bump->bad_free);
    CHECK(heap.stats().requested_bytes == 0);
    CHECK(heap.stats().deallocations == 2);  // blocks 0 (by the realloc) and 4

    const replay_result timed = replay_timing(heap, t);
    CHECK(timed.failed_allocations == 3);
    CHECK_FALSE(bump->bad_free);
}

TEST_CASE("reallocation copies the old contents") {
    using op = trace_op;
    const trace t = make({op::allocate(0, 64), op::reallocate(0, 1, 128), op::reallocate(1, 2, 16)});
    buffer mem(4096);
    any_heap heap(std::in_place_type<bump_heap>, mem.region(4096));
    replay_options options;
    options.fill = replay_fill::all;
    const replay_result r = replay_metrics(heap, t, options);
    CHECK(r.failed_allocations == 0);
    CHECK(r.peak_live == 128);
    // Blocks at 0, 64, 192: each was filled by the fill or the copy.
    const auto* base = reinterpret_cast<const unsigned char*>(mem.region(4096).data());
    CHECK(base[0] == 0xa5);
    CHECK(base[64 + 63] == 0xa5);
    CHECK(base[64 + 127] == 0xa5);
    CHECK(base[192 + 15] == 0xa5);
    CHECK(base[192 + 16] == 0);
}

TEST_CASE("the timing pass reports ordered percentiles and a sane rate") {
    std::mt19937_64 rng(7);
    trace t;
    std::vector<std::uint32_t> live;
    for (int i = 0; i < 20000; ++i) {
        if (!live.empty() && rng() % 2 == 0) {
            const std::size_t k = rng() % live.size();
            t.ops.push_back(trace_op::free(live[k]));
            live[k] = live.back();
            live.pop_back();
        } else {
            t.ops.push_back(trace_op::allocate(t.blocks, 1 + rng() % 256));
            live.push_back(t.blocks++);
        }
    }
    const std::size_t region = std::size_t{16} << 20;
    heap_factory factory = [](memory_region r) { return any_heap(std::in_place_type<bump_heap>, r); };
    replay_options options;
    options.region_bytes = region;
    const replay_result r = replay(factory, t, options);
    CHECK(r.has_metrics);
    CHECK(r.has_timing);
    CHECK(r.heap == "bump");
    CHECK(r.ops == t.ops.size());
    CHECK(r.failed_allocations == 0);
    CHECK(r.jw4 >= 1.0);
    CHECK(r.seconds > 0);
    CHECK(r.ops_per_second > 1e4);
    CHECK(r.latency.p50 <= r.latency.p90);
    CHECK(r.latency.p90 <= r.latency.p99);
    CHECK(r.latency.p99 <= r.latency.p999);
    CHECK(r.latency.p999 <= r.latency.max);
    CHECK(r.latency.max > 0);
    CHECK(r.latency.p50 < 1e6);  // a map insert is far below a millisecond

    const replay_result base = replay_malloc(t);
    CHECK(base.heap == "malloc");
    CHECK(base.has_timing);
    CHECK_FALSE(base.has_metrics);
    CHECK(base.ops == t.ops.size());
    CHECK(base.latency.p50 <= base.latency.max);
    CHECK(base.failed_allocations == 0);

    options.timing = false;
    const replay_result only = replay(factory, t, options);
    CHECK(only.has_metrics);
    CHECK_FALSE(only.has_timing);
    CHECK(only.jw4 == r.jw4);
}

TEST_CASE("replay rejects a trace that breaks its invariants") {
    trace t;
    t.ops = {trace_op::free(0)};
    t.blocks = 1;
    buffer mem(4096);
    any_heap heap(std::in_place_type<bump_heap>, mem.region(4096));
    CHECK_THROWS_AS(replay_metrics(heap, t), std::invalid_argument);
    CHECK_THROWS_AS(replay_timing(heap, t), std::invalid_argument);
    CHECK_THROWS_AS(replay_malloc(t), std::invalid_argument);
}
