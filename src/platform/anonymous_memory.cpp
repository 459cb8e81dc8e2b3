#include <keel/platform/anonymous_memory.hpp>
#include "support.hpp"

#include <sys/mman.h>

namespace keel::platform {

result<memory_region> anonymous_memory::map(std::size_t n) {
    auto size = detail::checked_map_size(n, granularity());
    if (!size) return size.error();
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (_options.populate ? MAP_POPULATE : 0);
    void* p = ::mmap(nullptr, *size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) return keel::errno_code(errno);
    return memory_region(p, *size);
}

void anonymous_memory::unmap(memory_region region) noexcept {
    if (region) ::munmap(region.data(), region.size());
}

std::size_t anonymous_memory::granularity() const noexcept { return detail::page_size(); }

backend_status anonymous_memory::probe() {
    if (auto off = detail::disabled_status(name)) return *off;
    void* p = ::mmap(nullptr, detail::page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return detail::errno_status(name, "mmap", errno);
    ::munmap(p, detail::page_size());
    return detail::memory_status(name, true, "page size " + std::to_string(detail::page_size()) + " bytes");
}

}  // namespace keel::platform
