#include <keel/iospec/scope.hpp>

#include "internal.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

namespace keel::iospec {

namespace detail {

namespace kp = keel::platform;

namespace {

// Budget-accounted, page-aligned bytes (page alignment keeps O_DIRECT descriptors usable).
class buffer {
public:
    static constexpr std::size_t alignment = 4096;

    buffer() = default;
    ~buffer() { reset(); }
    buffer(buffer&& o) noexcept : _data(o._data), _size(o._size), _budget(o._budget) {
        o._data = nullptr;
        o._size = 0;
        o._budget = nullptr;
    }
    buffer& operator=(buffer&& o) noexcept {
        if (this != &o) {
            reset();
            std::swap(_data, o._data);
            std::swap(_size, o._size);
            std::swap(_budget, o._budget);
        }
        return *this;
    }
    buffer(const buffer&) = delete;
    buffer& operator=(const buffer&) = delete;

    // At least n bytes (an existing large enough buffer is kept); false when the budget
    // or the allocator refuses.
    bool acquire(buffer_budget& budget, std::size_t n) noexcept {
        if (n == 0) n = 1;  // always a valid pointer
        if (_data != nullptr && _size >= n && _budget == &budget) return true;
        reset();
        if (!budget.try_acquire(n)) return false;
        void* p = ::operator new(n, std::align_val_t{alignment}, std::nothrow);
        if (p == nullptr) {
            budget.release(n);
            return false;
        }
        _data = static_cast<std::byte*>(p);
        _size = n;
        _budget = &budget;
        return true;
    }
    void reset() noexcept {
        if (_data == nullptr) return;
        ::operator delete(_data, std::align_val_t{alignment});
        _budget->release(_size);
        _data = nullptr;
        _size = 0;
        _budget = nullptr;
    }
    // Gives the memory up without freeing it: the kernel may still write into it.
    void abandon() noexcept {
        _data = nullptr;
        _size = 0;
        _budget = nullptr;
    }
    [[nodiscard]] std::byte* data() const noexcept { return _data; }

private:
    std::byte* _data = nullptr;
    std::size_t _size = 0;
    buffer_budget* _budget = nullptr;
};

enum class inst_state : std::uint8_t { pending, ready, in_flight, done };

// One occurrence of a system-call node on the path ahead of the program.
struct instance {
    std::uint32_t node = none;
    op_kind op = op_kind::pread;
    std::vector<std::uint64_t> loops;   // loop iterations at this point
    std::uint64_t exits_before = 0;     // may_exit edges passed since the scope began
    inst_state state = inst_state::pending;
    any_args args;
    buffer buf;                         // read destination, or the copy of write data
    struct ::statx stx {};
    std::int64_t result = 0;
    std::uint64_t user_data = 0;
    off_t saved_pos = -1;               // getdents64: the directory position before it
    bool cancel_requested = false;
    bool probed = false;                // the adaptive depth already took its signal
    bool probe_checked = false;         // asked probe_due() for this metadata call
    bool timed_probe = false;           // not pre-issued: the program's call is timed instead
};

// The latest consumed result of a node, for later generators.
struct last_result {
    bool valid = false;
    std::int64_t value = 0;
    buffer data;
    std::size_t length = 0;
    struct ::statx stx {};
    bool has_stat = false;
};

// The program's call.
struct call {
    op_kind op = op_kind::pread;
    int fd = -1;  // fd, or dirfd for path calls
    const char* path = nullptr;
    int flags = 0;
    unsigned mode = 0;  // openat mode, statx mask
    std::size_t length = 0;
    std::uint64_t offset = 0;
    void* out = nullptr;
    const void* in = nullptr;
    struct ::stat* st = nullptr;
    struct ::statx* stx = nullptr;
};

struct cursor {
    std::uint32_t node = none;
    std::vector<std::uint64_t> loops;
    std::uint64_t exits = 0;
};

enum class advance_result : std::uint8_t { at_call, at_end, blocked };

struct identity {
    dev_t dev = 0;
    ino_t ino = 0;
};

constexpr bool fd_call(op_kind k) noexcept {
    return k == op_kind::pread || k == op_kind::pwrite || k == op_kind::fstat || k == op_kind::close ||
           k == op_kind::getdents64;
}

// The descriptor an instance's arguments name (fd, or dirfd of a relative path);
// -1 when none matters (AT_FDCWD or an absolute path).
int fd_of(const any_args& args) noexcept {
    return std::visit(
        [](const auto& a) -> int {
            using A = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<A, openat_args> || std::is_same_v<A, fstatat_args> ||
                          std::is_same_v<A, statx_args>) {
                if (a.dirfd == AT_FDCWD || (!a.path.empty() && a.path[0] == '/')) return -1;
                return a.dirfd;
            } else {
                return a.fd;
            }
        },
        args);
}

bool same_path(const std::string& a, const char* b) noexcept { return b != nullptr && a == b; }

bool args_equal(const any_args& args, const call& c) noexcept {
    if (args.index() != static_cast<std::size_t>(c.op)) return false;
    switch (c.op) {
        case op_kind::openat: {
            const auto& a = std::get<openat_args>(args);
            const bool mode_matters = (a.flags & O_CREAT) != 0 || (a.flags & O_TMPFILE) == O_TMPFILE;
            return a.dirfd == c.fd && same_path(a.path, c.path) && a.flags == c.flags &&
                   (!mode_matters || a.mode == static_cast<mode_t>(c.mode));
        }
        case op_kind::pread: {
            const auto& a = std::get<pread_args>(args);
            return a.fd == c.fd && a.length == c.length && a.offset == c.offset;
        }
        case op_kind::pwrite: {
            const auto& a = std::get<pwrite_args>(args);
            if (a.fd != c.fd || a.data.size() != c.length || a.offset != c.offset) return false;
            if (c.length == 0) return true;
            return c.in != nullptr && std::memcmp(a.data.data(), c.in, c.length) == 0;
        }
        case op_kind::fstat: return std::get<fstat_args>(args).fd == c.fd;
        case op_kind::fstatat: {
            const auto& a = std::get<fstatat_args>(args);
            return a.dirfd == c.fd && same_path(a.path, c.path) && a.flags == c.flags;
        }
        case op_kind::statx: {
            const auto& a = std::get<statx_args>(args);
            return a.dirfd == c.fd && same_path(a.path, c.path) && a.flags == c.flags && a.mask == c.mode;
        }
        case op_kind::close: return std::get<close_args>(args).fd == c.fd;
        case op_kind::getdents64: {
            const auto& a = std::get<getdents64_args>(args);
            return a.fd == c.fd && a.length == c.length;
        }
    }
    return false;
}

void to_stat(const struct ::statx& x, struct ::stat* st) noexcept {
    std::memset(st, 0, sizeof *st);
    st->st_dev = makedev(x.stx_dev_major, x.stx_dev_minor);
    st->st_ino = x.stx_ino;
    st->st_nlink = x.stx_nlink;
    st->st_mode = x.stx_mode;
    st->st_uid = x.stx_uid;
    st->st_gid = x.stx_gid;
    st->st_rdev = makedev(x.stx_rdev_major, x.stx_rdev_minor);
    st->st_size = static_cast<off_t>(x.stx_size);
    st->st_blksize = static_cast<blksize_t>(x.stx_blksize);
    st->st_blocks = static_cast<blkcnt_t>(x.stx_blocks);
    st->st_atim.tv_sec = x.stx_atime.tv_sec;
    st->st_atim.tv_nsec = x.stx_atime.tv_nsec;
    st->st_mtim.tv_sec = x.stx_mtime.tv_sec;
    st->st_mtim.tv_nsec = x.stx_mtime.tv_nsec;
    st->st_ctim.tv_sec = x.stx_ctime.tv_sec;
    st->st_ctim.tv_nsec = x.stx_ctime.tv_nsec;
}

void from_stat(const struct ::stat& st, struct ::statx& x) noexcept {
    std::memset(&x, 0, sizeof x);
    x.stx_mask = STATX_BASIC_STATS;
    x.stx_dev_major = major(st.st_dev);
    x.stx_dev_minor = minor(st.st_dev);
    x.stx_ino = st.st_ino;
    x.stx_nlink = static_cast<std::uint32_t>(st.st_nlink);
    x.stx_mode = static_cast<std::uint16_t>(st.st_mode);
    x.stx_uid = st.st_uid;
    x.stx_gid = st.st_gid;
    x.stx_rdev_major = major(st.st_rdev);
    x.stx_rdev_minor = minor(st.st_rdev);
    x.stx_size = static_cast<std::uint64_t>(st.st_size);
    x.stx_blksize = static_cast<std::uint32_t>(st.st_blksize);
    x.stx_blocks = static_cast<std::uint64_t>(st.st_blocks);
    x.stx_atime.tv_sec = st.st_atim.tv_sec;
    x.stx_atime.tv_nsec = static_cast<std::uint32_t>(st.st_atim.tv_nsec);
    x.stx_mtime.tv_sec = st.st_mtim.tv_sec;
    x.stx_mtime.tv_nsec = static_cast<std::uint32_t>(st.st_mtim.tv_nsec);
    x.stx_ctime.tv_sec = st.st_ctim.tv_sec;
    x.stx_ctime.tv_nsec = static_cast<std::uint32_t>(st.st_ctim.tv_nsec);
}

std::int64_t syscall_result(long long r) noexcept { return r < 0 ? -static_cast<std::int64_t>(errno) : r; }

// The program's call itself, exactly as it asked (no retry on EINTR: the call's own semantics).
std::int64_t real_call(const call& c) noexcept {
    switch (c.op) {
        case op_kind::openat: return syscall_result(::openat(c.fd, c.path, c.flags, static_cast<mode_t>(c.mode)));
        case op_kind::pread:
            return syscall_result(::pread(c.fd, c.out, c.length, static_cast<off_t>(c.offset)));
        case op_kind::pwrite:
            return syscall_result(::pwrite(c.fd, c.in, c.length, static_cast<off_t>(c.offset)));
        case op_kind::fstat: return syscall_result(::fstat(c.fd, c.st));
        case op_kind::fstatat: return syscall_result(::fstatat(c.fd, c.path, c.st, c.flags));
        case op_kind::statx: return syscall_result(::statx(c.fd, c.path, c.flags, c.mode, c.stx));
        case op_kind::close: return syscall_result(::close(c.fd));
        case op_kind::getdents64: return syscall_result(::syscall(SYS_getdents64, c.fd, c.out, c.length));
    }
    return -EINVAL;
}

// Failures that may come from speculating rather than from the call: the real call runs
// instead. io_uring's first, non-blocking attempt at an openat adds O_NONBLOCK, so a FIFO
// opened for writing without a reader fails with ENXIO where the call would wait.
constexpr bool transient(op_kind op, std::int64_t r) noexcept {
    return r == -EINTR || r == -EAGAIN || r == -ECANCELED || (op == op_kind::openat && r == -ENXIO);
}

// What a cache probe found.
enum class probe_result : std::uint8_t { cached, cold, unknown };

// Calls whose cache state only a timed synchronous call can tell (no RWF_NOWAIT for them).
constexpr bool metadata_call(op_kind k) noexcept {
    return k == op_kind::openat || k == op_kind::fstat || k == op_kind::fstatat || k == op_kind::statx ||
           k == op_kind::getdents64;
}

// Metadata calls whose time says whether their inodes and dentries were cached. Not
// getdents64: its time grows with the entries it returns (a cached batch of a hundred
// names takes longer than metadata_cached_ns), so timing it reads a warm walk as cold.
constexpr bool timed_probe_call(op_kind k) noexcept { return metadata_call(k) && k != op_kind::getdents64; }

// Whether every page of [offset, offset + length) of fd is in the page cache, by mapping
// the range and asking mincore (for file systems that refuse RWF_NOWAIT). At most the
// first 1 MiB is looked at.
probe_result resident(int fd, std::uint64_t offset, std::size_t length) noexcept {
    static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    constexpr std::size_t most = 256;
    if (length == 0 || offset > static_cast<std::uint64_t>(INT64_MAX) / 2) return probe_result::unknown;
    const std::uint64_t start = offset - offset % page;
    std::uint64_t pages = (offset + length - start + page - 1) / page;
    pages = std::min<std::uint64_t>(pages, most);
    const std::size_t map_length = static_cast<std::size_t>(pages * page);
    void* p = ::mmap(nullptr, map_length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(start));
    if (p == MAP_FAILED) return probe_result::unknown;
    unsigned char vec[most];
    probe_result r = probe_result::unknown;
    if (::mincore(p, map_length, vec) == 0) {
        r = probe_result::cached;
        for (std::uint64_t i = 0; i < pages; ++i) {
            if ((vec[i] & 1U) == 0) r = probe_result::cold;
        }
    }
    ::munmap(p, map_length);
    return r;
}

// Reads with RWF_NOWAIT: a read that succeeds in full without blocking found its data
// cached, and its bytes are exactly what pread would return. `*out` gets the byte count
// only then (a short read could be a partly cached range, not the call's result).
probe_result probe_read(int fd, void* buffer, std::size_t length, std::uint64_t offset, std::int64_t* out) noexcept {
    const int saved = errno;
    struct iovec v {buffer, length};
    const ssize_t r = ::preadv2(fd, &v, 1, static_cast<off_t>(offset), RWF_NOWAIT);
    const int e = errno;
    errno = saved;
    if (r >= 0 && static_cast<std::size_t>(r) == length && length > 0) {
        *out = r;
        return probe_result::cached;
    }
    if (r < 0 && e == EAGAIN) return probe_result::cold;
    if (r < 0 && e == EOPNOTSUPP) return resident(fd, offset, length);
    return probe_result::unknown;  // short (end of file, partly cached), or an error the call will see
}

}  // namespace

struct scope_state {
    std::shared_ptr<graph_state> g;
    engine* eng = nullptr;
    unsigned fixed_depth = 0;
    std::optional<depth_controller> adaptive;  // unset: fixed_depth
    fd_checks checks = fd_checks::verify;
    bool active = false;       // holds the engine and matches calls against the graph
    bool passthrough = false;  // a mismatch ended speculation
    bool mismatched = false;
    bool rest_when_cached = true;
    bool dormant = false;      // everything was cached at depth 0: calls go straight through
    std::uint32_t dormant_other_calls = 0;  // dormant timed-probe calls that scope::direct cannot make

    // Probes are scheduled and remembered per node: in a graph that reads both cached
    // pages (a tree's root, an index block) and uncached ones, a probe landing on the
    // cached node must not drop the depth while another node's reads still miss.
    struct node_probes {
        std::uint32_t reads = 0;
        std::uint8_t cold_history = 0;  // one bit per recent probe, 1 = not cached
    };
    static constexpr std::uint8_t probe_history_mask = 0x0F;  // the latest four probes
    std::vector<node_probes> probes_by_node;
    unsigned recently_cold_nodes = 0;

    std::deque<instance*> path;
    std::vector<std::unique_ptr<instance>> owned;
    std::vector<instance*> free_list;
    std::unordered_map<std::uint64_t, instance*> in_flight;
    cursor tail;
    std::uint64_t frontier_exits = 0;
    std::vector<last_result> last;
    std::unordered_map<int, identity> trusted;
    graph_counters local;
    std::vector<kp::io_request> requests;
    std::vector<instance*> requesters;

    scope_state(const graph& graph, engine* e, scope_options options, std::initializer_list<int> pinned)
        : g(graph._state), eng(e), checks(options.checks), rest_when_cached(options.rest_when_cached) {
        local.scopes = 1;
        const graph_options& go = g->options;
        if (options.depth) {
            fixed_depth = *options.depth;
        } else if (go.depth) {
            fixed_depth = *go.depth;
        } else {
            adaptive.emplace(go.adaptive, g->learned_depth.load(std::memory_order_relaxed));
        }
        last.resize(g->nodes.size());
        probes_by_node.resize(g->nodes.size());
        tail.node = g->start;
        tail.loops.assign(g->loops, 0);
        active = !g->disabled.load(std::memory_order_relaxed) && eng != nullptr && !eng->_busy;
        if (!active) {
            passthrough = true;
            return;
        }
        eng->_busy = true;
        for (int fd : pinned) pin(fd);
        // The graph's latest scope found everything cached: start dormant.
        dormant = adaptive && rest_when_cached && adaptive->depth() == 0;
        try {
            pipeline();
        } catch (...) {
            passthrough = true;  // out of memory: the calls simply run themselves
        }
    }

    ~scope_state() {
        if (active) {
            drop_all();
            eng->_busy = false;
        }
        constexpr auto r = std::memory_order_relaxed;
        g->hits.fetch_add(local.hits, r);
        g->misses.fetch_add(local.misses, r);
        g->mismatches.fetch_add(local.mismatches, r);
        g->cancelled.fetch_add(local.cancelled, r);
        g->wasted_bytes.fetch_add(local.wasted_bytes, r);
        g->scopes.fetch_add(local.scopes, r);
        g->passthrough_calls.fetch_add(local.passthrough_calls, r);
        g->generator_errors.fetch_add(local.generator_errors, r);
        g->probes.fetch_add(local.probes, r);
        g->probes_cached.fetch_add(local.probes_cached, r);
        g->dormant_calls.fetch_add(local.dormant_calls, r);
        if (adaptive && active) g->learned_depth.store(adaptive->depth(), r);
        if (active) {
            if (mismatched) {
                const unsigned streak = g->mismatch_streak.fetch_add(1, r) + 1;
                const unsigned limit = g->options.disable_after;
                if (limit != 0 && streak >= limit) g->disabled.store(true, r);
            } else {
                g->mismatch_streak.store(0, r);
            }
        }
    }

    scope_state(const scope_state&) = delete;
    scope_state& operator=(const scope_state&) = delete;

    [[nodiscard]] bool speculating() const noexcept { return active && !passthrough && !dormant; }
    [[nodiscard]] unsigned depth() const noexcept { return adaptive ? adaptive->depth() : fixed_depth; }

    // Whether this read (or metadata call) of `node` is probed: each node's first, then
    // one in probe_interval of that node's.
    [[nodiscard]] bool probe_due(std::uint32_t node) noexcept {
        return probes_by_node[node].reads++ % std::max(adaptive->options().probe_interval, 1U) == 0;
    }

    // A probe's finding, fed to the adaptive depth. Cached data drops the depth to 0
    // only when no node's recent probes found its data uncached.
    void signal(probe_result p, std::uint32_t node) noexcept {
        if (p == probe_result::unknown) return;
        ++local.probes;
        node_probes& np = probes_by_node[node];
        const bool was_cold = np.cold_history != 0;
        const unsigned history = (static_cast<unsigned>(np.cold_history) << 1U) | (p == probe_result::cold ? 1U : 0U);
        np.cold_history = static_cast<std::uint8_t>(history & probe_history_mask);
        const bool is_cold = np.cold_history != 0;
        if (is_cold && !was_cold) ++recently_cold_nodes;
        if (!is_cold && was_cold) --recently_cold_nodes;
        if (p == probe_result::cold) {
            adaptive->paid();
            return;
        }
        ++local.probes_cached;
        if (recently_cold_nodes == 0) {
            adaptive->cached();
        } else {
            adaptive->unpaid();
        }
    }

    // After a call: at depth 0 with nothing ahead and every recent probe cached, stop
    // following the graph (see scope_options::rest_when_cached).
    void rest_if_cached() noexcept {
        if (!adaptive || !rest_when_cached || !speculating()) return;
        if (adaptive->depth() != 0 || recently_cold_nodes != 0 || !path.empty() || !in_flight.empty()) return;
        dormant = true;
    }
    [[nodiscard]] const node_def& node_of(const instance& in) const noexcept { return g->nodes[in.node]; }

    // ---- results for generators -------------------------------------------------

    static op_result view(const instance& in) noexcept {
        op_result r;
        r.value = in.result;
        if ((in.op == op_kind::pread || in.op == op_kind::getdents64) && in.result > 0) {
            r.data = std::span<const std::byte>(in.buf.data(), static_cast<std::size_t>(in.result));
        }
        if ((in.op == op_kind::fstat || in.op == op_kind::fstatat || in.op == op_kind::statx) && in.result == 0) {
            r.stat = &in.stx;
        }
        return r;
    }

    std::optional<op_result> lookup(std::size_t position, std::uint32_t node) const noexcept {
        if (node >= last.size()) return std::nullopt;
        for (std::size_t i = std::min(position, path.size()); i > 0; --i) {
            const instance& in = *path[i - 1];
            if (in.node != node) continue;
            // A transient failure is not what the call will return: the call reruns it.
            if (in.state != inst_state::done || transient(in.op, in.result)) return std::nullopt;
            return view(in);
        }
        const auto& l = last[node];
        if (!l.valid) return std::nullopt;
        op_result r;
        r.value = l.value;
        if (l.length > 0) r.data = std::span<const std::byte>(l.data.data(), l.length);
        if (l.has_stat) r.stat = &l.stx;
        return r;
    }

    context ctx(std::size_t position, const std::vector<std::uint64_t>& loops) const noexcept {
        return context(this, position, loops.data());
    }

    // ---- walking the graph ------------------------------------------------------

    static void take(cursor& c, const edge_def& e) noexcept {
        if (e.kind == edge_kind::may_exit) ++c.exits;
        c.node = e.to;
    }

    // Moves `c` through branch and loop nodes to the next system-call node.
    advance_result advance(cursor& c, std::size_t position) noexcept {
        const std::size_t guard = 4 * g->nodes.size() + 4;
        for (std::size_t steps = 0; steps < guard; ++steps) {
            const node_def& n = g->nodes[c.node];
            switch (n.type) {
                case node_type::end: return advance_result::at_end;
                case node_type::syscall: return advance_result::at_call;
                case node_type::branch: {
                    std::optional<std::size_t> d;
                    try {
                        d = n.decide(ctx(position, c.loops));
                    } catch (...) {
                        ++local.generator_errors;
                    }
                    if (!d || *d >= n.targets.size()) return advance_result::blocked;
                    take(c, n.targets[*d]);
                    break;
                }
                case node_type::loop: {
                    std::optional<bool> again;
                    try {
                        again = n.again(ctx(position, c.loops));
                    } catch (...) {
                        ++local.generator_errors;
                    }
                    if (!again) return advance_result::blocked;
                    auto& i = c.loops[n.loop_index];
                    if (*again) {
                        if (i >= n.max_iterations) return advance_result::blocked;  // beyond the declared bound
                        ++i;
                        take(c, n.repeat);
                    } else {
                        i = 0;
                        take(c, n.next);
                    }
                    break;
                }
            }
        }
        return advance_result::blocked;
    }

    instance* make_instance() {
        if (free_list.empty()) {
            owned.push_back(std::make_unique<instance>());
            return owned.back().get();
        }
        instance* in = free_list.back();
        free_list.pop_back();
        return in;
    }

    void recycle(instance* in) noexcept {
        in->buf.reset();
        in->args = any_args{};
        in->state = inst_state::pending;
        in->result = 0;
        in->user_data = 0;
        in->saved_pos = -1;
        in->cancel_requested = false;
        in->probed = false;
        in->probe_checked = false;
        in->timed_probe = false;
        free_list.push_back(in);
    }

    bool evaluate(instance& in, std::size_t position) noexcept {
        const node_def& n = node_of(in);
        bool ok = false;
        try {
            ok = n.gen(ctx(position, in.loops), in.args);
        } catch (...) {
            ++local.generator_errors;
            ok = false;
        }
        if (ok && in.args.index() != static_cast<std::size_t>(in.op)) ok = false;
        if (ok && in.op == op_kind::pwrite) {
            // The data is borrowed only while the generator runs: keep a copy.
            auto& a = std::get<pwrite_args>(in.args);
            if (!in.buf.acquire(eng->budget(), a.data.size())) {
                ok = false;
            } else {
                if (!a.data.empty()) std::memcpy(in.buf.data(), a.data.data(), a.data.size());
                a.data = std::span<const std::byte>(in.buf.data(), a.data.size());
            }
        }
        in.state = ok ? inst_state::ready : inst_state::pending;
        return ok;
    }

    // Appends the next call node's instance; false at the end or at an undecidable node.
    bool step() {
        if (advance(tail, path.size()) != advance_result::at_call) return false;
        const node_def& n = g->nodes[tail.node];
        instance* in = make_instance();
        in->node = tail.node;
        in->op = n.op;
        in->loops = tail.loops;
        in->exits_before = tail.exits;
        in->state = inst_state::pending;
        path.push_back(in);
        evaluate(*in, path.size() - 1);
        take(tail, n.next);
        return true;
    }

    void extend() {
        while (path.size() < depth() && step()) {
        }
    }

    // ---- pre-issuing --------------------------------------------------------------

    bool trusted_at(std::size_t k, int fd) const noexcept {
        if (fd < 0) return true;  // AT_FDCWD or an absolute path
        bool t = trusted.contains(fd);
        for (std::size_t i = 0; i < k; ++i) {
            const instance& p = *path[i];
            if (p.op == op_kind::openat && p.state == inst_state::done && p.result == fd) t = true;
            if (p.op == op_kind::close) {
                if (p.state == inst_state::pending) return false;  // closes an fd not known yet
                if (std::get<close_args>(p.args).fd == fd) t = false;
            }
        }
        return t;
    }

    bool issuable(std::size_t k) const noexcept {
        const instance& in = *path[k];
        if (in.state != inst_state::ready) return false;
        const node_def& n = node_of(in);
        switch (effective_policy(n)) {
            case issue_policy::never: return false;
            case issue_policy::when_certain:
                // The program's next call, and no possible exit before it: every call up to
                // here has been made and matched, so only this call itself can still differ.
                if (k != 0 || in.exits_before != frontier_exits) return false;
                break;
            case issue_policy::speculate:
            case issue_policy::automatic: break;
        }
        const int fd = fd_of(in.args);
        if (!trusted_at(k, fd)) return false;
        // Same-descriptor ordering: nothing passes an unfinished write, a write waits for
        // everything before it, and one getdents64 at a time (it moves the position).
        const bool is_fd_call = fd_call(in.op);
        for (std::size_t i = 0; i < k; ++i) {
            const instance& p = *path[i];
            if (p.state == inst_state::done) continue;
            if (p.state == inst_state::pending && p.op == op_kind::pwrite) return false;  // target unknown
            if (!is_fd_call || !fd_call(p.op) || p.state == inst_state::pending) continue;
            if (fd_of(p.args) != fd) continue;
            if (p.op == op_kind::pwrite || in.op == op_kind::pwrite) return false;
            if (p.op == op_kind::getdents64 && in.op == op_kind::getdents64) return false;
        }
        // Explicit ordering edges: the latest earlier instance of each must be complete.
        for (std::uint32_t before : n.after) {
            for (std::size_t i = k; i > 0; --i) {
                const instance& p = *path[i - 1];
                if (p.node != before) continue;
                if (p.state != inst_state::done) return false;
                break;
            }
        }
        return true;
    }

    // Builds the io request; false when it cannot go now (no buffer, engine lacks the op).
    bool prepare(instance& in, kp::io_request& q) noexcept {
        const std::uint64_t ud = eng->_next_user_data;
        auto& budget = eng->budget();
        switch (in.op) {
            case op_kind::openat: {
                const auto& a = std::get<openat_args>(in.args);
                q = kp::io_request::openat(a.dirfd, a.path.c_str(), a.flags, a.mode, ud);
                break;
            }
            case op_kind::pread: {
                const auto& a = std::get<pread_args>(in.args);
                if (a.offset > static_cast<std::uint64_t>(INT64_MAX)) return false;
                if (!eng->_io.supports(kp::io_op::pread) || !in.buf.acquire(budget, a.length)) return false;
                if (adaptive && probe_due(in.node)) {
                    // Cached data is read here at once (no engine round trip) and the
                    // depth drops; data not cached is pre-issued and the depth grows.
                    std::int64_t n = 0;
                    const probe_result p = probe_read(a.fd, in.buf.data(), a.length, a.offset, &n);
                    signal(p, in.node);
                    in.probed = p != probe_result::unknown;
                    if (p == probe_result::cached && n > 0) {
                        in.result = n;
                        in.state = inst_state::done;
                        return false;
                    }
                }
                q = kp::io_request::pread(a.fd, in.buf.data(), a.length, a.offset, ud);
                break;
            }
            case op_kind::pwrite: {
                const auto& a = std::get<pwrite_args>(in.args);
                if (a.offset > static_cast<std::uint64_t>(INT64_MAX)) return false;
                q = kp::io_request::pwrite(a.fd, a.data.data(), a.data.size(), a.offset, ud);
                break;
            }
            case op_kind::fstat:
                q = kp::io_request::fstat(std::get<fstat_args>(in.args).fd, &in.stx, ud);
                break;
            case op_kind::fstatat: {
                const auto& a = std::get<fstatat_args>(in.args);
                q = kp::io_request::statx(a.dirfd, a.path.c_str(), a.flags, STATX_BASIC_STATS, &in.stx, ud);
                break;
            }
            case op_kind::statx: {
                const auto& a = std::get<statx_args>(in.args);
                q = kp::io_request::statx(a.dirfd, a.path.c_str(), a.flags, a.mask, &in.stx, ud);
                break;
            }
            case op_kind::close: return false;
            case op_kind::getdents64: {
                const auto& a = std::get<getdents64_args>(in.args);
                if (!eng->_io.supports(kp::io_op::getdents64) || !in.buf.acquire(budget, a.length)) return false;
                // Where the directory stands now, to put it back if the result goes unused.
                const off_t pos = ::lseek(a.fd, 0, SEEK_CUR);
                if (pos < 0) return false;
                in.saved_pos = pos;
                q = kp::io_request::getdents64(a.fd, in.buf.data(), a.length, ud);
                break;
            }
        }
        if (!eng->_io.supports(q.op)) return false;
        ++eng->_next_user_data;
        in.user_data = ud;
        return true;
    }

    void issue() {
        if (!speculating() || path.empty()) return;
        const std::size_t room = eng->_queue_depth > in_flight.size() ? eng->_queue_depth - in_flight.size() : 0;
        // Refill the window in batches: a submission is a system call, and one per
        // program call cost more than the reads it saved (bench_iospec, io_uring one by
        // one). Calls a quarter of the window ahead wait for the next batch; the next
        // few the program needs are already in flight.
        if (!in_flight.empty() && room < std::max<std::size_t>(1, eng->_queue_depth / 4)) return;
        requests.clear();
        requesters.clear();
        for (std::size_t k = 0; k < path.size() && requests.size() < room; ++k) {
            if (k >= depth()) break;  // the depth shrank (a probe found data cached)
            instance& in = *path[k];
            if (in.state == inst_state::pending) evaluate(in, k);
            if (!issuable(k)) continue;
            if (adaptive && timed_probe_call(in.op)) {
                // One metadata call in probe_interval is left to the program and timed.
                if (!in.probe_checked) {
                    in.probe_checked = true;
                    in.timed_probe = probe_due(in.node);
                }
                if (in.timed_probe) continue;
            }
            kp::io_request q;
            if (!prepare(in, q)) {
                if (in.state == inst_state::done) continue;  // read at once by a cache probe
                if (in.op != op_kind::pwrite) in.buf.reset();
                in.saved_pos = -1;
                continue;
            }
            requests.push_back(q);
            requesters.push_back(&in);
        }
        if (requests.empty()) return;
        auto r = eng->_io.submit(requests);
        const std::size_t accepted = r ? *r : 0;
        for (std::size_t i = 0; i < requesters.size(); ++i) {
            instance& in = *requesters[i];
            if (i < accepted) {
                in.state = inst_state::in_flight;
                in_flight.emplace(in.user_data, &in);
            } else if (in.op != op_kind::pwrite) {
                in.buf.reset();  // not accepted: stays ready, holds no memory
                in.saved_pos = -1;
            }
        }
    }

    void pipeline() {
        if (!speculating()) return;
        extend();
        issue();
    }

    // ---- completions ----------------------------------------------------------------

    void process(const kp::io_completion& c) noexcept {
        auto it = in_flight.find(c.user_data);
        if (it == in_flight.end()) return;
        instance* in = it->second;
        in_flight.erase(it);
        in->result = c.result;
        in->state = inst_state::done;
    }

    void pump() noexcept {
        kp::io_completion out[32];
        while (!in_flight.empty()) {
            auto r = eng->_io.reap(out, 0, kp::io_timeout(std::chrono::nanoseconds(0)));
            if (!r || *r == 0) return;
            for (std::size_t i = 0; i < *r; ++i) process(out[i]);
            if (*r < std::size(out)) return;
        }
    }

    // Blocks until `in` (or, with nullptr, everything in flight) has completed. A reap
    // that keeps failing means the engine is broken: the operations are abandoned with
    // their buffers (never freed, since the kernel may still write into them).
    void wait(instance* in, bool keep_issuing) {
        kp::io_completion out[32];
        unsigned failures = 0;
        while (in != nullptr ? in->state == inst_state::in_flight : !in_flight.empty()) {
            auto r = eng->_io.reap(out, 1, std::nullopt);
            if (!r) {
                if (++failures < 1000) continue;
                for (auto& [ud, p] : in_flight) {
                    p->buf.abandon();
                    p->result = -ECANCELED;
                    p->state = inst_state::done;
                }
                in_flight.clear();
                passthrough = true;
                return;
            }
            failures = 0;
            for (std::size_t i = 0; i < *r; ++i) process(out[i]);
            if (keep_issuing) pipeline();  // results that just arrived may unlock later nodes
        }
    }

    // Drops everything ahead of the program: cancels what is in flight, waits for it,
    // puts directory positions back, closes descriptors opened speculatively.
    void drop_all() noexcept {
        try {
            drop_all_unguarded();
        } catch (...) {
            std::terminate();  // cannot happen: wait() without issuing allocates nothing
        }
    }

    void drop_all_unguarded() {
        if (path.empty() && in_flight.empty()) return;
        for (instance* in : path) {
            if (in->state == inst_state::in_flight && !in->cancel_requested) {
                in->cancel_requested = true;
                (void)eng->_io.cancel(in->user_data);
            }
        }
        wait(nullptr, false);
        std::vector<int> restored;
        for (instance* in : path) {
            if (in->state != inst_state::done) continue;
            // Cancelled (or interrupted by the cancellation): it did no work.
            if (in->cancel_requested && in->result < 0) ++local.cancelled;
            if ((in->op == op_kind::pread || in->op == op_kind::getdents64) && in->result > 0) {
                local.wasted_bytes += static_cast<std::uint64_t>(in->result);
            }
            if (in->op == op_kind::getdents64 && in->saved_pos >= 0) {
                const int fd = std::get<getdents64_args>(in->args).fd;
                if (std::find(restored.begin(), restored.end(), fd) == restored.end()) {
                    (void)::lseek(fd, in->saved_pos, SEEK_SET);
                    restored.push_back(fd);
                }
            }
        }
        for (instance* in : path) {
            if (in->op == op_kind::openat && in->state == inst_state::done && in->result >= 0) {
                (void)::close(static_cast<int>(in->result));
            }
        }
        for (instance* in : path) recycle(in);
        path.clear();
    }

    // ---- the program's calls ------------------------------------------------------

    // Records fd as trusted; out of memory leaves it untrusted (never speculated on).
    bool remember(int fd, identity id) noexcept {
        try {
            trusted[fd] = id;
            return true;
        } catch (...) {
            return false;
        }
    }

    bool pin(int fd) noexcept {
        struct ::stat st {};
        if (fd < 0 || ::fstat(fd, &st) != 0) return false;
        return remember(fd, identity{st.st_dev, st.st_ino});
    }

    void trust(int fd) noexcept {
        if (checks == fd_checks::trust_caller) {
            (void)remember(fd, identity{});
            return;
        }
        struct ::stat st {};
        if (::fstat(fd, &st) == 0) (void)remember(fd, identity{st.st_dev, st.st_ino});
    }

    // The descriptor a pre-issued result was computed on still names the same file.
    bool identity_ok(const call& c) const noexcept {
        if (checks == fd_checks::trust_caller) return true;
        int fd = c.fd;
        if (!fd_call(c.op) && (fd == AT_FDCWD || (c.path != nullptr && c.path[0] == '/'))) return true;
        auto it = trusted.find(fd);
        if (it == trusted.end()) return false;
        struct ::stat st {};
        if (::fstat(fd, &st) != 0) return false;
        return st.st_dev == it->second.dev && st.st_ino == it->second.ino;
    }

    // Picks the branch or loop edge at an undecidable node from the program's call: the
    // single way on whose next call node the call fits.
    bool resolve_by_call(const call& c) {
        const node_def& n = g->nodes[tail.node];
        std::vector<cursor> ways;
        if (n.type == node_type::branch) {
            for (const auto& e : n.targets) {
                cursor w = tail;
                take(w, e);
                ways.push_back(std::move(w));
            }
        } else if (n.type == node_type::loop) {
            if (tail.loops[n.loop_index] < n.max_iterations) {
                cursor w = tail;
                ++w.loops[n.loop_index];
                take(w, n.repeat);
                ways.push_back(std::move(w));
            }
            cursor w = tail;
            w.loops[n.loop_index] = 0;
            take(w, n.next);
            ways.push_back(std::move(w));
        } else {
            return false;
        }
        std::vector<cursor*> exact;
        std::vector<cursor*> unknown;
        for (auto& w : ways) {
            if (advance(w, path.size()) != advance_result::at_call) continue;
            const node_def& s = g->nodes[w.node];
            if (s.op != c.op) continue;
            any_args a;
            bool ok = false;
            try {
                ok = s.gen(ctx(path.size(), w.loops), a);
            } catch (...) {
                ++local.generator_errors;
            }
            if (!ok) {
                unknown.push_back(&w);
            } else if (args_equal(a, c)) {
                exact.push_back(&w);
            }
        }
        cursor* chosen = nullptr;
        if (exact.size() == 1) chosen = exact.front();
        if (exact.empty() && unknown.size() == 1) chosen = unknown.front();
        if (chosen == nullptr) return false;
        tail = std::move(*chosen);
        return true;
    }

    instance* front_for(const call& c) {
        if (path.empty() && !step()) {
            if (!resolve_by_call(c) || !step()) return nullptr;
        }
        return path.front();
    }

    std::int64_t deliver(const instance& in, const call& c) noexcept {
        const std::int64_t r = in.result;
        switch (in.op) {
            case op_kind::pread:
            case op_kind::getdents64:
                if (r > 0) std::memcpy(c.out, in.buf.data(), static_cast<std::size_t>(r));
                break;
            case op_kind::fstat:
            case op_kind::fstatat:
                if (r == 0) to_stat(in.stx, c.st);
                break;
            case op_kind::statx:
                if (r == 0) *c.stx = in.stx;
                break;
            case op_kind::openat:
            case op_kind::pwrite:
            case op_kind::close: break;
        }
        return r;
    }

    void consume(instance* in, const call& c, std::int64_t r, bool hit) noexcept {
        last_result& l = last[in->node];
        l.valid = true;
        l.value = r;
        l.length = 0;
        l.has_stat = false;
        switch (in->op) {
            case op_kind::pread:
            case op_kind::getdents64:
                if (hit) {
                    l.data = std::move(in->buf);
                    l.length = r > 0 ? static_cast<std::size_t>(r) : 0;
                } else if (r > 0) {
                    if (l.data.acquire(eng->budget(), static_cast<std::size_t>(r))) {
                        std::memcpy(l.data.data(), c.out, static_cast<std::size_t>(r));
                        l.length = static_cast<std::size_t>(r);
                    } else {
                        l.valid = false;  // data unavailable: later generators see "not known"
                    }
                }
                break;
            case op_kind::fstat:
            case op_kind::fstatat:
                if (r == 0) {
                    if (hit) {
                        l.stx = in->stx;
                    } else {
                        from_stat(*c.st, l.stx);
                    }
                    l.has_stat = true;
                }
                break;
            case op_kind::statx:
                if (r == 0) {
                    l.stx = hit ? in->stx : *c.stx;
                    l.has_stat = true;
                }
                break;
            case op_kind::openat:
                if (r >= 0) trust(static_cast<int>(r));
                break;
            case op_kind::close: trusted.erase(c.fd); break;
            case op_kind::pwrite: break;
        }
        if (hit) {
            ++local.hits;
        } else {
            ++local.misses;
        }
        frontier_exits = in->exits_before;
        path.pop_front();
        recycle(in);
    }

    std::int64_t mismatch(const call& c) noexcept {
        ++local.mismatches;
        mismatched = true;
        passthrough = true;
        drop_all();
        if (c.op == op_kind::getdents64) (void)::syscall(SYS_getppid);  // see quiesce()
        return real_call(c);
    }

    // Pointers a real call would reject with EFAULT must not be written by a hit.
    static bool bad_pointers(const call& c) noexcept {
        switch (c.op) {
            case op_kind::pread:
            case op_kind::getdents64: return c.out == nullptr && c.length > 0;
            case op_kind::fstat:
            case op_kind::fstatat: return c.st == nullptr;
            case op_kind::statx: return c.stx == nullptr;
            default: return false;
        }
    }

    std::int64_t matched(const call& c) {
        pump();
        instance* in = front_for(c);
        if (in == nullptr || in->op != c.op || bad_pointers(c)) return mismatch(c);
        if (in->state == inst_state::pending) evaluate(*in, 0);
        if (in->state != inst_state::pending && !args_equal(in->args, c)) return mismatch(c);

        std::int64_t r = 0;
        bool hit = false;
        bool waited = false;
        if (c.op == op_kind::getdents64 && !(in->state == inst_state::done && !transient(in->op, in->result))) {
            quiesce();
        }
        if (in->state == inst_state::in_flight || in->state == inst_state::done) {
            if (in->state == inst_state::in_flight) {
                waited = true;
                issue();  // let later calls start while this one finishes
                wait(in, true);
            }
            if (transient(in->op, in->result)) {
                r = real_call(c);
            } else if (!identity_ok(c)) {
                return mismatch(c);
            } else {
                r = deliver(*in, c);
                hit = true;
            }
        } else if (adaptive && c.op == op_kind::pread && !in->probed && adaptive->depth() == 0 &&
                   probe_due(in->node)) {
            // At depth zero the program's own read is the probe: cached, it is the call's
            // result; not cached, the depth comes back and the call runs as asked.
            std::int64_t n = 0;
            const probe_result p = probe_read(c.fd, c.out, c.length, c.offset, &n);
            signal(p, in->node);
            in->probed = p != probe_result::unknown;
            r = p == probe_result::cached && n > 0 ? n : real_call(c);
        } else if (adaptive && timed_probe_call(c.op) &&
                   (in->timed_probe || (adaptive->depth() == 0 && probe_due(in->node)))) {
            signal(timed_call(c, &r), in->node);
            in->probed = true;
        } else {
            r = real_call(c);
        }
        if (adaptive && !in->probed) {
            // The program waited for a pre-issued read: speculation hid latency and more
            // depth would hide more. Otherwise (ready in time, a miss, or a metadata call,
            // which io_uring always hands to a worker, cached or not) no gain showed.
            if (hit && waited && !metadata_call(in->op)) {
                adaptive->paid();
            } else {
                adaptive->unpaid();
            }
        }
        consume(in, c, r, hit);
        try {
            pipeline();
        } catch (...) {
            // Out of memory after the call was made: keep its result, stop speculating.
            passthrough = true;
            drop_all();
        }
        rest_if_cached();
        return r;
    }

    // Makes a metadata call and times it: one that answers within metadata_cached_ns
    // found its inodes and dentries cached (a device read takes far longer).
    probe_result timed_call(const call& c, std::int64_t* r) noexcept {
        const auto t0 = std::chrono::steady_clock::now();
        *r = real_call(c);
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0);
        return static_cast<std::uint64_t>(ns.count()) <= adaptive->options().metadata_cached_ns ? probe_result::cached
                                                                                               : probe_result::cold;
    }

    // A dormant scope's call: straight through, with one read in dormant_probe_interval
    // made with RWF_NOWAIT (cached: that is its result) and one metadata call in
    // dormant_probe_interval timed. Data found uncached raises the depth the graph's next
    // scope starts at; this one stays dormant (it no longer knows where it is in the
    // graph). scope::pread, fstat, fstatat and statx make the calls between two probes
    // directly (scope::direct), so one of theirs that reaches here is always probed.
    std::int64_t dormant_call(const call& c) noexcept {
        ++local.dormant_calls;
        if (c.op == op_kind::getdents64) quiesce();
        const bool due =
            direct_op(c.op) || (timed_probe_call(c.op) &&
                                dormant_other_calls++ % std::max(adaptive->options().dormant_probe_interval, 1U) == 0);
        if (c.op == op_kind::pread && due) {
            std::int64_t n = 0;
            const probe_result p = probe_read(c.fd, c.out, c.length, c.offset, &n);
            dormant_signal(p);
            return p == probe_result::cached && n > 0 ? n : real_call(c);
        }
        if (timed_probe_call(c.op) && due) {
            std::int64_t r = 0;
            dormant_signal(timed_call(c, &r));
            return r;
        }
        return real_call(c);
    }

    [[nodiscard]] static bool direct_op(op_kind op) noexcept {
        return op == op_kind::pread || op == op_kind::fstat || op == op_kind::fstatat || op == op_kind::statx;
    }

    // How many of scope::direct's calls may follow before the next is probed: while
    // dormant, dormant_probe_interval - 1; otherwise none (every call is matched).
    [[nodiscard]] std::uint32_t direct_calls_until_probe() const noexcept {
        if (!dormant) return 0;
        return std::max(adaptive->options().dormant_probe_interval, 1U) - 1;
    }

    void dormant_signal(probe_result p) noexcept {
        if (p == probe_result::unknown) return;
        ++local.probes;
        if (p == probe_result::cached) {
            ++local.probes_cached;
        } else {
            adaptive->paid();
        }
    }

    // Before the program's own getdents64: io_uring queues task work on the submitting
    // thread with TWA_SIGNAL (completions, io-wq worker creation), which sets
    // TIF_NOTIFY_SIGNAL; filldir64 stops after the first entry when a signal looks pending,
    // a short result the call would not have had. So nothing may be in flight, and one
    // cheap system call runs what task work is already queued.
    void quiesce() {
        wait(nullptr, false);
        if (active) (void)::syscall(SYS_getppid);
    }

    std::int64_t run(const call& c) noexcept {
        const int saved_errno = errno;
        std::int64_t r = 0;
        if (dormant) {
            r = dormant_call(c);
        } else if (!speculating()) {
            ++local.passthrough_calls;
            if (c.op == op_kind::getdents64 && active) quiesce();
            r = real_call(c);
        } else {
            try {
                r = matched(c);
            } catch (...) {
                // Only allocation can throw, and only before the call was made: make it now.
                passthrough = true;
                drop_all();
                r = real_call(c);
            }
        }
        if (r < 0) {
            errno = static_cast<int>(-r);
            return -1;
        }
        errno = saved_errno;
        return r;
    }
};

}  // namespace detail

// ---- context ------------------------------------------------------------------------

std::uint64_t context::iteration(loop_node loop) const noexcept {
    if (_scope == nullptr || _loops == nullptr) return 0;
    const auto& nodes = _scope->g->nodes;
    if (loop.id() >= nodes.size() || nodes[loop.id()].type != detail::node_type::loop) return 0;
    return _loops[nodes[loop.id()].loop_index];
}

std::optional<op_result> context::lookup(std::uint32_t node) const noexcept {
    if (_scope == nullptr) return std::nullopt;
    return _scope->lookup(_position, node);
}

// ---- scope ---------------------------------------------------------------------------

scope::scope(const graph& g, scope_options options)
    : _state(std::make_unique<detail::scope_state>(g, &this_thread_engine(), options, std::initializer_list<int>{})) {}

scope::scope(const graph& g, engine& e, scope_options options)
    : _state(std::make_unique<detail::scope_state>(g, &e, options, std::initializer_list<int>{})) {}

scope::scope(const graph& g, engine& e, std::initializer_list<int> pinned, scope_options options)
    : _state(std::make_unique<detail::scope_state>(g, &e, options, pinned)) {}

scope::~scope() { _state->local.dormant_calls += _direct_calls; }

void scope::after_call() noexcept { _direct_calls_left = _state->direct_calls_until_probe(); }

bool scope::pin(int fd) noexcept {
    auto& s = *_state;
    const int saved = errno;
    const bool ok = s.pin(fd);
    if (ok && s.speculating()) {
        try {
            s.pipeline();
        } catch (...) {
        }
    }
    errno = saved;
    return ok;
}

int scope::openat(int dirfd, const char* path, int flags, mode_t mode) noexcept {
    detail::call c;
    c.op = op_kind::openat;
    c.fd = dirfd;
    c.path = path;
    c.flags = flags;
    c.mode = mode;
    return static_cast<int>(_state->run(c));
}

ssize_t scope::pread_through_state(int fd, void* buffer, std::size_t length, off_t offset) noexcept {
    detail::call c;
    c.op = op_kind::pread;
    c.fd = fd;
    c.out = buffer;
    c.length = length;
    c.offset = static_cast<std::uint64_t>(offset);
    const auto r = static_cast<ssize_t>(_state->run(c));
    after_call();
    return r;
}

ssize_t scope::pwrite(int fd, const void* buffer, std::size_t length, off_t offset) noexcept {
    detail::call c;
    c.op = op_kind::pwrite;
    c.fd = fd;
    c.in = buffer;
    c.length = length;
    c.offset = static_cast<std::uint64_t>(offset);
    return static_cast<ssize_t>(_state->run(c));
}

int scope::fstat_through_state(int fd, struct ::stat* out) noexcept {
    detail::call c;
    c.op = op_kind::fstat;
    c.fd = fd;
    c.st = out;
    const auto r = static_cast<int>(_state->run(c));
    after_call();
    return r;
}

int scope::fstatat_through_state(int dirfd, const char* path, struct ::stat* out, int flags) noexcept {
    detail::call c;
    c.op = op_kind::fstatat;
    c.fd = dirfd;
    c.path = path;
    c.st = out;
    c.flags = flags;
    const auto r = static_cast<int>(_state->run(c));
    after_call();
    return r;
}

int scope::statx_through_state(int dirfd, const char* path, int flags, unsigned mask, struct ::statx* out) noexcept {
    detail::call c;
    c.op = op_kind::statx;
    c.fd = dirfd;
    c.path = path;
    c.flags = flags;
    c.mode = mask;
    c.stx = out;
    const auto r = static_cast<int>(_state->run(c));
    after_call();
    return r;
}

int scope::close(int fd) noexcept {
    detail::call c;
    c.op = op_kind::close;
    c.fd = fd;
    return static_cast<int>(_state->run(c));
}

ssize_t scope::getdents64(int fd, void* buffer, std::size_t length) noexcept {
    detail::call c;
    c.op = op_kind::getdents64;
    c.fd = fd;
    c.out = buffer;
    c.length = length;
    return static_cast<ssize_t>(_state->run(c));
}

scope_counters scope::counters() const noexcept {
    scope_counters c = _state->local;
    c.dormant_calls += _direct_calls;
    c.depth = _state->depth();
    return c;
}

bool scope::passthrough() const noexcept { return _state->passthrough; }

bool scope::dormant() const noexcept { return _state->dormant; }

}  // namespace keel::iospec
