#pragma once

#include <keel/rpc/segment.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

// The handshake messages, exactly as they travel over the Unix socket (host byte
// order: both ends are on one host). Public so tests and fuzzers can forge them.

namespace keel::rpc::detail {

/// "KEELHELO" / "KEELRPLY" as little-endian 64-bit words.
inline constexpr std::uint64_t hello_magic = 0x4f4c'4548'4c45'454bULL;
inline constexpr std::uint64_t reply_magic = 0x594c'5052'4c45'454bULL;

inline constexpr std::size_t max_service_name = 128;
inline constexpr std::size_t max_reason_text = 256;

/// Client -> server, first thing on a new connection. Carries exactly one fd as
/// SCM_RIGHTS ancillary data: the client's sealed arena (rpc::arena).
struct hello_message {
    std::uint64_t magic;             ///< hello_magic
    std::uint32_t version;           ///< protocol_version
    std::uint32_t message_size;      ///< sizeof(hello_message)
    std::uint64_t fingerprint;       ///< layout_fingerprint
    std::uint64_t schema_hash;       ///< from the user's service description
    std::int32_t pid;                ///< the client's pid as it sees it (informational)
    std::uint32_t service_length;    ///< bytes used in `service`, 1..max_service_name
    char service[max_service_name];  ///< not NUL-terminated
};

/// Status of a reply: accept, or the rpc::errc value of the reason for refusing.
inline constexpr std::uint32_t reply_accept = 0;

/// Server -> client, answering a hello. An accepting reply carries two fds as
/// SCM_RIGHTS ancillary data: the segment's memfd, then the server's sealed arena for
/// this connection; a refusing one carries no fd.
struct reply_message {
    std::uint64_t magic;              ///< reply_magic
    std::uint32_t version;            ///< protocol_version of the server
    std::uint32_t message_size;       ///< sizeof(reply_message)
    std::uint64_t fingerprint;        ///< layout_fingerprint of the server
    std::uint64_t schema_hash;        ///< the server's schema hash for the service
    std::int32_t pid;                 ///< the server's pid as it sees it (informational)
    std::uint32_t status;             ///< reply_accept or an rpc::errc value
    std::uint32_t text_length;        ///< bytes used in `text`, 0..max_reason_text
    std::uint32_t reserved;           ///< 0
    char text[max_reason_text];       ///< why it refused (not NUL-terminated)
};

static_assert(std::is_trivially_copyable_v<hello_message> && std::is_trivially_copyable_v<reply_message>);
static_assert(sizeof(hello_message) == 168 && sizeof(reply_message) == 304);

}  // namespace keel::rpc::detail
