#include <keel/platform/shared_memory.hpp>
#include <keel/rpc/segment.hpp>

#include "io.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace keel::rpc {
namespace {

namespace kp = keel::platform;

constexpr kp::memfd_seal required_seals = kp::memfd_seal::shrink | kp::memfd_seal::grow;

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
    return buf;
}

std::size_t round_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

std::string seal_names(kp::memfd_seal s) {
    std::string out;
    auto add = [&](kp::memfd_seal bit, const char* name) {
        if (kp::has_seals(s, bit)) out += out.empty() ? name : std::string("|") + name;
    };
    add(kp::memfd_seal::shrink, "F_SEAL_SHRINK");
    add(kp::memfd_seal::grow, "F_SEAL_GROW");
    return out.empty() ? "none" : out;
}

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

}  // namespace

result<segment> segment::create(std::size_t size, segment_layout layout) {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    if (layout.channel_bytes > (std::size_t{1} << 48) || size > (std::size_t{1} << 48)) {
        throw std::invalid_argument("rpc::segment::create: size " + std::to_string(size) + " or channel_bytes " +
                                    std::to_string(layout.channel_bytes) + " is absurdly large");
    }
    const std::size_t total = round_up(size, std::max(page, segment_area_alignment));
    const std::size_t channel_off = segment_area_alignment;
    const std::size_t channel_size = round_up(layout.channel_bytes, segment_area_alignment);
    const std::size_t heap_off = channel_off + channel_size;
    if (total < heap_off + segment_area_alignment) {
        throw std::invalid_argument("rpc::segment::create: " + std::to_string(size) +
                                    " bytes leave no heap area after the header page and a channel area of " +
                                    std::to_string(channel_size) + " bytes; need at least " +
                                    std::to_string(heap_off + segment_area_alignment));
    }
    kp::memfd_memory source(kp::memfd_options{.debug_name = "keel-rpc"});
    auto region = source.map(total);
    if (!region) return region.error();
    segment s;
    s._region = *region;
    // Seal before anyone else can see the fd: from here no one can shrink or grow it,
    // nor add seals (a peer adding F_SEAL_FUTURE_WRITE would break re-mapping).
    if (auto r = kp::memfd_memory::seal(s._region.fd(), required_seals | kp::memfd_seal::seal); !r) {
        return detail::fail(r.error(), "rpc::segment::create: sealing the memfd failed: " + r.error().message());
    }
    s._channel_offset = channel_off;
    s._channel_size = channel_size;
    s._heap_offset = heap_off;
    s._heap_size = total - heap_off;
    s._creator_pid = ::getpid();
    segment_header h{};
    h.magic = segment_magic;
    h.version = protocol_version;
    h.header_size = sizeof(segment_header);
    h.fingerprint = layout_fingerprint;
    h.total_size = total;
    h.channel_offset = channel_off;
    h.channel_size = channel_size;
    h.heap_offset = heap_off;
    h.heap_size = s._heap_size;
    h.creator_pid = s._creator_pid;
    std::memcpy(s._region.data(), &h, sizeof h);
    return s;
}

result<segment> segment::attach(int fd, segment_attach_options options) {
    auto seals = kp::memfd_memory::current_seals(fd);
    if (!seals) {
        return detail::fail(errc::not_a_memfd, "rpc::segment::attach: fd " + std::to_string(fd) +
                                                   " is not a sealable memfd (F_GET_SEALS: " +
                                                   seals.error().message() + ")");
    }
    if (!kp::has_seals(*seals, required_seals)) {
        return detail::fail(errc::missing_seals, "rpc::segment::attach: the memfd carries seals " +
                                                     seal_names(*seals) + " but needs F_SEAL_SHRINK|F_SEAL_GROW");
    }
    struct stat st{};
    if (::fstat(fd, &st) != 0) return detail::fail(errno_code(errno), "rpc::segment::attach: fstat failed");
    const auto real = static_cast<std::uint64_t>(st.st_size);
    if (real < segment_area_alignment) {
        return detail::fail(errc::bad_header, "rpc::segment::attach: the memfd holds " + std::to_string(real) +
                                                  " bytes, less than the " +
                                                  std::to_string(segment_area_alignment) + "-byte header page");
    }
    if (real > options.max_size) {
        return detail::fail(errc::segment_too_large, "rpc::segment::attach: the memfd holds " + std::to_string(real) +
                                                         " bytes, more than max_size " +
                                                         std::to_string(options.max_size));
    }
    kp::memfd_memory source(kp::memfd_options{.debug_name = "keel-rpc"});
    auto region = source.attach(fd, kp::memfd_attach_options{.required_seals = required_seals, .writable = true});
    if (!region) return detail::fail(region.error(), "rpc::segment::attach: mapping the memfd failed: " +
                                                         region.error().message());
    segment s;
    s._region = *region;  // unmapped by ~segment on any refusal below
    if (s._region.size() != real) {
        return detail::fail(errc::size_mismatch, "rpc::segment::attach: the memfd changed size while attaching");
    }
    // One copy, then only the copy: the peer may write the shared header at any time.
    segment_header h;
    std::memcpy(&h, s._region.data(), sizeof h);
    const std::string what = "rpc::segment::attach: ";
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
    if (auto e = check_area("heap", h.heap_offset, h.heap_size, h.channel_offset + h.channel_size, real)) return e;
    if (h.heap_size == 0) return detail::fail(errc::bad_header, what + "the heap area is empty");
    if (h.creator_pid <= 0) {
        return detail::fail(errc::bad_header, what + "creator_pid is " + std::to_string(h.creator_pid));
    }
    s._channel_offset = h.channel_offset;
    s._channel_size = h.channel_size;
    s._heap_offset = h.heap_offset;
    s._heap_size = h.heap_size;
    s._creator_pid = h.creator_pid;
    return s;
}

segment::segment(segment&& o) noexcept
    : _region(std::exchange(o._region, {})),
      _channel_offset(std::exchange(o._channel_offset, 0)),
      _channel_size(std::exchange(o._channel_size, 0)),
      _heap_offset(std::exchange(o._heap_offset, 0)),
      _heap_size(std::exchange(o._heap_size, 0)),
      _creator_pid(std::exchange(o._creator_pid, 0)) {}

segment& segment::operator=(segment&& o) noexcept {
    if (this != &o) {
        reset();
        _region = std::exchange(o._region, {});
        _channel_offset = std::exchange(o._channel_offset, 0);
        _channel_size = std::exchange(o._channel_size, 0);
        _heap_offset = std::exchange(o._heap_offset, 0);
        _heap_size = std::exchange(o._heap_size, 0);
        _creator_pid = std::exchange(o._creator_pid, 0);
    }
    return *this;
}

segment::~segment() { reset(); }

void segment::reset() noexcept {
    if (_region.data() != nullptr) ::munmap(_region.data(), _region.size());
    if (_region.fd() >= 0) ::close(_region.fd());
    _region = {};
    _channel_offset = _channel_size = _heap_offset = _heap_size = 0;
    _creator_pid = 0;
}

}  // namespace keel::rpc
