#include <keel/platform/io_uring_engine.hpp>
#include <keel/platform/thread_pool_io_engine.hpp>
#include "io_internal.hpp"

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#if defined(KEEL_HAS_LIBURING)
#include <liburing.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace keel::platform {

namespace {

// /proc/sys/kernel/io_uring_disabled (Linux 6.6+): 0 on, 1 only for io_uring_group, 2 off; -1 absent.
int io_uring_disabled_sysctl() {
    std::FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "r");
    if (f == nullptr) return -1;
    int v = -1;
    if (std::fscanf(f, "%d", &v) != 1) v = -1;
    std::fclose(f);
    return v;
}

}  // namespace

#if defined(KEEL_HAS_LIBURING)

namespace {

// Kernel-side user_data: bit 63 marks keel's own requests (liburing's timeout
// marker, all ones, falls there too); user operations carry slot | generation << 32.
constexpr std::uint64_t internal_bit = std::uint64_t{1} << 63;
constexpr std::uint64_t cancel_tag = internal_bit | 1;
constexpr std::uint64_t wake_tag = internal_bit | 2;
constexpr unsigned peek_batch = 64;

constexpr io_uring_op needed_ops[] = {IORING_OP_NOP,  IORING_OP_OPENAT, IORING_OP_CLOSE,
                                      IORING_OP_READ, IORING_OP_WRITE,  IORING_OP_STATX,
                                      IORING_OP_FSYNC, IORING_OP_ASYNC_CANCEL, IORING_OP_POLL_ADD};

const char* op_name(io_uring_op op) {
    switch (op) {
        case IORING_OP_NOP: return "NOP";
        case IORING_OP_OPENAT: return "OPENAT";
        case IORING_OP_CLOSE: return "CLOSE";
        case IORING_OP_READ: return "READ";
        case IORING_OP_WRITE: return "WRITE";
        case IORING_OP_STATX: return "STATX";
        case IORING_OP_FSYNC: return "FSYNC";
        case IORING_OP_ASYNC_CANCEL: return "ASYNC_CANCEL";
        case IORING_OP_POLL_ADD: return "POLL_ADD";
        default: return "?";
    }
}

__kernel_timespec to_timespec(std::chrono::nanoseconds d) {
    if (d.count() < 0) d = std::chrono::nanoseconds(0);
    __kernel_timespec ts{};
    ts.tv_sec = static_cast<long long>(d.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long long>(d.count() % 1'000'000'000);
    return ts;
}

// Absent timeout or one too long to add to now(): wait without limit.
std::optional<std::chrono::steady_clock::time_point> deadline_of(io_timeout t) {
    if (!t || *t > std::chrono::hours(24 * 365)) return std::nullopt;
    return std::chrono::steady_clock::now() + *t;
}

}  // namespace

struct io_uring_engine::impl {
    struct slot {
        std::uint64_t user_data = 0;
        std::uint32_t generation = 0;
        bool busy = false;
        bool cancel_sent = false;
    };

    io_uring ring{};
    unsigned depth;
    std::vector<slot> slots;
    std::vector<std::uint32_t> free_slots;
    std::size_t accepted = 0;  // user operations submitted and not yet reaped
    bool wake_armed = false;

    explicit impl(unsigned queue_depth) : depth(queue_depth), slots(queue_depth) {
        io_uring_params p{};
        // Room for every operation's completion plus a cancel completion each.
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = 2 * queue_depth + 2;
        int r = io_uring_queue_init_params(queue_depth, &ring, &p);
        if (r < 0) {
            throw std::system_error(-r, std::system_category(),
                                    "io_uring_engine: io_uring_setup (" + std::to_string(queue_depth) + " entries)");
        }
        free_slots.reserve(queue_depth);
        for (std::uint32_t i = queue_depth; i > 0; --i) free_slots.push_back(i - 1);
    }

    ~impl() {
        // The kernel may still write into user buffers: cancel and wait for
        // every operation before the ring goes.
        flush();
        for (auto& s : slots) {
            if (s.busy && !s.cancel_sent) send_cancel(s);
        }
        flush();
        io_completion scratch[peek_batch];
        while (accepted > 0) {
            io_uring_cqe* cqe = nullptr;
            int r = io_uring_wait_cqe(&ring, &cqe);
            if (r < 0 && r != -EINTR) break;
            drain(scratch);
        }
        io_uring_queue_exit(&ring);
    }

    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    static std::uint64_t tag(std::uint32_t index, const slot& s) {
        return (std::uint64_t{s.generation & 0x7fffffffU} << 32) | index;
    }

    // Hands prepared SQEs to the kernel. Ones it does not take (EAGAIN, EBUSY)
    // stay in the ring and go with the next call.
    int flush() {
        while (io_uring_sq_ready(&ring) > 0) {
            int r = io_uring_submit(&ring);
            if (r == -EINTR) continue;
            if (r <= 0) return r;
        }
        return 0;
    }

    io_uring_sqe* get_sqe() {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        if (sqe == nullptr) {
            flush();
            sqe = io_uring_get_sqe(&ring);
        }
        return sqe;
    }

    bool send_cancel(slot& s) {
        io_uring_sqe* sqe = get_sqe();
        if (sqe == nullptr) return false;
        const auto index = static_cast<std::uint32_t>(&s - slots.data());
        io_uring_prep_cancel64(sqe, tag(index, s), 0);
        io_uring_sqe_set_data64(sqe, cancel_tag);
        s.cancel_sent = true;
        return true;
    }

    static void prepare(io_uring_sqe* sqe, const io_request& q) {
        switch (q.op) {
            case io_op::nop: io_uring_prep_nop(sqe); break;
            case io_op::openat: io_uring_prep_openat(sqe, q.fd, q.path, q.flags, q.mode); break;
            case io_op::close: io_uring_prep_close(sqe, q.fd); break;
            case io_op::pread: io_uring_prep_read(sqe, q.fd, q.buffer, q.length, q.offset); break;
            case io_op::pwrite: io_uring_prep_write(sqe, q.fd, q.buffer, q.length, q.offset); break;
            case io_op::statx:
                io_uring_prep_statx(sqe, q.fd, q.path, q.flags, q.mode, static_cast<struct ::statx*>(q.buffer));
                break;
            case io_op::fsync:
                io_uring_prep_fsync(sqe, q.fd, (q.flags & 1) != 0 ? IORING_FSYNC_DATASYNC : 0U);
                break;
            case io_op::getdents64: io_uring_prep_nop(sqe); break;  // rejected before this
        }
    }

    // Moves ready completions into out; keel's internal ones are consumed silently.
    std::size_t drain(std::span<io_completion> out) {
        std::size_t n = 0;
        while (n < out.size()) {
            io_uring_cqe* cqes[peek_batch];
            const auto room = static_cast<unsigned>(std::min<std::size_t>(peek_batch, out.size() - n));
            const unsigned k = io_uring_peek_batch_cqe(&ring, cqes, room);
            if (k == 0) break;
            for (unsigned i = 0; i < k; ++i) {
                const std::uint64_t t = io_uring_cqe_get_data64(cqes[i]);
                if ((t & internal_bit) != 0) {
                    if (t == wake_tag) wake_armed = false;
                    continue;
                }
                const auto index = static_cast<std::uint32_t>(t & 0xffffffffU);
                slot& s = slots[index];
                out[n++] = io_completion{s.user_data, cqes[i]->res};
                s.busy = false;
                s.cancel_sent = false;
                ++s.generation;
                free_slots.push_back(index);
                --accepted;
            }
            io_uring_cq_advance(&ring, k);
        }
        return n;
    }

    // Waits for the next completion (internal ones too); -ETIME on timeout.
    int wait(const std::optional<std::chrono::steady_clock::time_point>& deadline) {
        io_uring_cqe* cqe = nullptr;
        if (!deadline) return io_uring_wait_cqe(&ring, &cqe);
        auto ts = to_timespec(*deadline - std::chrono::steady_clock::now());
        int r = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
        return r == -ETIMEDOUT ? -ETIME : r;
    }
};

backend_status io_uring_engine::probe() {
    if (auto s = detail::disabled_status(name)) return *s;
    backend_status st{"io_engine", std::string(name), false, {}};
    const int sysctl = io_uring_disabled_sysctl();
    if (sysctl == 2) {
        st.reason = "io_uring disabled by /proc/sys/kernel/io_uring_disabled = 2";
        return st;
    }
    io_uring ring{};
    int r = io_uring_queue_init(4, &ring, 0);
    if (r < 0) {
        st.reason = std::string("io_uring_setup: ") + std::strerror(-r);
        if (sysctl == 1) st.reason += " (/proc/sys/kernel/io_uring_disabled = 1: only io_uring_group may use it)";
        return st;
    }
    io_uring_probe* p = io_uring_get_probe_ring(&ring);
    if (p == nullptr) {
        st.reason = "io_uring_register(IORING_REGISTER_PROBE) failed: kernel older than 5.6";
    } else {
        std::string missing;
        for (auto op : needed_ops) {
            if (!io_uring_opcode_supported(p, op)) missing += std::string(missing.empty() ? "" : ", ") + op_name(op);
        }
        if (!missing.empty()) {
            st.reason = "kernel lacks IORING_OP_ " + missing;
        } else {
            st.available = true;
            st.reason = "io_uring_setup ok, every opcode keel needs present (getdents64 has none)";
            if ((ring.features & IORING_FEAT_EXT_ARG) == 0) st.reason += "; no IORING_FEAT_EXT_ARG";
        }
        io_uring_free_probe(p);
    }
    io_uring_queue_exit(&ring);
    return st;
}

io_uring_engine::io_uring_engine(io_engine_options options) {
    detail::check_options(options, "io_uring_engine");
    detail::throw_if_disabled(name);
    _impl = std::make_unique<impl>(options.queue_depth);
}

io_uring_engine::~io_uring_engine() = default;
io_uring_engine::io_uring_engine(io_uring_engine&&) noexcept = default;
io_uring_engine& io_uring_engine::operator=(io_uring_engine&&) noexcept = default;

result<std::size_t> io_uring_engine::submit(std::span<const io_request> requests) {
    if (auto ec = detail::validate(requests, false)) return ec;
    if (requests.empty()) return std::size_t{0};
    auto& m = *_impl;
    m.flush();
    const std::size_t space = std::min<std::size_t>(m.depth - m.accepted, io_uring_sq_space_left(&m.ring));
    if (space == 0) return keel::make_error_code(std::errc::resource_unavailable_try_again);
    const std::size_t n = std::min(space, requests.size());
    for (std::size_t i = 0; i < n; ++i) {
        io_uring_sqe* sqe = io_uring_get_sqe(&m.ring);  // cannot fail: space checked
        const std::uint32_t index = m.free_slots.back();
        m.free_slots.pop_back();
        auto& s = m.slots[index];
        s.user_data = requests[i].user_data;
        s.busy = true;
        impl::prepare(sqe, requests[i]);
        io_uring_sqe_set_data64(sqe, impl::tag(index, s));
    }
    m.accepted += n;
    // One system call for the batch; a refusal here (EAGAIN) leaves the SQEs
    // queued for the next submit/reap, so the batch stays accepted.
    m.flush();
    return n;
}

result<std::size_t> io_uring_engine::reap(std::span<io_completion> out, std::size_t min_complete,
                                          io_timeout timeout) {
    auto& m = *_impl;
    int r = m.flush();
    std::size_t n = m.drain(out);
    const std::size_t want = std::min({min_complete, out.size(), n + m.accepted});
    if (n >= want) return n;
    if (r < 0 && r != -EAGAIN && r != -EBUSY) {
        if (n > 0) return n;  // what was taken is the caller's now; the error recurs next time
        return keel::errno_code(-r);
    }
    const auto deadline = deadline_of(timeout);
    while (n < want) {
        auto until = deadline;
        if (io_uring_sq_ready(&m.ring) > 0) {
            // The kernel refused SQEs for the moment (EAGAIN/EBUSY): retry soon.
            m.flush();
            const auto soon = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
            if (!until || soon < *until) until = soon;
        } else if (deadline && std::chrono::steady_clock::now() >= *deadline) {
            break;
        }
        r = m.wait(until);
        if (r < 0 && r != -ETIME && r != -EINTR) {
            if (n > 0) break;
            return keel::errno_code(-r);
        }
        n += m.drain(out.subspan(n));
    }
    return n;
}

result<void> io_uring_engine::cancel(std::uint64_t user_data) {
    auto& m = *_impl;
    impl::slot* found = nullptr;
    for (auto& s : m.slots) {
        if (s.busy && s.user_data == user_data) {
            found = &s;
            if (!s.cancel_sent) break;
        }
    }
    if (found == nullptr) return keel::errno_code(ENOENT);
    if (found->cancel_sent) return {};  // asked already; one completion will come
    if (!m.send_cancel(*found)) return keel::make_error_code(std::errc::resource_unavailable_try_again);
    m.flush();
    return {};
}

std::size_t io_uring_engine::in_flight() const noexcept { return _impl->accepted; }

unsigned io_uring_engine::queue_depth() const noexcept { return _impl->depth; }

namespace detail {

result<void> io_engine_access::wait_cqe_or_readable(io_uring_engine& engine, int fd, io_timeout timeout) {
    auto& m = *engine._impl;
    if (!m.wake_armed) {
        io_uring_sqe* sqe = m.get_sqe();
        if (sqe == nullptr) return keel::make_error_code(std::errc::resource_unavailable_try_again);
        io_uring_prep_poll_add(sqe, fd, POLLIN);
        io_uring_sqe_set_data64(sqe, wake_tag);
        m.wake_armed = true;
    }
    m.flush();
    int r = m.wait(deadline_of(timeout));
    if (r < 0 && r != -ETIME && r != -EINTR) return keel::errno_code(-r);
    return {};
}

namespace {

// io_uring for everything it has; getdents64 runs on a thread pool started on
// first use. Waiting on both: the pool signals an eventfd that the ring polls.
class uring_with_pool final : public any_io_engine_base {
public:
    explicit uring_with_pool(const io_engine_options& options)
        : _uring(options), _pool_options{options.queue_depth, options.threads != 0 ? options.threads : 2U} {}

    result<std::size_t> submit(std::span<const io_request> requests) override {
        if (auto ec = validate(requests, true)) return ec;
        std::size_t total = 0;
        std::size_t i = 0;
        while (i < requests.size()) {
            const bool pooled = requests[i].op == io_op::getdents64;
            std::size_t j = i;
            while (j < requests.size() && (requests[j].op == io_op::getdents64) == pooled) ++j;
            auto run = requests.subspan(i, j - i);
            auto r = pooled ? pool().submit(run) : _uring.submit(run);
            if (!r) {
                if (total > 0) return total;
                return r.error();
            }
            total += *r;
            if (*r < run.size()) break;
            i = j;
        }
        return total;
    }

    result<std::size_t> reap(std::span<io_completion> out, std::size_t min_complete, io_timeout timeout) override {
        if (!_pool || _pool->in_flight() == 0) return _uring.reap(out, min_complete, timeout);
        if (_uring.in_flight() == 0) return _pool->reap(out, min_complete, timeout);
        const auto deadline = deadline_of(timeout);
        const auto remaining = [&]() -> io_timeout {
            if (!deadline) return std::nullopt;
            return std::max(std::chrono::nanoseconds(0), *deadline - std::chrono::steady_clock::now());
        };
        constexpr io_timeout now = std::chrono::nanoseconds(0);
        std::size_t n = 0;
        for (;;) {
            // Reset the eventfd before looking, so a completion after the look re-arms it.
            std::uint64_t counter = 0;
            [[maybe_unused]] auto ignored = ::read(_pool_fd, &counter, sizeof counter);
            if (auto r = _pool->reap(out.subspan(n), 0, now)) n += *r;
            if (auto r = _uring.reap(out.subspan(n), 0, now)) n += *r;
            const std::size_t want =
                std::min({min_complete, out.size(), n + _uring.in_flight() + _pool->in_flight()});
            if (n >= want) return n;
            if (_pool->in_flight() == 0 || _uring.in_flight() == 0) {
                // One side is done: the other's own blocking reap finishes the job.
                auto r = _pool->in_flight() == 0 ? _uring.reap(out.subspan(n), want - n, remaining())
                                                 : _pool->reap(out.subspan(n), want - n, remaining());
                if (!r) return n > 0 ? result<std::size_t>(n) : r;
                return n + *r;
            }
            auto left = remaining();
            if (left && left->count() == 0) return n;
            if (auto r = io_engine_access::wait_cqe_or_readable(_uring, _pool_fd, left); !r) {
                if (n > 0) return n;
                return r.error();
            }
        }
    }

    result<void> cancel(std::uint64_t user_data) override {
        auto r = _uring.cancel(user_data);
        if (r || r.error() != keel::errno_code(ENOENT) || !_pool) return r;
        return _pool->cancel(user_data);
    }

    [[nodiscard]] bool supports(io_op) const noexcept override { return true; }
    [[nodiscard]] std::size_t in_flight() const noexcept override {
        return _uring.in_flight() + (_pool ? _pool->in_flight() : 0);
    }
    [[nodiscard]] std::string_view name() const noexcept override { return io_uring_engine::name; }

private:
    thread_pool_io_engine& pool() {
        if (!_pool) {
            _pool.emplace(_pool_options);
            _pool_fd = io_engine_access::completion_fd(*_pool);
        }
        return *_pool;
    }

    io_uring_engine _uring;
    io_engine_options _pool_options;
    std::optional<thread_pool_io_engine> _pool;
    int _pool_fd = -1;
};

}  // namespace

any_io_engine io_engine_access::make_uring_with_pool(const io_engine_options& options, std::string reason) {
    return any_io_engine(std::make_unique<uring_with_pool>(options), std::move(reason));
}

}  // namespace detail

#else  // !KEEL_HAS_LIBURING

struct io_uring_engine::impl {
    unsigned depth = 0;
    std::size_t accepted = 0;
};

backend_status io_uring_engine::probe() {
    if (auto s = detail::disabled_status(name)) return *s;
    (void)io_uring_disabled_sysctl;
    return {"io_engine", std::string(name), false, "keel was built without liburing"};
}

io_uring_engine::io_uring_engine(io_engine_options options) {
    detail::check_options(options, "io_uring_engine");
    detail::throw_if_disabled(name);
    throw std::system_error(std::make_error_code(std::errc::function_not_supported),
                            "io_uring_engine: keel was built without liburing");
}

io_uring_engine::~io_uring_engine() = default;
io_uring_engine::io_uring_engine(io_uring_engine&&) noexcept = default;
io_uring_engine& io_uring_engine::operator=(io_uring_engine&&) noexcept = default;

result<std::size_t> io_uring_engine::submit(std::span<const io_request>) {
    return keel::make_error_code(std::errc::function_not_supported);
}
result<std::size_t> io_uring_engine::reap(std::span<io_completion>, std::size_t, io_timeout) {
    return keel::make_error_code(std::errc::function_not_supported);
}
result<void> io_uring_engine::cancel(std::uint64_t) { return keel::make_error_code(std::errc::function_not_supported); }
std::size_t io_uring_engine::in_flight() const noexcept { return 0; }
unsigned io_uring_engine::queue_depth() const noexcept { return 0; }

namespace detail {
result<void> io_engine_access::wait_cqe_or_readable(io_uring_engine&, int, io_timeout) {
    return keel::make_error_code(std::errc::function_not_supported);
}
any_io_engine io_engine_access::make_uring_with_pool(const io_engine_options&, std::string) {
    throw std::system_error(std::make_error_code(std::errc::function_not_supported),
                            "io_uring_engine: keel was built without liburing");
}
}  // namespace detail

#endif

}  // namespace keel::platform
