#include <keel/platform/sync_io_engine.hpp>
#include "io_internal.hpp"

#include <cerrno>

namespace keel::platform {

backend_status sync_io_engine::probe() {
    if (auto s = detail::disabled_status(name)) return *s;
    return {"io_engine", std::string(name), true, "always available (runs each operation inside submit)"};
}

sync_io_engine::sync_io_engine(io_engine_options options) {
    detail::check_options(options, "sync_io_engine");
    detail::throw_if_disabled(name);
    _done.resize(options.queue_depth);
}

result<std::size_t> sync_io_engine::submit(std::span<const io_request> requests) {
    if (auto ec = detail::validate(requests, true)) return ec;
    if (requests.empty()) return std::size_t{0};
    const std::size_t space = _done.size() - _count;
    if (space == 0) return keel::make_error_code(std::errc::resource_unavailable_try_again);
    const std::size_t n = requests.size() < space ? requests.size() : space;
    for (std::size_t i = 0; i < n; ++i) {
        _done[(_head + _count) % _done.size()] = {requests[i].user_data, detail::execute_blocking(requests[i])};
        ++_count;
    }
    return n;
}

result<std::size_t> sync_io_engine::reap(std::span<io_completion> out, std::size_t, io_timeout) {
    // Everything submitted has completed: there is never anything to wait for.
    const std::size_t n = out.size() < _count ? out.size() : _count;
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = _done[_head];
        _head = (_head + 1) % _done.size();
    }
    _count -= n;
    return n;
}

result<void> sync_io_engine::cancel(std::uint64_t user_data) {
    // Too late to cancel anything, but a known operation is not an error:
    // its completion (the real result) is waiting.
    for (std::size_t i = 0; i < _count; ++i) {
        if (_done[(_head + i) % _done.size()].user_data == user_data) return {};
    }
    return keel::errno_code(ENOENT);
}

}  // namespace keel::platform
