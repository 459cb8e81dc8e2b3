// Uses the installed keel::platform and keel::alloc: probes the machine, maps
// memory and runs a TLSF heap in it behind std::pmr.
#include <keel/alloc/heap_resource.hpp>
#include <keel/alloc/tlsf_heap.hpp>
#include <keel/trust.hpp>
#include <keel/platform.hpp>
#include <keel/version.hpp>

#include <cstdio>
#include <cstring>
#include <memory_resource>
#include <vector>

int main() {
    auto backends = keel::platform::probe_backends();
    if (backends.empty()) {
        std::fprintf(stderr, "probe_backends() returned nothing\n");
        return 1;
    }
    keel::platform::anonymous_memory source;
    auto region = source.map(1 << 20);
    if (!region) {
        std::fprintf(stderr, "anonymous_memory::map failed: %s\n", region.error().message().c_str());
        return 1;
    }
    std::memset(region->data(), 0xab, region->size());
    {
        keel::alloc::tlsf_heap heap(*region);
        keel::alloc::heap_resource resource(heap);
        std::pmr::vector<int> numbers(&resource);
        for (int i = 0; i < 1000; ++i) numbers.push_back(i);
        if (!heap.owns(numbers.data()) || heap.stats().granted_bytes == 0) {
            std::fprintf(stderr, "the pmr vector did not allocate from the keel heap\n");
            return 1;
        }
    }
    source.unmap(*region);
    long total = 0;
    {
        keel::trust::runtime rt;
        auto counter = rt.entrust<long>(0L);
        for (int i = 0; i < 100; ++i) counter.apply_then([](long& v) { return ++v; }, [&total](long) { ++total; });
        keel::trust::drain();
        if (counter.apply([](long& v) { return v; }) != 100 || total != 100) {
            std::fprintf(stderr, "trust: 100 apply_then requests did not all run\n");
            return 1;
        }
    }
    std::printf("keel %s: %zu backends probed, a TLSF heap served a pmr vector in 1 MiB, "
                "a trustee ran %ld requests\n",
                keel::version_string, backends.size(), total);
    return 0;
}
