// keel::alloc mimalloc_resource when keel is built without mimalloc
// (KEEL_WITH_MIMALLOC=OFF): the same class, whose constructors say so.
#include <keel/alloc/mimalloc_resource.hpp>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <system_error>

namespace keel::alloc {

bool mimalloc_resource::available() noexcept {
    return false;
}
std::size_t mimalloc_resource::arena_alignment() noexcept {
    return 0;
}
std::size_t mimalloc_resource::minimum_region_bytes() noexcept {
    return 0;
}

void mimalloc_resource::require_available() {
    throw std::system_error(
        std::make_error_code(std::errc::not_supported),
        "mimalloc_resource: keel was built without mimalloc (KEEL_WITH_MIMALLOC=OFF)");
}

mimalloc_resource::mimalloc_resource(platform::memory_region region,
                                     mimalloc_resource_options options) {
    (void)region;
    (void)options;
    require_available();
}

void mimalloc_resource::init(platform::memory_region, platform::memory_region,
                             mimalloc_resource_options) {
    require_available();
}

// Never reached: no object is ever constructed.
mimalloc_resource::~mimalloc_resource() = default;
bool mimalloc_resource::is_owner_thread() const noexcept {
    return false;
}
void* mimalloc_resource::do_allocate(std::size_t, std::size_t) {
    throw std::bad_alloc();
}
void mimalloc_resource::do_deallocate(void*, std::size_t, std::size_t) {}

}  // namespace keel::alloc
