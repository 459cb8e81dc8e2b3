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

/// The keel rpc protocol version: segment headers, arena headers and handshake
/// messages carry it, and peers that speak different versions refuse each other.
/// 2: per-side arenas (the shared heap) replace the heap area both sides wrote.
inline constexpr std::uint32_t protocol_version = 2;

/// "KEELRSEG" read as a little-endian 64-bit word: the first word of every segment.
inline constexpr std::uint64_t segment_magic = 0x4745'5352'4c45'454bULL;
/// "KEELAREN": the first word of every arena.
inline constexpr std::uint64_t arena_magic = 0x4e45'5241'4c45'454bULL;

/// Areas start at multiples of this (also the size of the header pages): one 4 KiB
/// page, so an area can be protected with mprotect without touching another.
inline constexpr std::size_t segment_area_alignment = 4096;

/// The smallest and the default arena (one side's shared heap, see arena).
inline constexpr std::size_t min_arena_bytes = 16 * 1024;
inline constexpr std::size_t default_arena_bytes = std::size_t{4} << 20;
/// Entries in the client's give-back ring (offsets of server blocks it returns).
inline constexpr std::size_t give_back_capacity = 1024;

/// The header at offset 0 of every segment. Written once by the creator (the
/// server) before the segment is handed to a peer; a peer reads it once (into a
/// private copy) when it attaches and never trusts it again, so a peer changing it
/// later changes nothing. The segment's memfd holds the header page and the channel
/// area; the two arenas are separate memfds that each side maps right after it, in
/// one address range (see shared_space): the arena offsets below are offsets in
/// that range, i.e. what shm_ptr offsets into an arena look like.
struct segment_header {
    std::uint64_t magic;                ///< segment_magic
    std::uint32_t version;              ///< protocol_version of the creator
    std::uint32_t header_size;          ///< sizeof(segment_header) of the creator
    std::uint64_t fingerprint;          ///< layout_fingerprint of the creator
    std::uint64_t total_size;           ///< bytes in the segment's memfd (header page + channel area)
    std::uint64_t channel_offset;       ///< where the channel area (request/response rings) starts
    std::uint64_t channel_size;
    std::uint64_t client_arena_offset;  ///< the client's arena in the connection's range (== total_size)
    std::uint64_t client_arena_size;    ///< bytes in the client's arena memfd
    std::uint64_t server_arena_offset;  ///< == client_arena_offset + client_arena_size
    std::uint64_t server_arena_size;    ///< bytes in the server's arena memfd
    std::int32_t creator_pid;           ///< the process that created the segment (informational)
    std::uint32_t reserved32;           ///< 0
    std::uint64_t reserved[4];          ///< 0
};
static_assert(std::is_standard_layout_v<segment_header> && std::is_trivially_copyable_v<segment_header>);
static_assert(sizeof(segment_header) <= segment_area_alignment);

/// Whose arena: the value in arena_header::role.
enum class arena_role : std::uint32_t {
    client = 1,
    server = 2,
};

/// The first bytes of every arena, written by its owner (the only process that can
/// write the arena: the kernel refuses the peer a writable mapping). The geometry
/// words are written before the arena's fd leaves its owner; the peer copies them
/// once and validates the copy. The two counters are the give-back protocol
/// (see shared_heap): `ring_head` counts the offsets the owner has put into its
/// give-back ring (ring_capacity u64 entries at ring_offset; the client's arena
/// has one, the server's none), `peer_ring_drained` counts the entries of the
/// peer's ring this owner has taken (so the peer may reuse those slots).
/// Access the counters and ring entries with std::atomic_ref.
struct arena_header {
    std::uint64_t magic;          ///< arena_magic
    std::uint32_t version;        ///< protocol_version
    std::uint32_t role;           ///< arena_role of the owner
    std::uint64_t fingerprint;    ///< layout_fingerprint
    std::uint64_t arena_size;     ///< bytes in the memfd
    std::uint64_t ring_offset;    ///< the give-back ring's entries, from the arena start (0: no ring)
    std::uint64_t ring_capacity;  ///< entries in the ring: a power of two, or 0
    std::uint64_t heap_offset;    ///< the heap part (what shm_ptrs may point into), from the arena start
    std::uint64_t heap_size;      ///< == arena_size - heap_offset
    std::uint64_t reserved[8];    ///< 0
    alignas(64) std::uint64_t ring_head;         ///< written by the owner (release), read by the peer (acquire)
    alignas(64) std::uint64_t peer_ring_drained;  ///< written by the owner (release), read by the peer (acquire)
};
static_assert(std::is_standard_layout_v<arena_header> && std::is_trivially_copyable_v<arena_header>);
static_assert(sizeof(arena_header) == 256);

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
                            std::uint64_t{offsetof(segment_header, client_arena_offset)},
                            std::uint64_t{offsetof(segment_header, client_arena_size)},
                            std::uint64_t{offsetof(segment_header, server_arena_offset)},
                            std::uint64_t{offsetof(segment_header, server_arena_size)},
                            std::uint64_t{offsetof(segment_header, creator_pid)},
                            std::uint64_t{offsetof(segment_header, reserved32)},
                            std::uint64_t{offsetof(segment_header, reserved)},
                            std::uint64_t{sizeof(arena_header)}, std::uint64_t{alignof(arena_header)},
                            std::uint64_t{offsetof(arena_header, magic)},
                            std::uint64_t{offsetof(arena_header, version)},
                            std::uint64_t{offsetof(arena_header, role)},
                            std::uint64_t{offsetof(arena_header, fingerprint)},
                            std::uint64_t{offsetof(arena_header, arena_size)},
                            std::uint64_t{offsetof(arena_header, ring_offset)},
                            std::uint64_t{offsetof(arena_header, ring_capacity)},
                            std::uint64_t{offsetof(arena_header, heap_offset)},
                            std::uint64_t{offsetof(arena_header, heap_size)},
                            std::uint64_t{offsetof(arena_header, ring_head)},
                            std::uint64_t{offsetof(arena_header, peer_ring_drained)},
                            std::uint64_t{give_back_capacity},
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

/// A hash of the shared layout as this build sees it (the segment and arena
/// headers' sizes, alignment and field offsets, the give-back ring's size,
/// shm_ptr's size, pointer width, area alignment, channel geometry, byte order),
/// computed at compile time. Peers built with a different layout refuse each other
/// at the handshake and at attach, instead of misreading each other's memory.
inline constexpr std::uint64_t layout_fingerprint = detail::compute_layout_fingerprint();

/// How segment::create divides a segment: the header page, then the channel area.
/// Plain data.
struct segment_layout {
    /// Bytes for the channel area (request/response rings); rounded up to
    /// segment_area_alignment. 0 is allowed (no channel area).
    std::size_t channel_bytes = 64 * 1024;
};

/// What a side accepts from its peer. Plain data.
struct segment_attach_options {
    /// The largest segment accepted; a bigger memfd is refused before it is mapped
    /// (errc::segment_too_large), so a peer cannot make us map a huge file.
    std::size_t max_size = std::size_t{1} << 32;
    /// The largest peer arena accepted (errc::segment_too_large, before mapping).
    std::size_t max_arena_size = std::size_t{1} << 30;
};

class shared_space;

/// A shared segment: one memfd (memfd_create, never a file in /dev/shm or anywhere
/// else) holding the header page and the channel area, mapped MAP_SHARED
/// read-write by both sides, sealed F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL before
/// anyone else sees it, so no peer can truncate it under the other (which would
/// SIGBUS the other on access), grow it, or add seals that break the other's
/// mapping. The kernel frees it when the last mapping and fd are gone, so a crashed
/// process leaves nothing behind. Data that shm_ptrs point to lives in the arenas,
/// not here (see shared_space).
/// Geometry (area offsets and sizes) is copied into this object when it is created
/// or attached and validated once; accessors use only that private copy.
/// Move-only; the destructor unmaps (unless a shared_space holds the mapping) and
/// closes the fd.
/// Thread-safety: const members are thread-safe; the memory is shared and its
/// contents are the user's to synchronise.
/// Cost: create = memfd_create + ftruncate + mmap + fcntl; attach = fstat + fcntl + mmap.
class segment {
public:
    /// A fresh zero-filled segment: the header page and a channel area of
    /// layout.channel_bytes (rounded up to a page), sealed. The header records the
    /// arena sizes (each rounded up to a page) so the peer can check the arenas it
    /// receives against it. Throws std::invalid_argument for absurd sizes. Kernel
    /// failures (EMFILE, ENOMEM, ...) are returned.
    [[nodiscard]] static result<segment> create(segment_layout layout = {}, std::size_t client_arena_bytes = 0,
                                                std::size_t server_arena_bytes = 0);

    /// Maps the segment behind a memfd received from a peer, on its own (the caller
    /// keeps and closes `fd`; the segment holds its own duplicate). Refuses, with an
    /// error that names the problem (rpc::error_detail() has both values): not a
    /// memfd (not_a_memfd), missing seals (missing_seals), too big
    /// (segment_too_large), wrong magic (bad_magic), version mismatch
    /// (version_mismatch), layout fingerprint mismatch (fingerprint_mismatch), header
    /// size or total size disagreeing with the memfd (bad_header, size_mismatch),
    /// the channel area misaligned or out of the segment, or arena offsets that do
    /// not follow the segment back to back (area_out_of_bounds).
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
    [[nodiscard]] std::uint64_t channel_offset() const noexcept { return _channel_offset; }
    /// The arena sizes the header gave at create/attach (validated copy).
    [[nodiscard]] std::uint64_t client_arena_size() const noexcept { return _client_arena_size; }
    [[nodiscard]] std::uint64_t server_arena_size() const noexcept { return _server_arena_size; }
    /// The creator's pid as the header said at attach (informational; a peer's pid for
    /// liveness comes from the socket, see connection::peer_pid()).
    [[nodiscard]] pid_t creator_pid() const noexcept { return _creator_pid; }

private:
    friend class shared_space;

    platform::memory_region _region;
    std::uint64_t _channel_offset = 0;
    std::uint64_t _channel_size = 0;
    std::uint64_t _client_arena_size = 0;
    std::uint64_t _server_arena_size = 0;
    pid_t _creator_pid = 0;
    bool _placed = false;  // mapped inside a shared_space, which unmaps the whole range

    static result<segment> attach_at(int fd, const segment_attach_options& options, std::byte* at);
    void reset() noexcept;
};

/// One side's arena as its owner creates it: a memfd of its own, mapped MAP_SHARED
/// read-write by the owner, its arena_header written, then sealed F_SEAL_SHRINK |
/// F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL before the fd goes anywhere. From
/// then on the kernel refuses everyone a new writable mapping, write(), fallocate
/// and mprotect(PROT_WRITE) of a read-only mapping: only the owner's mapping (made
/// before the seal) can write it, so what the peer reads there is what the owner
/// wrote. The client creates its arena before the hello and sends it with it; the
/// listener creates the server's arena per connection and sends it with the reply.
/// shared_space takes the arena over (moving its mapping into the connection's range).
/// Move-only; the destructor unmaps and closes the fd.
class arena {
public:
    /// A fresh sealed arena of `bytes` (rounded up to a page; at least
    /// min_arena_bytes, at most 1 TiB, else std::invalid_argument) for `role`: the
    /// client's has a give-back ring of give_back_capacity entries after the header
    /// page, the server's none. Kernel failures are returned.
    [[nodiscard]] static result<arena> create(arena_role role, std::size_t bytes);

    arena() noexcept = default;
    arena(arena&& other) noexcept;
    arena& operator=(arena&& other) noexcept;
    arena(const arena&) = delete;
    arena& operator=(const arena&) = delete;
    ~arena();

    explicit operator bool() const noexcept { return _region.data() != nullptr; }
    [[nodiscard]] int fd() const noexcept { return _region.fd(); }
    [[nodiscard]] std::byte* data() const noexcept { return _region.data(); }
    [[nodiscard]] std::size_t size() const noexcept { return _region.size(); }
    [[nodiscard]] arena_role role() const noexcept { return _role; }

private:
    friend class shared_space;
    platform::memory_region _region;
    arena_role _role = arena_role::client;
    void reset() noexcept;
};

/// Sizes and limits for shared_space::create_server. Plain data.
struct space_options {
    segment_layout layout{};
    std::size_t arena_bytes = default_arena_bytes;          ///< the server's own arena
    std::size_t max_peer_arena_bytes = std::size_t{1} << 30;  ///< the largest client arena accepted
};

/// One connection's shared memory as one address range, laid out the same in both
/// processes: [segment (header page + channel area)][client's arena][server's
/// arena], three memfds mapped back to back (MAP_FIXED into one PROT_NONE
/// reservation). A shm_ptr's offset is from the start of this range, so it means
/// the same in both processes, and so does the distance between any two bytes
/// (boost::interprocess::offset_ptr inside the arenas stays valid across them).
/// Each side maps its own arena read-write and the peer's read-only (the peer's
/// arena is sealed against writes; the kernel refuses a writable mapping).
///
/// resolve() turns a shm_ptr into a pointer after checking it against the heap part
/// of either arena (bounds, overflow-safe, alignment), read-only; resolve_own()
/// accepts only this side's own arena and gives a writable pointer. Both use only
/// this object's private copy of the geometry (validated when the space was built),
/// make no system call and set no error_detail().
/// Move-only (the mapping does not move); the destructor unmaps the range and closes
/// the three fds. A dead peer's arena simply goes with the connection.
/// Thread-safety: const members are thread-safe.
class shared_space {
public:
    /// Server side of a connection: checks the client's arena memfd (seals
    /// F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_FUTURE_WRITE|F_SEAL_SEAL, else missing_seals
    /// naming the missing ones; at most options.max_peer_arena_bytes, else
    /// segment_too_large, checked before mapping; a valid client arena header, else
    /// bad_magic/version_mismatch/fingerprint_mismatch/bad_header), creates the
    /// segment and the server's arena, and maps all three. `client_arena_fd` stays
    /// the caller's. Throws std::invalid_argument for bad options.
    [[nodiscard]] static result<shared_space> create_server(int client_arena_fd, const space_options& options);

    /// Client side: checks and maps the segment and the server's arena that came
    /// with the accepting reply (the fds stay the caller's) with all of
    /// segment::attach's checks plus the arena checks of create_server, and moves
    /// `own` (this client's arena, sent with the hello) into its place.
    [[nodiscard]] static result<shared_space> attach_client(int segment_fd, int server_arena_fd, arena own,
                                                            const segment_attach_options& options);

    shared_space() noexcept = default;
    shared_space(shared_space&& other) noexcept;
    shared_space& operator=(shared_space&& other) noexcept;
    shared_space(const shared_space&) = delete;
    shared_space& operator=(const shared_space&) = delete;
    ~shared_space();

    explicit operator bool() const noexcept { return _base != nullptr; }

    /// The range: base address in this process and its size.
    [[nodiscard]] std::byte* base() const noexcept { return _base; }
    [[nodiscard]] std::size_t size() const noexcept { return _size; }
    /// Whose side this process is.
    [[nodiscard]] arena_role own_role() const noexcept { return _own; }
    [[nodiscard]] arena_role peer_role() const noexcept {
        return _own == arena_role::client ? arena_role::server : arena_role::client;
    }

    /// The segment (header page and channel area) at the start of the range.
    [[nodiscard]] segment& shared_segment() noexcept { return _segment; }
    [[nodiscard]] const segment& shared_segment() const noexcept { return _segment; }

    /// An arena as mapped here (header, ring and heap part); the peer's is read-only.
    [[nodiscard]] std::span<const std::byte> arena_bytes(arena_role r) const noexcept {
        const area& a = r == arena_role::client ? _client : _server;
        return {_base + a.offset, a.size};
    }
    /// This side's own arena, writable.
    [[nodiscard]] std::span<std::byte> own_arena() const noexcept {
        const area& a = _own == arena_role::client ? _client : _server;
        return {_base + a.offset, a.size};
    }
    /// Offset in the range and size of an arena, and of its heap part.
    [[nodiscard]] std::uint64_t arena_offset(arena_role r) const noexcept { return area_of(r).offset; }
    [[nodiscard]] std::uint64_t heap_offset(arena_role r) const noexcept { return area_of(r).heap_offset; }
    [[nodiscard]] std::uint64_t heap_size(arena_role r) const noexcept { return area_of(r).heap_size; }
    /// The arena's memfd (this object keeps ownership).
    [[nodiscard]] int arena_fd(arena_role r) const noexcept { return area_of(r).fd; }
    /// The arena's header as it is in memory now (the peer's may change under us:
    /// only the copy taken when the space was built is trusted).
    [[nodiscard]] const arena_header& header_of(arena_role r) const noexcept {
        return *reinterpret_cast<const arena_header*>(_base + area_of(r).offset);
    }

    /// A read-only T* for `p`, after checking that [offset, offset + count * sizeof(T))
    /// lies inside the heap part of one arena and that the offset is aligned for T.
    /// count 0 checks only that the offset lies in a heap part or at its end (the end
    /// of the client's arena is the start of the server's: resolve_in() names the arena).
    /// Errors: errc::null_pointer, errc::out_of_bounds, errc::misaligned (no
    /// error_detail: a hot path). noexcept, no system call.
    template <class T>
    [[nodiscard]] result<const T*> resolve(shm_ptr<T> p, std::size_t count = 1) const noexcept {
        const std::uint64_t off = p.offset();
        if (off == 0) return make_error_code(errc::null_pointer);
        // The server's arena lies above the client's: one compare picks the arena.
        const area& a = off >= _server.offset ? _server : _client;
        return check<const T>(a, off, count);
    }

    /// Like resolve(), but only into this side's own arena, and writable.
    template <class T>
    [[nodiscard]] result<T*> resolve_own(shm_ptr<T> p, std::size_t count = 1) const noexcept {
        const std::uint64_t off = p.offset();
        if (off == 0) return make_error_code(errc::null_pointer);
        return check<T>(_own == arena_role::client ? _client : _server, off, count);
    }

    /// Like resolve(), but only into the arena of `r`.
    template <class T>
    [[nodiscard]] result<const T*> resolve_in(arena_role r, shm_ptr<T> p, std::size_t count = 1) const noexcept {
        const std::uint64_t off = p.offset();
        if (off == 0) return make_error_code(errc::null_pointer);
        return check<const T>(area_of(r), off, count);
    }

    /// The shm_ptr for a pointer into the heap part of either arena (as mapped in this
    /// process); errc::out_of_bounds otherwise; a null `p` gives a null shm_ptr.
    template <class T>
    [[nodiscard]] result<shm_ptr<std::remove_const_t<T>>> to_shm(T* p) const noexcept {
        if (p == nullptr) return shm_ptr<std::remove_const_t<T>>();
        const auto* b = reinterpret_cast<const std::byte*>(p);
        if (b < _base || b >= _base + _size) return make_error_code(errc::out_of_bounds);
        const auto off = static_cast<std::uint64_t>(b - _base);
        const area& a = off >= _server.offset ? _server : _client;
        if (off < a.heap_offset || off - a.heap_offset >= a.heap_size) return make_error_code(errc::out_of_bounds);
        return shm_ptr<std::remove_const_t<T>>(off);
    }

    /// True when [p, p + bytes) lies inside the heap part of the arena of `r` (as
    /// mapped here). Overflow-safe, no system call: what rpc::verify checks
    /// container storage with.
    [[nodiscard]] bool in_heap(arena_role r, const void* p, std::size_t bytes) const noexcept {
        const area& a = area_of(r);
        const auto b = reinterpret_cast<std::uintptr_t>(p);
        const auto begin = reinterpret_cast<std::uintptr_t>(_base + a.heap_offset);
        return b >= begin && b - begin <= a.heap_size && bytes <= a.heap_size - (b - begin);
    }

private:
    struct area {
        std::uint64_t offset = 0;       // of the arena in the range
        std::uint64_t size = 0;
        std::uint64_t heap_offset = 0;  // of its heap part in the range
        std::uint64_t heap_size = 0;
        std::uint64_t ring_offset = 0;  // of its give-back ring in the range (0: none)
        std::uint64_t ring_capacity = 0;
        int fd = -1;
    };

    std::byte* _base = nullptr;
    std::size_t _size = 0;
    arena_role _own = arena_role::client;
    segment _segment;
    area _client;
    area _server;

    friend class shared_heap;

    [[nodiscard]] const area& area_of(arena_role r) const noexcept {
        return r == arena_role::client ? _client : _server;
    }

    template <class T>
    [[nodiscard]] result<T*> check(const area& a, std::uint64_t off, std::size_t count) const noexcept {
        if (off < a.heap_offset || off - a.heap_offset > a.heap_size) return make_error_code(errc::out_of_bounds);
        if (off % alignof(T) != 0) return make_error_code(errc::misaligned);
        const std::uint64_t room = a.heap_size - (off - a.heap_offset);
        if (count != 0 && (room < sizeof(T) || count > room / sizeof(T))) {
            return make_error_code(errc::out_of_bounds);
        }
        return reinterpret_cast<T*>(_base + off);
    }

    void reset() noexcept;
    static result<void> check_arena_fd(int fd, std::size_t max_size, const char* whose, std::uint64_t& size);
    static result<area> check_arena_header(const std::byte* at, std::uint64_t offset_in_range, std::uint64_t real,
                                           arena_role expected, const char* whose);
};

}  // namespace keel::rpc
