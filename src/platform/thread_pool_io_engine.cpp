#include <keel/platform/thread_pool_io_engine.hpp>
#include "io_internal.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace keel::platform {

namespace {
constexpr std::uint32_t none = UINT32_MAX;
}

// Slots hold the requests not yet finished; queued ones form a doubly linked FIFO
// so that cancel() can unlink one in O(1) once found. Finished operations wait
// in a ring of io_completions. Everything is guarded by `mutex`.
struct thread_pool_io_engine::state {
    struct slot {
        io_request request;
        std::uint32_t prev = none;
        std::uint32_t next = none;
        enum : std::uint8_t { free, queued, running } phase = free;
    };

    unsigned depth;
    mutable std::mutex mutex;
    std::condition_variable work_cv;
    std::condition_variable done_cv;
    std::vector<slot> slots;
    std::vector<std::uint32_t> free_slots;
    std::uint32_t queue_head = none;
    std::uint32_t queue_tail = none;
    std::vector<io_completion> done;  // ring of `depth`
    std::size_t done_head = 0;
    std::size_t done_count = 0;
    std::size_t accepted = 0;  // submitted and not yet reaped: at most `depth`
    std::atomic<std::size_t> accepted_mirror{0};
    bool stopping = false;
    int event_fd = -1;
    std::vector<std::thread> workers;

    explicit state(unsigned queue_depth) : depth(queue_depth), slots(queue_depth), done(queue_depth) {
        free_slots.reserve(queue_depth);
        for (std::uint32_t i = queue_depth; i > 0; --i) free_slots.push_back(i - 1);
    }

    void enqueue(const io_request& request) {
        std::uint32_t i = free_slots.back();
        free_slots.pop_back();
        slots[i].request = request;
        slots[i].phase = slot::queued;
        slots[i].next = none;
        slots[i].prev = queue_tail;
        if (queue_tail != none) slots[queue_tail].next = i; else queue_head = i;
        queue_tail = i;
    }

    void unlink(std::uint32_t i) {
        auto& s = slots[i];
        if (s.prev != none) slots[s.prev].next = s.next; else queue_head = s.next;
        if (s.next != none) slots[s.next].prev = s.prev; else queue_tail = s.prev;
        s.prev = s.next = none;
    }

    void release(std::uint32_t i) {
        slots[i].phase = slot::free;
        free_slots.push_back(i);
    }

    // Queues a completion; returns the eventfd to signal (or -1). Never overflows:
    // completions waiting <= operations accepted <= depth.
    int complete(io_completion c) {
        done[(done_head + done_count) % depth] = c;
        ++done_count;
        done_cv.notify_all();
        return event_fd;
    }

    static void signal(int fd) noexcept {
        if (fd < 0) return;
        std::uint64_t one = 1;
        // A full counter (2^64 - 2) cannot happen; EAGAIN would still leave it readable.
        [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
    }

    void work() {
        std::unique_lock lock(mutex);
        for (;;) {
            work_cv.wait(lock, [&] { return stopping || queue_head != none; });
            if (queue_head == none) return;
            const std::uint32_t i = queue_head;
            unlink(i);
            slots[i].phase = slot::running;
            const io_request request = slots[i].request;
            lock.unlock();
            const std::int64_t r = detail::execute_blocking(request);
            lock.lock();
            release(i);
            const int fd = complete({request.user_data, r});
            lock.unlock();
            signal(fd);
            lock.lock();
        }
    }

    void shut_down() noexcept {
        {
            std::lock_guard lock(mutex);
            stopping = true;
            // Queued work will never run: it completes as cancelled.
            while (queue_head != none) {
                const std::uint32_t i = queue_head;
                unlink(i);
                complete({slots[i].request.user_data, -ECANCELED});
                release(i);
            }
        }
        work_cv.notify_all();
        for (auto& t : workers) {
            if (t.joinable()) t.join();
        }
        workers.clear();
    }
};

backend_status thread_pool_io_engine::probe() {
    if (auto s = detail::disabled_status(name)) return *s;
    return {"io_engine", std::string(name), true,
            "always available (blocking system calls on worker threads; " +
                std::to_string(std::thread::hardware_concurrency()) + " cores)"};
}

thread_pool_io_engine::thread_pool_io_engine(io_engine_options options) {
    detail::check_options(options, "thread_pool_io_engine");
    detail::throw_if_disabled(name);
    const unsigned threads = options.threads != 0 ? options.threads : std::min(options.queue_depth, 16U);
    _state = std::make_unique<state>(options.queue_depth);
    _state->workers.reserve(threads);
    try {
        for (unsigned t = 0; t < threads; ++t) _state->workers.emplace_back([s = _state.get()] { s->work(); });
    } catch (const std::system_error& e) {
        _state->shut_down();
        throw std::system_error(e.code(), "thread_pool_io_engine: could not start worker thread " +
                                              std::to_string(_state->workers.size() + 1) + " of " +
                                              std::to_string(threads));
    }
}

thread_pool_io_engine::~thread_pool_io_engine() {
    if (!_state) return;
    _state->shut_down();
    if (_state->event_fd >= 0) ::close(_state->event_fd);
}

thread_pool_io_engine::thread_pool_io_engine(thread_pool_io_engine&&) noexcept = default;

thread_pool_io_engine& thread_pool_io_engine::operator=(thread_pool_io_engine&& other) noexcept {
    if (this != &other) {
        thread_pool_io_engine old(std::move(*this));
        _state = std::move(other._state);
    }
    return *this;
}

result<std::size_t> thread_pool_io_engine::submit(std::span<const io_request> requests) {
    if (auto ec = detail::validate(requests, true)) return ec;
    if (requests.empty()) return std::size_t{0};
    auto& s = *_state;
    std::size_t n = 0;
    {
        std::lock_guard lock(s.mutex);
        const std::size_t space = s.depth - s.accepted;
        if (space == 0) return keel::make_error_code(std::errc::resource_unavailable_try_again);
        n = std::min(space, requests.size());
        for (std::size_t i = 0; i < n; ++i) s.enqueue(requests[i]);
        s.accepted += n;
        s.accepted_mirror.store(s.accepted, std::memory_order_relaxed);
    }
    if (n >= s.workers.size()) {
        s.work_cv.notify_all();
    } else {
        for (std::size_t i = 0; i < n; ++i) s.work_cv.notify_one();
    }
    return n;
}

result<std::size_t> thread_pool_io_engine::reap(std::span<io_completion> out, std::size_t min_complete,
                                                io_timeout timeout) {
    auto& s = *_state;
    std::unique_lock lock(s.mutex);
    // Recomputed on each wake-up: another reaper may have taken completions.
    auto ready = [&] { return s.done_count >= std::min({min_complete, out.size(), s.accepted}); };
    if (!timeout || *timeout > std::chrono::hours(24 * 365)) {
        s.done_cv.wait(lock, ready);
    } else if (!ready()) {
        s.done_cv.wait_until(lock, std::chrono::steady_clock::now() + *timeout, ready);
    }
    const std::size_t n = std::min(out.size(), s.done_count);
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = s.done[s.done_head];
        s.done_head = (s.done_head + 1) % s.depth;
    }
    s.done_count -= n;
    s.accepted -= n;
    s.accepted_mirror.store(s.accepted, std::memory_order_relaxed);
    return n;
}

result<void> thread_pool_io_engine::cancel(std::uint64_t user_data) {
    auto& s = *_state;
    std::unique_lock lock(s.mutex);
    for (std::uint32_t i = s.queue_head; i != none; i = s.slots[i].next) {
        if (s.slots[i].request.user_data == user_data) {
            s.unlink(i);
            s.release(i);
            const int fd = s.complete({user_data, -ECANCELED});
            lock.unlock();
            state::signal(fd);
            return {};
        }
    }
    // Running or finished: too late, its real result will (or did) arrive.
    for (const auto& slot : s.slots) {
        if (slot.phase == state::slot::running && slot.request.user_data == user_data) return {};
    }
    for (std::size_t i = 0; i < s.done_count; ++i) {
        if (s.done[(s.done_head + i) % s.depth].user_data == user_data) return {};
    }
    return keel::errno_code(ENOENT);
}

std::size_t thread_pool_io_engine::in_flight() const noexcept {
    return _state->accepted_mirror.load(std::memory_order_relaxed);
}

unsigned thread_pool_io_engine::queue_depth() const noexcept { return _state->depth; }

unsigned thread_pool_io_engine::threads() const noexcept { return static_cast<unsigned>(_state->workers.size()); }

int detail::io_engine_access::completion_fd(thread_pool_io_engine& pool) {
    auto& s = *pool._state;
    std::lock_guard lock(s.mutex);
    if (s.event_fd < 0) {
        s.event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (s.event_fd < 0) throw std::system_error(errno, std::system_category(), "thread_pool_io_engine: eventfd");
    }
    return s.event_fd;
}

}  // namespace keel::platform
