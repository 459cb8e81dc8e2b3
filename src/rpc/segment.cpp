#include <keel/platform/shared_memory.hpp>
#include <keel/rpc/segment.hpp>

#include "io.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace keel::rpc {
namespace {

namespace kp = keel::platform;

constexpr kp::memfd_seal segment_seals = kp::memfd_seal::shrink | kp::memfd_seal::grow;
// An arena is written only by its owner: no new writable mapping for anyone else.
constexpr kp::memfd_seal arena_seals =
    kp::memfd_seal::shrink | kp::memfd_seal::grow | kp::memfd_seal::future_write | kp::memfd_seal::seal;
// Sizes beyond this are nonsense on any machine (and keep sums far from overflow).
constexpr std::uint64_t absurd_size = std::uint64_t{1} << 40;
constexpr std::uint64_t max_ring_capacity = std::uint64_t{1} << 16;

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
    return buf;
}

std::uint64_t round_up(std::uint64_t n, std::uint64_t a) { return (n + a - 1) / a * a; }

std::string seal_names(kp::memfd_seal s) {
    std::string out;
    auto add = [&](kp::memfd_seal bit, const char* name) {
        if (kp::has_seals(s, bit)) out += out.empty() ? name : std::string("|") + name;
    };
    add(kp::memfd_seal::shrink, "F_SEAL_SHRINK");
    add(kp::memfd_seal::grow, "F_SEAL_GROW");
    add(kp::memfd_seal::write, "F_SEAL_WRITE");
    add(kp::memfd_seal::future_write, "F_SEAL_FUTURE_WRITE");
    add(kp::memfd_seal::seal, "F_SEAL_SEAL");
    return out.empty() ? "none" : out;
}

std::string_view role_name(arena_role r) { return r == arena_role::client ? "client" : "server"; }

// An area [off, off + size) must be aligned, inside the segment, and start at or
// after `from` (the end of the area before it).
error_code check_area(const char* name, std::uint64_t off, std::uint64_t size, std::uint64_t from,
                      std::uint64_t total) {
    const std::string where = std::string("segment ") + name + " area [" + std::to_string(off) + ", +" +
                              std::to_string(size) + ")";
    if (off % segment_area_alignment != 0) {
        return detail::fail(errc::area_out_of_bounds, where + " is not aligned to " +
                                                          std::to_string(segment_area_alignment) + " bytes");
    }
    if (off < from) {
        return detail::fail(errc::area_out_of_bounds,
                            where + " overlaps what precedes it (must start at or after " + std::to_string(from) + ")");
    }
    if (off > total || size > total - off) {
        return detail::fail(errc::area_out_of_bounds,
                            where + " runs past the end of the " + std::to_string(total) + "-byte segment");
    }
    return {};
}

// The seals and size of a memfd a peer sent; `size` gets its size.
result<void> check_memfd(int fd, kp::memfd_seal need, std::uint64_t max_size, const std::string& what,
                         const char* limit_name, std::uint64_t& size) {
    auto seals = kp::memfd_memory::current_seals(fd);
    if (!seals) {
        return detail::fail(errc::not_a_memfd, what + " (fd " + std::to_string(fd) +
                                                   ") is not a sealable memfd (F_GET_SEALS: " +
                                                   seals.error().message() + ")");
    }
    if (!kp::has_seals(*seals, need)) {
        const auto missing = static_cast<kp::memfd_seal>(static_cast<unsigned>(need) & ~static_cast<unsigned>(*seals));
        return detail::fail(errc::missing_seals, what + " lacks " + seal_names(missing) + " (it carries " +
                                                     seal_names(*seals) + ", needs " + seal_names(need) + ")");
    }
    struct stat st{};
    if (::fstat(fd, &st) != 0) return detail::fail(errno_code(errno), what + ": fstat failed");
    size = static_cast<std::uint64_t>(st.st_size);
    if (size > max_size || size > absurd_size) {  // absurd_size: whatever the limit, sums stay far from overflow
        return detail::fail(errc::segment_too_large, what + " holds " + std::to_string(size) + " bytes, more than " +
                                                         limit_name + " " +
                                                         std::to_string(std::min<std::uint64_t>(max_size, absurd_size)));
    }
    return {};
}

// A PROT_NONE reservation of `size` bytes, or nullptr (errno set).
std::byte* reserve(std::size_t size) noexcept {
    void* p = ::mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<std::byte*>(p);
}

// Moves the whole mapping [from, from + size) to `to` (replacing what is there):
// the writable mapping an owner made before sealing keeps its write permission.
// The system call itself, not libc's mremap: memory hooks that interpose mremap (UCX's
// libucm, loaded with keel::rpc_net) may drop the variadic new address of MREMAP_FIXED.
bool move_mapping(std::byte* from, std::size_t size, std::byte* to) noexcept {
    if (from == to) return true;
    const long p = ::syscall(SYS_mremap, from, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
    return p != -1 && reinterpret_cast<std::byte*>(p) == to;
}

}  // namespace

// ---- segment ---------------------------------------------------------------------

result<segment> segment::create(segment_layout layout, std::size_t client_arena_bytes,
                                std::size_t server_arena_bytes) {
    if (layout.channel_bytes > absurd_size || client_arena_bytes > absurd_size || server_arena_bytes > absurd_size) {
        throw std::invalid_argument("rpc::segment::create: channel_bytes " + std::to_string(layout.channel_bytes) +
                                    " or an arena size (" + std::to_string(client_arena_bytes) + ", " +
                                    std::to_string(server_arena_bytes) + ") is absurdly large");
    }
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::uint64_t align = std::max(page, segment_area_alignment);
    const std::uint64_t channel_off = segment_area_alignment;
    const std::uint64_t channel_size = round_up(layout.channel_bytes, segment_area_alignment);
    const std::uint64_t total = round_up(channel_off + channel_size, align);
    kp::memfd_memory source(kp::memfd_options{.debug_name = "keel-rpc"});
    auto region = source.map(total);
    if (!region) return region.error();
    segment s;
    s._region = *region;
    // Seal before anyone else can see the fd: from here no one can shrink or grow it,
    // nor add seals (a peer adding F_SEAL_FUTURE_WRITE would break re-mapping).
    if (auto r = kp::memfd_memory::seal(s._region.fd(), segment_seals | kp::memfd_seal::seal); !r) {
        return detail::fail(r.error(), "rpc::segment::create: sealing the memfd failed: " + r.error().message());
    }
    s._channel_offset = channel_off;
    s._channel_size = channel_size;
    s._client_arena_size = round_up(client_arena_bytes, align);
    s._server_arena_size = round_up(server_arena_bytes, align);
    s._creator_pid = ::getpid();
    segment_header h{};
    h.magic = segment_magic;
    h.version = protocol_version;
    h.header_size = sizeof(segment_header);
    h.fingerprint = layout_fingerprint;
    h.total_size = total;
    h.channel_offset = channel_off;
    h.channel_size = channel_size;
    h.client_arena_offset = total;
    h.client_arena_size = s._client_arena_size;
    h.server_arena_offset = total + s._client_arena_size;
    h.server_arena_size = s._server_arena_size;
    h.creator_pid = s._creator_pid;
    std::memcpy(s._region.data(), &h, sizeof h);
    return s;
}

result<segment> segment::attach(int fd, segment_attach_options options) { return attach_at(fd, options, nullptr); }

result<segment> segment::attach_at(int fd, const segment_attach_options& options, std::byte* at) {
    const std::string what = "rpc::segment::attach: ";
    std::uint64_t real = 0;
    if (auto r = check_memfd(fd, segment_seals, options.max_size, what + "the segment memfd", "max_size", real); !r) {
        return r.error();
    }
    if (real < segment_area_alignment) {
        return detail::fail(errc::bad_header, what + "the memfd holds " + std::to_string(real) +
                                                  " bytes, less than the " +
                                                  std::to_string(segment_area_alignment) + "-byte header page");
    }
    segment s;
    if (at == nullptr) {
        kp::memfd_memory source(kp::memfd_options{.debug_name = "keel-rpc"});
        auto region = source.attach(fd, kp::memfd_attach_options{.required_seals = segment_seals, .writable = true});
        if (!region) {
            return detail::fail(region.error(), what + "mapping the memfd failed: " + region.error().message());
        }
        s._region = *region;  // unmapped by ~segment on any refusal below
        if (s._region.size() != real) {
            return detail::fail(errc::size_mismatch, what + "the memfd changed size while attaching");
        }
    } else {
        // Inside a shared_space's reservation, which unmaps the whole range.
        const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (own < 0) return detail::fail(errno_code(errno), what + "dup failed: " + detail::errno_text(errno));
        void* p = ::mmap(at, real, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, own, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(own);
            return detail::fail(errno_code(err), what + "mapping the memfd failed: " + detail::errno_text(err));
        }
        s._region = platform::memory_region(at, real, own);
        s._placed = true;
    }
    // One copy, then only the copy: the peer may write the shared header at any time.
    segment_header h;
    std::memcpy(&h, s._region.data(), sizeof h);
    if (h.magic != segment_magic) {
        return detail::fail(errc::bad_magic, what + "segment magic is " + hex(h.magic) + ", expected " +
                                                 hex(segment_magic));
    }
    if (h.version != protocol_version) {
        return detail::fail(errc::version_mismatch, what + "protocol version mismatch: segment has " +
                                                        std::to_string(h.version) + ", this library speaks " +
                                                        std::to_string(protocol_version));
    }
    if (h.fingerprint != layout_fingerprint) {
        return detail::fail(errc::fingerprint_mismatch, what + "layout fingerprint mismatch: segment has " +
                                                            hex(h.fingerprint) + ", this build has " +
                                                            hex(layout_fingerprint));
    }
    if (h.header_size != sizeof(segment_header)) {
        return detail::fail(errc::bad_header, what + "header_size is " + std::to_string(h.header_size) +
                                                  ", expected " + std::to_string(sizeof(segment_header)));
    }
    if (h.total_size != real) {
        return detail::fail(errc::size_mismatch, what + "header says total_size " + std::to_string(h.total_size) +
                                                     " but the memfd holds " + std::to_string(real) + " bytes");
    }
    if (auto e = check_area("channel", h.channel_offset, h.channel_size, segment_area_alignment, real)) return e;
    // The arenas follow the segment back to back, page-aligned, of sane sizes.
    if (h.client_arena_offset != real || h.client_arena_size % segment_area_alignment != 0 ||
        h.client_arena_size > absurd_size || h.server_arena_size % segment_area_alignment != 0 ||
        h.server_arena_size > absurd_size || h.server_arena_offset != real + h.client_arena_size) {
        return detail::fail(errc::area_out_of_bounds,
                            what + "the arenas must follow the " + std::to_string(real) +
                                "-byte segment back to back in page multiples; the header says client arena [" +
                                std::to_string(h.client_arena_offset) + ", +" + std::to_string(h.client_arena_size) +
                                "), server arena [" + std::to_string(h.server_arena_offset) + ", +" +
                                std::to_string(h.server_arena_size) + ")");
    }
    if (h.creator_pid <= 0) {
        return detail::fail(errc::bad_header, what + "creator_pid is " + std::to_string(h.creator_pid));
    }
    s._channel_offset = h.channel_offset;
    s._channel_size = h.channel_size;
    s._client_arena_size = h.client_arena_size;
    s._server_arena_size = h.server_arena_size;
    s._creator_pid = h.creator_pid;
    return s;
}

segment::segment(segment&& o) noexcept
    : _region(std::exchange(o._region, {})),
      _channel_offset(std::exchange(o._channel_offset, 0)),
      _channel_size(std::exchange(o._channel_size, 0)),
      _client_arena_size(std::exchange(o._client_arena_size, 0)),
      _server_arena_size(std::exchange(o._server_arena_size, 0)),
      _creator_pid(std::exchange(o._creator_pid, 0)),
      _placed(std::exchange(o._placed, false)) {}

segment& segment::operator=(segment&& o) noexcept {
    if (this != &o) {
        reset();
        _region = std::exchange(o._region, {});
        _channel_offset = std::exchange(o._channel_offset, 0);
        _channel_size = std::exchange(o._channel_size, 0);
        _client_arena_size = std::exchange(o._client_arena_size, 0);
        _server_arena_size = std::exchange(o._server_arena_size, 0);
        _creator_pid = std::exchange(o._creator_pid, 0);
        _placed = std::exchange(o._placed, false);
    }
    return *this;
}

segment::~segment() { reset(); }

void segment::reset() noexcept {
    if (_region.data() != nullptr && !_placed) ::munmap(_region.data(), _region.size());
    if (_region.fd() >= 0) ::close(_region.fd());
    _region = {};
    _channel_offset = _channel_size = _client_arena_size = _server_arena_size = 0;
    _creator_pid = 0;
    _placed = false;
}

// ---- arena -----------------------------------------------------------------------

result<arena> arena::create(arena_role role, std::size_t bytes) {
    if (role != arena_role::client && role != arena_role::server) {
        throw std::invalid_argument("rpc::arena::create: the role is neither client nor server");
    }
    if (bytes < min_arena_bytes || bytes > absurd_size) {
        throw std::invalid_argument("rpc::arena::create: " + std::to_string(bytes) + " bytes; an arena needs " +
                                    std::to_string(min_arena_bytes) + ".." + std::to_string(absurd_size));
    }
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::uint64_t size = round_up(bytes, std::max(page, segment_area_alignment));
    kp::memfd_memory source(kp::memfd_options{.debug_name = role == arena_role::client ? "keel-rpc-client-arena"
                                                                                       : "keel-rpc-server-arena"});
    auto region = source.map(size);  // MAP_SHARED, read-write: the owner's one writable mapping
    if (!region) return region.error();
    arena a;
    a._region = *region;
    a._role = role;
    arena_header h{};
    h.magic = arena_magic;
    h.version = protocol_version;
    h.role = static_cast<std::uint32_t>(role);
    h.fingerprint = layout_fingerprint;
    h.arena_size = size;
    std::uint64_t heap_off = segment_area_alignment;
    if (role == arena_role::client) {
        h.ring_offset = segment_area_alignment;
        h.ring_capacity = give_back_capacity;
        heap_off = round_up(h.ring_offset + give_back_capacity * sizeof(std::uint64_t), segment_area_alignment);
    }
    h.heap_offset = heap_off;
    h.heap_size = size - heap_off;
    std::memcpy(a._region.data(), &h, sizeof h);
    // Only now, with the owner's writable mapping in place, seal it: nobody (the
    // owner included) gets another writable mapping, nobody can write(), punch
    // holes, truncate or grow it, or change the seals.
    if (auto r = kp::memfd_memory::seal(a._region.fd(), arena_seals); !r) {
        return detail::fail(r.error(), "rpc::arena::create: sealing the memfd failed: " + r.error().message());
    }
    return a;
}

arena::arena(arena&& o) noexcept : _region(std::exchange(o._region, {})), _role(o._role) {}

arena& arena::operator=(arena&& o) noexcept {
    if (this != &o) {
        reset();
        _region = std::exchange(o._region, {});
        _role = o._role;
    }
    return *this;
}

arena::~arena() { reset(); }

void arena::reset() noexcept {
    if (_region.data() != nullptr) ::munmap(_region.data(), _region.size());
    if (_region.fd() >= 0) ::close(_region.fd());
    _region = {};
}

// ---- shared_space ----------------------------------------------------------------

result<void> shared_space::check_arena_fd(int fd, std::size_t max_size, const char* whose, std::uint64_t& size) {
    const std::string what = std::string("rpc: the ") + whose + "'s arena memfd";
    if (auto r = check_memfd(fd, arena_seals, max_size, what, "the accepted maximum", size); !r) return r.error();
    if (size < min_arena_bytes || size % segment_area_alignment != 0) {
        return detail::fail(errc::bad_header, what + " holds " + std::to_string(size) + " bytes; an arena has at least " +
                                                  std::to_string(min_arena_bytes) + " bytes in whole pages");
    }
    return {};
}

result<shared_space::area> shared_space::check_arena_header(const std::byte* at, std::uint64_t offset_in_range,
                                                            std::uint64_t real, arena_role expected,
                                                            const char* whose) {
    // One copy, then only the copy: the owner may rewrite its header at any time.
    arena_header h;
    std::memcpy(&h, at, sizeof h);
    const std::string what = std::string("rpc: the ") + whose + "'s arena: ";
    if (h.magic != arena_magic) {
        return detail::fail(errc::bad_magic, what + "magic is " + hex(h.magic) + ", expected " + hex(arena_magic));
    }
    if (h.version != protocol_version) {
        return detail::fail(errc::version_mismatch, what + "protocol version mismatch: arena has " +
                                                        std::to_string(h.version) + ", this library speaks " +
                                                        std::to_string(protocol_version));
    }
    if (h.fingerprint != layout_fingerprint) {
        return detail::fail(errc::fingerprint_mismatch, what + "layout fingerprint mismatch: arena has " +
                                                            hex(h.fingerprint) + ", this build has " +
                                                            hex(layout_fingerprint));
    }
    if (h.role != static_cast<std::uint32_t>(expected)) {
        return detail::fail(errc::bad_header, what + "role is " + std::to_string(h.role) + ", expected " +
                                                  std::to_string(static_cast<std::uint32_t>(expected)) + " (" +
                                                  std::string(role_name(expected)) + ")");
    }
    if (h.arena_size != real) {
        return detail::fail(errc::size_mismatch, what + "header says arena_size " + std::to_string(h.arena_size) +
                                                     " but the memfd holds " + std::to_string(real) + " bytes");
    }
    if (h.heap_offset < segment_area_alignment || h.heap_offset % segment_area_alignment != 0 ||
        h.heap_offset >= real || h.heap_size != real - h.heap_offset) {
        return detail::fail(errc::area_out_of_bounds, what + "heap part [" + std::to_string(h.heap_offset) + ", +" +
                                                          std::to_string(h.heap_size) + ") is not a page-aligned, "
                                                          "non-empty tail of the " + std::to_string(real) +
                                                          "-byte arena after its header page");
    }
    if (expected == arena_role::client) {
        const bool pow2 = h.ring_capacity != 0 && (h.ring_capacity & (h.ring_capacity - 1)) == 0;
        if (!pow2 || h.ring_capacity > max_ring_capacity) {
            return detail::fail(errc::bad_header, what + "give-back ring capacity is " +
                                                      std::to_string(h.ring_capacity) +
                                                      ", must be a power of two up to " +
                                                      std::to_string(max_ring_capacity));
        }
        if (h.ring_offset < sizeof(arena_header) || h.ring_offset % 64 != 0 || h.ring_offset > h.heap_offset ||
            h.ring_capacity * sizeof(std::uint64_t) > h.heap_offset - h.ring_offset) {
            return detail::fail(errc::area_out_of_bounds, what + "give-back ring at " + std::to_string(h.ring_offset) +
                                                              " with " + std::to_string(h.ring_capacity) +
                                                              " entries does not lie between the header and the "
                                                              "heap part (at " +
                                                              std::to_string(h.heap_offset) + ")");
        }
    } else if (h.ring_capacity != 0 || h.ring_offset != 0) {
        return detail::fail(errc::bad_header, what + "a server arena has no give-back ring, but the header says " +
                                                  std::to_string(h.ring_capacity) + " entries at " +
                                                  std::to_string(h.ring_offset));
    }
    area a;
    a.offset = offset_in_range;
    a.size = real;
    a.heap_offset = offset_in_range + h.heap_offset;
    a.heap_size = h.heap_size;
    a.ring_offset = h.ring_capacity == 0 ? 0 : offset_in_range + h.ring_offset;
    a.ring_capacity = h.ring_capacity;
    return a;
}

result<shared_space> shared_space::create_server(int client_arena_fd, const space_options& options) {
    const char* who = "rpc::shared_space::create_server: ";
    std::uint64_t client_size = 0;
    if (auto r = check_arena_fd(client_arena_fd, options.max_peer_arena_bytes, "client", client_size); !r) {
        return r.error();
    }
    auto own = arena::create(arena_role::server, options.arena_bytes);
    if (!own) return own.error();
    auto seg = segment::create(options.layout, client_size, own->size());
    if (!seg) return seg.error();
    const std::size_t seg_size = seg->size();
    shared_space s;
    s._own = arena_role::server;
    s._size = seg_size + client_size + own->size();
    s._base = reserve(s._size);
    if (s._base == nullptr) {
        s._size = 0;
        return detail::fail(errno_code(errno), std::string(who) + "reserving address space failed: " +
                                                   detail::errno_text(errno));
    }
    // From here the space's destructor unmaps the whole range on any failure.
    if (!move_mapping(seg->_region.data(), seg_size, s._base)) {
        return detail::fail(errno_code(errno), std::string(who) + "mremap of the segment failed: " +
                                                   detail::errno_text(errno));
    }
    seg->_region = platform::memory_region(s._base, seg_size, seg->_region.fd());
    seg->_placed = true;
    s._segment = std::move(*seg);

    std::byte* client_at = s._base + seg_size;
    const int client_fd = ::fcntl(client_arena_fd, F_DUPFD_CLOEXEC, 0);
    if (client_fd < 0) return detail::fail(errno_code(errno), std::string(who) + "dup failed: " + detail::errno_text(errno));
    s._client.fd = client_fd;
    // Read-only: the client sealed F_SEAL_FUTURE_WRITE, so the kernel would refuse a
    // writable shared mapping, and this one can never be mprotect()ed writable.
    if (::mmap(client_at, client_size, PROT_READ, MAP_SHARED | MAP_FIXED, client_fd, 0) == MAP_FAILED) {
        return detail::fail(errno_code(errno), std::string(who) + "mapping the client's arena failed: " +
                                                   detail::errno_text(errno));
    }
    auto client_area = check_arena_header(client_at, seg_size, client_size, arena_role::client, "client");
    if (!client_area) return client_area.error();
    client_area->fd = client_fd;
    s._client = *client_area;

    std::byte* server_at = client_at + client_size;
    const std::size_t server_size = own->size();
    if (!move_mapping(own->_region.data(), server_size, server_at)) {
        return detail::fail(errno_code(errno), std::string(who) + "mremap of the server's arena failed: " +
                                                   detail::errno_text(errno));
    }
    s._server.fd = own->_region.fd();
    own->_region = {};  // moved: the space owns the mapping and the fd now
    auto server_area = check_arena_header(server_at, seg_size + client_size, server_size, arena_role::server, "server");
    if (!server_area) return server_area.error();  // cannot happen: we wrote it
    server_area->fd = s._server.fd;
    s._server = *server_area;
    return s;
}

result<shared_space> shared_space::attach_client(int segment_fd, int server_arena_fd, arena own,
                                                 const segment_attach_options& options) {
    const char* who = "rpc::shared_space::attach_client: ";
    if (!own || own.role() != arena_role::client) {
        throw std::invalid_argument("rpc::shared_space::attach_client: `own` must be a client arena");
    }
    // Everything that can be checked on the fds is, before anything is mapped.
    std::uint64_t seg_size = 0;
    if (auto r = check_memfd(segment_fd, segment_seals, options.max_size, "rpc::segment::attach: the segment memfd",
                             "max_size", seg_size);
        !r) {
        return r.error();
    }
    if (seg_size < segment_area_alignment || seg_size % segment_area_alignment != 0) {
        return detail::fail(errc::bad_header, "rpc::segment::attach: the memfd holds " + std::to_string(seg_size) +
                                                  " bytes, not whole pages from the " +
                                                  std::to_string(segment_area_alignment) + "-byte header page on");
    }
    std::uint64_t server_size = 0;
    if (auto r = check_arena_fd(server_arena_fd, options.max_arena_size, "server", server_size); !r) return r.error();
    const std::size_t own_size = own.size();
    shared_space s;
    s._own = arena_role::client;
    s._size = seg_size + own_size + server_size;
    s._base = reserve(s._size);
    if (s._base == nullptr) {
        s._size = 0;
        return detail::fail(errno_code(errno), std::string(who) + "reserving address space failed: " +
                                                   detail::errno_text(errno));
    }
    auto seg = segment::attach_at(segment_fd, options, s._base);
    if (!seg) return seg.error();
    s._segment = std::move(*seg);
    if (s._segment.client_arena_size() != own_size || s._segment.server_arena_size() != server_size) {
        return detail::fail(errc::size_mismatch,
                            "rpc::segment::attach: the segment header says the arenas hold " +
                                std::to_string(s._segment.client_arena_size()) + " (client) and " +
                                std::to_string(s._segment.server_arena_size()) + " (server) bytes, the memfds hold " +
                                std::to_string(own_size) + " and " + std::to_string(server_size));
    }
    std::byte* client_at = s._base + seg_size;
    if (!move_mapping(own._region.data(), own_size, client_at)) {
        return detail::fail(errno_code(errno), std::string(who) + "mremap of the client's arena failed: " +
                                                   detail::errno_text(errno));
    }
    s._client.fd = own._region.fd();
    own._region = {};  // moved
    auto client_area = check_arena_header(client_at, seg_size, own_size, arena_role::client, "client");
    if (!client_area) return client_area.error();  // cannot happen: we wrote it
    client_area->fd = s._client.fd;
    s._client = *client_area;

    std::byte* server_at = client_at + own_size;
    const int server_fd = ::fcntl(server_arena_fd, F_DUPFD_CLOEXEC, 0);
    if (server_fd < 0) return detail::fail(errno_code(errno), std::string(who) + "dup failed: " + detail::errno_text(errno));
    s._server.fd = server_fd;
    if (::mmap(server_at, server_size, PROT_READ, MAP_SHARED | MAP_FIXED, server_fd, 0) == MAP_FAILED) {
        return detail::fail(errno_code(errno), std::string(who) + "mapping the server's arena failed: " +
                                                   detail::errno_text(errno));
    }
    auto server_area = check_arena_header(server_at, seg_size + own_size, server_size, arena_role::server, "server");
    if (!server_area) return server_area.error();
    server_area->fd = server_fd;
    s._server = *server_area;
    return s;
}

shared_space::shared_space(shared_space&& o) noexcept
    : _base(std::exchange(o._base, nullptr)),
      _size(std::exchange(o._size, 0)),
      _own(o._own),
      _segment(std::move(o._segment)),
      _client(std::exchange(o._client, {})),
      _server(std::exchange(o._server, {})) {}

shared_space& shared_space::operator=(shared_space&& o) noexcept {
    if (this != &o) {
        reset();
        _base = std::exchange(o._base, nullptr);
        _size = std::exchange(o._size, 0);
        _own = o._own;
        _segment = std::move(o._segment);
        _client = std::exchange(o._client, {});
        _server = std::exchange(o._server, {});
    }
    return *this;
}

shared_space::~shared_space() { reset(); }

void shared_space::reset() noexcept {
    _segment.reset();  // placed: closes its fd only
    if (_base != nullptr) ::munmap(_base, _size);  // the segment and both arenas at once
    if (_client.fd >= 0) ::close(_client.fd);
    if (_server.fd >= 0) ::close(_server.fd);
    _base = nullptr;
    _size = 0;
    _client = {};
    _server = {};
}

}  // namespace keel::rpc
