// Section 10, platform: what this machine offers keel (the backend probe), then what one
// of those backends buys: first touch (page faults, time) and random reads over a large region
// mapped with transparent huge pages (transparent_huge_page_memory) next to a plain mmap.
#include "console.hpp"
#include "tour.hpp"

#include <keel/platform/anonymous_memory.hpp>
#include <keel/platform/backend_status.hpp>
#include <keel/platform/huge_page_memory.hpp>
#include <keel/platform/topology.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace {

using clock_type = std::chrono::steady_clock;

volatile std::uint64_t read_sink = 0;

long minor_faults() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

struct memory_figures {
    double touch_ms = 0;  // writing every page once (page faults included)
    long faults = 0;      // minor page faults that first touch took
    double read_ns = 0;   // one random 8-byte read, best of the rounds
};

// Touches every page of `region`, then reads `reads` random words from it.
memory_figures measure(const keel::platform::memory_region& region, std::size_t reads, int rounds) {
    memory_figures f;
    auto* words = reinterpret_cast<std::uint64_t*>(region.data());
    const std::size_t count = region.size() / sizeof(std::uint64_t);
    long faults_before = minor_faults();
    auto start = clock_type::now();
    for (std::size_t i = 0; i < count; i += 512)
        words[i] = i;  // one write per 4 KiB page
    f.touch_ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
    f.faults = minor_faults() - faults_before;

    // Each read's address depends on the previous value, so the CPU cannot overlap
    // them: the time per read is the latency of a TLB walk plus a cache miss.
    f.read_ns = 1e300;
    for (int round = 0; round < rounds; ++round) {
        std::uint64_t state = std::uint64_t{0x9e3779b97f4a7c15} + static_cast<std::uint64_t>(round);
        std::uint64_t sum = 0;
        start = clock_type::now();
        for (std::size_t i = 0; i < reads; ++i) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            sum += words[(state ^ sum) % count];
        }
        double ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count() /
                    static_cast<double>(reads);
        read_sink = sum;  // keeps the loop from being optimised away
        f.read_ns = std::min(f.read_ns, ns);
    }
    return f;
}

template <class Source>
memory_figures map_and_measure(Source& source, std::size_t bytes, std::size_t reads, int rounds) {
    auto region = source.map(bytes);
    if (!region) {
        throw std::runtime_error(std::string(Source::name) + " map of " +
                                 std::to_string(bytes >> 20) +
                                 " MiB failed: " + region.error().message());
    }
    auto figures = measure(*region, reads, rounds);
    source.unmap(*region);
    return figures;
}

keel_tour::section_result run(const keel_tour::options& options, keel_tour::progress& progress) {
    keel_tour::section_result result;
    progress.step("probing the kernel and hardware for every backend");
    const auto& machine = keel::platform::this_machine();
    result.lines.push_back(std::to_string(machine.logical_cpu_count) + " logical CPUs (" +
                           std::to_string(machine.allowed_cpus.size()) + " allowed), " +
                           std::to_string(machine.physical_core_count) + " cores, " +
                           std::to_string(machine.numa_nodes.size()) +
                           " NUMA node(s), cache line " + std::to_string(machine.cache_line_size) +
                           " B, page " + std::to_string(machine.page_size) + " B, huge page " +
                           std::to_string(machine.huge_page_size) + " B.");
    result.lines.push_back(
        "keel picks among these backends at run time; each line says why a backend is or is not "
        "usable here (KEEL_DISABLE_BACKENDS=name,... forces a fallback).");
    keel_tour::table probe{
        "Backends this machine offers", {"kind", "backend", "usable", "why"}, {}};
    int usable = 0;
    auto backends = keel::platform::probe_backends();
    for (const auto& b : backends) {
        probe.rows.push_back({b.kind, b.name, b.available ? "yes" : "no", b.reason});
        usable += b.available ? 1 : 0;
    }
    result.tables.push_back(std::move(probe));
    result.lines.push_back(std::to_string(usable) + " of " + std::to_string(backends.size()) +
                           " backends are usable on this machine.");

    // 256 MiB at scale 1: far beyond what the TLB covers with 4 KiB pages (a few MiB),
    // within what it covers with 2 MiB pages.
    constexpr std::size_t mib = std::size_t{1} << 20;
    auto region_mib = static_cast<std::size_t>(std::clamp(256.0 * options.scale, 32.0, 1024.0));
    region_mib = (region_mib + 1) / 2 * 2;
    auto reads = static_cast<std::size_t>(std::max(2e6 * options.scale, 2e5));
    constexpr int rounds = 3;

    auto thp_status = keel::platform::transparent_huge_page_memory::probe();
    progress.step("random reads over " + std::to_string(region_mib) +
                  " MiB of plain anonymous memory");
    keel::platform::anonymous_memory plain;
    auto base = map_and_measure(plain, region_mib * mib, reads, rounds);
    progress.step("random reads over " + std::to_string(region_mib) +
                  " MiB of transparent huge pages");
    keel::platform::transparent_huge_page_memory huge;
    auto thp = map_and_measure(huge, region_mib * mib, reads, rounds);

    keel_tour::table memory{
        "A " + std::to_string(region_mib) + " MiB region: first touch and " +
            std::to_string(reads) + " dependent random 8-byte reads (best of " +
            std::to_string(rounds) + ")",
        {"memory source", "first touch ms", "page faults", "ns per random read"},
        {{"anonymous (mmap, 4 KiB pages)", keel_tour::format_fixed(base.touch_ms, 1),
          std::to_string(base.faults), keel_tour::format_fixed(base.read_ns, 1)},
         {"keel transparent_huge_page_memory", keel_tour::format_fixed(thp.touch_ms, 1),
          std::to_string(thp.faults), keel_tour::format_fixed(thp.read_ns, 1)}}};
    result.tables.push_back(std::move(memory));
    result.lines.push_back("Transparent huge pages here: " + thp_status.reason +
                           (thp_status.available ? "" : " (so both regions use small pages)") +
                           ".");
    result.lines.push_back(
        "Huge pages cut the page faults (and the kernel's work per fault) by the page size "
        "ratio; whether they also speed up random reads depends on the CPU's TLB and, in a "
        "virtual machine, on how the host backs the guest's memory.");
    const std::string region_text = std::to_string(region_mib) + " MiB";
    result.summary.push_back({"page faults to first-touch " + region_text, "faults",
                              "transparent_huge_page_memory", static_cast<double>(thp.faults),
                              "plain mmap", static_cast<double>(base.faults), false});
    result.summary.push_back({"first touch of " + region_text, "ms", "transparent_huge_page_memory",
                              thp.touch_ms, "plain mmap", base.touch_ms, false});
    return result;
}

}  // namespace

KEEL_TOUR_SECTION(10, "platform", "What this machine offers keel", run, {});
