// Uses the installed keel::platform: probes the machine and maps memory.
#include <keel/platform.hpp>
#include <keel/version.hpp>

#include <cstdio>
#include <cstring>

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
    source.unmap(*region);
    std::printf("keel %s: %zu backends probed, 1 MiB mapped and unmapped\n",
                keel::version_string, backends.size());
    return 0;
}
