#include <keel/iospec/engine.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace keel::iospec {

bool buffer_budget::try_acquire(std::size_t bytes) noexcept {
    std::size_t used = _used.load(std::memory_order_relaxed);
    do {
        if (bytes > _limit || used > _limit - bytes) return false;
    } while (!_used.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
}

void buffer_budget::release(std::size_t bytes) noexcept { _used.fetch_sub(bytes, std::memory_order_relaxed); }

buffer_budget& buffer_budget::global() noexcept {
    static buffer_budget budget(std::size_t{64} << 20);
    return budget;
}

namespace {

unsigned checked_depth(unsigned depth) {
    if (depth == 0 || depth > 32768) {
        throw std::invalid_argument("iospec engine: queue_depth " + std::to_string(depth) + " is outside 1..32768");
    }
    return depth;
}

}  // namespace

engine::engine(engine_options options)
    : _io(platform::make_io_engine(options.kind, platform::io_engine_options{checked_depth(options.queue_depth), 0})),
      _budget(options.budget != nullptr ? options.budget : &buffer_budget::global()),
      _queue_depth(options.queue_depth) {}

engine::engine(platform::any_io_engine io, engine_options options)
    : _io(std::move(io)),
      _budget(options.budget != nullptr ? options.budget : &buffer_budget::global()),
      _queue_depth(checked_depth(options.queue_depth)) {}

engine& this_thread_engine() {
    thread_local std::unique_ptr<engine> e;
    if (!e) e = std::make_unique<engine>();
    return *e;
}

}  // namespace keel::iospec
