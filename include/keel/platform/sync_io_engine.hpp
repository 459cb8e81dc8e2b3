#pragma once

#include <keel/platform/io_engine.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace keel::platform {

/// The last-resort io engine: submit() runs each operation to its end, in order,
/// and keeps the completions for reap(). No concurrency and no cancellation
/// (everything has finished before cancel() could act), but it needs nothing from
/// the kernel beyond the system calls themselves.
/// Not thread-safe: one thread at a time. Cost: the system call plus a copy.
class sync_io_engine {
public:
    static constexpr std::string_view name = "synchronous";

    /// Available unless KEEL_DISABLE_BACKENDS names it. Never throws.
    [[nodiscard]] static backend_status probe();

    /// Throws std::invalid_argument for a queue depth outside 1..32768, std::system_error
    /// if KEEL_DISABLE_BACKENDS names the engine.
    explicit sync_io_engine(io_engine_options options = {});

    result<std::size_t> submit(std::span<const io_request> requests);
    result<std::size_t> reap(std::span<io_completion> out, std::size_t min_complete, io_timeout timeout = {});
    result<void> cancel(std::uint64_t user_data);
    [[nodiscard]] bool supports(io_op) const noexcept { return true; }
    [[nodiscard]] std::size_t in_flight() const noexcept { return _count; }
    [[nodiscard]] unsigned queue_depth() const noexcept { return static_cast<unsigned>(_done.size()); }

private:
    std::vector<io_completion> _done;  // ring of queue_depth completions
    std::size_t _head = 0;
    std::size_t _count = 0;
};

}  // namespace keel::platform
