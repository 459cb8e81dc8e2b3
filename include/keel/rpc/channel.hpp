#pragma once

#include <keel/platform/wait_policy.hpp>
#include <keel/result.hpp>
#include <keel/rpc/error.hpp>
#include <keel/rpc/safety.hpp>
#include <keel/rpc/segment.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

// The channels of a connection, exactly as they lie in the segment's channel area:
// a channel header, then the request ring (client -> server), then the response ring
// (server -> client). Public so tests and fuzzers can corrupt them; users need only
// wait_mode, overload_policy and call_options.

namespace keel::rpc {

/// How one side waits for the other (each side chooses its own at run time and
/// announces it in the channel header, so the other side knows how to wake it).
enum class wait_mode : std::uint32_t {
    busy_poll = 1,  ///< platform::spin_wait: lowest latency, burns the waiting core
    hybrid = 2,     ///< platform::shared_hybrid_wait: spins ~1 µs, then parks on a futex
    futex = 3,      ///< platform::shared_futex_wait: parks at once; every wake is a system call
};

/// "busy_poll", "hybrid" or "futex".
[[nodiscard]] std::string_view to_string(wait_mode m) noexcept;

/// What call() does when the request ring is full (the server is behind).
enum class overload_policy {
    reject,  ///< fail at once with errc::overloaded
    block,   ///< wait for room up to call_options::timeout (errc timed_out after)
};

/// Per-call options. Plain data.
struct call_options {
    overload_policy overload = overload_policy::block;
    /// The whole call: waiting for room, then for the response. When it passes, the
    /// call fails with std::errc::timed_out (the server may still run it; its
    /// response is discarded). A dead server is reported sooner: errc::peer_dead
    /// within client_options::peer_check_interval.
    std::chrono::milliseconds timeout = std::chrono::milliseconds::max();
    /// The call's safety mode (see safety_mode and docs/rpc.md, "Safety modes"); unset:
    /// the method's own (rpc::method's third parameter, relaxed unless declared). A
    /// mode set here overrides the method's, in either direction. It travels to the
    /// server in the request.
    std::optional<safety_mode> safety{};
};

/// Bytes of arguments (or result, or handler error text) carried inline in one ring
/// slot. Bigger data goes into the heap area and travels as a shm_ptr.
inline constexpr std::size_t max_inline_payload = detail::channel_slot_bytes - detail::channel_slot_header_bytes;

namespace detail {

/// The header of one ring slot; the payload follows it in the same slot.
/// A slot's `seq` says whose turn it is: for the call at position p (the p-th call
/// of the connection, slot p % capacity, lap L = p / capacity) the slot is free for
/// the producer while seq == 2L and full (the consumer's turn) while seq == 2L + 1;
/// the consumer releases it by storing 2L + 2 (free for lap L + 1). Zero-filled
/// memory is therefore a valid empty ring. Each side copies the other fields once
/// (relaxed atomic loads) after an acquire load of seq and validates the copy.
struct slot_header {
    platform::wait_word seq;          ///< 2L free, 2L + 1 full (u32, wraps)
    /// request: method index (bits 0..23) | safety_mode << 24 (bits 24..31; values
    /// above sandboxed are refused with errc::bad_arguments); response: 0 ok, else an rpc::errc
    std::atomic<std::uint32_t> code;
    std::atomic<std::uint64_t> call_id;  ///< the call's position p; a response repeats its request's
    std::atomic<std::uint32_t> length;   ///< payload bytes, 0..max_inline_payload
    std::uint32_t reserved0;
    std::uint64_t reserved1;
};
static_assert(sizeof(slot_header) == channel_slot_header_bytes);

/// A request's code: the method's index in its service, and the call's safety mode.
inline constexpr std::uint32_t request_method_bits = 24;
inline constexpr std::uint32_t request_method_mask = (std::uint32_t{1} << request_method_bits) - 1;
[[nodiscard]] constexpr std::uint32_t request_code(std::uint32_t method, safety_mode mode) noexcept {
    return method | (static_cast<std::uint32_t>(mode) << request_method_bits);
}

/// The first 256 bytes of the channel area. Written by the server before the
/// segment leaves its process (listener::accept), then: each side writes only its
/// own wait mode; the hybrid parking counters are written by both.
struct channel_header {
    alignas(64) std::atomic<std::uint32_t> server_wait{0};  ///< wait_mode the server waits for requests with
    std::atomic<std::uint32_t> client_wait{0};              ///< wait_mode the client waits for responses with
    /// The spin rounds both hybrid objects were built with (informational: each side
    /// checks the objects against its own constant, not against this field).
    std::uint32_t hybrid_spin_rounds = platform::shared_hybrid_wait::default_spin_rounds;
    alignas(64) platform::shared_hybrid_wait request_parking;   ///< the server parks here (request ring)
    alignas(64) platform::shared_hybrid_wait response_parking;  ///< client threads park here (response ring)
};
static_assert(sizeof(channel_header) <= channel_header_bytes);

/// Where the rings are, from one side's private copy of the segment geometry (a peer
/// cannot move them). capacity is a power of two, the same on both sides.
struct ring_view {
    std::byte* base = nullptr;  ///< slot 0
    std::uint64_t capacity = 0;
    unsigned lap_shift = 0;  ///< log2(capacity)

    [[nodiscard]] slot_header& slot(std::uint64_t p) const noexcept {
        return *reinterpret_cast<slot_header*>(base + (p & (capacity - 1)) * channel_slot_bytes);
    }
    [[nodiscard]] std::byte* payload(std::uint64_t p) const noexcept {
        return base + (p & (capacity - 1)) * channel_slot_bytes + channel_slot_header_bytes;
    }
    /// seq of slot p while it is free for call p.
    [[nodiscard]] std::uint32_t free_value(std::uint64_t p) const noexcept {
        return static_cast<std::uint32_t>((p >> lap_shift) * 2);
    }
};

struct channel_view {
    channel_header* header = nullptr;
    ring_view requests;
    ring_view responses;
};

/// The rings of `seg`'s channel area; errc::bad_header (with error_detail) when the
/// area is too small for the header and two slots per ring.
result<channel_view> map_channels(const segment& seg);

/// Builds the channel header (both wait modes unknown = 0, hybrid objects
/// constructed) in a fresh zero-filled segment. Called by listener::accept before
/// the segment is handed to the client; a no-op when there is no room for channels.
void init_channels(segment& seg) noexcept;

/// Wakes whoever waits on `word` the way `announced` (a wait_mode value read from
/// shared memory, possibly garbage) says; an unknown value gets a futex wake (always
/// correct, merely a system call).
void wake(std::uint32_t announced, platform::wait_word& word, platform::shared_hybrid_wait& parking) noexcept;

/// Waits until `word` != `expected` or `deadline`, with `mode` (this side's own
/// choice). With hybrid, first checks that the shared parking object still has the
/// spin rounds it was built with (errc::channel_corrupt otherwise).
result<void> wait_change(wait_mode mode, const platform::wait_word& word, std::uint32_t expected,
                         std::chrono::steady_clock::time_point deadline, platform::shared_hybrid_wait& parking,
                         std::uint32_t spin_rounds) noexcept;

}  // namespace detail
}  // namespace keel::rpc
