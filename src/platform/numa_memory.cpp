#include "support.hpp"
#include <keel/platform/numa_memory.hpp>

#include <linux/mempolicy.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>

namespace keel::platform {
namespace {

constexpr unsigned max_node_id = 32767;  // the kernel rejects masks wider than a page of bits
constexpr std::size_t bits_per_word = sizeof(unsigned long) * CHAR_BIT;
const std::string node_dir = "/sys/devices/system/node";

long sys_mbind(void* addr, std::size_t len, int mode, const unsigned long* mask, unsigned long maxnode,
               unsigned flags) noexcept {
    return ::syscall(SYS_mbind, addr, len, mode, mask, maxnode, flags);
}

long sys_get_mempolicy(int* mode, unsigned long* mask, unsigned long maxnode, const void* addr,
                       unsigned long flags) noexcept {
    return ::syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, flags);
}

int kernel_mode(numa_policy p) noexcept {
    switch (p) {
        case numa_policy::bind: return MPOL_BIND;
        case numa_policy::preferred: return MPOL_PREFERRED;
        case numa_policy::interleave: return MPOL_INTERLEAVE;
    }
    return MPOL_BIND;
}

}  // namespace

numa_memory::numa_memory(std::vector<unsigned> nodes, numa_policy policy)
    : _nodes(std::move(nodes)), _policy(policy) {
    if (_nodes.empty()) throw std::invalid_argument("numa_memory: the node set is empty");
    std::sort(_nodes.begin(), _nodes.end());
    _nodes.erase(std::unique(_nodes.begin(), _nodes.end()), _nodes.end());
    if (_nodes.back() > max_node_id) {
        throw std::invalid_argument("numa_memory: node " + std::to_string(_nodes.back()) + " is above the limit " +
                                    std::to_string(max_node_id));
    }
    if (_policy == numa_policy::preferred && _nodes.size() != 1) {
        throw std::invalid_argument("numa_memory: the preferred policy takes exactly one node, got " +
                                    std::to_string(_nodes.size()));
    }
    _mask.assign(_nodes.back() / bits_per_word + 1, 0);
    for (unsigned node : _nodes) _mask[node / bits_per_word] |= 1UL << (node % bits_per_word);
}

result<memory_region> numa_memory::map(std::size_t n) {
    auto size = detail::checked_map_size(n, granularity());
    if (!size) return size.error();
    void* p = ::mmap(nullptr, *size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return keel::errno_code(errno);
    // maxnode counts one past the last bit the kernel reads (it decrements it).
    unsigned long maxnode = _mask.size() * bits_per_word + 1;
    if (sys_mbind(p, *size, kernel_mode(_policy), _mask.data(), maxnode, 0) != 0) {
        int err = errno;
        ::munmap(p, *size);
        return keel::errno_code(err);
    }
    return memory_region(p, *size);
}

void numa_memory::unmap(memory_region region) noexcept {
    if (region) ::munmap(region.data(), region.size());
}

std::size_t numa_memory::granularity() const noexcept { return detail::page_size(); }

backend_status numa_memory::probe() {
    if (auto off = detail::disabled_status(name)) return *off;
    if (::access(node_dir.c_str(), F_OK) != 0) {
        return detail::memory_status(name, false, node_dir + " is missing (kernel without NUMA)");
    }
    int mode = 0;
    if (sys_get_mempolicy(&mode, nullptr, 0, nullptr, 0) != 0) return detail::errno_status(name, "get_mempolicy", errno);
    // mbind may be filtered separately (seccomp profiles often do): try it on one page.
    std::size_t page = detail::page_size();
    void* p = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return detail::errno_status(name, "mmap", errno);
    long rc = sys_mbind(p, page, MPOL_DEFAULT, nullptr, 0, 0);
    int err = errno;
    ::munmap(p, page);
    if (rc != 0) return detail::errno_status(name, "mbind", err);
    auto online = detail::read_text_file(node_dir + "/online");
    std::string nodes = online ? std::string(detail::trim(*online)) : std::string("unknown");
    return detail::memory_status(name, true, "nodes online: " + nodes);
}

result<unsigned> numa_node_of(const void* p) noexcept {
    int node = -1;
    if (sys_get_mempolicy(&node, nullptr, 0, p, MPOL_F_NODE | MPOL_F_ADDR) != 0) return keel::errno_code(errno);
    if (node < 0) return keel::errno_code(EINVAL);
    return static_cast<unsigned>(node);
}

}  // namespace keel::platform
