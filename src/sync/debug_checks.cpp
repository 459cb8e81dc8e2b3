#include <keel/sync/detail/debug_checks.hpp>

#include <cstdio>
#include <cstdlib>

namespace keel::sync::detail {

void lock_misuse(const char* what, const void* lock) noexcept {
    std::fprintf(stderr, "keel::sync: %s (lock at %p)\n", what, lock);
    std::fflush(stderr);
    std::abort();
}

}  // namespace keel::sync::detail
