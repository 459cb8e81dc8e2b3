// Several threads allocate, fill, check and free through one synchronized_heap,
// handing some blocks to other threads to free. Run under the tsan preset too.

#include <keel/alloc/best_fit_heap.hpp>
#include <keel/alloc/growing_heap.hpp>
#include <keel/alloc/synchronized_heap.hpp>
#include <keel/alloc/tlsf_heap.hpp>
#include <keel/platform/anonymous_memory.hpp>
#include <keel/sync/futex_mutex.hpp>
#include <keel/sync/ticket_lock.hpp>

#include <catch2/catch.hpp>
#include <heap_checks.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace alloc = keel::alloc;
namespace platform = keel::platform;

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;
constexpr unsigned thread_count = 6;
constexpr std::size_t ops_per_thread = 20000;
constexpr std::size_t header = 16;  // each block starts with its size and its fill seed

// The three configurations: fixed heaps with two locks, and a growing heap.
struct tlsf_futex {
    using heap_type = alloc::synchronized_heap<alloc::tlsf_heap, keel::sync::futex_mutex<>>;
    keel::test::heap_region region{8 * MiB};
    heap_type heap{region.get()};
};
struct best_fit_std_mutex {
    using heap_type = alloc::synchronized_heap<alloc::best_fit_heap, std::mutex>;
    keel::test::heap_region region{8 * MiB};
    heap_type heap{region.get()};
};
struct growing_ticket {
    using heap_type =
        alloc::synchronized_heap<alloc::growing_heap<alloc::tlsf_heap, platform::anonymous_memory>,
                                 keel::sync::ticket_lock<>>;
    platform::anonymous_memory source;
    heap_type heap{source, alloc::growing_heap_options{256 * 1024, 16 * MiB}};
};

void stamp(std::byte* p, std::size_t n, std::uint64_t seed) {
    std::memcpy(p, &n, sizeof n);
    std::memcpy(p + 8, &seed, sizeof seed);
    for (std::size_t i = header; i < n; ++i)
        p[i] = keel::test::fill_byte(seed, i);
}

// "" when the block still holds what stamp() wrote; its size in `n`.
std::string check_stamp(const std::byte* p, std::size_t& n) {
    std::uint64_t seed = 0;
    std::memcpy(&n, p, sizeof n);
    std::memcpy(&seed, p + 8, sizeof seed);
    if (n < header || n > 4096 + header) return "block size field overwritten";
    for (std::size_t i = header; i < n; ++i) {
        if (p[i] != keel::test::fill_byte(seed, i))
            return "block of seed " + std::to_string(seed) + " overwritten";
    }
    return {};
}

}  // namespace

TEMPLATE_TEST_CASE(
    "synchronized_heap survives threads allocating, checking and freeing each other's blocks",
    "[alloc][synchronized][stress]", tlsf_futex, best_fit_std_mutex, growing_ticket) {
    TestType fixture;
    auto& heap = fixture.heap;
    std::array<std::atomic<std::byte*>, 32> handoff{};
    std::atomic<unsigned> errors{0};
    std::array<std::string, thread_count> first_error;

    auto worker = [&](unsigned t) {
        std::mt19937_64 rng(1000 + t);
        std::vector<std::byte*> mine;
        auto fail = [&](const std::string& what) {
            errors.fetch_add(1, std::memory_order_relaxed);
            if (first_error[t].empty()) first_error[t] = what;
        };
        auto release = [&](std::byte* p) {
            std::size_t n = 0;
            if (auto e = check_stamp(p, n); !e.empty()) fail(e);
            heap.deallocate(p, n, 16);
        };
        for (std::size_t op = 0; op < ops_per_thread; ++op) {
            const auto action = rng() % 100;
            if (action < 50 || mine.empty()) {
                const std::size_t n = header + (rng() % 8 == 0 ? rng() % 4096 : rng() % 256);
                auto* p = static_cast<std::byte*>(heap.allocate(n, 16));
                if (p == nullptr) continue;  // a full heap is allowed
                if (!heap.owns(p)) fail("owns() is false for a fresh block");
                stamp(p, n, (std::uint64_t{t} << 32) | op);
                mine.push_back(p);
            } else if (action < 85) {
                const auto i = rng() % mine.size();
                release(mine[i]);
                mine[i] = mine.back();
                mine.pop_back();
            } else if (action < 97) {
                // Swap one of ours into a slot; free whatever another thread left there.
                const auto i = rng() % mine.size();
                std::byte* theirs =
                    handoff[rng() % handoff.size()].exchange(mine[i], std::memory_order_acq_rel);
                mine[i] = mine.back();
                mine.pop_back();
                if (theirs != nullptr) release(theirs);
            } else if (action < 99) {
                const auto s = heap.stats();
                if (s.granted_bytes < s.requested_bytes) fail("stats: granted below requested");
            } else {
                if (auto v = heap.verify(); !v.empty()) fail("verify: " + v);
            }
        }
        for (std::byte* p : mine)
            release(p);
    };

    std::vector<std::thread> threads;
    for (unsigned t = 0; t < thread_count; ++t)
        threads.emplace_back(worker, t);
    for (auto& th : threads)
        th.join();

    for (auto& slot : handoff) {
        if (std::byte* p = slot.exchange(nullptr)) {
            std::size_t n = 0;
            CHECK(check_stamp(p, n) == "");
            heap.deallocate(p, n, 16);
        }
    }
    for (const auto& e : first_error)
        CHECK(e == "");
    CHECK(errors.load() == 0);
    CHECK(heap.verify() == "");
    const auto s = heap.stats();
    CHECK(s.granted_bytes == 0);
    CHECK(s.requested_bytes == 0);
    CHECK(s.allocations == s.deallocations);
    CHECK(s.allocations > thread_count * ops_per_thread / 4);
}
