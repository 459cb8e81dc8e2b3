// mimalloc_resource: mimalloc 2 running in an exclusive arena over keel memory.
// Built without mimalloc (the sanitizer presets), the same class must refuse to
// construct and say why.

#include <keel/alloc/mimalloc_resource.hpp>
#include <keel/platform/anonymous_memory.hpp>
#include <keel/platform/shared_memory.hpp>

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <memory_resource>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace alloc = keel::alloc;
namespace platform = keel::platform;

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

// Anonymous memory whose start is on a 32 MiB boundary, with `extra` bytes of
// slack before it; deliberately never unmapped when handed to a resource.
platform::memory_region aligned_anonymous(std::size_t bytes, std::size_t offset = 0) {
    const std::size_t align = 32 * MiB;
    void* p = ::mmap(nullptr, bytes + offset + align, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    REQUIRE(p != MAP_FAILED);
    auto a = (reinterpret_cast<std::uintptr_t>(p) + align - 1) & ~(align - 1);
    return {reinterpret_cast<void*>(a + offset), bytes};
}

}  // namespace

TEST_CASE("mimalloc_resource without mimalloc refuses to construct and says why",
          "[alloc][mimalloc]") {
    if (alloc::mimalloc_resource::available()) {
        CHECK(alloc::mimalloc_resource::arena_alignment() == 32 * MiB);
        CHECK(alloc::mimalloc_resource::minimum_region_bytes() == 32 * MiB);
        return;
    }
    CHECK(alloc::mimalloc_resource::arena_alignment() == 0);
    platform::anonymous_memory source;
    // Built without mimalloc, or built with it but libmimalloc.so.2 did not load.
    CHECK_THROWS_WITH(alloc::mimalloc_resource(source, 32 * MiB),
                      Catch::Contains("built without mimalloc") ||
                          Catch::Contains("libmimalloc.so.2"));
    CHECK_THROWS_AS(alloc::mimalloc_resource(source, 32 * MiB), std::system_error);
    CHECK_THROWS_AS(alloc::mimalloc_resource(aligned_anonymous(32 * MiB)), std::system_error);
}

TEST_CASE("mimalloc_resource allocates inside its region only", "[alloc][mimalloc]") {
    if (!alloc::mimalloc_resource::available()) return;
    platform::anonymous_memory source;
    alloc::mimalloc_resource resource(source, 40 * MiB, {true, -1});
    const auto region = resource.region();
    CHECK(reinterpret_cast<std::uintptr_t>(region.data()) % (32 * MiB) == 0);
    CHECK(region.size() == 64 * MiB);  // whole 32 MiB blocks
    CHECK(resource.mapped_region().begin() <= region.begin());
    CHECK(resource.mapped_region().end() >= region.end());

    std::pmr::vector<std::pmr::string> strings(&resource);
    for (int i = 0; i < 2000; ++i) {
        strings.emplace_back("a string long enough to need its own allocation, number " +
                             std::to_string(i));
    }
    CHECK(resource.owns(strings.data()));
    for (const auto& s : strings)
        REQUIRE(resource.owns(s.data()));
    CHECK(strings[1234].ends_with("1234"));

    for (std::size_t align : {std::size_t{64}, std::size_t{4096}, MiB}) {
        void* p = resource.allocate(100, align);
        CHECK(reinterpret_cast<std::uintptr_t>(p) % align == 0);
        CHECK(resource.owns(p));
        resource.deallocate(p, 100, align);
    }
    void* z1 = resource.allocate(0, 8);
    void* z2 = resource.allocate(0, 8);
    CHECK(z1 != z2);
    resource.deallocate(z1, 0, 8);
    resource.deallocate(z2, 0, 8);

    CHECK(resource.is_equal(resource));
    alloc::mimalloc_resource other(source, 32 * MiB);
    CHECK_FALSE(resource.is_equal(other));
}

TEST_CASE("mimalloc_resource is a hard cap: a full region ends in bad_alloc, never in OS memory",
          "[alloc][mimalloc]") {
    if (!alloc::mimalloc_resource::available()) return;
    const auto region = aligned_anonymous(32 * MiB);
    alloc::mimalloc_resource resource(region);
    CHECK(resource.region().data() == region.data());
    CHECK(resource.region().size() == 32 * MiB);

    std::vector<std::pair<void*, std::size_t>> blocks;
    std::size_t total = 0;
    auto fill = [&](std::size_t n) {
        for (;;) {
            void* p = nullptr;
            try {
                p = resource.allocate(n, 16);
            } catch (const std::bad_alloc&) {
                return;
            }
            REQUIRE(region.contains(p, n));  // never outside, not even when nearly full
            std::memset(p, 0x3c, n);
            blocks.emplace_back(p, n);
            total += n;
            REQUIRE(total <= 32 * MiB);
        }
    };
    fill(256 * 1024);
    const std::size_t big_blocks = blocks.size();
    CHECK(big_blocks > 64);  // most of the 32 MiB
    fill(4096);
    fill(64);
    CHECK(total > 24 * MiB);
    CHECK_THROWS_AS(resource.allocate(64, 16), std::bad_alloc);
    CHECK_THROWS_AS(resource.allocate(40 * MiB, 16), std::bad_alloc);

    // Room comes back when blocks are freed, and it is the region's room.
    resource.deallocate(blocks[0].first, blocks[0].second, 16);
    void* again = resource.allocate(blocks[0].second, 16);
    CHECK(region.contains(again, blocks[0].second));
    blocks[0].first = again;
    for (auto& [p, n] : blocks)
        resource.deallocate(p, n, 16);
}

TEST_CASE("mimalloc_resource runs in a memfd region a second mapping can see",
          "[alloc][mimalloc]") {
    if (!alloc::mimalloc_resource::available()) return;
    if (!platform::memfd_memory::probe().available) return;
    platform::memfd_memory source;
    alloc::mimalloc_resource resource(source, 32 * MiB, {true, -1});
    const int fd = resource.region().fd();
    REQUIRE(fd >= 0);
    CHECK(resource.mapped_region().fd() == fd);

    std::pmr::string message(
        "written through mimalloc into shared memory, read through a second mapping", &resource);
    REQUIRE(resource.owns(message.data()));
    // Map the same memfd again (a peer would); the text is at the same offset.
    const std::size_t offset = static_cast<std::size_t>(
        message.data() - reinterpret_cast<char*>(resource.mapped_region().data()));
    const std::size_t length = resource.mapped_region().size();
    void* view = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
    REQUIRE(view != MAP_FAILED);
    CHECK(std::memcmp(static_cast<char*>(view) + offset, message.data(), message.size()) == 0);
    ::munmap(view, length);
}

TEST_CASE("mimalloc_resource rejects bad regions with the numbers it needs", "[alloc][mimalloc]") {
    if (!alloc::mimalloc_resource::available()) return;
    using Catch::Contains;
    CHECK_THROWS_WITH(alloc::mimalloc_resource(platform::memory_region{}),
                      Contains("null or empty"));
    CHECK_THROWS_WITH(alloc::mimalloc_resource(aligned_anonymous(32 * MiB, 4096)),
                      Contains("not aligned to 33554432 bytes"));
    CHECK_THROWS_AS(alloc::mimalloc_resource(aligned_anonymous(32 * MiB, 4096)),
                    std::invalid_argument);
    CHECK_THROWS_WITH(alloc::mimalloc_resource(aligned_anonymous(16 * MiB)),
                      Contains("at least 33554432 bytes"));
    platform::anonymous_memory source;
    CHECK_THROWS_AS(alloc::mimalloc_resource(source, 0), std::invalid_argument);
    CHECK_THROWS_AS(alloc::mimalloc_resource(source, SIZE_MAX - 4096), std::invalid_argument);
}

TEST_CASE("mimalloc_resource allocates on its own thread, frees on any, and never unmaps",
          "[alloc][mimalloc]") {
    if (!alloc::mimalloc_resource::available()) return;
    platform::anonymous_memory source;
    platform::memory_region region;
    {
        alloc::mimalloc_resource resource(source, 32 * MiB);
        region = resource.region();
        CHECK(resource.is_owner_thread());
        void* p = resource.allocate(1000, 16);
        bool threw_not_permitted = false;
        bool freed = false;
        std::thread other([&] {
            try {
                (void)resource.allocate(16, 16);
            } catch (const std::system_error& e) {
                threw_not_permitted =
                    e.code() == std::errc::operation_not_permitted && !resource.is_owner_thread();
            }
            resource.deallocate(p, 1000, 16);  // any thread may free
            freed = true;
        });
        other.join();
        CHECK(threw_not_permitted);
        CHECK(freed);
        void* q = resource.allocate(1000, 16);
        std::memset(q, 0x77, 1000);
    }  // destroyed with q still allocated: mimalloc frees it with the heap
    // The region stays mapped after the resource is gone (mimalloc keeps the arena):
    // mincore fails with ENOMEM on unmapped pages.
    unsigned char residency[2] = {};
    CHECK(::mincore(region.data(), 4096, residency) == 0);
    CHECK(::mincore(region.end() - 4096, 4096, residency) == 0);
}

TEST_CASE("mimalloc_resource outlives the thread that made it without touching a dead heap",
          "[alloc][mimalloc]") {
    if (!alloc::mimalloc_resource::available()) return;
    platform::anonymous_memory source;
    std::unique_ptr<alloc::mimalloc_resource> resource;
    void* block = nullptr;
    std::thread maker([&] {
        resource = std::make_unique<alloc::mimalloc_resource>(source, 32 * MiB);
        block = resource->allocate(5000, 16);
        std::memset(block, 0x42, 5000);
    });
    maker.join();  // mimalloc deleted the thread's heaps as it exited
    REQUIRE(resource != nullptr);
    CHECK_FALSE(resource->is_owner_thread());
    CHECK_THROWS_AS(resource->allocate(16, 16), std::system_error);
    // The block survived its heap and can still be freed from here.
    CHECK(resource->owns(block));
    CHECK(static_cast<unsigned char*>(block)[4999] == 0x42);
    resource->deallocate(block, 5000, 16);
    resource.reset();  // not the owner: leaves the (already deleted) heap alone
}

TEST_CASE("mimalloc_resource never makes mimalloc the process's malloc", "[alloc][mimalloc]") {
    if (alloc::mimalloc_resource::available()) {
        platform::anonymous_memory source;
        alloc::mimalloc_resource resource(source, 32 * MiB);
        std::pmr::string text("long enough to be a heap allocation of the resource", &resource);
        REQUIRE(resource.owns(text.data()));
        // Loaded, but RTLD_LOCAL: none of its symbols is in the global scope.
        void* library = ::dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_NOLOAD);
        CHECK(library != nullptr);
        if (library != nullptr) ::dlclose(library);  // drops only the NOLOAD reference
        CHECK(::dlsym(RTLD_DEFAULT, "mi_malloc") == nullptr);
        CHECK(::dlsym(RTLD_DEFAULT, "mi_version") == nullptr);
    }
    // Whatever malloc the process binds is not mimalloc's...
    void* process_malloc = ::dlsym(RTLD_DEFAULT, "malloc");
    REQUIRE(process_malloc != nullptr);
    Dl_info where{};
    REQUIRE(::dladdr(process_malloc, &where) != 0);
    REQUIRE(where.dli_fname != nullptr);
    CHECK_THAT(std::string(where.dli_fname), !Catch::Contains("mimalloc"));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    // ...it is glibc's (a sanitizer runtime would interpose its own).
    void* libc = ::dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(libc != nullptr);
    CHECK(process_malloc == ::dlsym(libc, "malloc"));
    CHECK(::dlsym(RTLD_DEFAULT, "free") == ::dlsym(libc, "free"));
    ::dlclose(libc);
#endif
}
