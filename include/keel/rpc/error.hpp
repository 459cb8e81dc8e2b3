#pragma once

#include <keel/result.hpp>

#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/is_error_code_enum.hpp>

#include <string>
#include <type_traits>

namespace keel::rpc {

/// Why keel::rpc refused a segment, a handshake or a pointer. The error_code says
/// which check failed; rpc::error_detail() gives the full sentence (naming the field
/// and both values). Values are stable: a server sends them to its client as the
/// reason code of a rejection.
enum class errc {
    bad_magic = 1,          ///< a segment header or handshake message has the wrong magic
    version_mismatch,       ///< the peer speaks another keel rpc protocol version
    fingerprint_mismatch,   ///< the peer was built with another segment/message layout
    schema_mismatch,        ///< the peer's service description has another schema hash
    unknown_service,        ///< the client asked for a service this listener does not offer
    bad_message,            ///< a handshake message is malformed (size, lengths, fields)
    bad_header,             ///< a segment header field is out of range or inconsistent
    area_out_of_bounds,     ///< a segment area lies (partly) outside the segment
    size_mismatch,          ///< the header's total size is not the memfd's real size
    missing_seals,          ///< the memfd lacks F_SEAL_SHRINK / F_SEAL_GROW
    not_a_memfd,            ///< the fd the peer sent is not a sealable memfd
    segment_too_large,      ///< the peer's segment exceeds the size this side accepts
    rejected,               ///< the server refused for a reason this client does not know
    peer_closed,            ///< the peer closed the connection during the handshake
    null_pointer,           ///< shm_ptr is null
    out_of_bounds,          ///< shm_ptr range lies outside the heap area
    misaligned,             ///< shm_ptr offset is not aligned for its type
    // calls (slice 2)
    overloaded,             ///< the request ring is full and the call asked to be rejected at once
    peer_dead,              ///< the peer died or dropped the connection (calls in flight fail with it)
    handler_failed,         ///< the server's handler threw; error_detail() has its what()
    unknown_method,         ///< the method index is not in the server's service, or has no handler
    channel_corrupt,        ///< a ring slot holds an impossible sequence number, length, id or status
    bad_arguments,          ///< the request's payload length does not match the method's arguments
    // safety modes (include/keel/rpc/safety.hpp)
    payload_too_large,      ///< a payload exceeds the bound this side accepts (copy threshold, sealed buffer max size)
    buffer_not_sealed,      ///< a sealed buffer's memfd lacks a required seal (error_detail() names it)
    seal_busy,              ///< F_SEAL_WRITE refused: a writable mapping of the buffer (or a pinned page) remains
    sandbox_unavailable,    ///< no MPK sandbox here (error_detail() says why); nothing ran unsandboxed
    sandbox_fault,          ///< the sandboxed handler faulted (a stray access); the call failed, the server stays up
    // shared heap (include/keel/rpc/shared_heap.hpp)
    out_of_memory,          ///< the side's arena cannot serve the allocation
    not_allocated,          ///< the shm_ptr is not a live block of this heap (or was not lent)
    give_back_full,         ///< the give-back ring is full: the server has not drained it yet
    transport_failed,       ///< the network transport (UCX) refused; error_detail() names the call and status
    safety_refused,         ///< the call's safety mode does not give the guarantee the server requires for the method
};

/// The error category of rpc::errc ("keel.rpc"). Thread-safe, a singleton.
[[nodiscard]] const boost::system::error_category& rpc_category() noexcept;

[[nodiscard]] inline error_code make_error_code(errc e) noexcept {
    return error_code(static_cast<int>(e), rpc_category());
}

/// The detailed message of the last error an rpc function returned on this thread
/// (segment::attach, connect, listener::accept, client::call): e.g. "protocol version mismatch:
/// client speaks 2, server speaks 1". Empty when the last failing call had nothing to
/// add to its error_code's message. Like errno, overwritten by the next failing call.
/// Thread-safety: per thread. Cost: a copy of a short string.
[[nodiscard]] std::string error_detail();

namespace detail {
/// Records `text` as this thread's error_detail() and returns `code`.
error_code fail(error_code code, std::string text);
inline error_code fail(errc e, std::string text) { return fail(make_error_code(e), std::move(text)); }
}  // namespace detail

}  // namespace keel::rpc

/// \cond
template <>
struct boost::system::is_error_code_enum<keel::rpc::errc> : std::true_type {};
/// \endcond
