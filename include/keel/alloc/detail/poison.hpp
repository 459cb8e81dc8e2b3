#pragma once

#include <cstddef>

// AddressSanitizer poisoning of free memory. Heaps poison the payload of free
// blocks (never their own metadata) so that a use after free is reported where it
// happens; without ASan these compile to nothing.
#if defined(__SANITIZE_ADDRESS__)
#define KEEL_ALLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEEL_ALLOC_ASAN 1
#endif
#endif

#if defined(KEEL_ALLOC_ASAN)
extern "C" void __asan_poison_memory_region(void const volatile* addr, std::size_t size);
extern "C" void __asan_unpoison_memory_region(void const volatile* addr, std::size_t size);
#endif

namespace keel::alloc::detail {

inline constexpr bool asan_enabled =
#if defined(KEEL_ALLOC_ASAN)
    true;
#else
    false;
#endif

inline void poison(const void* p, std::size_t n) noexcept {
#if defined(KEEL_ALLOC_ASAN)
    if (n != 0) __asan_poison_memory_region(p, n);
#else
    (void)p;
    (void)n;
#endif
}

inline void unpoison(const void* p, std::size_t n) noexcept {
#if defined(KEEL_ALLOC_ASAN)
    if (n != 0) __asan_unpoison_memory_region(p, n);
#else
    (void)p;
    (void)n;
#endif
}

}  // namespace keel::alloc::detail
