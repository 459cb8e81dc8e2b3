// Section 30, alloc: an allocation trace recorded from a real program (the sqlite3 shell,
// examples/data/sqlite_session.trace) replayed through every heap keel has and through
// the allocators a program would otherwise use (glibc malloc, and mimalloc when its
// library is installed): memory used at the peak and speed, side by side.
#include "console.hpp"
#include "tour.hpp"

#include <keel/alloc/any_heap.hpp>
#include <keel/alloc/heap_registry.hpp>
#include <keel/alloc/mimalloc_resource.hpp>
#include <keel/alloc/replay.hpp>
#include <keel/alloc/trace.hpp>
#include <keel/platform/anonymous_memory.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// mimalloc (in a region of its own, through keel's mimalloc_resource) in the shape of a
// keel heap, so replay_timing can drive it. Timing only: mimalloc does not report the
// memory it holds, so stats() and footprint() give only the requested bytes it serves,
// and the tour never reads them as mimalloc's footprint.
class mimalloc_heap {
public:
    static constexpr std::string_view name = "mimalloc";

    explicit mimalloc_heap(std::size_t bytes) : _resource(_source, bytes) {}

    void* allocate(std::size_t n, std::size_t align) noexcept {
        try {
            void* p = _resource.allocate(n, align);
            _requested += n;
            return p;
        } catch (const std::exception&) {
            return nullptr;  // the arena is full: a refused allocation, as a heap reports it
        }
    }
    void deallocate(void* p, std::size_t n, std::size_t align) noexcept {
        if (p == nullptr) return;
        _resource.deallocate(p, n, align);
        _requested -= n;
    }
    [[nodiscard]] bool owns(const void* p) const noexcept { return _resource.owns(p); }
    [[nodiscard]] keel::alloc::heap_stats stats() const noexcept {
        keel::alloc::heap_stats s;
        s.capacity_bytes = _resource.region().size();
        s.requested_bytes = _requested;
        return s;
    }
    [[nodiscard]] std::size_t footprint() const noexcept { return _requested; }
    [[nodiscard]] std::string verify() const { return {}; }

private:
    keel::platform::anonymous_memory _source;
    keel::alloc::mimalloc_resource _resource;
    std::size_t _requested = 0;
};

struct contender {
    std::string name;
    bool keel = false;
    std::unique_ptr<keel::alloc::any_heap> heap;  // null: glibc malloc
    std::vector<keel::alloc::replay_result> rounds;
};

// The round with the median throughput: one slow round (a page-fault burst, another
// process) moves neither the speed nor the tail latencies shown.
const keel::alloc::replay_result& median_round(std::vector<keel::alloc::replay_result>& rounds) {
    std::sort(rounds.begin(), rounds.end(),
              [](const auto& a, const auto& b) { return a.ops_per_second < b.ops_per_second; });
    return rounds[rounds.size() / 2];
}

keel_tour::section_result run(const keel_tour::options& options, keel_tour::progress& progress) {
    keel_tour::section_result result;
    progress.step("loading the sqlite3 allocation trace");
    const auto path = options.data_dir / "sqlite_session.trace";
    const auto trace = keel::alloc::load_trace(path);
    const auto summary = keel::alloc::summarize(trace);
    result.lines.push_back(
        "Trace: every malloc, realloc and free of the sqlite3 shell running "
        "examples/data/sqlite_session.sql, recorded with keel's LD_PRELOAD recorder: " +
        std::to_string(summary.ops) + " operations (" + std::to_string(summary.reallocations) +
        " reallocs), at most " +
        keel_tour::format_fixed(static_cast<double>(summary.peak_live_bytes) / 1e6, 2) + " MB in " +
        std::to_string(summary.peak_live_blocks) + " blocks live at once, largest block " +
        std::to_string(summary.max_size) + " B.");

    // Memory: keel's heaps report their footprint after every operation (the metrics pass).
    keel_tour::table memory{"Memory at the peak (keel heaps; the metrics pass)",
                            {"heap", "peak footprint / peak live", "external fragmentation at peak",
                             "refused allocations"},
                            {}};
    keel::alloc::replay_options metrics_only{.metrics = true, .timing = false};
    double tlsf_overhead = 0;
    for (auto name : keel::alloc::heap_names()) {
        progress.step("memory of the " + std::string(name) + " heap");
        auto r = keel::alloc::replay(
            [name](keel::platform::memory_region region) {
                return keel::alloc::make_heap(name, region);
            },
            trace, metrics_only);
        memory.rows.push_back({std::string(name), keel_tour::format_fixed(r.jw4, 3),
                               keel_tour::format_fixed(100 * r.external_fragmentation, 1) + " %",
                               std::to_string(r.failed_allocations)});
        if (name == "tlsf") tlsf_overhead = r.jw4;
    }
    result.tables.push_back(std::move(memory));

    // Speed: every allocator replays the trace the same number of rounds, interleaved,
    // each keeping its heap from round to round (warm, as a running program's is).
    std::vector<contender> contenders;
    const std::size_t region_bytes = keel::alloc::default_region_bytes(trace);
    std::vector<keel::platform::memory_region> regions;
    keel::platform::anonymous_memory source;
    for (auto name : keel::alloc::heap_names()) {
        auto region = source.map(region_bytes);
        if (!region)
            throw std::runtime_error("mapping a heap region failed: " + region.error().message());
        regions.push_back(*region);
        contenders.push_back(
            {std::string(name),
             true,
             std::make_unique<keel::alloc::any_heap>(keel::alloc::make_heap(name, *region)),
             {}});
    }
    contenders.push_back({"glibc malloc", false, nullptr, {}});
    std::string mimalloc_note;
    if (keel::alloc::mimalloc_resource::available()) {
        contenders.push_back({"mimalloc",
                              false,
                              std::make_unique<keel::alloc::any_heap>(
                                  std::in_place_type<mimalloc_heap>, region_bytes),
                              {}});
    } else {
        mimalloc_note =
            " mimalloc is not in this comparison: libmimalloc.so.2 is not installed "
            "(or keel was built without it).";
    }
    const int rounds = std::max(3, static_cast<int>(40 * options.scale));
    keel::alloc::replay_options timing_only{.metrics = false, .timing = true};
    for (int round = 0; round < rounds; ++round) {
        progress.step("speed: round " + std::to_string(round + 1) + " of " +
                      std::to_string(rounds) + " through " + std::to_string(contenders.size()) +
                      " allocators");
        for (auto& c : contenders) {
            c.rounds.push_back(c.heap ? keel::alloc::replay_timing(*c.heap, trace, timing_only)
                                      : keel::alloc::replay_malloc(trace, timing_only));
        }
    }
    keel_tour::table speed{"Speed: the trace replayed " + std::to_string(rounds) +
                               " times per allocator (the median round)",
                           {"allocator", "Mops/s", "p50 ns", "p99 ns", "p99.9 ns", "max ns"},
                           {}};
    const keel::alloc::replay_result* tlsf = nullptr;
    const keel::alloc::replay_result* glibc = nullptr;
    for (auto& c : contenders) {
        const auto& r = median_round(c.rounds);
        const auto& l = r.latency;
        speed.rows.push_back(
            {c.keel ? "keel " + c.name : c.name, keel_tour::format_fixed(r.ops_per_second / 1e6, 2),
             keel_tour::format_fixed(l.p50, 0), keel_tour::format_fixed(l.p99, 0),
             keel_tour::format_fixed(l.p999, 0), keel_tour::format_fixed(l.max, 0)});
        if (c.name == "tlsf") tlsf = &r;
        if (c.name == "glibc malloc") glibc = &r;
    }
    result.tables.push_back(std::move(speed));
    result.lines.push_back(
        "Latencies include the timer's own 10-25 ns. glibc malloc and mimalloc keep their memory "
        "to themselves, so only keel's heaps appear in the memory table." +
        mimalloc_note);
    if (tlsf == nullptr || glibc == nullptr)
        throw std::logic_error("the tlsf heap or glibc malloc did not run");
    result.lines.push_back("TLSF, keel's bounded-time heap (O(1) per call), held " +
                           keel_tour::format_fixed(tlsf_overhead, 3) +
                           " bytes of heap per live byte at the peak.");
    result.summary.push_back({"sqlite3 trace replay speed", "Mops/s", "keel tlsf",
                              tlsf->ops_per_second / 1e6, "glibc malloc",
                              glibc->ops_per_second / 1e6, true});
    result.summary.push_back({"sqlite3 trace, p99.9 latency of one call", "ns", "keel tlsf",
                              tlsf->latency.p999, "glibc malloc", glibc->latency.p999, false});
    contenders.clear();  // the heaps go before their regions
    for (const auto& region : regions)
        source.unmap(region);
    return result;
}

}  // namespace

KEEL_TOUR_SECTION(30, "alloc", "Heaps on a real allocation trace", run, {});
