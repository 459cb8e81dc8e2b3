#pragma once

#include <keel/platform/backend_status.hpp>
#include <keel/platform/memory_source.hpp>
#include <keel/result.hpp>

#include <cstddef>
#include <string_view>
#include <vector>

namespace keel::platform {

/// Where numa_memory asks the kernel to place pages.
enum class numa_policy {
    bind,        ///< only on the given nodes (MPOL_BIND); allocation fails rather than spill
    preferred,   ///< on the given node when it has memory, else anywhere (MPOL_PREFERRED; one node)
    interleave,  ///< round-robin page by page over the nodes (MPOL_INTERLEAVE)
};

/// Anonymous memory with a NUMA placement policy: mmap, then mbind (the raw
/// system call; no libnuma) over a node set. The policy applies as pages are
/// first touched. Thread-safety: immutable after construction; any thread may
/// map/unmap. Cost: mmap + mbind per map(); page granularity.
class numa_memory {
public:
    static constexpr std::string_view name = "numa";

    /// Throws std::invalid_argument for an empty node set, a node id >= 32768, or
    /// `preferred` with more than one node. Nodes that do not exist are the kernel's
    /// to refuse: map() returns EINVAL.
    explicit numa_memory(std::vector<unsigned> nodes, numa_policy policy = numa_policy::bind);

    /// Maps n bytes rounded up to the page size under the policy. Errors:
    /// invalid_argument (n == 0, overflow), else the errno of mmap or mbind
    /// (EINVAL for a node that does not exist); the mapping is undone on failure.
    [[nodiscard]] result<memory_region> map(std::size_t n);
    void unmap(memory_region region) noexcept;
    [[nodiscard]] std::size_t granularity() const noexcept;

    [[nodiscard]] const std::vector<unsigned>& nodes() const noexcept { return _nodes; }
    [[nodiscard]] numa_policy policy() const noexcept { return _policy; }

    /// Available when /sys/devices/system/node exists and get_mempolicy and mbind
    /// work; the reason lists the online nodes.
    [[nodiscard]] static backend_status probe();

private:
    std::vector<unsigned> _nodes;       // sorted, unique
    std::vector<unsigned long> _mask;  // the node set as the kernel's bitmask
    numa_policy _policy;
};

/// The node holding the page at `p` (get_mempolicy with MPOL_F_NODE | MPOL_F_ADDR).
/// Touch the page first: an untouched page has no node yet. Thread-safe.
[[nodiscard]] result<unsigned> numa_node_of(const void* p) noexcept;

}  // namespace keel::platform
