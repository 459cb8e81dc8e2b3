#pragma once

#include <keel/platform/memory_source.hpp>
#include <keel/result.hpp>
#include <keel/rpc/error.hpp>
#include <keel/rpc/shm_ptr.hpp>

#include <sys/types.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace keel::rpc {

/// The keel rpc protocol version: segment headers and handshake messages carry it,
/// and peers that speak different versions refuse each other.
inline constexpr std::uint32_t protocol_version = 1;

/// "KEELRSEG" read as a little-endian 64-bit word: the first word of every segment.
inline constexpr std::uint64_t segment_magic = 0x4745'5352'4c45'454bULL;

/// Areas start at multiples of this (also the size of the header area): one 4 KiB
/// page, so a later slice can protect an area with mprotect without touching another.
inline constexpr std::size_t segment_area_alignment = 4096;

/// The header at offset 0 of every segment. Written once by the creator before the
/// segment is handed to a peer; a peer reads it once (into a private copy) when it
/// attaches and never trusts it again, so a peer changing it later changes nothing.
/// The rest of the first 4 KiB page is reserved for connection state of later slices.
/// Offsets are from the start of the segment.
struct segment_header {
    std::uint64_t magic;           ///< segment_magic
    std::uint32_t version;         ///< protocol_version of the creator
    std::uint32_t header_size;     ///< sizeof(segment_header) of the creator
    std::uint64_t fingerprint;     ///< layout_fingerprint of the creator
    std::uint64_t total_size;      ///< bytes in the memfd
    std::uint64_t channel_offset;  ///< where the channel area (request/response rings) starts
    std::uint64_t channel_size;
    std::uint64_t heap_offset;     ///< where the heap area (argument data, shm_ptr targets) starts
    std::uint64_t heap_size;
    std::int32_t creator_pid;      ///< the process that created the segment (informational)
    std::uint32_t reserved32;      ///< 0
    std::uint64_t reserved[6];     ///< 0
};
static_assert(std::is_standard_layout_v<segment_header> && std::is_trivially_copyable_v<segment_header>);
static_assert(sizeof(segment_header) <= segment_area_alignment);

namespace detail {
// Channel wire geometry (channel.hpp checks its structs against these); part of the
// layout fingerprint so peers with other ring layouts refuse each other.
inline constexpr std::size_t channel_header_bytes = 256;
inline constexpr std::size_t channel_slot_bytes = 256;
inline constexpr std::size_t channel_slot_header_bytes = 32;

constexpr std::uint64_t fnv1a(std::uint64_t h, std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i) {
        h ^= (v >> (8 * i)) & 0xffu;
        h *= 0x100000001b3ULL;
    }
    return h;
}
constexpr std::uint64_t compute_layout_fingerprint() noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (std::uint64_t v : {std::uint64_t{sizeof(segment_header)}, std::uint64_t{alignof(segment_header)},
                            std::uint64_t{offsetof(segment_header, magic)},
                            std::uint64_t{offsetof(segment_header, version)},
                            std::uint64_t{offsetof(segment_header, header_size)},
                            std::uint64_t{offsetof(segment_header, fingerprint)},
                            std::uint64_t{offsetof(segment_header, total_size)},
                            std::uint64_t{offsetof(segment_header, channel_offset)},
                            std::uint64_t{offsetof(segment_header, channel_size)},
                            std::uint64_t{offsetof(segment_header, heap_offset)},
                            std::uint64_t{offsetof(segment_header, heap_size)},
                            std::uint64_t{offsetof(segment_header, creator_pid)},
                            std::uint64_t{offsetof(segment_header, reserved32)},
                            std::uint64_t{offsetof(segment_header, reserved)},
                            std::uint64_t{sizeof(shm_ptr<int>)}, std::uint64_t{sizeof(void*)},
                            std::uint64_t{segment_area_alignment},
                            std::uint64_t{channel_header_bytes}, std::uint64_t{channel_slot_bytes},
                            std::uint64_t{channel_slot_header_bytes},
                            std::uint64_t{std::endian::native == std::endian::little ? 1u : 2u}}) {
        h = fnv1a(h, v);
    }
    return h;
}
}  // namespace detail

/// A hash of the segment layout as this build sees it (the header's size, alignment
/// and field offsets, shm_ptr's size, pointer width, area alignment, byte order),
/// computed at compile time. Peers built with a different layout refuse each other
/// at the handshake and at attach, instead of misreading each other's memory.
inline constexpr std::uint64_t layout_fingerprint = detail::compute_layout_fingerprint();

/// How segment::create divides a segment: the header page, then the channel area,
/// then the heap area, which takes the rest. Plain data.
struct segment_layout {
    /// Bytes for the channel area (request/response rings, later slices); rounded up
    /// to segment_area_alignment. 0 is allowed (no channel area).
    std::size_t channel_bytes = 64 * 1024;
};

/// What segment::attach accepts from a peer. Plain data.
struct segment_attach_options {
    /// The largest segment accepted; a bigger memfd is refused before it is mapped
    /// (errc::segment_too_large), so a peer cannot make us map a huge file.
    std::size_t max_size = std::size_t{1} << 32;
};

/// A shared segment: one memfd (memfd_create, never a file in /dev/shm or anywhere
/// else), mapped MAP_SHARED read-write, sealed F_SEAL_SHRINK | F_SEAL_GROW |
/// F_SEAL_SEAL before anyone else sees it, so no peer can truncate it under the other
/// (which would SIGBUS the other on access), grow it, or add seals that break the
/// other's mapping. The kernel frees it when the last mapping and fd are gone, so a
/// crashed process leaves nothing behind.
/// Layout: segment_header at offset 0 (first 4 KiB), the channel area, the heap area.
/// Geometry (area offsets and sizes) is copied into this object when it is created
/// or attached and validated once; resolve() and to_shm() use only that private copy.
/// Move-only; the destructor unmaps and closes the fd.
/// Thread-safety: const members are thread-safe; the memory is shared and its
/// contents are the user's to synchronise.
/// Cost: create = memfd_create + ftruncate + mmap + fcntl; attach = fstat + fcntl +
/// mmap; resolve / to_shm = a few compares, no system call.
class segment {
public:
    /// A fresh zero-filled segment of `size` bytes (rounded up to the page size),
    /// laid out as `layout` says and sealed. Throws std::invalid_argument when the
    /// layout leaves no heap area (size too small for header + channel area + one
    /// page). Kernel failures (EMFILE, ENOMEM, ...) are returned.
    [[nodiscard]] static result<segment> create(std::size_t size, segment_layout layout = {});

    /// Maps the segment behind a memfd received from a peer (the caller keeps and
    /// closes `fd`; the segment holds its own duplicate). Refuses, with an error that
    /// names the problem (rpc::error_detail() has both values): not a memfd
    /// (not_a_memfd), missing seals (missing_seals), too big (segment_too_large),
    /// wrong magic (bad_magic), version mismatch (version_mismatch), layout
    /// fingerprint mismatch (fingerprint_mismatch), header size or total size
    /// disagreeing with the memfd (bad_header, size_mismatch), areas misaligned,
    /// overlapping or out of the segment (area_out_of_bounds).
    [[nodiscard]] static result<segment> attach(int fd, segment_attach_options options = {});

    segment() noexcept = default;
    segment(segment&& other) noexcept;
    segment& operator=(segment&& other) noexcept;
    segment(const segment&) = delete;
    segment& operator=(const segment&) = delete;
    ~segment();

    /// True when this object holds a mapping.
    explicit operator bool() const noexcept { return _region.data() != nullptr; }

    /// The memfd (for passing to a peer with SCM_RIGHTS; keep ownership).
    [[nodiscard]] int fd() const noexcept { return _region.fd(); }
    [[nodiscard]] std::byte* data() const noexcept { return _region.data(); }
    [[nodiscard]] std::size_t size() const noexcept { return _region.size(); }
    /// The header as it is in shared memory now (a peer may have written to it;
    /// this object's geometry does not depend on it).
    [[nodiscard]] const segment_header& header() const noexcept {
        return *reinterpret_cast<const segment_header*>(_region.data());
    }
    [[nodiscard]] std::span<std::byte> channel_area() const noexcept {
        return {_region.data() + _channel_offset, _channel_size};
    }
    [[nodiscard]] std::span<std::byte> heap_area() const noexcept {
        return {_region.data() + _heap_offset, _heap_size};
    }
    [[nodiscard]] std::uint64_t channel_offset() const noexcept { return _channel_offset; }
    [[nodiscard]] std::uint64_t heap_offset() const noexcept { return _heap_offset; }
    /// The creator's pid as the header said at attach (informational; a peer's pid for
    /// liveness comes from the socket, see connection::peer_pid()).
    [[nodiscard]] pid_t creator_pid() const noexcept { return _creator_pid; }

    /// The T* behind `p`, after checking that [offset, offset + count * sizeof(T))
    /// lies inside the heap area and that the offset is aligned for T. count 0 checks
    /// only that the offset lies in the heap area or at its end.
    /// Errors: errc::null_pointer, errc::out_of_bounds, errc::misaligned (no
    /// error_detail: this is a hot path). noexcept, no system call.
    template <class T>
    [[nodiscard]] result<T*> resolve(shm_ptr<T> p, std::size_t count = 1) const noexcept {
        const std::uint64_t off = p.offset();
        if (off == 0) return make_error_code(errc::null_pointer);
        if (off < _heap_offset || off - _heap_offset > _heap_size) return make_error_code(errc::out_of_bounds);
        if (off % alignof(T) != 0) return make_error_code(errc::misaligned);
        const std::uint64_t room = _heap_size - (off - _heap_offset);
        if (count != 0 && (room < sizeof(T) || count > room / sizeof(T))) {
            return make_error_code(errc::out_of_bounds);
        }
        return reinterpret_cast<T*>(_region.data() + off);
    }

    /// The shm_ptr for a pointer into this segment's heap area (the area shm_ptrs may
    /// point into). errc::out_of_bounds when `p` is not inside it; a null `p` gives a
    /// null shm_ptr. noexcept, no system call.
    template <class T>
    [[nodiscard]] result<shm_ptr<T>> to_shm(T* p) const noexcept {
        if (p == nullptr) return shm_ptr<T>();
        const auto* b = reinterpret_cast<const std::byte*>(p);
        const std::byte* heap = _region.data() + _heap_offset;
        if (b < heap || b >= heap + _heap_size) return make_error_code(errc::out_of_bounds);
        return shm_ptr<T>(static_cast<std::uint64_t>(b - _region.data()));
    }

private:
    platform::memory_region _region;
    std::uint64_t _channel_offset = 0;
    std::uint64_t _channel_size = 0;
    std::uint64_t _heap_offset = 0;
    std::uint64_t _heap_size = 0;
    pid_t _creator_pid = 0;

    void reset() noexcept;
};

}  // namespace keel::rpc
