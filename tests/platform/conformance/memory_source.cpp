#include <catch2/catch.hpp>

#include "catch_result.hpp"
#include "temp_dir.hpp"

#include <keel/platform/anonymous_memory.hpp>
#include <keel/platform/file_memory.hpp>
#include <keel/platform/huge_page_memory.hpp>
#include <keel/platform/memory_source.hpp>
#include <keel/platform/numa_memory.hpp>
#include <keel/platform/shared_memory.hpp>
#include <keel/platform/topology.hpp>

#include "refuse_syscalls.hpp"

#include <fcntl.h>
#include <linux/mempolicy.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

using namespace keel::platform;
using keel::test::temp_dir;


static_assert(memory_source<anonymous_memory>);
static_assert(memory_source<transparent_huge_page_memory>);
static_assert(memory_source<hugetlb_memory>);
static_assert(memory_source<memfd_memory>);
static_assert(memory_source<posix_shm_memory>);
static_assert(memory_source<numa_memory>);
static_assert(memory_source<file_memory>);

namespace {

std::size_t page() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

bool is_mapped(const void* p) {
    unsigned char v = 0;
    return ::mincore(const_cast<void*>(p), 1, &v) == 0;
}

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// VmFlags of the mapping that starts at p ("rd wr mr mw me ac hg"), or "" when none does.
std::string vm_flags(const void* p) {
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool in_vma = false;
    while (std::getline(smaps, line)) {
        auto dash = line.find('-');
        if (dash != std::string::npos && line.find(' ') > dash && std::isxdigit(static_cast<unsigned char>(line[0]))) {
            in_vma = std::stoull(line.substr(0, dash), nullptr, 16) == address(p);
        } else if (in_vma && line.rfind("VmFlags:", 0) == 0) {
            return line.substr(8);
        }
    }
    return {};
}

std::size_t mapping_count() {
    std::ifstream maps("/proc/self/maps");
    std::size_t n = 0;
    for (std::string line; std::getline(maps, line);) ++n;
    return n;
}

// Writes a position-dependent pattern over the region and reads it back.
bool pattern_round_trips(const memory_region& r) {
    auto value = [](std::size_t i) { return static_cast<std::byte>((i / 64) * 31 + 7); };
    for (std::size_t i = 0; i < r.size(); i += 64) r.data()[i] = value(i);
    r.data()[r.size() - 1] = std::byte{0x5a};
    for (std::size_t i = 0; i < r.size() - 1; i += 64) {
        if (r.data()[i] != value(i)) return false;
    }
    return r.data()[r.size() - 1] == std::byte{0x5a};
}

// What every memory source promises, whatever its backing.
template <memory_source Source>
void check_contract(Source& source, std::size_t alignment) {
    const std::size_t g = source.granularity();
    REQUIRE(g >= page());
    REQUIRE((g & (g - 1)) == 0);

    auto one = source.map(1);
    REQUIRE(one);
    CHECK(one->size() == g);
    CHECK(address(one->data()) % alignment == 0);
    CHECK(pattern_round_trips(*one));

    auto more = source.map(g + 1);
    REQUIRE(more);
    CHECK(more->size() == 2 * g);
    CHECK(address(more->data()) % alignment == 0);
    CHECK(pattern_round_trips(*more));
    CHECK(pattern_round_trips(*one));  // two live regions do not overlap
    CHECK_FALSE(one->contains(more->data()));
    source.unmap(*more);
    source.unmap(*one);
    CHECK_FALSE(is_mapped(one->data()));

    auto zero = source.map(0);
    REQUIRE_FALSE(zero);
    CHECK(zero.error().value() == EINVAL);

    auto absurd = source.map(std::size_t{1} << 60);
    CHECK_FALSE(absurd);
    if (absurd) source.unmap(*absurd);

    auto overflow = source.map(SIZE_MAX);
    REQUIRE_FALSE(overflow);
    CHECK(overflow.error().value() == EINVAL);

    void* owned_at = nullptr;
    {
        auto u = map_unique(source, 3 * g);
        REQUIRE(u);
        REQUIRE(*u);
        CHECK((*u)->size() == 3 * g);
        CHECK(pattern_round_trips(u->get()));
        owned_at = u->get().data();
        auto moved = std::move(*u);
        CHECK_FALSE(*u);
        CHECK(moved.get().data() == owned_at);
    }
    CHECK_FALSE(is_mapped(owned_at));

    auto kept = map_unique(source, g);
    REQUIRE(kept);
    memory_region released = kept->release();
    kept->reset();
    CHECK(is_mapped(released.data()));
    source.unmap(released);
}

template <memory_source Source>
void check_type_erased(Source source) {
    const std::size_t g = source.granularity();
    any_memory_source any(std::move(source));
    CHECK(any.name() == Source::name);
    CHECK(any.granularity() == g);
    auto r = any.map(g);
    REQUIRE(r);
    CHECK(pattern_round_trips(*r));
    any.unmap(*r);
    CHECK_FALSE(any.map(0));

    static_assert(region_mapper<any_memory_source> && !memory_source<any_memory_source>);
    auto owned = map_unique(any, g);  // unique_region takes the run-time choice too
    REQUIRE(owned);
    CHECK(owned->get().size() == g);
}


std::string unique_shm_name(const char* tag) {
    return "/keel-test-" + std::string(tag) + "-" + std::to_string(::getpid());
}

std::size_t meminfo_number(const std::string& key) {
    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);) {
        if (line.rfind(key, 0) == 0) return std::stoul(line.substr(key.size()));
    }
    return 0;
}

bool shm_exists(const std::string& name) { return ::access(("/dev/shm" + name).c_str(), F_OK) == 0; }

}  // namespace

TEST_CASE("every probe reports a memory_source with its name", "[platform][memory]") {
    ::unsetenv("KEEL_DISABLE_BACKENDS");
    for (const auto& s : {anonymous_memory::probe(), transparent_huge_page_memory::probe(), hugetlb_memory::probe(),
                          memfd_memory::probe(), posix_shm_memory::probe(), numa_memory::probe(),
                          file_memory::probe()}) {
        INFO(s.name << ": " << s.reason);
        CHECK(s.kind == "memory_source");
        CHECK_FALSE(s.reason.empty());
    }
    CHECK(anonymous_memory::probe().name == "anonymous");
    CHECK(anonymous_memory::probe().available);
    CHECK(transparent_huge_page_memory::probe().name == "transparent_huge_pages");
    CHECK(hugetlb_memory::probe().name == "hugetlb");
    CHECK(memfd_memory::probe().name == "memfd");
    CHECK(posix_shm_memory::probe().name == "posix_shm");
    CHECK(numa_memory::probe().name == "numa");
    CHECK(file_memory::probe().name == "file");
}

TEST_CASE("anonymous memory keeps the contract", "[platform][memory]") {
    anonymous_memory plain;
    check_contract(plain, page());
    anonymous_memory populated({.populate = true});
    check_contract(populated, page());
    check_type_erased(anonymous_memory{});
}

TEST_CASE("transparent huge page regions are huge-page aligned and advised", "[platform][memory][thp]") {
    transparent_huge_page_memory thp;
    CHECK(thp.granularity() >= (std::size_t{2} << 20));
    check_contract(thp, thp.granularity());
    check_type_erased(transparent_huge_page_memory{});

    auto r = thp.map(3 * thp.granularity() - 5);
    REQUIRE(r);
    CHECK(r->size() == 3 * thp.granularity());
    CHECK(address(r->data()) % thp.granularity() == 0);
    // The trimmed ends are really gone: only the aligned window is mapped.
    CHECK(vm_flags(r->data()).find(" hg") != std::string::npos);
    thp.unmap(*r);

    auto status = transparent_huge_page_memory::probe();
    std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string mode;
    std::getline(enabled, mode);
    bool on = mode.find("[always]") != std::string::npos || mode.find("[madvise]") != std::string::npos;
    CHECK(status.available == on);
    if (on) CHECK(status.reason.find(mode.find("[always]") != std::string::npos ? "always" : "madvise") != std::string::npos);
}

TEST_CASE("hugetlb maps from the pool or refuses cleanly", "[platform][memory][hugetlb]") {
    CHECK_THROWS_AS(hugetlb_memory(3 << 20), std::invalid_argument);
    CHECK_THROWS_AS(hugetlb_memory(std::size_t{1} << 45), std::invalid_argument);

    auto status = hugetlb_memory::probe();
    INFO(status.reason);
    if (this_machine().huge_page_size == 0) {
        CHECK_FALSE(status.available);  // no hugetlbfs at all: nothing to construct
        return;
    }
    hugetlb_memory huge;
    CHECK(huge.granularity() == this_machine().huge_page_size);
    CHECK(hugetlb_memory(this_machine().huge_page_size).granularity() == this_machine().huge_page_size);
    if (status.available) {
        // The full contract needs 6 pages at once; a smaller pool gets the one-page check.
        if (meminfo_number("HugePages_Free:") >= 6) check_contract(huge, huge.granularity());
        auto r = huge.map(1);
        REQUIRE(r);
        CHECK(r->size() == huge.granularity());
        CHECK(address(r->data()) % huge.granularity() == 0);
        CHECK(vm_flags(r->data()).find(" ht") != std::string::npos);
        CHECK(pattern_round_trips(*r));
        huge.unmap(*r);
    } else {
        std::size_t before = mapping_count();
        auto r = huge.map(huge.granularity());
        REQUIRE_FALSE(r);
        if (status.reason.find("pool is empty") != std::string::npos) {
            CHECK(meminfo_number("HugePages_Total:") == 0);
            CHECK(r.error().value() == ENOMEM);
        }
        CHECK(mapping_count() == before);
        CHECK(huge.map(0).error().value() == EINVAL);
    }
}

TEST_CASE("memfd regions are shareable files", "[platform][memory][memfd]") {
    REQUIRE(memfd_memory::probe().available);
    std::size_t shm_entries = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/dev/shm")) ++shm_entries;

    memfd_memory memfd({.debug_name = "keel-test"});
    check_contract(memfd, page());
    check_type_erased(memfd_memory{});
    CHECK_THROWS_AS(memfd_memory({.debug_name = std::string(300, 'x')}), std::invalid_argument);

    auto r = memfd.map(10000);
    REQUIRE(r);
    REQUIRE(r->fd() >= 0);
    CHECK(r->size() == 3 * page());
    struct stat st{};
    REQUIRE(::fstat(r->fd(), &st) == 0);
    CHECK(static_cast<std::size_t>(st.st_size) == r->size());
    CHECK((::fcntl(r->fd(), F_GETFD) & FD_CLOEXEC) != 0);

    SECTION("a forked child's writes are seen by the parent") {
        std::memset(r->data(), 0, r->size());
        auto message = keel::test::run_in_child([&] {
            std::memcpy(r->data() + page(), "from the child", 15);
            return std::string{};
        });
        CHECK(message.empty());
        CHECK(std::memcmp(r->data() + page(), "from the child", 15) == 0);
        char buf[15] = {};
        CHECK(::pread(r->fd(), buf, sizeof buf, static_cast<off_t>(page())) == 15);
        CHECK(std::memcmp(buf, "from the child", 15) == 0);
    }
    SECTION("seals stop truncation") {
        auto none = memfd_memory::current_seals(r->fd());
        REQUIRE(none);
        CHECK(*none == memfd_seal::none);
        REQUIRE(memfd_memory::seal(*r, memfd_seal::shrink | memfd_seal::grow));
        auto now = memfd_memory::current_seals(r->fd());
        REQUIRE(now);
        CHECK(has_seals(*now, memfd_seal::shrink | memfd_seal::grow));
        CHECK_FALSE(has_seals(*now, memfd_seal::seal));
        errno = 0;
        CHECK(::ftruncate(r->fd(), static_cast<off_t>(page())) == -1);
        CHECK(errno == EPERM);
        errno = 0;
        CHECK(::ftruncate(r->fd(), static_cast<off_t>(8 * page())) == -1);
        CHECK(errno == EPERM);
        // Writing through the mapping still works: size seals do not freeze content.
        CHECK(pattern_round_trips(*r));
        // F_SEAL_WRITE needs no writable mapping: ours makes it EBUSY.
        auto w = memfd_memory::seal(*r, memfd_seal::write);
        REQUIRE_FALSE(w);
        CHECK(w.error().value() == EBUSY);
        REQUIRE(memfd_memory::seal(*r, memfd_seal::seal));
        auto late = memfd_memory::seal(*r, memfd_seal::future_write);
        REQUIRE_FALSE(late);
        CHECK(late.error().value() == EPERM);
        CHECK_FALSE(memfd_memory::seal(*r, static_cast<memfd_seal>(0x100)));
    }
    SECTION("attach maps a peer's sealed memfd and nothing else") {
        auto unsealed = memfd.attach(r->fd());
        REQUIRE_FALSE(unsealed);
        CHECK(unsealed.error().value() == EPERM);

        REQUIRE(memfd_memory::seal(*r, memfd_seal::shrink));
        auto view = memfd.attach(r->fd());
        REQUIRE(view);
        CHECK(view->size() == r->size());
        CHECK(view->fd() != r->fd());
        CHECK(view->data() != r->data());
        std::memcpy(r->data(), "shared", 7);
        CHECK(std::memcmp(view->data(), "shared", 7) == 0);
        memfd.unmap(*view);
        CHECK(::fcntl(r->fd(), F_GETFD) != -1);  // the caller's fd is untouched

        auto loose = memfd.attach(r->fd(), {.required_seals = memfd_seal::none});
        REQUIRE(loose);
        memfd.unmap(*loose);

        REQUIRE(memfd_memory::seal(*r, memfd_seal::future_write));
        auto writable = memfd.attach(r->fd());
        REQUIRE_FALSE(writable);
        CHECK(writable.error().value() == EPERM);
        auto readonly = memfd.attach(r->fd(), {.writable = false});
        REQUIRE(readonly);
        CHECK(std::memcmp(readonly->data(), "shared", 7) == 0);
        memfd.unmap(*readonly);

        int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        REQUIRE(devnull >= 0);
        auto foreign = memfd.attach(devnull, {.required_seals = memfd_seal::none});
        CHECK_FALSE(foreign);
        ::close(devnull);
    }
    int fd = r->fd();
    memfd.unmap(*r);
    errno = 0;
    CHECK(::fcntl(fd, F_GETFD) == -1);  // unmap closed the memfd
    CHECK(errno == EBADF);

    std::size_t shm_after = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/dev/shm")) ++shm_after;
    CHECK(shm_after == shm_entries);
}

TEST_CASE("posix shm shares by name", "[platform][memory][posix_shm]") {
    REQUIRE(posix_shm_memory::probe().available);
    for (const char* bad : {"", "noslash", "/", "/a/b", "/.", "/.."}) {
        INFO(bad);
        CHECK_THROWS_AS(posix_shm_memory(bad), std::invalid_argument);
    }
    CHECK_THROWS_AS(posix_shm_memory("/" + std::string(300, 'x')), std::invalid_argument);
    try {
        posix_shm_memory("no-slash");
        FAIL("no exception");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("must start with '/'") != std::string::npos);
    }

    const std::string name = unique_shm_name("share");
    {
        posix_shm_memory creator(name);
        CHECK(creator.object_name() == name);
        auto r = creator.map(5000);
        REQUIRE(r);
        CHECK(r->size() == 2 * page());
        CHECK(shm_exists(name));
        CHECK(pattern_round_trips(*r));

        // Exclusive: a second create of the same name is EEXIST.
        posix_shm_memory rival(name);
        auto clash = rival.map(page());
        REQUIRE_FALSE(clash);
        CHECK(clash.error().value() == EEXIST);

        // A process that knows only the name writes; we read.
        auto message = keel::test::run_in_child([&] {
            posix_shm_memory opener(name, {.mode = shm_mode::open});
            auto v = opener.map(5000);
            if (!v) return "open failed: " + v.error().message();
            std::memcpy(v->data() + 100, "by name", 8);
            opener.unmap(*v);
            return std::string{};
        });
        CHECK(message.empty());
        CHECK(std::memcmp(r->data() + 100, "by name", 8) == 0);

        posix_shm_memory opener(name, {.mode = shm_mode::open});
        auto whole = opener.attach();
        REQUIRE(whole);
        CHECK(whole->size() == r->size());
        CHECK(std::memcmp(whole->data() + 100, "by name", 8) == 0);
        auto too_big = opener.map(3 * page());
        REQUIRE_FALSE(too_big);
        CHECK(too_big.error().value() == EINVAL);
        opener.unmap(*whole);
        creator.unmap(*r);
        CHECK(shm_exists(name));  // unmap keeps the name for peers
    }
    CHECK_FALSE(shm_exists(name));  // the creator's destructor removed it

    posix_shm_memory missing(name, {.mode = shm_mode::open});
    auto none = missing.map(page());
    REQUIRE_FALSE(none);
    CHECK(none.error().value() == ENOENT);
    CHECK(missing.unlink().error().value() == ENOENT);

    const std::string kept_name = unique_shm_name("kept");
    {
        posix_shm_memory keeper(kept_name, {.unlink_on_destroy = false});
        auto r = keeper.map(page());
        REQUIRE(r);
        keeper.unmap(*r);
    }
    CHECK(shm_exists(kept_name));
    posix_shm_memory cleaner(kept_name, {.mode = shm_mode::open});
    CHECK(cleaner.unlink());
    CHECK_FALSE(shm_exists(kept_name));

    // Generic contract: each map() creates the name afresh, so unlink in between.
    posix_shm_memory generic(unique_shm_name("generic"));
    auto a = generic.map(1);
    REQUIRE(a);
    CHECK(a->size() == page());
    CHECK(generic.map(0).error().value() == EINVAL);
    CHECK(generic.map(SIZE_MAX).error().value() == EINVAL);
    REQUIRE(generic.unlink());
    auto b = generic.map(page() + 1);
    REQUIRE(b);
    CHECK(b->size() == 2 * page());
    CHECK(pattern_round_trips(*a));
    CHECK(pattern_round_trips(*b));
    generic.unmap(*a);
    generic.unmap(*b);

    // Moving hands over the duty to unlink.
    const std::string moved_name = unique_shm_name("moved");
    {
        posix_shm_memory first(moved_name);
        auto r = first.map(page());
        REQUIRE(r);
        first.unmap(*r);
        posix_shm_memory second(std::move(first));
        any_memory_source any(std::move(second));
        CHECK(any.name() == "posix_shm");
        CHECK(shm_exists(moved_name));
    }
    CHECK_FALSE(shm_exists(moved_name));
}

TEST_CASE("numa memory binds pages to the requested nodes", "[platform][memory][numa]") {
    CHECK_THROWS_AS(numa_memory({}), std::invalid_argument);
    CHECK_THROWS_AS(numa_memory({0, 1}, numa_policy::preferred), std::invalid_argument);
    CHECK_THROWS_AS(numa_memory({40000}), std::invalid_argument);

    auto status = numa_memory::probe();
    INFO(status.reason);
    if (!status.available) {
        WARN("numa unavailable here: " << status.reason);
        return;
    }
    std::vector<unsigned> nodes;
    for (const auto& n : this_machine().numa_nodes) {
        if (n.memory_bytes > 0) nodes.push_back(n.id);
    }
    REQUIRE_FALSE(nodes.empty());

    struct expectation {
        numa_policy policy;
        int mode;
    };
    for (auto [policy, mode] : {expectation{numa_policy::bind, MPOL_BIND},
                                expectation{numa_policy::preferred, MPOL_PREFERRED},
                                expectation{numa_policy::interleave, MPOL_INTERLEAVE}}) {
        std::vector<unsigned> set = policy == numa_policy::preferred ? std::vector<unsigned>{nodes.front()} : nodes;
        numa_memory numa(set, policy);
        CHECK(numa.nodes() == set);
        check_contract(numa, page());
        auto r = numa.map(4 * page());
        REQUIRE(r);
        for (std::size_t off = 0; off < r->size(); off += page()) {
            r->data()[off] = std::byte{1};  // the policy applies at first touch
            auto node = numa_node_of(r->data() + off);
            REQUIRE(node);
            CHECK(std::find(set.begin(), set.end(), *node) != set.end());
        }
        int got = -1;
        REQUIRE(::syscall(SYS_get_mempolicy, &got, nullptr, 0UL, r->data(), static_cast<unsigned long>(MPOL_F_ADDR)) == 0);
        CHECK(got == mode);
        numa.unmap(*r);
    }
    check_type_erased(numa_memory(nodes));

    // A node the machine does not have: an error, and no mapping left behind.
    unsigned absent = this_machine().numa_nodes.back().id + 7;
    numa_memory bogus({absent});
    std::size_t before = mapping_count();
    auto r = bogus.map(page());
    REQUIRE_FALSE(r);
    CHECK(r.error().value() == EINVAL);
    CHECK(mapping_count() == before);
}

TEST_CASE("file memory carves a file", "[platform][memory][file]") {
    temp_dir dir;
    const std::string path = (dir.path / "pool").string();
    CHECK(file_memory::probe().available);
    CHECK_THROWS_AS(file_memory((dir.path / "absent").string(), {.create = false}), std::system_error);
    CHECK_THROWS_AS(file_memory(dir.path.string()), std::system_error);  // a directory
    CHECK_THROWS_AS(file_memory(path + "-empty", {.growable = false}), std::invalid_argument);

    {
        file_memory file(path);
        check_contract(file, page());
    }
    file_memory file(path);
    INFO("dax: " << file.dax());
    CHECK(file.fd() >= 0);
    CHECK(file.path() == path);

    auto a = file.map(1);
    auto b = file.map(2 * page());
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->fd() == file.fd());
    CHECK(*file.offset_of(*a) == 0);
    CHECK(*file.offset_of(*b) == page());
    CHECK_FALSE(file.offset_of(memory_region(&dir, 8)));
    struct stat st{};
    REQUIRE(::fstat(file.fd(), &st) == 0);
    CHECK(static_cast<std::size_t>(st.st_size) >= 3 * page());

    // Stores through the mapping reach the file.
    std::memcpy(b->data() + 10, "persisted", 10);
    REQUIRE(::msync(b->data(), b->size(), MS_SYNC) == 0);
    char buf[10] = {};
    REQUIRE(::pread(file.fd(), buf, sizeof buf, static_cast<off_t>(*file.offset_of(*b) + 10)) == 10);
    CHECK(std::memcmp(buf, "persisted", 10) == 0);

    // A freed extent is reused; the fd stays with the source.
    file.unmap(*a);
    CHECK(::fcntl(file.fd(), F_GETFD) != -1);
    auto c = file.map(page());
    REQUIRE(c);
    CHECK(*file.offset_of(*c) == 0);
    // Freed neighbours merge into one extent large enough for a bigger request.
    file.unmap(*c);
    file.unmap(*b);
    auto d = file.map(3 * page());
    REQUIRE(d);
    CHECK(*file.offset_of(*d) == 0);
    CHECK(std::memcmp(d->data() + page() + 10, "persisted", 10) == 0);
    file.unmap(*d);

    SECTION("a fixed-size device refuses past its capacity") {
        file_memory fixed(path + "-fixed", {.growable = false, .capacity = 4 * page()});
        CHECK(fixed.capacity() == 4 * page());
        REQUIRE(::fstat(fixed.fd(), &st) == 0);
        CHECK(static_cast<std::size_t>(st.st_size) == 4 * page());
        auto all = fixed.map(4 * page());
        REQUIRE(all);
        auto more = fixed.map(1);
        REQUIRE_FALSE(more);
        CHECK(more.error().value() == ENOSPC);
        fixed.unmap(*all);
        auto half = fixed.map(2 * page());
        REQUIRE(half);
        CHECK(pattern_round_trips(*half));
        fixed.unmap(*half);
        CHECK(fixed.map(std::size_t{1} << 60).error().value() == ENOSPC);
    }
    SECTION("a growable file with a cap stops at the cap") {
        file_memory capped(path + "-capped", {.capacity = 2 * page()});
        auto x = capped.map(2 * page());
        REQUIRE(x);
        CHECK(capped.map(1).error().value() == ENOSPC);
        capped.unmap(*x);
    }
    SECTION("an existing file's size is the default capacity of a fixed source") {
        file_memory fixed(path, {.growable = false});
        CHECK(fixed.capacity() == static_cast<std::uint64_t>(st.st_size));
        check_type_erased(std::move(fixed));
    }
}
