#include "support.hpp"
#include <keel/platform/topology.hpp>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

namespace keel::platform {
namespace {

namespace fs = std::filesystem;
using detail::parse_id_list;
using detail::read_text_file;
using detail::read_unsigned_file;

// Ids of entries named <prefix><number> in dir, sorted (fallback when the
// kernel's "online" list is missing).
std::vector<unsigned> numbered_entries(const std::string& dir, std::string_view prefix) {
    std::vector<unsigned> ids;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
        if (auto id = detail::parse_unsigned(std::string_view(name).substr(prefix.size())); id && *id < (1u << 20)) {
            ids.push_back(static_cast<unsigned>(*id));
        }
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

std::vector<unsigned> online_ids(const std::string& dir, std::string_view prefix) {
    if (auto text = read_text_file(dir + "/online")) {
        if (auto ids = parse_id_list(*text); ids && !ids->empty()) return *ids;
    }
    return numbered_entries(dir, prefix);
}

// A CPU mask of any width, as the kernel's cpu_set_t words (glibc's CPU_*_S
// macros trip -Wsign-conversion).
using cpu_mask = std::vector<unsigned long>;
constexpr std::size_t mask_bits = sizeof(unsigned long) * 8;

cpu_set_t* as_cpu_set(cpu_mask& m) noexcept { return reinterpret_cast<cpu_set_t*>(m.data()); }

// The calling thread's CPU affinity, sorted; empty when the kernel refuses.
std::vector<unsigned> read_affinity() {
    std::vector<unsigned> cpus;
    for (std::size_t ncpus = 1024; ncpus <= (1u << 20); ncpus *= 2) {
        cpu_mask mask(ncpus / mask_bits, 0);
        if (::sched_getaffinity(0, mask.size() * sizeof(unsigned long), as_cpu_set(mask)) == 0) {
            for (std::size_t i = 0; i < ncpus; ++i) {
                if (mask[i / mask_bits] & (1UL << (i % mask_bits))) cpus.push_back(static_cast<unsigned>(i));
            }
            return cpus;
        }
        if (errno != EINVAL) return cpus;  // EINVAL: mask narrower than the kernel's, retry wider
    }
    return cpus;
}

// Keeps only the ids that name online CPUs.
void keep_online(std::vector<unsigned>& ids, const topology& t) {
    std::erase_if(ids, [&](unsigned id) { return t.find_cpu(id) == nullptr; });
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

const std::vector<unsigned>& affinity_at_load() {
    static const std::vector<unsigned> cpus = read_affinity();
    return cpus;
}
// Captured while keel loads, before the program can pin its main thread.
[[maybe_unused]] const std::vector<unsigned>& g_affinity_at_load = affinity_at_load();

result<void> set_affinity(std::span<const unsigned> cpus) {
    if (cpus.empty()) return keel::errno_code(EINVAL);
    const auto& allowed = this_machine().allowed_cpus;
    unsigned highest = 0;
    for (unsigned cpu : cpus) {
        if (!allowed.empty() && !std::binary_search(allowed.begin(), allowed.end(), cpu)) {
            return keel::errno_code(EINVAL);
        }
        if (cpu >= (1u << 20)) return keel::errno_code(EINVAL);
        highest = std::max(highest, cpu);
    }
    cpu_mask mask(std::max<std::size_t>(1024, highest + 1 + mask_bits) / mask_bits, 0);
    for (unsigned cpu : cpus) mask[cpu / mask_bits] |= 1UL << (cpu % mask_bits);
    int rc = ::sched_setaffinity(0, mask.size() * sizeof(unsigned long), as_cpu_set(mask));
    int err = errno;
    if (rc != 0) return keel::errno_code(err);
    return {};
}

}  // namespace

const logical_cpu* topology::find_cpu(unsigned id) const noexcept {
    auto it = std::lower_bound(cpus.begin(), cpus.end(), id,
                               [](const logical_cpu& c, unsigned v) { return c.id < v; });
    return it != cpus.end() && it->id == id ? &*it : nullptr;
}

topology topology::detect_from(const std::string& sysfs_root, const std::string& procfs_root) {
    topology t;
    t.page_size = detail::page_size();
    const std::string cpu_dir = sysfs_root + "/devices/system/cpu";
    const std::string node_dir = sysfs_root + "/devices/system/node";

    // CPUs: without a readable cpu directory, fall back to sysconf so callers still
    // get a usable (flat) picture of the running machine.
    std::vector<unsigned> ids = online_ids(cpu_dir, "cpu");
    if (ids.empty()) {
        long n = ::sysconf(_SC_NPROCESSORS_ONLN);
        for (long i = 0; i < std::max(1L, n); ++i) ids.push_back(static_cast<unsigned>(i));
    }
    std::set<std::pair<unsigned, unsigned>> cores;
    std::set<unsigned> packages;
    for (unsigned id : ids) {
        const std::string dir = cpu_dir + "/cpu" + std::to_string(id) + "/topology/";
        logical_cpu c;
        c.id = id;
        // A missing core_id means we cannot tell SMT siblings apart: one core per CPU.
        c.core_id = static_cast<unsigned>(read_unsigned_file(dir + "core_id").value_or(id));
        c.package_id = static_cast<unsigned>(read_unsigned_file(dir + "physical_package_id").value_or(0));
        cores.emplace(c.package_id, c.core_id);
        packages.insert(c.package_id);
        t.cpus.push_back(c);
    }
    t.logical_cpu_count = t.cpus.size();
    t.physical_core_count = cores.size();
    t.package_count = packages.size();

    // NUMA nodes.
    std::vector<unsigned> node_ids;
    if (fs::is_directory(node_dir)) node_ids = online_ids(node_dir, "node");
    for (unsigned nid : node_ids) {
        const std::string dir = node_dir + "/node" + std::to_string(nid) + "/";
        numa_node node;
        node.id = nid;
        if (auto list = read_text_file(dir + "cpulist")) {
            if (auto cpus = parse_id_list(*list)) node.cpus = std::move(*cpus);
        }
        keep_online(node.cpus, t);
        node.memory_bytes = detail::meminfo_value(dir + "meminfo", "MemTotal").value_or(0) * 1024;
        t.numa_nodes.push_back(std::move(node));
    }
    if (t.numa_nodes.empty()) {
        numa_node node;
        for (const auto& c : t.cpus) node.cpus.push_back(c.id);
        node.memory_bytes = detail::meminfo_value(procfs_root + "/meminfo", "MemTotal").value_or(0) * 1024;
        t.numa_nodes.push_back(std::move(node));
    }
    for (auto& c : t.cpus) {
        c.numa_node = t.numa_nodes.front().id;  // CPUs no node claims: the first node
        for (const auto& node : t.numa_nodes) {
            if (std::binary_search(node.cpus.begin(), node.cpus.end(), c.id)) c.numa_node = node.id;
        }
    }

    // Cache line: sysfs, then sysconf, then 64. Must be a sane power of two.
    std::size_t line = 0;
    if (!t.cpus.empty()) {
        line = static_cast<std::size_t>(
            read_unsigned_file(cpu_dir + "/cpu" + std::to_string(t.cpus.front().id) +
                               "/cache/index0/coherency_line_size")
                .value_or(0));
    }
    auto sane = [](std::size_t v) { return v >= 16 && v <= 4096 && (v & (v - 1)) == 0; };
    if (!sane(line)) {
        long v = ::sysconf(_SC_LEVEL1_DCACHE_LINESIZE);
        line = v > 0 ? static_cast<std::size_t>(v) : 0;
    }
    t.cache_line_size = sane(line) ? line : 64;

    t.huge_page_size =
        static_cast<std::size_t>(detail::meminfo_value(procfs_root + "/meminfo", "Hugepagesize").value_or(0) * 1024);

    // Allowed CPUs from procfs status; every CPU when it is missing.
    if (auto status = read_text_file(procfs_root + "/self/status")) {
        constexpr std::string_view key = "Cpus_allowed_list:";
        if (auto pos = status->find(key); pos != std::string::npos) {
            auto eol = status->find('\n', pos);
            auto value = std::string_view(*status).substr(pos + key.size(), eol == std::string::npos
                                                                               ? std::string::npos
                                                                               : eol - pos - key.size());
            if (auto list = parse_id_list(value)) t.allowed_cpus = std::move(*list);
        }
    }
    keep_online(t.allowed_cpus, t);
    if (t.allowed_cpus.empty()) {
        for (const auto& c : t.cpus) t.allowed_cpus.push_back(c.id);
    }
    return t;
}

topology topology::detect() {
    topology t = detect_from("/sys", "/proc");
    auto affinity = read_affinity();
    keep_online(affinity, t);
    if (!affinity.empty()) t.allowed_cpus = std::move(affinity);
    return t;
}

const topology& this_machine() {
    static const topology machine = [] {
        topology t = topology::detect_from("/sys", "/proc");
        auto affinity = affinity_at_load();
        keep_online(affinity, t);
        if (!affinity.empty()) t.allowed_cpus = std::move(affinity);
        return t;
    }();
    return machine;
}

result<void> pin_this_thread(unsigned cpu) {
    const unsigned one[] = {cpu};
    return set_affinity(one);
}

result<void> pin_this_thread(std::span<const unsigned> cpus) {
    return set_affinity(cpus);
}

result<unsigned> current_cpu() noexcept {
    int cpu = ::sched_getcpu();
    if (cpu < 0) return keel::errno_code(errno);
    return static_cast<unsigned>(cpu);
}

}  // namespace keel::platform
