// keel::alloc in three scenes: a TLSF heap in shareable memory behind std::pmr
// containers; a best-fit heap that grows region by region up to a hard cap and
// then fails cleanly; and the checks that catch a double free and an overrun.
#include <keel/alloc.hpp>
#include <keel/platform/anonymous_memory.hpp>
#include <keel/platform/shared_memory.hpp>

#include <cstdio>
#include <memory_resource>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace ka = keel::alloc;
namespace kp = keel::platform;

namespace {

void print_stats(const char* what, const ka::heap_stats& s) {
    std::printf("  %-26s live %zu B (granted %zu), free %zu B in %zu blocks, largest %zu, "
                "footprint %zu (peak %zu), external fragmentation %.3f\n",
                what, s.requested_bytes, s.granted_bytes, s.free_bytes, s.free_blocks,
                s.largest_free_block, s.footprint_bytes, s.peak_footprint_bytes,
                s.external_fragmentation());
}

void pmr_in_shared_memory() {
    std::printf("TLSF heap in a memfd region (shareable by fd), behind std::pmr:\n");
    kp::memfd_memory shm;
    auto region = kp::map_unique(shm, 8 << 20);
    if (!region) throw std::system_error(region.error(), "mapping 8 MiB of memfd memory");
    ka::tlsf_heap heap(region->get());
    ka::heap_resource resource(heap);
    {
        std::pmr::vector<std::pmr::string> names(&resource);
        for (int i = 0; i < 10000; ++i) {
            names.emplace_back("a string long enough to leave the small-string buffer #" + std::to_string(i));
        }
        print_stats("10000 strings:", heap.stats());
        names.erase(names.begin(), names.begin() + 5000);
        names.shrink_to_fit();
        print_stats("after erasing half:", heap.stats());
    }
    print_stats("after the vector died:", heap.stats());
    std::printf("  every block came back: %s\n", heap.stats().granted_bytes == 0 ? "yes" : "NO");
}

void growing_with_a_cap() {
    std::printf("Best-fit heap growing in 1 MiB regions, capped at 4 MiB:\n");
    kp::anonymous_memory source;
    ka::growing_heap<ka::best_fit_heap, kp::anonymous_memory> heap(
        source, ka::growing_heap_options{.chunk_bytes = 1 << 20, .cap_bytes = 4 << 20});
    std::vector<void*> blocks;
    while (void* p = heap.allocate(64 * 1024)) blocks.push_back(p);
    std::printf("  %zu blocks of 64 KiB before allocate() returned nullptr; %llu failed request(s)\n",
                blocks.size(), static_cast<unsigned long long>(heap.stats().failed_allocations));
    print_stats("at the cap:", heap.stats());
    for (void* p : blocks) heap.deallocate(p, 64 * 1024);
    print_stats("all freed:", heap.stats());
}

// True when both misuses were reported.
bool checks_catch_misuse() {
    std::printf("checked_heap over first fit, with a handler that reports instead of aborting:\n");
    kp::anonymous_memory source;
    auto region = kp::map_unique(source, 1 << 20);
    if (!region) throw std::system_error(region.error(), "mapping 1 MiB");
    int reports = 0;
    auto checks = ka::heap_check_options::all([&](const ka::heap_misuse& m) {
        ++reports;
        std::printf("  caught: %s\n", ka::to_string(m).c_str());
    });
    // Under AddressSanitizer the fences are poisoned by default, and ASan stops the
    // overrun below before the heap can report it; this demonstration wants the heap's
    // own report. Keep the default in a program built with ASan.
    checks.poison_fences = false;
    ka::checked_heap<ka::first_fit_heap> heap(std::move(checks), region->get());
    auto* p = static_cast<char*>(heap.allocate(100));
    p[100] = 'x';  // one byte past the end: lands in the fence
    heap.deallocate(p, 100);
    void* q = heap.allocate(32);
    heap.deallocate(q, 32);
    heap.deallocate(q, 32);  // double free
    std::printf("  %d misuse report(s)\n", reports);
    return reports == 2;
}

}  // namespace

int main() {
    pmr_in_shared_memory();
    growing_with_a_cap();
    return checks_catch_misuse() ? 0 : 1;
}
