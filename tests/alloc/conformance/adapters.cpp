// The heap adapters: growing_heap, synchronized_heap, checked_heap, heap_resource,
// heap_allocator, over real heaps (tlsf_heap and best_fit_heap).

#include <keel/alloc/best_fit_heap.hpp>
#include <keel/alloc/checked_heap.hpp>
#include <keel/alloc/growing_heap.hpp>
#include <keel/alloc/heap_allocator.hpp>
#include <keel/alloc/heap_resource.hpp>
#include <keel/alloc/synchronized_heap.hpp>
#include <keel/alloc/tlsf_heap.hpp>
#include <keel/platform/anonymous_memory.hpp>
#include <keel/sync/ticket_lock.hpp>

#include <catch2/catch.hpp>
#include <heap_checks.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(KEEL_ALLOC_ASAN)
extern "C" int __asan_address_is_poisoned(void const volatile* addr);
#endif

namespace alloc = keel::alloc;
namespace platform = keel::platform;
using keel::test::heap_region;

namespace {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

// A source that maps anonymous memory until `budget` maps are spent, then fails
// with ENOMEM, and counts what is mapped now.
class failing_source {
public:
    explicit failing_source(int budget) : _budget(budget) {}
    keel::result<platform::memory_region> map(std::size_t n) {
        if (_budget-- <= 0) return keel::errno_code(ENOMEM);
        auto r = _anon.map(n);
        if (r) ++live;
        return r;
    }
    void unmap(platform::memory_region r) noexcept {
        --live;
        _anon.unmap(r);
    }
    [[nodiscard]] std::size_t granularity() const noexcept { return _anon.granularity(); }
    int live = 0;

private:
    platform::anonymous_memory _anon;
    int _budget;
};

// A heap that records the bytes of the last block freed through it, before the
// inner heap may reuse them: lets a test see what checked_heap wrote on free.
template <alloc::heap H>
class spy_heap {
public:
    static constexpr std::string_view name = H::name;
    explicit spy_heap(platform::memory_region r) : _heap(r) {}
    void* allocate(std::size_t n, std::size_t a) noexcept { return _heap.allocate(n, a); }
    void deallocate(void* p, std::size_t n, std::size_t a) noexcept {
        last_freed.assign(static_cast<std::byte*>(p), static_cast<std::byte*>(p) + n);
        _heap.deallocate(p, n, a);
    }
    bool owns(const void* p) const noexcept { return _heap.owns(const_cast<void*>(p)); }
    alloc::heap_stats stats() const noexcept { return _heap.stats(); }
    std::size_t footprint() const noexcept { return _heap.footprint(); }
    std::string verify() const { return _heap.verify(); }
    std::vector<std::byte> last_freed;

private:
    H _heap;
};

bool all_bytes(const void* p, std::size_t n, std::byte value) {
    const auto* b = static_cast<const std::byte*>(p);
    return std::all_of(b, b + n, [&](std::byte x) { return x == value; });
}

}  // namespace

// ---------------------------------------------------------------- growing_heap

TEMPLATE_TEST_CASE("growing_heap grows region by region up to its cap", "[alloc][growing]",
                   alloc::tlsf_heap, alloc::best_fit_heap) {
    platform::anonymous_memory source;
    alloc::growing_heap_options options{256 * KiB, 2 * MiB};
    alloc::growing_heap<TestType, platform::anonymous_memory> heap(source, options);
    STATIC_REQUIRE(alloc::heap<decltype(heap)>);
    STATIC_REQUIRE(decltype(heap)::name == "growing");
    REQUIRE(heap.region_count() == 1);
    REQUIRE(heap.mapped_bytes() == 256 * KiB);

    std::vector<void*> blocks;
    std::size_t requested = 0;
    for (;;) {
        void* p = heap.allocate(48 * KiB, 64);
        if (p == nullptr) break;
        REQUIRE(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
        REQUIRE(heap.owns(p));
        std::memset(p, 0x5a, 48 * KiB);
        blocks.push_back(p);
        requested += 48 * KiB;
        REQUIRE(blocks.size() < 100);
    }
    // It grew past one region, stopped at the cap, and failed cleanly there.
    CHECK(heap.region_count() > 1);
    CHECK(heap.mapped_bytes() <= 2 * MiB);
    CHECK(heap.mapped_bytes() > 2 * MiB - 256 * KiB);
    CHECK(blocks.size() * 48 * KiB > 3 * MiB / 2);
    CHECK(heap.verify().empty());
    const auto full = heap.stats();
    CHECK(full.failed_allocations == 1);
    CHECK(full.requested_bytes == requested);
    CHECK(full.allocations == blocks.size());
    CHECK(full.footprint_bytes == heap.footprint());
    CHECK(full.capacity_bytes <= heap.mapped_bytes());
    CHECK(full.granted_bytes >= requested);
    CHECK(full.peak_requested_bytes == requested);
    // More failures at the cap are counted and map nothing.
    CHECK(heap.allocate(48 * KiB, 64) == nullptr);
    CHECK(heap.allocate(3 * MiB, 8) == nullptr);
    CHECK(heap.stats().failed_allocations == 3);
    CHECK(heap.mapped_bytes() <= 2 * MiB);

    // A freed block is reusable at the cap.
    heap.deallocate(blocks.back(), 48 * KiB, 64);
    blocks.back() = heap.allocate(48 * KiB, 64);
    REQUIRE(blocks.back() != nullptr);

    // Frees route to their regions, in any order; empty regions go back but one.
    std::shuffle(blocks.begin(), blocks.end(), std::mt19937(7));
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        heap.deallocate(blocks[i], 48 * KiB, 64);
        if (i % 5 == 0) REQUIRE(heap.verify().empty());
    }
    CHECK(heap.verify().empty());
    CHECK(heap.region_count() == 1);
    CHECK(heap.mapped_bytes() <= 2 * MiB);
    const auto empty = heap.stats();
    CHECK(empty.requested_bytes == 0);
    CHECK(empty.granted_bytes == 0);
    CHECK(empty.deallocations == empty.allocations);
    CHECK(empty.peak_footprint_bytes >= full.footprint_bytes);
}

TEMPLATE_TEST_CASE("growing_heap maps a larger region for a large request", "[alloc][growing]",
                   alloc::tlsf_heap, alloc::best_fit_heap) {
    platform::anonymous_memory source;
    alloc::growing_heap<TestType, platform::anonymous_memory> heap(source, {64 * KiB, 8 * MiB});
    void* small = heap.allocate(100);
    void* big = heap.allocate(1 * MiB, 4096);
    REQUIRE(small != nullptr);
    REQUIRE(big != nullptr);
    CHECK(reinterpret_cast<std::uintptr_t>(big) % 4096 == 0);
    CHECK(heap.region_count() == 2);
    CHECK(heap.mapped_bytes() >= 64 * KiB + 1 * MiB);
    std::memset(big, 1, 1 * MiB);
    // A request the cap could never hold fails without mapping.
    const auto mapped = heap.mapped_bytes();
    CHECK(heap.allocate(9 * MiB) == nullptr);
    CHECK(heap.mapped_bytes() == mapped);
    // The small block's region and the big block's region are told apart.
    CHECK(heap.owns(small));
    CHECK(heap.owns(static_cast<std::byte*>(big) + MiB - 1));
    int on_stack = 0;
    CHECK_FALSE(heap.owns(&on_stack));
    heap.deallocate(big, 1 * MiB, 4096);
    heap.deallocate(small, 100);
    CHECK(heap.verify().empty());
    CHECK(heap.stats().granted_bytes == 0);
}

TEMPLATE_TEST_CASE("growing_heap keeps the heap concept's promises and survives the fuzzer",
                   "[alloc][growing]", alloc::tlsf_heap, alloc::best_fit_heap) {
    platform::any_memory_source source{platform::anonymous_memory{}};
    {
        alloc::growing_heap<TestType> heap(source, {256 * KiB, 1 * MiB});
        CHECK(keel::test::check_heap_promises(heap, 1 * MiB) == "");
    }
    alloc::growing_heap<TestType> heap(source, {64 * KiB, 4 * MiB});
    CHECK(keel::test::fuzz_heap(heap, 11, 8000, 8 * KiB) == "");
    CHECK(heap.stats().peak_footprint_bytes > 64 * KiB);  // it grew past one chunk
    CHECK(heap.region_count() == 1);                      // and gave the spare regions back
}

TEST_CASE("growing_heap counts a source's refusal as a failed allocation", "[alloc][growing]") {
    failing_source source(2);  // the first region and one more
    {
        alloc::growing_heap<alloc::tlsf_heap, failing_source> heap(source, {64 * KiB, SIZE_MAX});
        std::vector<void*> blocks;
        while (void* p = heap.allocate(16 * KiB)) {
            blocks.push_back(p);
            REQUIRE(blocks.size() < 100);
        }
        CHECK(heap.region_count() == 2);
        CHECK(heap.map_failures() == 1);
        CHECK(heap.stats().failed_allocations == 1);
        CHECK(source.live == 2);
        CHECK(heap.verify().empty());
        for (void* p : blocks)
            heap.deallocate(p, 16 * KiB);
    }
    CHECK(source.live == 0);  // everything unmapped on destruction

    failing_source none(0);
    CHECK_THROWS_AS((alloc::growing_heap<alloc::tlsf_heap, failing_source>(none)),
                    std::system_error);
}

TEST_CASE("growing_heap rejects bad options and Heap arguments at construction",
          "[alloc][growing]") {
    platform::anonymous_memory source;
    using growing = alloc::growing_heap<alloc::tlsf_heap, platform::anonymous_memory>;
    CHECK_THROWS_AS(growing(source, {0, SIZE_MAX}), std::invalid_argument);
    CHECK_THROWS_AS(growing(source, {64 * KiB, 0}), std::invalid_argument);
    CHECK_THROWS_WITH(growing(source, {64 * KiB, 100}), Catch::Contains("granularity"));
    alloc::tlsf_heap_options bad;
    bad.second_level_log2 = 9;
    CHECK_THROWS_AS(growing(source, {64 * KiB, SIZE_MAX}, bad), std::invalid_argument);
    alloc::tlsf_heap_options good;
    good.second_level_log2 = 3;
    growing heap(source, {64 * KiB, SIZE_MAX}, good);
    void* p = heap.allocate(1000);
    CHECK(p != nullptr);
    heap.deallocate(p, 1000);
}

// ----------------------------------------------------------- synchronized_heap

TEMPLATE_TEST_CASE("synchronized_heap forwards every operation under its lock",
                   "[alloc][synchronized]", std::mutex, keel::sync::ticket_lock<>,
                   keel::sync::futex_mutex<>) {
    heap_region region(1 * MiB);
    alloc::synchronized_heap<alloc::tlsf_heap, TestType> heap(region.get());
    STATIC_REQUIRE(alloc::heap<decltype(heap)>);
    STATIC_REQUIRE(decltype(heap)::name == alloc::tlsf_heap::name);
    void* p = heap.allocate(200, 32);
    REQUIRE(p != nullptr);
    CHECK(heap.owns(p));
    CHECK(heap.stats().requested_bytes == 200);
    CHECK(heap.footprint() > 0);
    // with_heap runs under the lock with the inner heap.
    const auto inner_requested =
        heap.with_heap([](alloc::tlsf_heap& h) { return h.stats().requested_bytes; });
    CHECK(inner_requested == 200);
    const auto& cheap = heap;
    CHECK(cheap.with_heap([&](const alloc::tlsf_heap& h) { return h.owns(p); }));
    heap.deallocate(p, 200, 32);
    CHECK(heap.stats().granted_bytes == 0);
    CHECK(heap.verify().empty());

    heap_region fresh_region(1 * MiB);
    alloc::synchronized_heap<alloc::tlsf_heap, TestType> fresh(fresh_region.get());
    CHECK(keel::test::check_heap_promises(fresh, 1 * MiB) == "");
}

// ---------------------------------------------------------------- checked_heap

namespace {

struct misuse_log {
    std::vector<alloc::heap_misuse> seen;
    alloc::heap_check_options options(bool poison = true) {
        auto o = alloc::heap_check_options::all(
            [this](const alloc::heap_misuse& m) { seen.push_back(m); });
        o.poison_fences = poison;
        return o;
    }
};

}  // namespace

TEMPLATE_TEST_CASE("checked_heap with every check keeps the heap promises", "[alloc][checked]",
                   alloc::tlsf_heap, alloc::best_fit_heap) {
    heap_region region(2 * MiB);
    misuse_log log;
    alloc::checked_heap<TestType> heap(log.options(), region.get());
    STATIC_REQUIRE(alloc::heap<decltype(heap)>);
    // Fences cost room: promise checks on a region that fits them.
    CHECK(keel::test::check_heap_promises(heap, 2 * MiB) == "");
    CHECK(keel::test::fuzz_heap(heap, 5, 10000) == "");
    CHECK(log.seen.empty());
    CHECK(heap.tracked_blocks() == 0);
}

TEMPLATE_TEST_CASE("checked_heap detects double and foreign frees", "[alloc][checked]",
                   alloc::tlsf_heap, alloc::best_fit_heap) {
    heap_region region(256 * KiB);
    misuse_log log;
    alloc::checked_heap<TestType> heap(log.options(), region.get());
    void* p = heap.allocate(100);
    void* q = heap.allocate(100);
    REQUIRE(p != nullptr);
    heap.deallocate(p, 100);
    REQUIRE(log.seen.empty());
    heap.deallocate(p, 100);
    REQUIRE(log.seen.size() == 1);
    CHECK(log.seen[0].kind == alloc::heap_misuse_kind::double_free);
    CHECK(log.seen[0].pointer == p);
    CHECK(log.seen[0].heap_name == TestType::name);
    CHECK_THAT(alloc::to_string(log.seen[0]), Catch::Contains("double free"));

    int on_stack = 0;
    heap.deallocate(&on_stack, sizeof on_stack);
    REQUIRE(log.seen.size() == 2);
    CHECK(log.seen[1].kind == alloc::heap_misuse_kind::foreign_pointer);
    CHECK(log.seen[1].pointer == &on_stack);

    heap.deallocate(static_cast<std::byte*>(q) + 16, 50);
    REQUIRE(log.seen.size() == 3);
    CHECK(log.seen[2].kind == alloc::heap_misuse_kind::not_a_block);

    // None of them reached the heap: it is intact and q is still live.
    CHECK(heap.verify().empty());
    CHECK(heap.stats().requested_bytes == 100);
    heap.deallocate(q, 100);
    CHECK(log.seen.size() == 3);
    // An address handed out again is live again, not "freed".
    void* r = heap.allocate(100);
    heap.deallocate(r, 100);
    CHECK(log.seen.size() == 3);
    CHECK(heap.stats().granted_bytes == 0);
}

TEMPLATE_TEST_CASE("checked_heap detects overwritten fences before and after a block",
                   "[alloc][checked]", alloc::tlsf_heap, alloc::best_fit_heap) {
    heap_region region(256 * KiB);
    misuse_log log;
    // Unpoisoned fences, so that the test's own overrun is not stopped by ASan first.
    alloc::checked_heap<TestType> heap(log.options(false), region.get());
    auto* p = static_cast<unsigned char*>(heap.allocate(40, 64));
    REQUIRE(p != nullptr);
    REQUIRE(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);

    SECTION("after") {
        p[40 + 3] = 0;  // an overrun by four bytes
        const auto v = heap.verify();
        CHECK_THAT(v, Catch::Contains("fence after the block"));
        CHECK(log.seen.empty());  // verify() reports, it does not call the handler
        heap.deallocate(p, 40, 64);
        REQUIRE(log.seen.size() == 1);
        CHECK(log.seen[0].kind == alloc::heap_misuse_kind::fence_after_overwritten);
        CHECK(log.seen[0].offset == 43);
        CHECK(log.seen[0].pointer == p);
    }
    SECTION("before") {
        p[-1] = 0;  // an underrun by one byte
        CHECK_THAT(heap.verify(), Catch::Contains("fence before the block"));
        heap.deallocate(p, 40, 64);
        REQUIRE(log.seen.size() == 1);
        CHECK(log.seen[0].kind == alloc::heap_misuse_kind::fence_before_overwritten);
        CHECK(log.seen[0].offset == -1);
    }
    // The block was freed all the same.
    CHECK(heap.verify().empty());
    CHECK(heap.stats().granted_bytes == 0);
}

TEMPLATE_TEST_CASE(
    "checked_heap detects size and alignment mismatches and frees what was allocated",
    "[alloc][checked]", alloc::tlsf_heap, alloc::best_fit_heap) {
    heap_region region(256 * KiB);
    misuse_log log;
    alloc::checked_heap<TestType> heap(log.options(), region.get());
    void* p = heap.allocate(300, 128);
    REQUIRE(p != nullptr);
    heap.deallocate(p, 301, 64);
    REQUIRE(log.seen.size() == 2);
    CHECK(log.seen[0].kind == alloc::heap_misuse_kind::size_mismatch);
    CHECK(log.seen[0].size == 301);
    CHECK(log.seen[0].recorded_size == 300);
    CHECK_THAT(alloc::to_string(log.seen[0]),
               Catch::Contains("allocated with size 300, align 128"));
    CHECK(log.seen[1].kind == alloc::heap_misuse_kind::alignment_mismatch);
    CHECK(log.seen[1].align == 64);
    CHECK(log.seen[1].recorded_align == 128);
    CHECK(heap.verify().empty());
    CHECK(heap.stats().granted_bytes == 0);
    CHECK(heap.stats().requested_bytes == 0);
}

TEST_CASE("checked_heap fills new and freed blocks with its documented bytes", "[alloc][checked]") {
    heap_region region(256 * KiB);
    misuse_log log;
    alloc::checked_heap<spy_heap<alloc::tlsf_heap>> heap(log.options(), region.get());
    auto* p = static_cast<std::byte*>(heap.allocate(500));
    REQUIRE(p != nullptr);
    CHECK(all_bytes(p, 500, std::byte{0xCD}));
    // The fences around it (seen from the inner heap's side, after the free).
    std::memset(p, 0x11, 500);
    heap.deallocate(p, 500);
    const auto& freed = heap.inner().last_freed;
    const std::size_t front = freed.size() - 500 - 16;
    REQUIRE(freed.size() >= 500 + 32);
    CHECK(all_bytes(freed.data(), front, std::byte{0xFD}));
    CHECK(all_bytes(freed.data() + front, 500, std::byte{0xDD}));
    CHECK(all_bytes(freed.data() + front + 500, 16, std::byte{0xFD}));
    CHECK(log.seen.empty());

    // With fills off nothing is written.
    alloc::heap_check_options off;
    heap_region region2(256 * KiB);
    alloc::checked_heap<spy_heap<alloc::tlsf_heap>> plain(off, region2.get());
    auto* q = static_cast<std::byte*>(plain.allocate(64));
    std::memset(q, 0x22, 64);
    plain.deallocate(q, 64);
    CHECK(plain.inner().last_freed.size() == 64);
    CHECK(all_bytes(plain.inner().last_freed.data(), 64, std::byte{0x22}));
}

#if defined(KEEL_ALLOC_ASAN)
TEST_CASE("checked_heap poisons its fences under ASan", "[alloc][checked]") {
    heap_region region(256 * KiB);
    misuse_log log;
    alloc::checked_heap<alloc::tlsf_heap> heap(log.options(), region.get());
    auto* p = static_cast<unsigned char*>(heap.allocate(32));
    REQUIRE(p != nullptr);
    CHECK(__asan_address_is_poisoned(p - 1));
    CHECK(__asan_address_is_poisoned(p + 32));
    CHECK_FALSE(__asan_address_is_poisoned(p));
    CHECK_FALSE(__asan_address_is_poisoned(p + 31));
    CHECK(heap.verify().empty());  // verify unpoisons and re-poisons
    CHECK(__asan_address_is_poisoned(p + 32));
    heap.deallocate(p, 32);
    CHECK(log.seen.empty());
}
#endif

TEST_CASE("checked_heap's default handler names the misuse on stderr and aborts",
          "[alloc][checked]") {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // Only the handler's own report: no Catch signal handler, no Catch output.
        std::signal(SIGABRT, SIG_DFL);
        ::dup2(pipe_fds[1], STDERR_FILENO);
        ::close(STDOUT_FILENO);
        heap_region region(64 * KiB);
        alloc::heap_check_options options;
        options.track_blocks = true;
        alloc::checked_heap<alloc::tlsf_heap> heap(options, region.get());
        void* p = heap.allocate(10);
        heap.deallocate(p, 10);
        heap.deallocate(p, 10);  // aborts
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    std::string err;
    char buf[512];
    for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;)
        err.append(buf, static_cast<std::size_t>(n));
    ::close(pipe_fds[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGABRT);
    CHECK_THAT(err, Catch::Contains("checked_heap<tlsf>: double free at 0x"));
}

TEST_CASE("checked_heap rejects oversized fences", "[alloc][checked]") {
    heap_region region(64 * KiB);
    alloc::heap_check_options options;
    options.fence_bytes = alloc::heap_check_options::max_fence_bytes + 1;
    CHECK_THROWS_AS(alloc::checked_heap<alloc::tlsf_heap>(options, region.get()),
                    std::invalid_argument);
}

// ------------------------------------------------- heap_resource, heap_allocator

TEMPLATE_TEST_CASE(
    "heap_resource serves std::pmr containers and throws bad_alloc when the heap cannot",
    "[alloc][pmr]", alloc::tlsf_heap, alloc::best_fit_heap) {
    heap_region region(256 * KiB);
    TestType heap(region.get());
    alloc::heap_resource<TestType> resource(heap);
    {
        std::pmr::vector<int> v(&resource);
        for (int i = 0; i < 10000; ++i)
            v.push_back(i);
        CHECK(heap.owns(v.data()));
        std::pmr::string s("a string far too long for the small-string buffer of std::string",
                           &resource);
        s += s;
        CHECK(heap.owns(s.data()));
        CHECK(v[9999] == 9999);
        CHECK(heap.stats().requested_bytes >= 10000 * sizeof(int));
        CHECK_THROWS_AS(v.reserve(1000000), std::bad_alloc);
        CHECK(v.size() == 10000);  // strong guarantee: the vector is untouched
        CHECK_THROWS_AS(resource.allocate(64, 2 * alloc::max_alignment), std::bad_alloc);
    }
    CHECK(heap.stats().granted_bytes == 0);
    CHECK(heap.verify().empty());

    alloc::heap_resource<TestType> same(heap);
    heap_region other_region(64 * KiB);
    TestType other_heap(other_region.get());
    alloc::heap_resource<TestType> other(other_heap);
    CHECK(resource == same);
    CHECK_FALSE(resource == other);
    CHECK_FALSE(resource.is_equal(*std::pmr::new_delete_resource()));
}

TEMPLATE_TEST_CASE("heap_allocator serves std containers and allocate_shared", "[alloc][allocator]",
                   alloc::tlsf_heap, alloc::best_fit_heap) {
    heap_region region(512 * KiB);
    TestType heap(region.get());
    {
        using int_alloc = alloc::heap_allocator<int, TestType>;
        std::vector<int, int_alloc> v{int_alloc(heap)};
        for (int i = 0; i < 5000; ++i)
            v.push_back(i * 3);
        CHECK(heap.owns(v.data()));
        CHECK(v[4999] == 4999 * 3);

        using pair_alloc = alloc::heap_allocator<std::pair<const int, std::string>, TestType>;
        std::map<int, std::string, std::less<>, pair_alloc> m{pair_alloc(heap)};
        for (int i = 0; i < 500; ++i)
            m.emplace(i, std::to_string(i));
        CHECK(m.size() == 500);
        CHECK(m.at(321) == "321");
        CHECK(heap.owns(&*m.begin()));

        auto shared = std::allocate_shared<std::uint64_t>(
            alloc::heap_allocator<std::uint64_t, TestType>(heap), 42u);
        CHECK(*shared == 42u);
        CHECK(heap.owns(shared.get()));

        // Rebinding keeps the heap; equality is "same heap".
        alloc::heap_allocator<double, TestType> rebound(v.get_allocator());
        CHECK(rebound.heap() == &heap);
        CHECK(rebound == v.get_allocator());
        heap_region other_region(64 * KiB);
        TestType other_heap(other_region.get());
        CHECK_FALSE(int_alloc(other_heap) == v.get_allocator());

        CHECK(v.get_allocator().max_size() == SIZE_MAX / sizeof(int));
        CHECK_THROWS_AS(v.reserve(1000000), std::bad_alloc);
        CHECK_THROWS_AS(int_alloc(heap).allocate(SIZE_MAX / 2), std::bad_array_new_length);
        struct alignas(8192) over_aligned {
            char c;
        };
        alloc::heap_allocator<over_aligned, TestType> big(heap);
        CHECK_THROWS_AS(big.allocate(1), std::bad_alloc);
    }
    CHECK(heap.stats().granted_bytes == 0);
    CHECK(heap.verify().empty());
}
