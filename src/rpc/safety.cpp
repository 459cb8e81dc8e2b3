// Safety modes: names, and the copy mode's bounded copy into private memory.
// The sealed mechanisms are in seal.cpp, the MPK sandbox in sandbox.cpp.
#include <keel/rpc/safety.hpp>

#include <cstring>

namespace keel::rpc {

std::string_view to_string(safety_mode m) noexcept {
    switch (m) {
        case safety_mode::relaxed: return "relaxed";
        case safety_mode::copy: return "copy";
        case safety_mode::sealed: return "sealed";
        case safety_mode::sandboxed: return "sandboxed";
    }
    return "?";
}

result<std::span<std::byte>> copy_payload(const void* src, std::size_t n, std::span<std::byte> dst,
                                          std::size_t max_bytes) noexcept {
    if (n > max_bytes || n > dst.size()) return make_error_code(errc::payload_too_large);
    // The source is shared memory the sender may write concurrently: one memcpy, and
    // from here on only the private copy is used (no second read of the source).
    if (n != 0) std::memcpy(dst.data(), src, n);
    return dst.first(n);
}

}  // namespace keel::rpc
