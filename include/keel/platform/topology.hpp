#pragma once

#include <keel/result.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace keel::platform {

/// One logical CPU (hardware thread) as the kernel numbers it.
/// Plain data.
struct logical_cpu {
    unsigned id = 0;          ///< the kernel's CPU number (what sched_getcpu returns)
    unsigned core_id = 0;     ///< physical core, unique within its package
    unsigned package_id = 0;  ///< socket
    unsigned numa_node = 0;   ///< memory node the CPU is closest to
};

/// One NUMA memory node. Plain data.
struct numa_node {
    unsigned id = 0;
    std::vector<unsigned> cpus;     ///< logical CPU ids on this node (may be empty: memory-only node)
    std::uint64_t memory_bytes = 0; ///< MemTotal from the node's meminfo; 0 when unknown
};

/// What the machine looks like: CPUs, cores, packages, NUMA nodes, cache-line,
/// page and huge-page sizes, and the CPUs this process may run on.
/// Plain data, safe to copy and share once built. detect() costs a few hundred
/// small sysfs reads (about a millisecond); use this_machine() for a cached copy.
/// Missing sysfs files degrade to defaults (one package, one core per CPU, one
/// node 0 holding every CPU, cache line from sysconf or 64), never to an error.
struct topology {
    std::vector<logical_cpu> cpus;  ///< online CPUs, sorted by id
    std::size_t logical_cpu_count = 0;
    std::size_t physical_core_count = 0;
    std::size_t package_count = 0;
    std::vector<numa_node> numa_nodes;  ///< sorted by id; at least one when cpus is non-empty
    std::size_t cache_line_size = 64;
    std::size_t page_size = 4096;
    std::size_t huge_page_size = 0;     ///< default huge page size (Hugepagesize); 0 when unknown
    std::vector<unsigned> allowed_cpus; ///< CPUs this process may run on, sorted

    /// Reads the running machine (/sys, /proc, sched_getaffinity of the calling thread).
    [[nodiscard]] static topology detect();

    /// Reads a sysfs tree rooted at `sysfs_root` (the directory that holds
    /// devices/system/cpu) and a procfs tree at `procfs_root` (meminfo,
    /// self/status for Cpus_allowed_list). For tests and offline analysis; page
    /// size is this machine's.
    [[nodiscard]] static topology detect_from(const std::string& sysfs_root,
                                              const std::string& procfs_root = "/proc");

    /// The logical CPU with kernel id `id`, or nullptr.
    [[nodiscard]] const logical_cpu* find_cpu(unsigned id) const noexcept;
};

/// The running machine's topology, detected once on first use (thread-safe).
/// Its allowed_cpus is the process's CPU affinity when keel was loaded, so later
/// pinning does not narrow it.
[[nodiscard]] const topology& this_machine();

/// Pins the calling thread to one CPU. EINVAL when `cpu` is not in
/// this_machine().allowed_cpus; otherwise the kernel's errno from sched_setaffinity.
[[nodiscard]] result<void> pin_this_thread(unsigned cpu);

/// Pins the calling thread to a set of CPUs. EINVAL when the set is empty or any
/// CPU is outside this_machine().allowed_cpus.
[[nodiscard]] result<void> pin_this_thread(std::span<const unsigned> cpus);

/// The CPU the calling thread is running on now (sched_getcpu; may be stale as
/// soon as it returns unless the thread is pinned). Errors only where the kernel
/// lacks getcpu.
[[nodiscard]] result<unsigned> current_cpu() noexcept;

}  // namespace keel::platform
