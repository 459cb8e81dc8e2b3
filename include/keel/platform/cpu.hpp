#pragma once

#include <cstddef>

namespace keel::platform {

/// The cache-line size keel pads shared data to. 64 bytes on x86-64 and most
/// AArch64 parts; topology reports the running machine's value, which may be larger.
inline constexpr std::size_t cache_line_size = 64;

/// Tells the core that the caller is spinning: a `pause` on x86, `yield` on AArch64.
/// Saves power and frees the sibling hyper-thread; costs tens of cycles on recent x86.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#else
    asm volatile("" ::: "memory");
#endif
}

}  // namespace keel::platform
