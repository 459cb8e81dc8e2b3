#pragma once

#include <keel/alloc/heap.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace keel::alloc::detail {

/// The counters every heap keeps for heap_stats: live requested and granted
/// bytes, their high-water marks, and operation counts. The heap keeps what is
/// its own (free bytes, free blocks, footprint) and reports the footprint
/// through note_footprint() for the peak.
/// Plain data, not thread-safe. Cost: each update is a few adds and at most a
/// max (a conditional move, not a branch); fill() copies eight words.
struct heap_counters {
    std::size_t requested = 0;  ///< sum of live blocks' requested sizes
    std::size_t granted = 0;    ///< bytes held by live blocks
    std::size_t peak_requested = 0;
    std::size_t peak_footprint = 0;
    std::uint64_t allocations = 0;
    std::uint64_t deallocations = 0;
    std::uint64_t failed = 0;
    std::uint64_t resizes = 0;

    /// A block of `n` requested bytes was handed out in `size` bytes.
    void on_allocate(std::size_t n, std::size_t size) noexcept {
        requested += n;
        granted += size;
        ++allocations;
        peak_requested = std::max(peak_requested, requested);
    }

    /// A block of `n` requested bytes, `size` granted, was given back. Plain
    /// subtraction: a caller passing the wrong n shows up in verify().
    void on_deallocate(std::size_t n, std::size_t size) noexcept {
        requested -= n;
        granted -= size;
        ++deallocations;
    }

    void on_failure() noexcept { ++failed; }

    /// A live block of `old_n` requested bytes in `old_size` granted was resized
    /// in place to `new_n` requested in `new_size` granted (unsigned wrap-around
    /// makes shrinking a plain add).
    void on_resize(std::size_t old_n, std::size_t new_n, std::size_t old_size, std::size_t new_size) noexcept {
        requested += new_n - old_n;
        granted += new_size - old_size;
        ++resizes;
        peak_requested = std::max(peak_requested, requested);
    }

    /// The footprint is now `now` bytes (only its peak is kept here).
    void note_footprint(std::size_t now) noexcept { peak_footprint = std::max(peak_footprint, now); }

    /// Writes the counter fields of `s`; the heap fills the rest.
    void fill(heap_stats& s) const noexcept {
        s.requested_bytes = requested;
        s.granted_bytes = granted;
        s.peak_requested_bytes = peak_requested;
        s.peak_footprint_bytes = peak_footprint;
        s.allocations = allocations;
        s.deallocations = deallocations;
        s.failed_allocations = failed;
        s.resizes = resizes;
    }
};

}  // namespace keel::alloc::detail
