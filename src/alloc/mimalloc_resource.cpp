// keel::alloc mimalloc_resource over mimalloc 2's exclusive arenas.
//
// libmimalloc.so.2 is dlopen'ed RTLD_LOCAL on first use, never linked: Debian's
// build exports malloc/free/operator new, and linking it would make mimalloc the
// malloc of every program that links keel::alloc. Loaded locally, its symbols stay
// out of the global scope, so only the mi_* functions called here reach it.
#include <keel/alloc/mimalloc_resource.hpp>

#include <mimalloc.h>  // declarations only: the types of the functions looked up

#include <dlfcn.h>

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>

#if MI_MALLOC_VERSION < 200 || MI_MALLOC_VERSION >= 300
#error "keel's mimalloc_resource knows the arena layout of mimalloc 2.x only"
#endif

namespace keel::alloc {
namespace {

constexpr const char* mimalloc_soname = "libmimalloc.so.2";

// mimalloc 2.x: an arena is managed in blocks of one segment (MI_SEGMENT_SIZE,
// 1 << 25), and a block's segment is found by masking its address, so the arena
// must start on a segment boundary. The header keeps these out of sight.
constexpr std::size_t segment_bytes = std::size_t{32} << 20;

// The mimalloc functions this file calls, looked up in the library loaded at run
// time. Usable only when `error` is empty; otherwise `error` says why not.
struct mimalloc_api {
    decltype(&mi_version) version = nullptr;
    decltype(&mi_manage_os_memory_ex) manage_os_memory_ex = nullptr;
    decltype(&mi_heap_new_in_arena) heap_new_in_arena = nullptr;
    decltype(&mi_heap_destroy) heap_destroy = nullptr;
    decltype(&mi_heap_malloc) heap_malloc = nullptr;
    decltype(&mi_heap_malloc_aligned) heap_malloc_aligned = nullptr;
    decltype(&mi_free) free = nullptr;
    char error[512] = {};  // a fixed buffer: loading happens inside noexcept available()
};

template <class Fn>
bool look_up(void* library, const char* name, Fn& fn, char (&error)[512]) noexcept {
    ::dlerror();  // clear a stale message
    void* symbol = ::dlsym(library, name);
    if (symbol == nullptr) {
        const char* why = ::dlerror();
        std::snprintf(error, sizeof error, "%s has no %s: %s", mimalloc_soname, name,
                      why != nullptr ? why : "the symbol is null");
        return false;
    }
    fn = std::bit_cast<Fn>(symbol);
    return true;
}

mimalloc_api load_mimalloc() noexcept {
    mimalloc_api api;
    // Never dlclose'd: arenas registered with mimalloc live until exit.
    void* library = ::dlopen(mimalloc_soname, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        const char* why = ::dlerror();
        std::snprintf(api.error, sizeof api.error, "cannot load %s: %s", mimalloc_soname,
                      why != nullptr ? why : "unknown dlopen error");
        return api;
    }
    const bool all =
        look_up(library, "mi_version", api.version, api.error) &&
        look_up(library, "mi_manage_os_memory_ex", api.manage_os_memory_ex, api.error) &&
        look_up(library, "mi_heap_new_in_arena", api.heap_new_in_arena, api.error) &&
        look_up(library, "mi_heap_destroy", api.heap_destroy, api.error) &&
        look_up(library, "mi_heap_malloc", api.heap_malloc, api.error) &&
        look_up(library, "mi_heap_malloc_aligned", api.heap_malloc_aligned, api.error) &&
        look_up(library, "mi_free", api.free, api.error);
    if (!all) return api;
    // The arena layout assumed here is mimalloc 2's; a library with the same
    // soname but another major version must not be driven with it.
    const int version = api.version();
    if (version / 100 != MI_MALLOC_VERSION / 100) {
        std::snprintf(api.error, sizeof api.error,
                      "%s is mimalloc version %d, keel was built for %d and knows only "
                      "mimalloc 2's arenas",
                      mimalloc_soname, version, MI_MALLOC_VERSION);
    }
    return api;
}

// Loaded once, on first use, by whichever thread comes first (a function-local
// static's initialisation is thread-safe).
const mimalloc_api& mi() noexcept {
    static const mimalloc_api api = load_mimalloc();
    return api;
}

// A token per thread that is never reused (thread ids and TLS addresses are, after
// a thread exits, and the heap of an exited thread is gone).
std::atomic<std::uint64_t> next_thread_token{1};
std::uint64_t this_thread_token() noexcept {
    thread_local const std::uint64_t token =
        next_thread_token.fetch_add(1, std::memory_order_relaxed);
    return token;
}

std::string hex(const void* p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%p", p);
    return buf;
}

}  // namespace

bool mimalloc_resource::available() noexcept {
    return mi().error[0] == '\0';
}
std::size_t mimalloc_resource::arena_alignment() noexcept {
    return available() ? segment_bytes : 0;
}
std::size_t mimalloc_resource::minimum_region_bytes() noexcept {
    return available() ? segment_bytes : 0;
}

void mimalloc_resource::require_available() {
    if (!available()) {
        throw std::system_error(std::make_error_code(std::errc::not_supported),
                                std::string("mimalloc_resource: ") + mi().error);
    }
}

mimalloc_resource::mimalloc_resource(platform::memory_region region,
                                     mimalloc_resource_options options) {
    require_available();
    init(region, region, options);
}

void mimalloc_resource::init(platform::memory_region region, platform::memory_region mapped,
                             mimalloc_resource_options options) {
    if (!region || region.empty())
        throw std::invalid_argument("mimalloc_resource: the region is null or empty");
    if (!detail::is_aligned(region.data(), segment_bytes)) {
        throw std::invalid_argument(
            "mimalloc_resource: the region at " + hex(region.data()) + " is not aligned to " +
            std::to_string(segment_bytes) +
            " bytes (32 MiB, mimalloc 2's segment size, which its arenas need); "
            "map 32 MiB more and pass an aligned part, or use the constructor "
            "that maps from a memory source");
    }
    if (region.size() < segment_bytes) {
        throw std::invalid_argument(
            "mimalloc_resource: the region of " + std::to_string(region.size()) +
            " bytes is too small: a mimalloc 2 arena needs at least " +
            std::to_string(segment_bytes) + " bytes (32 MiB), used in whole 32 MiB blocks");
    }
    const mimalloc_api& api = mi();
    // mimalloc uses whole segments only; say so in region().
    const std::size_t usable = region.size() / segment_bytes * segment_bytes;
    mi_arena_id_t arena = 0;
    // Committed (the mapping is read-write) so mimalloc treats the arena as pinned and
    // never decommits inside it; not large (no huge-page assumptions).
    if (!api.manage_os_memory_ex(region.data(), usable, /*is_committed=*/true,
                                 /*is_large=*/false, options.zeroed, options.numa_node,
                                 /*exclusive=*/true, &arena)) {
        throw std::system_error(
            std::make_error_code(std::errc::not_enough_memory),
            "mimalloc_resource: mimalloc refused the arena at " + hex(region.data()) +
                " (mimalloc 2 manages at most 64 arenas per process and never releases "
                "one, or it could not allocate the arena's descriptor)");
    }
    // From here on the arena is registered for good: nothing below may unmap it.
    mi_heap_t* heap = api.heap_new_in_arena(arena);
    if (heap == nullptr) {
        throw std::system_error(std::make_error_code(std::errc::not_enough_memory),
                                "mimalloc_resource: mimalloc could not create a heap in its arena "
                                "(the region stays registered with mimalloc)");
    }
    _heap = heap;
    _arena = arena;
    _owner = this_thread_token();
    _region = platform::memory_region(region.data(), usable, region.fd());
    _mapped = mapped;
}

mimalloc_resource::~mimalloc_resource() {
    // mi_heap_destroy frees every block at once; only the owning thread may touch the
    // heap (and if that thread has exited, mimalloc has deleted the heap already).
    // A constructed resource implies mimalloc loaded, so mi() is complete here.
    if (_heap != nullptr && is_owner_thread()) mi().heap_destroy(static_cast<mi_heap_t*>(_heap));
}

bool mimalloc_resource::is_owner_thread() const noexcept {
    return _owner == this_thread_token();
}

void* mimalloc_resource::do_allocate(std::size_t bytes, std::size_t align) {
    if (!is_owner_thread()) {
        throw std::system_error(
            std::make_error_code(std::errc::operation_not_permitted),
            "mimalloc_resource: allocate on a thread other than the one that created the "
            "resource (mimalloc heaps allocate on their own thread only; any thread may "
            "deallocate)");
    }
    const mimalloc_api& api = mi();
    auto* heap = static_cast<mi_heap_t*>(_heap);
    void* p = align <= alignof(std::max_align_t) ? api.heap_malloc(heap, bytes)
                                                 : api.heap_malloc_aligned(heap, bytes, align);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

void mimalloc_resource::do_deallocate(void* p, std::size_t bytes, std::size_t align) {
    (void)bytes;
    (void)align;
    if (p == nullptr) return;
    if (!_region.contains(p)) {
        // mi_free of a pointer mimalloc does not know corrupts its state: stop here.
        std::fprintf(stderr,
                     "keel::alloc: mimalloc_resource: deallocate of %p, which is not in its region "
                     "[%p, %p)\n",
                     p, static_cast<void*>(_region.begin()), static_cast<void*>(_region.end()));
        std::abort();
    }
    mi().free(p);
}

}  // namespace keel::alloc
