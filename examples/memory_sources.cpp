// Which memory sources does this machine offer? Probes each one and, where it is
// available, maps a region, touches every page and shows what came back.
#include <keel/platform/anonymous_memory.hpp>
#include <keel/platform/file_memory.hpp>
#include <keel/platform/huge_page_memory.hpp>
#include <keel/platform/numa_memory.hpp>
#include <keel/platform/shared_memory.hpp>
#include <keel/platform/topology.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace keel::platform;

namespace {

// The largest power of two (up to 1 GiB) that the address is aligned to.
std::size_t alignment_of(const void* p) {
    auto a = reinterpret_cast<std::uintptr_t>(p);
    std::size_t align = 1;
    while (align < (std::size_t{1} << 30) && a % (align * 2) == 0) align *= 2;
    return align;
}

std::string human(std::size_t bytes) {
    if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
    if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
    return std::to_string(bytes) + " B";
}

// Prints the probe line; if available, maps ~3 MiB from the source and touches it.
template <memory_source Source, class Make>
void show(Make make) {
    backend_status status = Source::probe();
    std::printf("%-24s %-4s %s\n", status.name.c_str(), status.available ? "yes" : "no", status.reason.c_str());
    if (!status.available) return;
    Source source = make();
    auto region = map_unique(source, 3 << 20);
    if (!region) {
        std::printf("%28s map failed: %s\n", "", region.error().message().c_str());
        return;
    }
    const memory_region& r = region->get();
    for (std::size_t off = 0; off < r.size(); off += 4096) r.data()[off] = std::byte{1};
    std::printf("%28s mapped %s at %p, aligned to %s, granularity %s, fd %d\n", "", human(r.size()).c_str(),
                static_cast<void*>(r.data()), human(alignment_of(r.data())).c_str(),
                human(source.granularity()).c_str(), r.fd());
}

}  // namespace

int main() {
    const topology& t = this_machine();
    std::printf("machine: %zu CPUs, %zu cores, %zu packages, %zu NUMA nodes, %zu-byte cache lines\n\n",
                t.logical_cpu_count, t.physical_core_count, t.package_count, t.numa_nodes.size(), t.cache_line_size);

    show<anonymous_memory>([] { return anonymous_memory{}; });
    show<transparent_huge_page_memory>([] { return transparent_huge_page_memory{}; });
    show<hugetlb_memory>([] { return hugetlb_memory{}; });
    show<memfd_memory>([] { return memfd_memory({.debug_name = "keel-example"}); });
    const std::string shm_name = "/keel-example-" + std::to_string(::getpid());
    show<posix_shm_memory>([&] { return posix_shm_memory(shm_name); });  // unlinked when it goes
    show<numa_memory>([&] { return numa_memory({t.numa_nodes.front().id}, numa_policy::bind); });

    char dir[] = "/tmp/keel-example-XXXXXX";
    if (::mkdtemp(dir) != nullptr) {
        const std::string path = std::string(dir) + "/pool";
        show<file_memory>([&] { return file_memory(path); });
        ::unlink(path.c_str());
        ::rmdir(dir);
    }
    return 0;
}
