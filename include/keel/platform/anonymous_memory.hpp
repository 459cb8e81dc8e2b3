#pragma once

#include <keel/platform/backend_status.hpp>
#include <keel/platform/memory_source.hpp>
#include <keel/result.hpp>

#include <cstddef>
#include <string_view>

namespace keel::platform {

/// Options for anonymous_memory. Plain data.
struct anonymous_memory_options {
    /// Fault every page in at map() time (MAP_POPULATE): map() costs more, first
    /// touches cost nothing. For latency-sensitive regions.
    bool populate = false;
};

/// Private anonymous memory from mmap: zero-filled, page-granular, not shareable
/// (fd() is -1). The baseline every other source falls back to.
/// Thread-safety: stateless apart from its options; map/unmap may be called from
/// any thread concurrently. Cost: one mmap/munmap system call per region.
class anonymous_memory {
public:
    static constexpr std::string_view name = "anonymous";

    explicit anonymous_memory(anonymous_memory_options options = {}) noexcept : _options(options) {}

    /// Maps n bytes rounded up to the page size. Errors: invalid_argument for
    /// n == 0 or an overflowing size, else mmap's errno (ENOMEM).
    [[nodiscard]] result<memory_region> map(std::size_t n);
    void unmap(memory_region region) noexcept;
    [[nodiscard]] std::size_t granularity() const noexcept;

    /// Always available where mmap works; the probe maps and unmaps one page.
    [[nodiscard]] static backend_status probe();

private:
    anonymous_memory_options _options;
};

}  // namespace keel::platform
