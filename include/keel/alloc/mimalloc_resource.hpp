#pragma once

#include <keel/alloc/detail/align.hpp>
#include <keel/platform/memory_source.hpp>

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <system_error>

namespace keel::alloc {

/// Options for mimalloc_resource. Plain data.
struct mimalloc_resource_options {
    /// The region is known to be zero-filled (fresh anonymous or memfd memory), so
    /// mimalloc need not clear what it hands out zeroed. Leave false when unsure.
    bool zeroed = false;
    /// NUMA node the region lives on, or -1 for none in particular.
    int numa_node = -1;
};

/// A std::pmr::memory_resource running mimalloc inside one region of keel memory:
/// mimalloc in shared memory (memfd, posix_shm: the blocks lie in the region a peer
/// maps) or in a hard-capped region that ends in std::bad_alloc when full.
/// Built on mimalloc 2's exclusive arenas (mi_manage_os_memory_ex, then
/// mi_heap_new_in_arena); <mimalloc.h> stays out of this header.
///
/// Loading: keel does not link mimalloc. The first call of available() or a
/// constructor dlopens libmimalloc.so.2 with RTLD_LOCAL (once per process, never
/// closed) and looks up the few mi_* functions used here. Its malloc, free and
/// operator new stay out of the global symbol scope, so mimalloc is never made the
/// process's malloc: other code keeps whatever malloc it had (glibc's).
///
/// What the arena needs (mimalloc 2.0.9, checked by the tests):
///  - the region must start on an arena_alignment() boundary (32 MiB, mimalloc's
///    segment size: mimalloc finds a block's segment by masking its address, so a
///    misaligned arena corrupts memory) and hold at least minimum_region_bytes()
///    (32 MiB); only whole multiples of 32 MiB are used (region() says which part).
///    The source constructor maps extra address space and aligns for you.
///  - An exclusive arena's heap never falls back to OS memory: when the arena is
///    full, allocation fails (std::bad_alloc here), so the region is a hard cap.
///    A mimalloc heap's own descriptor and the arena's bitmaps live outside the region.
///  - mimalloc 2.0.9 cannot unregister an arena, and manages at most 64 per process.
///
/// Lifetime: destroying the resource destroys its mimalloc heap, which frees every
/// block still allocated (like std::pmr pool resources' release()). The region stays
/// registered with mimalloc for the rest of the process, so it must never be
/// unmapped or reused: the source constructor never unmaps what it mapped (a
/// deliberate, bounded leak; its fd, if any, stays open), and a region handed to the
/// region constructor must stay mapped, untouched by anything else, until exit.
/// Each resource uses one of the 64 arena slots for good.
///
/// Thread-safety: mimalloc heaps are thread-local. Allocate only on the thread that
/// constructed the resource (another thread gets std::system_error with
/// errc::operation_not_permitted); deallocate on any thread. Destroy it on that
/// thread too: destroyed elsewhere it cannot touch the heap and leaves its blocks
/// allocated. If that thread exits first, mimalloc deletes the heap, the blocks stay
/// valid, and the resource can no longer allocate.
/// Equality: only with itself. Cost: a mimalloc allocation (tens of ns) plus the
/// thread check; deallocate is mi_free after a range check on the pointer.
/// When libmimalloc.so.2 is missing, lacks a function or is not mimalloc 2, or keel
/// was built without mimalloc (KEEL_WITH_MIMALLOC=OFF, as in the sanitizer presets),
/// available() is false and the constructors throw std::system_error saying which.
class mimalloc_resource final : public std::pmr::memory_resource {
public:
    /// Whether keel was built with mimalloc, libmimalloc.so.2 loads (RTLD_LOCAL, on
    /// the first call), every function used resolves, and it is a mimalloc 2 (whose
    /// arena layout this class knows). Thread-safe; after the first call, cheap.
    [[nodiscard]] static bool available() noexcept;
    /// The alignment a region must have (32 MiB), or 0 when !available().
    [[nodiscard]] static std::size_t arena_alignment() noexcept;
    /// The smallest region mimalloc accepts (32 MiB), or 0 when !available().
    [[nodiscard]] static std::size_t minimum_region_bytes() noexcept;

    /// Runs mimalloc in `region` (see the class comment for what it must be, and for
    /// why it must stay mapped until exit). Throws std::invalid_argument for a null,
    /// too small or misaligned region (the message gives the required numbers), and
    /// std::system_error when mimalloc is not available (the message gives the
    /// dlopen/dlsym error or the version found) or refuses the arena (all 64 slots
    /// taken).
    explicit mimalloc_resource(platform::memory_region region,
                               mimalloc_resource_options options = {});

    /// Maps at least `bytes` (rounded up to whole 32 MiB arena blocks) from `source`,
    /// plus up to 32 MiB of extra address space to align it, and runs mimalloc there.
    /// The mapping is never unmapped (see the class comment), so the source need not
    /// outlive the resource. Throws std::invalid_argument for bytes == 0 or an
    /// overflowing size, std::system_error when the source cannot map or as above.
    template <platform::region_mapper Source>
    mimalloc_resource(Source& source, std::size_t bytes, mimalloc_resource_options options = {}) {
        require_available();
        const std::size_t block = arena_alignment();
        const std::size_t usable = detail::checked_align_up(bytes, block);
        if (bytes == 0 || usable == 0 || usable > SIZE_MAX - block) {
            throw std::invalid_argument("mimalloc_resource: cannot size an arena for " +
                                        std::to_string(bytes) + " bytes");
        }
        // An exact mapping is sometimes aligned already; otherwise map a block more.
        auto mapped = source.map(usable);
        if (mapped && !detail::is_aligned(mapped->data(), block)) {
            source.unmap(*mapped);
            mapped = source.map(usable + block);
        }
        if (!mapped) {
            throw std::system_error(
                std::error_code(mapped.error()),
                "mimalloc_resource: cannot map " + std::to_string(usable + block) + " bytes");
        }
        const platform::memory_region whole = *mapped;
        try {
            std::byte* start = detail::align_up(whole.data(), block);
            init(platform::memory_region(start, usable, whole.fd()), whole, options);
        } catch (...) {
            source.unmap(whole);
            throw;
        }
    }

    ~mimalloc_resource() override;
    mimalloc_resource(const mimalloc_resource&) = delete;
    mimalloc_resource& operator=(const mimalloc_resource&) = delete;

    /// The memory mimalloc manages: every block lies inside it.
    [[nodiscard]] const platform::memory_region& region() const noexcept { return _region; }
    /// What was mapped: the source constructor's whole mapping (its fd is the one to
    /// share; region() starts region().data() - mapped_region().data() bytes in), or
    /// the region given to the region constructor.
    [[nodiscard]] const platform::memory_region& mapped_region() const noexcept { return _mapped; }
    /// Whether p lies in region().
    [[nodiscard]] bool owns(const void* p) const noexcept { return _region.contains(p); }
    /// Whether the calling thread may allocate (it constructed the resource).
    [[nodiscard]] bool is_owner_thread() const noexcept;

private:
    void* do_allocate(std::size_t bytes, std::size_t align) override;
    void do_deallocate(void* p, std::size_t bytes, std::size_t align) override;
    [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    static void require_available();
    void init(platform::memory_region region, platform::memory_region mapped,
              mimalloc_resource_options options);

    void* _heap = nullptr;  // mi_heap_t*
    int _arena = -1;        // mi_arena_id_t
    std::uint64_t _owner = 0;
    platform::memory_region _region;
    platform::memory_region _mapped;
};

}  // namespace keel::alloc
