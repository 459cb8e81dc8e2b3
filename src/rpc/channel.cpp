#include <keel/rpc/channel.hpp>

#include <algorithm>
#include <bit>
#include <new>
#include <string>

namespace keel::rpc {

std::string_view to_string(wait_mode m) noexcept {
    switch (m) {
    case wait_mode::busy_poll: return "busy_poll";
    case wait_mode::hybrid: return "hybrid";
    case wait_mode::futex: return "futex";
    }
    return "unknown";
}

namespace detail {
namespace {

// Rings bigger than this gain nothing (and keep lap arithmetic far from wrapping).
constexpr std::uint64_t max_ring_capacity = std::uint64_t{1} << 16;
constexpr std::uint32_t busy_poll_backoff = 2;
constexpr std::size_t min_channel_bytes = channel_header_bytes + 2 * channel_slot_bytes;

}  // namespace

result<channel_view> map_channels(const segment& seg) {
    const auto area = seg.channel_area();
    if (area.size() < min_channel_bytes) {
        return fail(errc::bad_header, "the segment's channel area has " + std::to_string(area.size()) +
                                          " bytes; channels need at least " + std::to_string(min_channel_bytes));
    }
    const std::uint64_t per_ring = (area.size() - channel_header_bytes) / (2 * channel_slot_bytes);
    const std::uint64_t capacity = std::min(std::bit_floor(per_ring), max_ring_capacity);
    channel_view v;
    v.header = std::launder(reinterpret_cast<channel_header*>(area.data()));
    v.requests.base = area.data() + channel_header_bytes;
    v.requests.capacity = capacity;
    v.requests.lap_shift = static_cast<unsigned>(std::countr_zero(capacity));
    v.responses = v.requests;
    v.responses.base = v.requests.base + capacity * channel_slot_bytes;
    return v;
}

void init_channels(segment& seg) noexcept {
    const auto area = seg.channel_area();
    if (area.size() < min_channel_bytes) return;
    // Zero-filled slots are already a valid empty ring (seq 0: free for lap 0).
    new (area.data()) channel_header;
}

void wake(std::uint32_t announced, platform::wait_word& word, platform::shared_hybrid_wait& parking) noexcept {
    switch (announced) {
    case static_cast<std::uint32_t>(wait_mode::busy_poll): return;
    case static_cast<std::uint32_t>(wait_mode::hybrid): parking.wake_all(word); return;
    default: platform::shared_futex_wait{}.wake_all(word); return;
    }
}

result<void> wait_change(wait_mode mode, const platform::wait_word& word, std::uint32_t expected,
                         std::chrono::steady_clock::time_point deadline, platform::shared_hybrid_wait& parking,
                         std::uint32_t spin_rounds) noexcept {
    switch (mode) {
    case wait_mode::busy_poll:
        // A short back-off cap: the default (64 pauses) would add microseconds to a
        // round trip that costs a few hundred nanoseconds.
        return platform::spin_wait{busy_poll_backoff}.wait_until(word, expected, deadline);
    case wait_mode::hybrid:
        // The parking object lies in shared memory: a peer could have changed its spin
        // count (a huge one would spin this thread for minutes).
        if (parking.spin_rounds() != spin_rounds) return make_error_code(errc::channel_corrupt);
        return parking.wait_until(word, expected, deadline);
    case wait_mode::futex: return platform::shared_futex_wait{}.wait_until(word, expected, deadline);
    }
    return platform::shared_futex_wait{}.wait_until(word, expected, deadline);
}

}  // namespace detail
}  // namespace keel::rpc
