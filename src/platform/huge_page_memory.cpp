#include "support.hpp"
#include <keel/platform/huge_page_memory.hpp>

#include <sys/mman.h>

#include <bit>
#include <stdexcept>
#include <string>

namespace keel::platform {
namespace {

constexpr std::size_t default_thp_size = std::size_t{2} << 20;
const std::string thp_dir = "/sys/kernel/mm/transparent_hugepage/";

std::size_t thp_size() {
    auto v = detail::read_unsigned_file(thp_dir + "hpage_pmd_size");
    if (v && *v >= detail::page_size() && std::has_single_bit(*v)) return static_cast<std::size_t>(*v);
    return default_thp_size;
}

std::size_t default_hugetlb_size() {
    return static_cast<std::size_t>(detail::meminfo_value("/proc/meminfo", "Hugepagesize").value_or(0) * 1024);
}

}  // namespace

transparent_huge_page_memory::transparent_huge_page_memory() : _huge_page_size(thp_size()) {}

result<memory_region> transparent_huge_page_memory::map(std::size_t n) {
    auto size = detail::checked_map_size(n, _huge_page_size);
    if (!size) return size.error();
    // Over-map by one huge page (less a page: mmap is already page aligned) so an
    // aligned window of *size bytes exists, then give back the ends.
    std::size_t slack = _huge_page_size - detail::page_size();
    if (*size > SIZE_MAX - slack) return keel::make_error_code(std::errc::invalid_argument);
    std::size_t span = *size + slack;
    void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return keel::errno_code(errno);
    auto base = reinterpret_cast<std::uintptr_t>(raw);
    auto aligned = (base + _huge_page_size - 1) & ~(std::uintptr_t{_huge_page_size} - 1);
    std::size_t head = aligned - base;
    std::size_t tail = span - head - *size;
    if (head != 0) ::munmap(raw, head);
    if (tail != 0) ::munmap(reinterpret_cast<void*>(aligned + *size), tail);
    void* p = reinterpret_cast<void*>(aligned);
    if (::madvise(p, *size, MADV_HUGEPAGE) != 0) {
        int err = errno;
        ::munmap(p, *size);
        return keel::errno_code(err);
    }
    return memory_region(p, *size);
}

void transparent_huge_page_memory::unmap(memory_region region) noexcept {
    if (region) ::munmap(region.data(), region.size());
}

backend_status transparent_huge_page_memory::probe() {
    if (auto off = detail::disabled_status(name)) return *off;
    auto text = detail::read_text_file(thp_dir + "enabled");
    if (!text) return detail::memory_status(name, false, "cannot read " + thp_dir + "enabled (kernel without THP)");
    // The active mode is the bracketed one: "always [madvise] never".
    auto open = text->find('['), close = text->find(']');
    if (open == std::string::npos || close == std::string::npos || close < open) {
        return detail::memory_status(name, false, "unrecognised THP mode: " + std::string(detail::trim(*text)));
    }
    std::string mode = text->substr(open + 1, close - open - 1);
    if (mode != "always" && mode != "madvise") {
        return detail::memory_status(name, false, "THP mode is [" + mode + "]");
    }
    // A filter may still refuse madvise; find out with one small mapping.
    std::size_t page = detail::page_size();
    void* p = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return detail::errno_status(name, "mmap", errno);
    int rc = ::madvise(p, page, MADV_HUGEPAGE);
    int err = errno;
    ::munmap(p, page);
    if (rc != 0) return detail::errno_status(name, "madvise(MADV_HUGEPAGE)", err);
    return detail::memory_status(name, true,
                                 "THP mode is [" + mode + "], " + std::to_string(thp_size() >> 10) + " kB pages");
}

hugetlb_memory::hugetlb_memory(std::size_t huge_page_size) : _huge_page_size(huge_page_size) {
    if (_huge_page_size == 0) {
        _huge_page_size = default_hugetlb_size();
        if (_huge_page_size == 0) {
            throw std::invalid_argument("hugetlb_memory: the kernel reports no default huge page size "
                                        "(no Hugepagesize in /proc/meminfo)");
        }
    }
    if (!std::has_single_bit(_huge_page_size) || _huge_page_size <= detail::page_size()) {
        throw std::invalid_argument("hugetlb_memory: huge page size " + std::to_string(_huge_page_size) +
                                    " is not a power of two larger than the page size");
    }
    std::string dir = "/sys/kernel/mm/hugepages/hugepages-" + std::to_string(_huge_page_size >> 10) + "kB";
    if (::access(dir.c_str(), F_OK) != 0) {
        throw std::invalid_argument("hugetlb_memory: the kernel offers no " + std::to_string(_huge_page_size >> 10) +
                                    " kB huge pages (" + dir + " missing)");
    }
}

result<memory_region> hugetlb_memory::map(std::size_t n) {
    auto size = detail::checked_map_size(n, _huge_page_size);
    if (!size) return size.error();
    int log2 = std::countr_zero(_huge_page_size);
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (log2 << MAP_HUGE_SHIFT);
    void* p = ::mmap(nullptr, *size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) return keel::errno_code(errno);
    return memory_region(p, *size);
}

void hugetlb_memory::unmap(memory_region region) noexcept {
    if (region) ::munmap(region.data(), region.size());
}

backend_status hugetlb_memory::probe() {
    if (auto off = detail::disabled_status(name)) return *off;
    std::size_t size = default_hugetlb_size();
    if (size == 0) return detail::memory_status(name, false, "no Hugepagesize in /proc/meminfo (kernel without hugetlbfs)");
    auto total = detail::meminfo_value("/proc/meminfo", "HugePages_Total");
    auto free = detail::meminfo_value("/proc/meminfo", "HugePages_Free");
    // Surplus pages (nr_overcommit_hugepages) can serve a mapping with no pool,
    // so the trial mapping decides; the counters explain a refusal.
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (p == MAP_FAILED) {
        int err = errno;
        if (total && *total == 0) return detail::memory_status(name, false, "hugetlb pool is empty (HugePages_Total = 0)");
        if (free && *free == 0) {
            return detail::memory_status(name, false, "hugetlb pool has no free pages (HugePages_Total = " +
                                                          std::to_string(total.value_or(0)) + ", HugePages_Free = 0)");
        }
        return detail::errno_status(name, "mmap(MAP_HUGETLB)", err);
    }
    ::munmap(p, size);
    return detail::memory_status(name, true,
                                 std::to_string(size >> 10) + " kB pages, HugePages_Total = " +
                                     std::to_string(total.value_or(0)) +
                                     ", HugePages_Free = " + std::to_string(free.value_or(0)));
}

}  // namespace keel::platform
