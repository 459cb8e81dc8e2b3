#pragma once

#include <keel/platform/backend_status.hpp>
#include <keel/platform/memory_source.hpp>
#include <keel/result.hpp>

#include <cstddef>
#include <string_view>

namespace keel::platform {

/// Anonymous memory in regions aligned to the transparent huge page size (2 MiB on
/// x86-64) and advised MADV_HUGEPAGE, so the kernel can back them with huge pages
/// and cut TLB misses. map() over-maps by one huge page and trims the ends.
/// Where THP is "never" map() still works (small pages); probe() says which.
/// Thread-safety: stateless after construction; any thread may map/unmap.
/// Cost: mmap + up to two munmap + madvise per map(); huge-page granularity.
class transparent_huge_page_memory {
public:
    static constexpr std::string_view name = "transparent_huge_pages";

    /// Reads the THP size (/sys/kernel/mm/transparent_hugepage/hpage_pmd_size, else 2 MiB).
    transparent_huge_page_memory();

    /// Maps n bytes rounded up to the huge page size, aligned to it. Errors:
    /// invalid_argument (n == 0, overflow), or the errno of mmap/madvise.
    [[nodiscard]] result<memory_region> map(std::size_t n);
    void unmap(memory_region region) noexcept;
    [[nodiscard]] std::size_t granularity() const noexcept { return _huge_page_size; }

    /// Available when THP is enabled as [always] or [madvise] and madvise(MADV_HUGEPAGE)
    /// is accepted; the reason shows the mode.
    [[nodiscard]] static backend_status probe();

private:
    std::size_t _huge_page_size;
};

/// Memory from the kernel's hugetlb pool (MAP_HUGETLB): pages reserved by the
/// administrator (vm.nr_hugepages), never swapped, never split. With an empty pool
/// map() returns ENOMEM; check probe() first and fall back.
/// Thread-safety: stateless after construction. Cost: one mmap per region;
/// granularity is the huge page size.
class hugetlb_memory {
public:
    static constexpr std::string_view name = "hugetlb";

    /// Uses `huge_page_size` bytes per page (0: the default, Hugepagesize in /proc/meminfo).
    /// Throws std::invalid_argument when the size is not a power of two or the kernel
    /// has no such size (`/sys/kernel/mm/hugepages/hugepages-<kB>kB` missing).
    explicit hugetlb_memory(std::size_t huge_page_size = 0);

    /// Maps n bytes rounded up to the huge page size. Errors: invalid_argument
    /// (n == 0, overflow), ENOMEM when the pool has too few free pages, or mmap's errno.
    [[nodiscard]] result<memory_region> map(std::size_t n);
    void unmap(memory_region region) noexcept;
    [[nodiscard]] std::size_t granularity() const noexcept { return _huge_page_size; }

    /// Reads HugePages_Total/Free from /proc/meminfo and tries one mapping of the
    /// default size; refused with "hugetlb pool is empty (HugePages_Total = 0)"
    /// when there is no pool and no overcommit.
    [[nodiscard]] static backend_status probe();

private:
    std::size_t _huge_page_size;
};

}  // namespace keel::platform
