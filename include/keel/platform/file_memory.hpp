#pragma once

#include <keel/platform/backend_status.hpp>
#include <keel/platform/memory_source.hpp>
#include <keel/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace keel::platform {

/// Options for file_memory. Plain data.
struct file_memory_options {
    bool create = true;         ///< create the file (mode 0600) when it does not exist
    bool growable = true;       ///< extend the file as regions are carved (regular files only)
    /// Upper bound on the bytes carved: map() past it is ENOSPC. Growable: 0 means
    /// unbounded. Fixed: 0 means the file's or device's size; a regular file
    /// smaller than a given capacity is extended to it once.
    std::uint64_t capacity = 0;
    bool try_dax = true;        ///< map with MAP_SHARED_VALIDATE | MAP_SYNC where the file system is DAX
    /// Allocate file blocks (fallocate) before mapping them, so a full file system
    /// is an ENOSPC from map() instead of a SIGBUS on a later store.
    bool reserve = true;
};

/// Memory carved from one file: a CXL or persistent-memory device exposed as a
/// DAX file or /dev/daxX.Y, or any ordinary file. Regions are MAP_SHARED windows
/// onto extents of the file; unmapped extents are reused by later map() calls
/// (first fit, neighbours merged). On a DAX file system mappings use MAP_SYNC
/// (dax() is true) so the file system metadata is durable when a store is; on
/// other files call msync to make stores durable.
/// region.fd() is the file's descriptor, owned by the source (unmap() does not
/// close it; it stays valid until the source is destroyed). Previous file
/// contents are not interpreted: carving starts at offset 0.
/// Thread-safety: map/unmap are serialised by an internal mutex. Cost: a mutex,
/// an ordered-map lookup, possibly fallocate, and mmap/munmap per call.
class file_memory {
public:
    static constexpr std::string_view name = "file";

    /// Opens (or creates) `path` read-write. Throws std::system_error when it cannot
    /// be opened or sized, std::invalid_argument for a growable device or a fixed
    /// source of size 0.
    explicit file_memory(std::string path, file_memory_options options = {});
    file_memory(file_memory&&) noexcept;
    file_memory& operator=(file_memory&&) noexcept;
    file_memory(const file_memory&) = delete;
    file_memory& operator=(const file_memory&) = delete;
    ~file_memory();

    /// Carves n bytes rounded up to granularity(). Errors: invalid_argument (n == 0,
    /// overflow), ENOSPC past the capacity or when the file system is full, else the
    /// errno of fallocate/ftruncate/mmap.
    [[nodiscard]] result<memory_region> map(std::size_t n);
    /// Unmaps and returns the extent for reuse; ignores regions it did not map.
    void unmap(memory_region region) noexcept;
    /// The page size; a device-DAX character device's alignment (2 MiB by default).
    [[nodiscard]] std::size_t granularity() const noexcept;

    /// Whether mappings use MAP_SYNC (the file lives on a DAX file system or device).
    [[nodiscard]] bool dax() const noexcept;
    /// The file descriptor every region shares.
    [[nodiscard]] int fd() const noexcept;
    /// The capacity limit in bytes (0: unbounded).
    [[nodiscard]] std::uint64_t capacity() const noexcept;
    /// The file offset a region of this source starts at; EINVAL for a foreign region.
    [[nodiscard]] result<std::uint64_t> offset_of(const memory_region& region) const;
    [[nodiscard]] const std::string& path() const noexcept;

    /// Maps a page of an unlinked temporary file ($TMPDIR or /tmp) and reports
    /// whether that directory is DAX.
    [[nodiscard]] static backend_status probe();

private:
    struct state;
    std::unique_ptr<state> _state;
};

}  // namespace keel::platform
