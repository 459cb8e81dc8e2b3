// Allocate/free pairs with random sizes and random lifetimes: every keel heap
// against glibc malloc, mimalloc and std::pmr::unsynchronized_pool_resource.
//
// Names: pairs/<mix>/<subject>, mix = 16B-4KiB or 16B-64KiB (uniform sizes).
// A run keeps `live_slots` blocks alive; each iteration frees the block in a
// random slot and allocates a new random size into it, so lifetimes are random
// (geometric). Sizes and slots are drawn before timing. Each block's first and
// last byte are written on allocation and checked on free: a subject that hands
// out overlapping or corrupted blocks fails the run. Counter: pairs per second
// (items_per_second). `ratios.py` turns the JSON output into keel / baseline
// ratios (time per pair, < 1 means keel is faster).

#include <keel/alloc/adaptive_heap.hpp>
#include <keel/alloc/best_fit_heap.hpp>
#include <keel/alloc/buddy_heap.hpp>
#include <keel/alloc/first_fit_heap.hpp>
#include <keel/alloc/head_first_best_fit_heap.hpp>
#include <keel/alloc/next_fit_heap.hpp>
#include <keel/alloc/tlsf_heap.hpp>
#include <keel/alloc/worst_fit_heap.hpp>
#include <keel/platform/anonymous_memory.hpp>

#include <benchmark/benchmark.h>
#include <mimalloc.h>  // declarations only: mimalloc is dlopen'ed, see mimalloc_library

#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <bit>
#include <memory_resource>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace {

namespace ka = keel::alloc;
namespace kp = keel::platform;

constexpr std::size_t live_slots = 1000;
constexpr std::size_t schedule_length = 1 << 16;  // a power of two
constexpr std::size_t region_bytes = std::size_t{1} << 30;  // mapped lazily

struct schedule {
    std::vector<std::uint32_t> sizes;
    std::vector<std::uint32_t> slots;
};

const schedule& schedule_for(std::size_t max_size) {
    static std::vector<std::pair<std::size_t, schedule>> cache;
    for (auto& [m, s] : cache) {
        if (m == max_size) return s;
    }
    std::mt19937_64 rng(42 + max_size);
    std::uniform_int_distribution<std::uint32_t> size(16, static_cast<std::uint32_t>(max_size));
    std::uniform_int_distribution<std::uint32_t> slot(0, live_slots - 1);
    schedule s;
    for (std::size_t i = 0; i < schedule_length; ++i) {
        s.sizes.push_back(size(rng));
        s.slots.push_back(slot(rng));
    }
    cache.emplace_back(max_size, std::move(s));
    return cache.back().second;
}

// Each subject: allocate(n) -> void*, deallocate(p, n).
struct glibc_malloc {
    void* allocate(std::size_t n) noexcept { return std::malloc(n); }
    void deallocate(void* p, std::size_t) noexcept { std::free(p); }
};

// mimalloc, loaded RTLD_LOCAL rather than linked: Debian's libmimalloc.so exports
// malloc/free, and linking it would make glibc_malloc above mimalloc too.
struct mimalloc_library {
    decltype(&mi_malloc) malloc = nullptr;
    decltype(&mi_free) free = nullptr;
    std::string error;  // empty when both functions resolved
};

const mimalloc_library& mimalloc() {
    static const mimalloc_library library = [] {
        mimalloc_library lib;
        void* handle = ::dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);  // never closed
        if (handle == nullptr) {
            const char* why = ::dlerror();
            lib.error = std::string("cannot load libmimalloc.so.2: ") + (why ? why : "?");
            return lib;
        }
        void* m = ::dlsym(handle, "mi_malloc");
        void* f = ::dlsym(handle, "mi_free");
        if (m == nullptr || f == nullptr) {
            lib.error = "libmimalloc.so.2 lacks mi_malloc or mi_free";
            return lib;
        }
        lib.malloc = std::bit_cast<decltype(&mi_malloc)>(m);
        lib.free = std::bit_cast<decltype(&mi_free)>(f);
        return lib;
    }();
    return library;
}

struct mimalloc_subject {
    // Non-null: why this subject cannot run (checked before one is made).
    static const char* unavailable() {
        return mimalloc().error.empty() ? nullptr : mimalloc().error.c_str();
    }
    decltype(&mi_malloc) malloc = mimalloc().malloc;
    decltype(&mi_free) free = mimalloc().free;
    void* allocate(std::size_t n) noexcept { return malloc(n); }
    void deallocate(void* p, std::size_t) noexcept { free(p); }
};

struct pmr_pool {
    std::pmr::unsynchronized_pool_resource resource;
    void* allocate(std::size_t n) { return resource.allocate(n, 16); }
    void deallocate(void* p, std::size_t n) { resource.deallocate(p, n, 16); }
};

// A keel heap over its own region, built with Options::get() when Options is
// not void.
template <ka::heap Heap, class Options = void>
struct keel_heap {
    kp::anonymous_memory source;
    kp::unique_region<kp::anonymous_memory> region = map(source);
    Heap heap = make(region.get());
    static kp::unique_region<kp::anonymous_memory> map(kp::anonymous_memory& s) {
        auto r = kp::map_unique(s, region_bytes);
        if (!r) throw std::system_error(r.error(), "bench_alloc: mapping the heap region");
        return std::move(*r);
    }
    static Heap make(kp::memory_region r) {
        if constexpr (std::is_void_v<Options>) {
            return Heap(r);
        } else {
            return Heap(r, Options::get());
        }
    }
    void* allocate(std::size_t n) noexcept { return heap.allocate(n, 16); }
    void deallocate(void* p, std::size_t n) noexcept { heap.deallocate(p, n, 16); }
};

// tlsf_heap with quick lists (deferred coalescing): 256 KiB parked at most, a
// request looking four size classes up (the setting that brought it near mimalloc).
struct tlsf_quick_options {
    static ka::tlsf_heap_options get() { return {.quick_bytes = std::size_t{256} << 10, .quick_reach = 4}; }
};

struct block {
    std::byte* p = nullptr;
    std::uint32_t n = 0;
};

inline std::byte tag_of(std::size_t i) noexcept { return static_cast<std::byte>(i * 37 + 11); }

template <class Subject>
void pairs(benchmark::State& state, std::size_t max_size) {
    if constexpr (requires { Subject::unavailable(); }) {
        if (const char* why = Subject::unavailable()) {
            state.SkipWithError(why);
            return;
        }
    }
    const schedule& s = schedule_for(max_size);
    auto subject = std::make_unique<Subject>();
    std::vector<block> live(live_slots);
    auto put = [&](std::size_t slot, std::size_t n) {
        auto* p = static_cast<std::byte*>(subject->allocate(n));
        if (p == nullptr) return false;
        p[0] = tag_of(slot);
        p[n - 1] = tag_of(slot);
        live[slot] = {p, static_cast<std::uint32_t>(n)};
        return true;
    };
    for (std::size_t i = 0; i < live_slots; ++i) {
        if (!put(i, s.sizes[(i * 7919) % schedule_length])) {
            state.SkipWithError("allocation failed while filling the live set");
            return;
        }
    }
    std::size_t i = 0;
    bool ok = true;
    for (auto _ : state) {
        const std::size_t slot = s.slots[i];
        const std::size_t n = s.sizes[i];
        i = (i + 1) & (schedule_length - 1);
        block& b = live[slot];
        ok &= b.p[0] == tag_of(slot) && b.p[b.n - 1] == tag_of(slot);
        subject->deallocate(b.p, b.n);
        if (!put(slot, n)) {
            state.SkipWithError("allocation failed");
            break;
        }
    }
    for (std::size_t k = 0; k < live_slots; ++k) {
        if (live[k].p != nullptr) subject->deallocate(live[k].p, live[k].n);
    }
    if (!ok) state.SkipWithError("a block was overwritten while live");
    state.SetItemsProcessed(state.iterations());
}

template <class Subject>
void register_subject(const char* name) {
    for (std::size_t max_size : {std::size_t{4096}, std::size_t{65536}}) {
        const std::string mix = max_size == 4096 ? "16B-4KiB" : "16B-64KiB";
        benchmark::RegisterBenchmark(("pairs/" + mix + "/" + name).c_str(),
                                     [max_size](benchmark::State& st) { pairs<Subject>(st, max_size); });
    }
}

const bool registered = [] {
    register_subject<glibc_malloc>("glibc_malloc");
    register_subject<mimalloc_subject>("mimalloc");
    register_subject<pmr_pool>("pmr_unsynchronized_pool");
    register_subject<keel_heap<ka::tlsf_heap>>("tlsf");
    register_subject<keel_heap<ka::tlsf_heap, tlsf_quick_options>>("tlsf_quick");
    register_subject<keel_heap<ka::buddy_heap>>("buddy");
    register_subject<keel_heap<ka::best_fit_heap>>("best_fit");
    register_subject<keel_heap<ka::head_first_best_fit_heap>>("head_first_best_fit");
    register_subject<keel_heap<ka::first_fit_heap>>("first_fit");
    register_subject<keel_heap<ka::next_fit_heap>>("next_fit");
    register_subject<keel_heap<ka::worst_fit_heap>>("worst_fit");
    register_subject<keel_heap<ka::adaptive_heap>>("adaptive");
    return true;
}();

}  // namespace
