#include <catch2/catch.hpp>

#include "temp_dir.hpp"

#include <keel/platform/anonymous_memory.hpp>
#include <keel/platform/file_memory.hpp>
#include <keel/platform/huge_page_memory.hpp>
#include <keel/platform/numa_memory.hpp>
#include <keel/platform/shared_memory.hpp>
#include <keel/platform/topology.hpp>

#include "refuse_syscalls.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

using namespace keel::platform;
namespace fs = std::filesystem;

namespace {

std::size_t count_lines(const char* path) {
    std::ifstream in(path);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
}
std::size_t mapping_count() { return count_lines("/proc/self/maps"); }
std::size_t open_fd_count() {
    std::size_t n = 0;
    for ([[maybe_unused]] auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// Child-side check: returns "" when `ok`, else the message (for run_with_refused_syscalls).
#define EXPECT_IN_CHILD(ok, message)        \
    do {                                    \
        if (!(ok)) return std::string(message); \
    } while (0)


using keel::test::temp_dir;

void write_file(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

// A fake machine: 2 packages x 2 cores x 2 threads, 2 NUMA nodes, 128-byte lines.
// Sibling threads are numbered apart (cpu0/cpu2 share a core), as Linux does.
void build_fake_machine(const fs::path& sys, const fs::path& proc) {
    const fs::path cpu = sys / "devices/system/cpu";
    write_file(cpu / "online", "0-7\n");
    for (unsigned i = 0; i < 8; ++i) {
        const fs::path dir = cpu / ("cpu" + std::to_string(i));
        write_file(dir / "topology/physical_package_id", std::to_string(i / 4) + "\n");
        write_file(dir / "topology/core_id", std::to_string(i % 2) + "\n");
        write_file(dir / "cache/index0/coherency_line_size", "128\n");
    }
    const fs::path node = sys / "devices/system/node";
    write_file(node / "online", "0-1\n");
    write_file(node / "node0/cpulist", "0-3\n");
    write_file(node / "node1/cpulist", "4-7\n");
    write_file(node / "node0/meminfo", "Node 0 MemTotal:       1048576 kB\nNode 0 MemFree:  10 kB\n");
    write_file(node / "node1/meminfo", "Node 1 MemTotal:       2097152 kB\nNode 1 MemFree:  10 kB\n");
    write_file(proc / "meminfo", "MemTotal:  3145728 kB\nHugepagesize:    1048576 kB\n");
    write_file(proc / "self/status", "Name:\tfake\nCpus_allowed:\t3f\nCpus_allowed_list:\t0-5\nMems_allowed_list:\t0-1\n");
}

}  // namespace

TEST_CASE("topology parses a fake two-socket SMT machine", "[platform][topology][whitebox]") {
    temp_dir root;
    const fs::path sys = root.path / "sys", proc = root.path / "proc";
    build_fake_machine(sys, proc);

    topology t = topology::detect_from(sys.string(), proc.string());
    CHECK(t.logical_cpu_count == 8);
    CHECK(t.physical_core_count == 4);  // core ids repeat per package: (package, core) pairs
    CHECK(t.package_count == 2);
    REQUIRE(t.numa_nodes.size() == 2);
    CHECK(t.numa_nodes[0].cpus == std::vector<unsigned>{0, 1, 2, 3});
    CHECK(t.numa_nodes[1].cpus == std::vector<unsigned>{4, 5, 6, 7});
    CHECK(t.numa_nodes[0].memory_bytes == 1048576ull * 1024);
    CHECK(t.numa_nodes[1].memory_bytes == 2097152ull * 1024);
    const logical_cpu* c5 = t.find_cpu(5);
    REQUIRE(c5 != nullptr);
    CHECK(c5->package_id == 1);
    CHECK(c5->core_id == 1);
    CHECK(c5->numa_node == 1);
    CHECK(t.find_cpu(2)->core_id == 0);
    CHECK(t.find_cpu(2)->numa_node == 0);
    CHECK(t.cache_line_size == 128);
    CHECK(t.huge_page_size == std::size_t{1} << 30);
    CHECK(t.allowed_cpus == std::vector<unsigned>{0, 1, 2, 3, 4, 5});

    SECTION("missing files degrade to defaults") {
        fs::remove(sys / "devices/system/cpu/online");          // enumerate cpuN directories instead
        fs::remove(sys / "devices/system/cpu/cpu3/topology/core_id");  // cpu3 becomes its own core
        fs::remove_all(sys / "devices/system/node");             // one node holding every CPU
        fs::remove_all(sys / "devices/system/cpu/cpu0/cache");   // sysconf or 64
        fs::remove(proc / "self/status");                        // every CPU allowed
        write_file(proc / "meminfo", "MemTotal:  4096 kB\n");    // no Hugepagesize
        topology d = topology::detect_from(sys.string(), proc.string());
        CHECK(d.logical_cpu_count == 8);
        CHECK(d.physical_core_count == 5);
        CHECK(d.find_cpu(3)->core_id == 3);
        REQUIRE(d.numa_nodes.size() == 1);
        CHECK(d.numa_nodes[0].id == 0);
        CHECK(d.numa_nodes[0].cpus.size() == 8);
        CHECK(d.numa_nodes[0].memory_bytes == 4096ull * 1024);
        CHECK(d.cache_line_size >= 16);
        CHECK((d.cache_line_size & (d.cache_line_size - 1)) == 0);
        CHECK(d.huge_page_size == 0);
        CHECK(d.allowed_cpus.size() == 8);
    }
    SECTION("malformed values are ignored, not trusted") {
        write_file(sys / "devices/system/cpu/online", "7-2\n");  // bad range: enumerate instead
        write_file(sys / "devices/system/cpu/cpu6/topology/physical_package_id", "-1\n");
        write_file(sys / "devices/system/cpu/cpu0/cache/index0/coherency_line_size", "100\n");
        write_file(sys / "devices/system/node/node1/cpulist", "4-5,99\n");  // 99 is not online
        write_file(proc / "self/status", "Cpus_allowed_list:\tgarbage\n");
        topology d = topology::detect_from(sys.string(), proc.string());
        CHECK(d.logical_cpu_count == 8);
        CHECK(d.find_cpu(6)->package_id == 0);
        CHECK(d.cache_line_size != 100);
        CHECK(d.numa_nodes[1].cpus == std::vector<unsigned>{4, 5});
        CHECK(d.find_cpu(6)->numa_node == 0);  // claimed by no node: the first
        CHECK(d.allowed_cpus.size() == 8);
    }
    SECTION("an empty tree still gives a usable flat machine") {
        topology e = topology::detect_from((root.path / "nothing").string(), (root.path / "nothing").string());
        CHECK(e.logical_cpu_count == static_cast<std::size_t>(::sysconf(_SC_NPROCESSORS_ONLN)));
        CHECK(e.package_count == 1);
        REQUIRE(e.numa_nodes.size() == 1);
        CHECK(e.numa_nodes[0].cpus.size() == e.logical_cpu_count);
        CHECK(e.allowed_cpus.size() == e.logical_cpu_count);
    }
}

TEST_CASE("memfd refused by seccomp is reported and returned", "[platform][memory][whitebox]") {
    REQUIRE(memfd_memory::probe().available);  // the kernel offers it; force the refusal
    auto message = keel::test::run_with_refused_syscalls({__NR_memfd_create}, EPERM, [] {
        auto status = memfd_memory::probe();
        EXPECT_IN_CHILD(!status.available, "probe still available");
        EXPECT_IN_CHILD(contains(status.reason, "memfd_create") && contains(status.reason, "EPERM"),
                        "reason does not name the call and errno: " + status.reason);
        std::size_t fds = open_fd_count();
        memfd_memory memfd;
        auto r = memfd.map(4096);
        EXPECT_IN_CHILD(!r, "map succeeded");
        EXPECT_IN_CHILD(r.error().value() == EPERM, "map error is " + r.error().message());
        EXPECT_IN_CHILD(open_fd_count() == fds, "map leaked an fd");
        // The anonymous source does not need memfd_create.
        EXPECT_IN_CHILD(anonymous_memory::probe().available, "anonymous refused too");
        return std::string{};
    });
    CHECK(message == "");
}

TEST_CASE("shared memory undoes partial work when ftruncate fails", "[platform][memory][whitebox]") {
    const std::string name = "/keel-wb-" + std::to_string(::getpid());
    auto message = keel::test::run_with_refused_syscalls({__NR_ftruncate}, EIO, [&] {
        std::size_t fds = open_fd_count();
        memfd_memory memfd;
        auto r = memfd.map(4096);
        EXPECT_IN_CHILD(!r && r.error().value() == EIO, "memfd map did not return EIO");
        EXPECT_IN_CHILD(open_fd_count() == fds, "memfd map leaked its fd");

        posix_shm_memory shm(name);
        auto s = shm.map(4096);
        EXPECT_IN_CHILD(!s && s.error().value() == EIO, "posix shm map did not return EIO");
        EXPECT_IN_CHILD(open_fd_count() == fds, "posix shm map leaked its fd");
        EXPECT_IN_CHILD(::access(("/dev/shm" + name).c_str(), F_OK) != 0, "posix shm left its name behind");
        return std::string{};
    });
    CHECK(message == "");
    CHECK(::access(("/dev/shm" + name).c_str(), F_OK) != 0);
}

TEST_CASE("numa refused by seccomp is reported and returned", "[platform][memory][numa][whitebox]") {
    if (!numa_memory::probe().available) {
        WARN("numa unavailable here: " << numa_memory::probe().reason);
        return;
    }
    const unsigned node = this_machine().numa_nodes.front().id;
    auto mbind = keel::test::run_with_refused_syscalls({__NR_mbind}, EPERM, [node] {
        auto status = numa_memory::probe();
        EXPECT_IN_CHILD(!status.available, "probe still available");
        EXPECT_IN_CHILD(contains(status.reason, "mbind") && contains(status.reason, "EPERM"),
                        "reason does not name mbind and EPERM: " + status.reason);
        numa_memory numa({node});
        std::size_t maps = mapping_count();
        auto r = numa.map(4096);
        EXPECT_IN_CHILD(!r && r.error().value() == EPERM, "map did not return EPERM");
        EXPECT_IN_CHILD(mapping_count() == maps, "map left a mapping behind");
        return std::string{};
    });
    CHECK(mbind == "");

    auto get = keel::test::run_with_refused_syscalls({__NR_get_mempolicy}, ENOSYS, [] {
        auto status = numa_memory::probe();
        EXPECT_IN_CHILD(!status.available, "probe still available");
        EXPECT_IN_CHILD(contains(status.reason, "get_mempolicy") && contains(status.reason, "ENOSYS"),
                        "reason does not name get_mempolicy and ENOSYS: " + status.reason);
        int x = 1;
        auto where = numa_node_of(&x);
        EXPECT_IN_CHILD(!where && where.error().value() == ENOSYS, "numa_node_of did not return ENOSYS");
        return std::string{};
    });
    CHECK(get == "");
}

TEST_CASE("THP refused by seccomp or by configuration", "[platform][memory][thp][whitebox]") {
    auto disabled = keel::test::run_in_child([] {
        ::setenv("KEEL_DISABLE_BACKENDS", "transparent_huge_pages", 1);
        auto status = transparent_huge_page_memory::probe();
        EXPECT_IN_CHILD(!status.available, "probe ignored KEEL_DISABLE_BACKENDS");
        EXPECT_IN_CHILD(status.reason == disabled_reason, "reason is " + status.reason);
        EXPECT_IN_CHILD(anonymous_memory::probe().available, "anonymous disabled too");
        ::setenv("KEEL_DISABLE_BACKENDS", "all", 1);
        for (const auto& s : {anonymous_memory::probe(), transparent_huge_page_memory::probe(), hugetlb_memory::probe(),
                              memfd_memory::probe(), posix_shm_memory::probe(), numa_memory::probe(),
                              file_memory::probe()}) {
            EXPECT_IN_CHILD(!s.available && s.reason == disabled_reason, s.name + " ignored \"all\"");
        }
        return std::string{};
    });
    CHECK(disabled == "");

    if (!transparent_huge_page_memory::probe().available) {
        WARN("THP unavailable here: " << transparent_huge_page_memory::probe().reason);
        return;
    }
    auto refused = keel::test::run_with_refused_syscalls({__NR_madvise}, EPERM, [] {
        auto status = transparent_huge_page_memory::probe();
        EXPECT_IN_CHILD(!status.available, "probe still available");
        EXPECT_IN_CHILD(contains(status.reason, "madvise") && contains(status.reason, "EPERM"),
                        "reason does not name madvise and EPERM: " + status.reason);
        transparent_huge_page_memory thp;
        std::size_t maps = mapping_count();
        auto r = thp.map(1);
        EXPECT_IN_CHILD(!r && r.error().value() == EPERM, "map did not return EPERM");
#if !defined(__SANITIZE_THREAD__)
        // TSan's runtime maps memory of its own when madvise fails under it, so the
        // count is only meaningful without it (plain and ASan builds check it).
        EXPECT_IN_CHILD(mapping_count() == maps, "map left a mapping behind");
#else
        (void)maps;
#endif
        return std::string{};
    });
    CHECK(refused == "");
}

TEST_CASE("hugetlb probe and map agree", "[platform][memory][hugetlb][whitebox]") {
    auto status = hugetlb_memory::probe();
    INFO(status.reason);
    if (this_machine().huge_page_size == 0) {
        CHECK_FALSE(status.available);
        return;
    }
    hugetlb_memory huge;
    auto r = huge.map(1);
    CHECK(static_cast<bool>(r) == status.available);
    if (r) huge.unmap(*r);
    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);) {
        if (line.rfind("HugePages_Total:", 0) == 0 && std::stoul(line.substr(16)) == 0 && !status.available) {
            CHECK(status.reason == "hugetlb pool is empty (HugePages_Total = 0)");
        }
    }
}

TEST_CASE("file memory without fallocate falls back or reports", "[platform][memory][file][whitebox]") {
    temp_dir dir;
    const std::string path = (dir.path / "pool").string();
    auto fallback = keel::test::run_with_refused_syscalls({__NR_fallocate}, EOPNOTSUPP, [&] {
        file_memory file(path);
        auto r = file.map(3 * 4096);
        EXPECT_IN_CHILD(static_cast<bool>(r), "map failed without fallocate: " + r.error().message());
        std::memcpy(r->data() + 5, "tail", 5);
        char buf[5] = {};
        EXPECT_IN_CHILD(::pread(file.fd(), buf, 5, 5) == 5 && std::memcmp(buf, "tail", 5) == 0, "data not in file");
        file.unmap(*r);
        return std::string{};
    });
    CHECK(fallback == "");

    auto full = keel::test::run_with_refused_syscalls({__NR_fallocate}, ENOSPC, [&] {
        file_memory file(path + "-full");
        std::size_t maps = mapping_count();
        auto r = file.map(4096);
        EXPECT_IN_CHILD(!r && r.error().value() == ENOSPC, "map did not return ENOSPC");
        EXPECT_IN_CHILD(mapping_count() == maps, "map left a mapping behind");
        return std::string{};
    });
    CHECK(full == "");
}
