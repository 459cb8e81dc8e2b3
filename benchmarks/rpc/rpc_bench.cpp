// Round trip of one call between two processes (fork: the child serves, the parent
// calls), keel::rpc in each wait mode against the floor and the usual alternatives, all
// in this binary and run. <size> is noop, 64B, 4KiB, 64KiB or 1MiB.
//   floor/cacheline      a 32-bit word in a MAP_SHARED mapping bounced between the
//                        processes by spinning (the fastest any shared-memory RPC can be)
//   floor/futex          the same word, both sides parked on FUTEX_WAIT between turns
//   pipe/<size>          two pipes: <size> bytes to the server, which reads them all and
//                        answers the 8-byte checksum it computed over them (noop: 1 byte
//                        each way, no checksum)
//   uds/<size>           the same over a Unix stream socketpair
//   mq/<size>            the same over two Boost.Interprocess message_queues (request,
//                        reply): each message is copied into the queue and out again
//   grpc/<size>          the same as a gRPC unary call (rpc_bench.proto: bytes in, a
//                        fixed64 checksum out) over an abstract Unix socket, synchronous
//                        stub and server; the server is this binary exec'd again (a gRPC
//                        process must not fork), only when gRPC was found (KEEL_BENCH_HAVE_GRPC)
//   keel/<size>/mode:<m> rpc::client::call, both sides in wait mode m (1 busy_poll,
//                        2 hybrid, 3 futex). noop: a void() method; 64B: the bytes inline
//                        in the ring slot (<= rpc::max_inline_payload); 4KiB and up: the
//                        client writes the bytes into the connection's shared memory and
//                        passes shm_ptr + length, the handler resolves and checksums them
//                        in place (every side reads every byte, as above)
//   keel/modes/<safety>/<size>/mode:<m>  noop and 4KiB as above (the payload in a block
//                        from heap().allocate_sealable()) with call_options::safety =
//                        relaxed, copy, sealed or sandboxed (skipped where MPK is missing)
//   keel/tree/mode:<m>   a 1,000-node binary search tree built once in shared memory with
//                        shm_ptr links; the call passes the root, the handler walks the
//                        whole tree resolving every link (at most 1,000 nodes) and returns
//                        a checksum
//   keel/tree_build/mode:<m>  the same, but the client builds the tree again in every call
//   serial_uds/tree      the same tree as heap nodes with raw pointers, serialised with
//                        Boost.Serialization (binary_oarchive) in every call, sent over a
//                        Unix socketpair, deserialised, walked and freed by the server
//                        (only when Boost.Serialization was found: KEEL_BENCH_HAVE_SERIALIZATION)
// Time per iteration = one round trip (real time; the mean is Google Benchmark's). Each
// round trip is also timed on its own (rdtsc, calibrated once against steady_clock) into
// a preallocated array: counters p50_ns and p99_ns. Payload cases report bytes_per_second
// (request bytes), tree cases items_per_second (nodes). benchmarks/rpc/ratios.py prints
// the ratios and the per-size table from the JSON output.
#include <keel/platform/cpu.hpp>
#include <keel/platform/wait_policy.hpp>
#include <keel/rpc.hpp>

#include <benchmark/benchmark.h>
#include <boost/interprocess/ipc/message_queue.hpp>
#if KEEL_BENCH_HAVE_SERIALIZATION
#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#endif
#if KEEL_BENCH_HAVE_GRPC
#include <grpcpp/grpcpp.h>

#include "rpc_bench.grpc.pb.h"
#endif

#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

namespace rpc = keel::rpc;
namespace platform = keel::platform;
namespace bip = boost::interprocess;

namespace {

// ---- timing each round trip ---------------------------------------------------------
/// A cheap monotonic tick: the TSC on x86 (this VM has constant_tsc/nonstop_tsc),
/// steady_clock elsewhere.
std::uint64_t ticks() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

/// Nanoseconds per tick, measured once (20 ms against steady_clock) on first use.
double ns_per_tick() {
    static const double value = [] {
        const auto t0 = std::chrono::steady_clock::now();
        const std::uint64_t c0 = ticks();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const auto t1 = std::chrono::steady_clock::now();
        const std::uint64_t c1 = ticks();
        const auto ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
        return c1 > c0 ? ns / static_cast<double>(c1 - c0) : 1.0;
    }();
    return value;
}

/// Per-round-trip times of one benchmark run, in an array sized before the timed loop.
/// One tick read per iteration: a sample is the time between the ends of consecutive
/// iterations (so it covers exactly what the mean covers); the first, which includes
/// the benchmark loop's start-up, is dropped. Keeps the first `cap` samples.
class round_trips {
public:
    static constexpr std::size_t cap = std::size_t{1} << 22;  // 32 MiB of samples at most

    explicit round_trips(const benchmark::State& state)
        : _samples(std::min<std::size_t>(static_cast<std::size_t>(state.max_iterations), cap)) {
        (void)ns_per_tick();  // calibrate outside the timed loop
    }

    /// Right before the timed loop.
    void start() noexcept { _last = ticks(); }
    /// At the end of each iteration.
    void lap() noexcept {
        const std::uint64_t t = ticks();
        if (_n < _samples.size()) _samples[_n] = t - _last;
        ++_n;
        _last = t;
    }

    /// Sets p50_ns and p99_ns, and bytes_per_second when `bytes_per_call` is not 0.
    void report(benchmark::State& state, std::size_t bytes_per_call = 0) {
        if (bytes_per_call != 0) {
            state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes_per_call));
        }
        std::size_t n = std::min(_n, _samples.size());
        std::size_t first = 0;
        if (n > 1) first = 1;  // the first sample includes the loop's start-up
        if (n == first) return;
        auto b = _samples.begin() + static_cast<std::ptrdiff_t>(first);
        auto e = _samples.begin() + static_cast<std::ptrdiff_t>(n);
        const auto count = static_cast<std::size_t>(e - b);
        state.counters["p50_ns"] = percentile(b, e, count / 2);
        state.counters["p99_ns"] = percentile(b, e, std::min(count - 1, count * 99 / 100));
    }

private:
    std::vector<std::uint64_t> _samples;
    std::size_t _n = 0;
    std::uint64_t _last = 0;

    static double percentile(std::vector<std::uint64_t>::iterator b, std::vector<std::uint64_t>::iterator e,
                             std::size_t k) {
        std::nth_element(b, b + static_cast<std::ptrdiff_t>(k), e);
        return static_cast<double>(b[static_cast<std::ptrdiff_t>(k)]) * ns_per_tick();
    }
};

// ---- processes ----------------------------------------------------------------------
/// A forked child running `body` (exits 0 when it returns, 2 when it throws); killed
/// and reaped on destruction.
class forked {
public:
    explicit forked(const std::function<void()>& body) {
        _pid = ::fork();
        if (_pid < 0) std::abort();
        if (_pid == 0) {
            try {
                body();
            } catch (const std::exception& e) {
                std::fprintf(stderr, "bench_rpc server child: %s\n", e.what());
                ::_exit(2);
            } catch (...) {
                ::_exit(2);
            }
            ::_exit(0);
        }
    }
    forked(const forked&) = delete;
    forked& operator=(const forked&) = delete;
    ~forked() {
        ::kill(_pid, SIGKILL);
        int status = 0;
        while (::waitpid(_pid, &status, 0) < 0 && errno == EINTR) {
        }
    }

private:
    pid_t _pid = -1;
};

/// A name no other run uses: `prefix` + pid + a counter.
std::string unique_name(const char* prefix) {
    static int instance = 0;
    return prefix + std::to_string(::getpid()) + "-" + std::to_string(instance++);
}

// ---- payloads -----------------------------------------------------------------------
struct payload_size {
    const char* label;
    std::size_t bytes;  ///< 0: no-op
};
constexpr std::array<payload_size, 5> payload_sizes{{
    {"noop", 0},
    {"64B", 64},
    {"4KiB", 4096},
    {"64KiB", 64 * 1024},
    {"1MiB", 1024 * 1024},
}};
constexpr std::size_t max_payload = 1024 * 1024;

/// The client's payload bytes (a fixed pseudo-random pattern, max_payload long).
const std::vector<std::byte>& payload_source() {
    static const std::vector<std::byte> bytes = [] {
        std::vector<std::byte> v(max_payload);
        std::uint64_t x = 0x9e3779b97f4a7c15ULL;
        for (auto& b : v) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b = static_cast<std::byte>(x);
        }
        return v;
    }();
    return bytes;
}

/// What the server computes over a payload: reads every byte (two independent
/// reductions over 8-byte words, so the compiler vectorises it, plus the tail).
std::uint64_t checksum(const std::byte* p, std::size_t n) noexcept {
    std::uint64_t sum = 0;
    std::uint64_t x = 0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        sum += w;
        x ^= w;
    }
    for (; i < n; ++i) sum = sum * 31 + static_cast<std::uint8_t>(p[i]);
    return sum ^ std::rotl(x, 17) ^ n;
}

// ---- the 1,000-node tree ------------------------------------------------------------
constexpr std::size_t tree_nodes = 1000;

constexpr std::uint64_t node_value(std::uint64_t key) noexcept { return key * 0x9e3779b97f4a7c15ULL + 1; }

/// Builds a balanced binary search tree of keys [lo, hi) with `make(key, value)`, which
/// returns a node handle, and `link(node, left, right)`; returns the root (or `none`).
template <class Handle, class Make, class Link>
Handle build_tree(std::uint64_t lo, std::uint64_t hi, Handle none, Make& make, Link& link) {
    if (lo >= hi) return none;
    const std::uint64_t mid = lo + (hi - lo) / 2;
    const Handle n = make(mid, node_value(mid));
    const Handle l = build_tree(lo, mid, none, make, link);
    const Handle r = build_tree(mid + 1, hi, none, make, link);
    link(n, l, r);
    return n;
}

/// Walks a tree from `root` in pre-order with an explicit stack, visiting at most
/// tree_nodes nodes: `resolve(ptr)` gives the node (nullptr: a bad link). Returns the
/// checksum over every node's key and value, or nullopt for a bad link or too many
/// nodes (a cycle from a hostile peer). Node needs key, value, left, right.
template <class Ptr, class Resolve>
std::optional<std::uint64_t> walk_tree(Ptr root, Resolve&& resolve) {
    static thread_local std::array<Ptr, tree_nodes + 2> stack;  // once per thread, not per walk
    std::size_t top = 0;
    std::size_t visited = 0;
    std::uint64_t h = 0xcbf29ce484222325ULL;
    if (root) stack[top++] = root;
    while (top != 0) {
        const Ptr p = stack[--top];
        if (++visited > tree_nodes) return std::nullopt;
        const auto* node = resolve(p);
        if (node == nullptr) return std::nullopt;
        // Each field read once: a peer changing the node meanwhile changes only the sum.
        const std::uint64_t key = node->key;
        const std::uint64_t value = node->value;
        const Ptr left = node->left;
        const Ptr right = node->right;
        h = (h ^ key) * 0x100000001b3ULL;
        h = (h ^ value) * 0x100000001b3ULL;
        // top <= visited + 1 <= tree_nodes + 1 before these pushes, minus the pop.
        if (right) stack[top++] = right;
        if (left) stack[top++] = left;
    }
    return h;
}

/// A tree node in shared memory: links are shm_ptrs, valid in both processes.
struct shm_node {
    std::uint64_t key;
    std::uint64_t value;
    rpc::shm_ptr<shm_node> left;
    rpc::shm_ptr<shm_node> right;
};

/// The same node on a process's own heap, with raw pointers (the serialising baseline).
struct heap_node {
    std::uint64_t key = 0;
    std::uint64_t value = 0;
    heap_node* left = nullptr;
    heap_node* right = nullptr;

    template <class Archive>
    void serialize(Archive& ar, unsigned /*version*/) {
        ar & key;
        ar & value;
        ar & left;
        ar & right;
    }
};

void free_tree(heap_node* n) noexcept {
    if (n == nullptr) return;
    free_tree(n->left);
    free_tree(n->right);
    delete n;
}

/// The checksum every correct tree walk returns.
std::uint64_t expected_tree_sum() {
    static const std::uint64_t value = [] {
        std::vector<heap_node> nodes;
        nodes.reserve(tree_nodes);
        auto make = [&](std::uint64_t k, std::uint64_t v) {
            nodes.push_back(heap_node{k, v, nullptr, nullptr});
            return &nodes.back();
        };
        auto link = [](heap_node* n, heap_node* l, heap_node* r) {
            n->left = l;
            n->right = r;
        };
        heap_node* root = build_tree<heap_node*>(0, tree_nodes, nullptr, make, link);
        return walk_tree(root, [](heap_node* p) { return p; }).value_or(0);
    }();
    return value;
}

// ---- floor: cache-line ping-pong ----------------------------------------------------
/// One cache line in a MAP_SHARED anonymous mapping (inherited across fork).
struct shared_line {
    void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shared_line() {
        if (p == MAP_FAILED) std::abort();
    }
    ~shared_line() { ::munmap(p, 4096); }
    platform::wait_word& word(std::size_t i = 0) const { return static_cast<platform::wait_word*>(p)[i * 16]; }
};

constexpr std::uint32_t stop_value = 0xffffffffu;

// Parent writes odd values, child answers with the next even one, on one word.
void floor_cacheline(benchmark::State& state) {
    shared_line line;
    auto& w = line.word();
    w.store(0);
    forked child([&] {
        for (;;) {
            std::uint32_t v;
            // Plain loads, no pause: a PAUSE (~140 cycles on recent Intel) would delay
            // noticing the change and the floor would not be the floor.
            while (((v = w.load(std::memory_order_acquire)) & 1u) == 0) {
            }
            if (v == stop_value) return;
            w.store(v + 1, std::memory_order_release);
        }
    });
    round_trips rt(state);
    std::uint32_t v = 0;
    rt.start();
    for (auto _ : state) {
        w.store(v + 1, std::memory_order_release);
        while (w.load(std::memory_order_acquire) != v + 2) {
        }
        v += 2;
        rt.lap();
    }
    w.store(stop_value, std::memory_order_release);
    rt.report(state);
}

// ---- floor: futex ping-pong ---------------------------------------------------------
void floor_futex(benchmark::State& state) {
    shared_line line;
    auto& req = line.word(0);
    auto& rsp = line.word(1);
    req.store(0);
    rsp.store(0);
    const platform::shared_futex_wait futex{};
    forked child([&] {
        std::uint32_t seen = 0;
        for (;;) {
            futex.wait(req, seen);
            seen = req.load(std::memory_order_acquire);
            if (seen == stop_value) return;
            rsp.store(seen, std::memory_order_release);
            futex.wake_one(rsp);
        }
    });
    round_trips rt(state);
    std::uint32_t v = 0;
    rt.start();
    for (auto _ : state) {
        ++v;
        req.store(v, std::memory_order_release);
        futex.wake_one(req);
        futex.wait(rsp, v - 1);
        rt.lap();
    }
    req.store(stop_value, std::memory_order_release);
    futex.wake_one(req);
    rt.report(state);
}

// ---- pipes and Unix sockets ---------------------------------------------------------
bool write_all(int fd, const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n != 0) {
        const ssize_t r = ::write(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}
bool read_all(int fd, void* data, std::size_t n) {
    auto* p = static_cast<char*>(data);
    while (n != 0) {
        const ssize_t r = ::read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

// to_child/from_child: fds the parent writes/reads; child_in/child_out: the child's.
// bytes 0: one byte each way. Otherwise `bytes` to the child, its checksum back.
void fd_ping_pong(benchmark::State& state, std::size_t bytes, int to_child, int from_child, int child_in,
                  int child_out) {
    forked child([&] {
        std::vector<std::byte> buf(std::max<std::size_t>(bytes, 1));
        for (;;) {
            if (bytes == 0) {
                if (!read_all(child_in, buf.data(), 1) || !write_all(child_out, buf.data(), 1)) return;
                continue;
            }
            if (!read_all(child_in, buf.data(), bytes)) return;
            const std::uint64_t sum = checksum(buf.data(), bytes);
            if (!write_all(child_out, &sum, sizeof sum)) return;
        }
    });
    const std::byte* src = payload_source().data();
    const std::uint64_t expected = checksum(src, bytes);
    round_trips rt(state);
    rt.start();
    for (auto _ : state) {
        if (bytes == 0) {
            char c = 1;
            if (!write_all(to_child, &c, 1) || !read_all(from_child, &c, 1)) {
                state.SkipWithError("pipe/socket failed");
                break;
            }
        } else {
            std::uint64_t sum = 0;
            if (!write_all(to_child, src, bytes) || !read_all(from_child, &sum, sizeof sum)) {
                state.SkipWithError("pipe/socket failed");
                break;
            }
            if (sum != expected) {
                state.SkipWithError("wrong checksum");
                break;
            }
        }
        rt.lap();
    }
    rt.report(state, bytes);
}

void pipe_ping_pong(benchmark::State& state, std::size_t bytes) {
    int a[2];
    int b[2];
    if (::pipe(a) != 0 || ::pipe(b) != 0) std::abort();
    fd_ping_pong(state, bytes, a[1], b[0], a[0], b[1]);
    for (int fd : {a[0], a[1], b[0], b[1]}) ::close(fd);
}

void uds_ping_pong(benchmark::State& state, std::size_t bytes) {
    int s[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0) std::abort();
    fd_ping_pong(state, bytes, s[0], s[0], s[1], s[1]);
    ::close(s[0]);
    ::close(s[1]);
}

// ---- gRPC over a Unix socket --------------------------------------------------------
#if KEEL_BENCH_HAVE_GRPC
constexpr const char* grpc_serve_variable = "KEEL_BENCH_GRPC_SERVE";

class checksum_service final : public keel::bench::Checksum::Service {
    grpc::Status Call(grpc::ServerContext*, const keel::bench::Payload* in, keel::bench::Sum* out) override {
        const std::string& d = in->data();
        out->set_value(d.empty() ? 0 : checksum(reinterpret_cast<const std::byte*>(d.data()), d.size()));
        return grpc::Status::OK;
    }
};

constexpr int grpc_max_message = 8 << 20;

/// The server process: this binary exec'd with KEEL_BENCH_GRPC_SERVE=<address>. It
/// serves until the benchmark kills it, and never reaches main().
[[noreturn]] void serve_grpc(const char* address) {
    checksum_service service;
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials());
    builder.RegisterService(&service);
    builder.SetMaxReceiveMessageSize(grpc_max_message);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server) {
        std::fprintf(stderr, "bench_rpc: the gRPC server cannot listen on %s\n", address);
        ::_exit(3);
    }
    server->Wait();
    ::_exit(0);
}

[[maybe_unused]] const bool grpc_server_hook = [] {
    if (const char* address = std::getenv(grpc_serve_variable)) serve_grpc(address);
    return true;
}();

void grpc_call(benchmark::State& state, std::size_t bytes) {
    const std::string address = "unix-abstract:" + unique_name("keel-bench-grpc-");
    // Built before fork: between fork and exec the child only calls execle.
    std::string variable = std::string(grpc_serve_variable) + "=" + address;
    forked child([&] {
        char* env[] = {variable.data(), nullptr};
        ::execle("/proc/self/exe", "bench_rpc", static_cast<char*>(nullptr), env);
        ::_exit(4);
    });
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(grpc_max_message);
    args.SetMaxSendMessageSize(grpc_max_message);
    auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
        state.SkipWithError("the gRPC server did not come up");
        return;
    }
    auto stub = keel::bench::Checksum::NewStub(channel);
    keel::bench::Payload request;
    const std::byte* src = payload_source().data();
    if (bytes != 0) request.set_data(reinterpret_cast<const char*>(src), bytes);
    const std::uint64_t expected = bytes == 0 ? 0 : checksum(src, bytes);
    round_trips rt(state);
    rt.start();
    for (auto _ : state) {
        grpc::ClientContext context;
        keel::bench::Sum reply;
        const grpc::Status status = stub->Call(&context, request, &reply);
        if (!status.ok()) {
            state.SkipWithError(("gRPC call: " + status.error_message()).c_str());
            break;
        }
        if (reply.value() != expected) {
            state.SkipWithError("wrong checksum");
            break;
        }
        rt.lap();
    }
    rt.report(state, bytes);
}
#endif

// ---- Boost.Interprocess message_queue -----------------------------------------------
// Two queues of one message each (request: max_msg_size = the payload; reply: 8 bytes).
// message_queue is a named POSIX shared memory object (/dev/shm/<name>): the names are
// removed right after creation (both processes keep the mapping: the child inherits it
// by fork), so nothing is left in /dev/shm whichever process dies, and the benchmark
// checks that. Every message is copied into the queue and out again under the queue's
// process-shared mutex; the reply wait has a deadline so a dead child fails the run
// instead of hanging it.
void mq_ping_pong(benchmark::State& state, std::size_t bytes) {
    const std::string base = unique_name("keel-bench-mq-");
    const std::string req_name = base + "-req";
    const std::string rsp_name = base + "-rsp";
    const std::size_t msg = std::max<std::size_t>(bytes, 1);
    std::optional<bip::message_queue> req;
    std::optional<bip::message_queue> rsp;
    try {
        req.emplace(bip::create_only, req_name.c_str(), 1, msg);
        rsp.emplace(bip::create_only, rsp_name.c_str(), 1, sizeof(std::uint64_t));
    } catch (const bip::interprocess_exception& e) {
        bip::message_queue::remove(req_name.c_str());
        bip::message_queue::remove(rsp_name.c_str());
        state.SkipWithError((std::string("message_queue: ") + e.what()).c_str());
        return;
    }
    bip::message_queue::remove(req_name.c_str());
    bip::message_queue::remove(rsp_name.c_str());
    for (const auto& n : {req_name, rsp_name}) {
        if (::access(("/dev/shm/" + n).c_str(), F_OK) == 0) {
            state.SkipWithError(("message_queue left /dev/shm/" + n).c_str());
            return;
        }
    }
    forked child([&] {
        std::vector<std::byte> buf(msg);
        for (;;) {
            bip::message_queue::size_type got = 0;
            unsigned prio = 0;
            req->receive(buf.data(), buf.size(), got, prio);
            const std::uint64_t sum = bytes == 0 ? 1 : checksum(buf.data(), got);
            rsp->send(&sum, sizeof sum, 0);
        }
    });
    const std::byte* src = payload_source().data();
    const std::uint64_t expected = bytes == 0 ? 1 : checksum(src, bytes);
    round_trips rt(state);
    rt.start();
    for (auto _ : state) {
        const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
        std::uint64_t sum = 0;
        bip::message_queue::size_type got = 0;
        unsigned prio = 0;
        if (!req->timed_send(src, msg, 0, deadline) || !rsp->timed_receive(&sum, sizeof sum, got, prio, deadline)) {
            state.SkipWithError("message_queue: timed out (server dead?)");
            break;
        }
        if (sum != expected) {
            state.SkipWithError("wrong checksum");
            break;
        }
        rt.lap();
    }
    rt.report(state, bytes);
}

// ---- Boost.Serialization of the tree over a Unix socket -----------------------------
#if KEEL_BENCH_HAVE_SERIALIZATION
/// An output streambuf appending to a std::vector<char> (reused across calls).
class vector_out : public std::streambuf {
public:
    explicit vector_out(std::vector<char>& v) : _v(&v) {}

protected:
    int_type overflow(int_type c) override {
        if (c != traits_type::eof()) _v->push_back(traits_type::to_char_type(c));
        return traits_type::not_eof(c);
    }
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        _v->insert(_v->end(), s, s + n);
        return n;
    }

private:
    std::vector<char>* _v;
};

/// An input streambuf over bytes already received.
class bytes_in : public std::streambuf {
public:
    bytes_in(char* p, std::size_t n) { setg(p, p, p + n); }
};

constexpr std::size_t max_serialised = std::size_t{16} << 20;

// The client serialises the tree (built once on its heap) in every call and sends
// [u64 length][archive]; the server reads it, deserialises into new heap nodes, walks
// them, answers the checksum and then frees them.
void serial_uds_tree(benchmark::State& state) {
    int s[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0) std::abort();
    const int client_fd = s[0];
    const int server_fd = s[1];
    {
        forked child([&] {
            std::vector<char> in;
            for (;;) {
                std::uint64_t len = 0;
                if (!read_all(server_fd, &len, sizeof len) || len > max_serialised) return;
                in.resize(len);
                if (!read_all(server_fd, in.data(), len)) return;
                bytes_in buf(in.data(), in.size());
                heap_node* root = nullptr;
                {
                    boost::archive::binary_iarchive ia(buf);
                    ia >> root;
                }
                const std::uint64_t sum = walk_tree(root, [](heap_node* p) { return p; }).value_or(0);
                const bool sent = write_all(server_fd, &sum, sizeof sum);
                free_tree(root);  // after the reply: off the baseline's critical path
                if (!sent) return;
            }
        });
        auto make = [](std::uint64_t k, std::uint64_t v) { return new heap_node{k, v, nullptr, nullptr}; };
        auto link = [](heap_node* n, heap_node* l, heap_node* r) {
            n->left = l;
            n->right = r;
        };
        heap_node* root = build_tree<heap_node*>(0, tree_nodes, nullptr, make, link);
        const std::uint64_t expected = expected_tree_sum();
        std::vector<char> out;
        out.reserve(64 * 1024);
        round_trips rt(state);
        rt.start();
        for (auto _ : state) {
            out.assign(sizeof(std::uint64_t), 0);
            {
                vector_out buf(out);
                boost::archive::binary_oarchive oa(buf);
                const heap_node* const r = root;
                oa << r;
            }
            const std::uint64_t len = out.size() - sizeof(std::uint64_t);
            std::memcpy(out.data(), &len, sizeof len);
            std::uint64_t sum = 0;
            if (!write_all(client_fd, out.data(), out.size()) || !read_all(client_fd, &sum, sizeof sum)) {
                state.SkipWithError("socket failed (server dead?)");
                break;
            }
            if (sum != expected) {
                state.SkipWithError("wrong checksum");
                break;
            }
            rt.lap();
        }
        rt.report(state);
        state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(tree_nodes));
        state.counters["serialised_bytes"] = static_cast<double>(out.size() - sizeof(std::uint64_t));
        free_tree(root);
    }
    ::close(s[0]);
    ::close(s[1]);
}
#endif

// ---- keel::rpc ----------------------------------------------------------------------
struct blob64 {
    std::array<std::byte, 64> bytes;
};
using noop = rpc::method<"noop", void()>;
using sum64 = rpc::method<"sum64", std::uint64_t(blob64)>;
using sum_shm = rpc::method<"sum_shm", std::uint64_t(rpc::shm_ptr<std::byte>, std::uint64_t)>;
using tree_sum = rpc::method<"tree_sum", std::uint64_t(rpc::shm_ptr<shm_node>)>;
using bench_service = rpc::service<"bench", noop, sum64, sum_shm, tree_sum>;
using bench_client = rpc::client<bench_service>;

/// The client's arena (its shared heap): room for a 1 MiB payload and the tree.
constexpr std::size_t keel_arena_bytes = std::size_t{4} << 20;

template <class T>
struct shm_block {
    T* ptr = nullptr;     ///< where the client writes
    rpc::shm_ptr<T> shm;  ///< what it passes to the server
};

/// Where the client puts call data in the connection's shared memory, and the shm_ptr
/// the server resolves: the ONE place that knows how that memory is handed out (the
/// client's shared heap, client.heap(), in its own arena). allocate() is the only
/// call that says how; rewind() frees everything allocated so far (also on
/// destruction).
class shm_space {
public:
    explicit shm_space(bench_client& c) : _heap(&c.heap()) { _blocks.reserve(tree_nodes + 16); }
    shm_space(const shm_space&) = delete;
    shm_space& operator=(const shm_space&) = delete;
    ~shm_space() { rewind(); }

    /// `count` T's aligned to `align` (at least alignof(T)); {nullptr, null} when the
    /// heap cannot serve it.
    template <class T>
    shm_block<T> allocate(std::size_t count, std::size_t align = alignof(T)) {
        if (count > SIZE_MAX / sizeof(T)) return {};
        auto p = _heap->allocate(count * sizeof(T), std::max(align, alignof(T)));
        if (!p) return {};
        _blocks.push_back(*p);
        const rpc::shm_ptr<T> shm = rpc::shm_cast<T>(*p);
        auto at = _heap->resolve(shm, count);
        if (!at) return {};
        return {*at, shm};
    }

    void rewind() noexcept {
        for (const auto b : _blocks) (void)_heap->deallocate(b);
        _blocks.clear();
    }

private:
    rpc::shared_heap* _heap;
    std::vector<rpc::shm_ptr<std::byte>> _blocks;
};

/// Builds the tree in shared memory through `space`; the root, or null when it ran out.
rpc::shm_ptr<shm_node> build_shm_tree(shm_space& space) {
    bool ok = true;
    auto make = [&](std::uint64_t k, std::uint64_t v) {
        const shm_block<shm_node> b = space.allocate<shm_node>(1);
        if (b.ptr == nullptr) {
            ok = false;
            return b;
        }
        *b.ptr = shm_node{k, v, {}, {}};
        return b;
    };
    auto link = [](const shm_block<shm_node>& n, const shm_block<shm_node>& l, const shm_block<shm_node>& r) {
        if (n.ptr == nullptr) return;
        n.ptr->left = l.shm;
        n.ptr->right = r.shm;
    };
    const shm_block<shm_node> root = build_tree<shm_block<shm_node>>(0, tree_nodes, shm_block<shm_node>{}, make, link);
    return ok ? root.shm : rpc::shm_ptr<shm_node>{};
}

void serve_keel(const std::string& name, rpc::wait_mode mode) {
    rpc::server_options o;
    o.wait = mode;
    rpc::server<bench_service> srv(name, o);
    srv.handle<noop>([] {});
    srv.handle<sum64>([](const blob64& b) { return checksum(b.bytes.data(), b.bytes.size()); });
    srv.handle<sum_shm>([](rpc::call_context& ctx, rpc::shm_ptr<std::byte> p, std::uint64_t n) {
        auto bytes = ctx.resolve(p, n);
        if (!bytes) throw std::runtime_error("sum_shm: " + bytes.error().message());
        return checksum(*bytes, n);
    });
    srv.handle<tree_sum>([](rpc::call_context& ctx, rpc::shm_ptr<shm_node> root) {
        const auto sum = walk_tree(root, [&](rpc::shm_ptr<shm_node> p) -> const shm_node* {
            auto n = ctx.resolve(p);
            return n ? *n : nullptr;
        });
        if (!sum) throw std::runtime_error("tree_sum: bad link or more than 1,000 nodes");
        return *sum;
    });
    srv.run(std::stop_token{});  // until killed
}

/// A client of the server just forked on `name`, both sides waiting in `mode`.
keel::result<bench_client> connect_bench_client(const std::string& name, rpc::wait_mode mode) {
    rpc::client_options o;
    o.wait = mode;
    o.wait_for_listener = true;
    o.connect_timeout = std::chrono::seconds(10);
    o.arena_bytes = keel_arena_bytes;
    return bench_client::connect(name, o);
}

enum class keel_case { payload, tree, tree_build };

void keel_call(benchmark::State& state, keel_case what, std::size_t bytes, rpc::wait_mode mode) {
    const std::string name = unique_name("@keel-rpc-bench-");
    forked child([&] { serve_keel(name, mode); });
    auto c = connect_bench_client(name, mode);
    if (!c) {
        state.SkipWithError(("connect: " + rpc::error_detail()).c_str());
        return;
    }
    auto fail = [&](const char* what_failed, const std::error_code& ec) {
        state.SkipWithError((std::string(what_failed) + ": " + ec.message() + " " + rpc::error_detail()).c_str());
    };
    shm_space space(*c);
    const std::byte* src = payload_source().data();
    std::uint64_t expected = checksum(src, bytes);
    shm_block<std::byte> buffer;
    rpc::shm_ptr<shm_node> root;
    if (what == keel_case::payload && bytes > sizeof(blob64)) {
        buffer = space.allocate<std::byte>(bytes, 64);
        if (buffer.ptr == nullptr) {
            state.SkipWithError("no room in shared memory for the payload");
            return;
        }
    }
    if (what != keel_case::payload) {
        expected = expected_tree_sum();
        root = build_shm_tree(space);
        if (!root) {
            state.SkipWithError("no room in shared memory for the tree");
            return;
        }
    }
    blob64 b{};
    std::memcpy(b.bytes.data(), src, sizeof b.bytes);
    round_trips rt(state);
    rt.start();
    for (auto _ : state) {
        std::uint64_t sum = expected;
        if (what == keel_case::payload && bytes == 0) {
            if (auto r = c->call<noop>(); !r) {
                fail("call", r.error());
                break;
            }
        } else if (what == keel_case::payload && bytes <= sizeof(blob64)) {
            auto r = c->call<sum64>(b);
            if (!r) {
                fail("call", r.error());
                break;
            }
            sum = *r;
        } else if (what == keel_case::payload) {
            std::memcpy(buffer.ptr, src, bytes);  // the client writes the payload every call
            auto r = c->call<sum_shm>(buffer.shm, std::uint64_t{bytes});
            if (!r) {
                fail("call", r.error());
                break;
            }
            sum = *r;
        } else {
            if (what == keel_case::tree_build) {
                space.rewind();
                root = build_shm_tree(space);
            }
            auto r = c->call<tree_sum>(root);
            if (!r) {
                fail("call", r.error());
                break;
            }
            sum = *r;
        }
        if (sum != expected) {
            state.SkipWithError("wrong checksum");
            break;
        }
        rt.lap();
    }
    rt.report(state, what == keel_case::payload ? bytes : 0);
    if (what != keel_case::payload) {
        state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(tree_nodes));
    }
}

// ---- keel::rpc safety modes --------------------------------------------------------
/// keel/modes/<mode>/<size>/mode:<w>: a call in safety mode `safety`, both sides in
/// wait mode w (1 busy_poll, 3 futex: futex stays meaningful when the two processes
/// must share a core); noop or a 4 KiB payload in a block from
/// heap().allocate_sealable() (the same block in every mode), rewritten by the client
/// before every call and checksummed by the handler through call_context::resolve
/// (copy: from the server's private copy; sealed: in place, with the client's page
/// read-only for the call). Sandboxed is skipped, with the probe's reason, where the
/// CPU has no protection keys.
void keel_mode_call(benchmark::State& state, std::size_t bytes, rpc::safety_mode safety, rpc::wait_mode wait) {
    if (safety == rpc::safety_mode::sandboxed) {
        if (const auto status = rpc::sandbox::probe(); !status.available) {
            state.SkipWithError(("sandboxed: " + status.reason).c_str());
            return;
        }
    }
    const std::string name = unique_name("@keel-rpc-bench-modes-");
    forked child([&] { serve_keel(name, wait); });
    auto c = connect_bench_client(name, wait);
    if (!c) {
        state.SkipWithError(("connect: " + rpc::error_detail()).c_str());
        return;
    }
    const std::byte* src = payload_source().data();
    const std::uint64_t expected = checksum(src, bytes);
    auto block = c->heap().allocate_sealable(std::max<std::size_t>(bytes, 1));
    if (!block) {
        state.SkipWithError("no room in shared memory for the payload");
        return;
    }
    std::byte* buffer = *c->heap().resolve(*block, bytes);
    const rpc::call_options opts{.safety = safety};
    round_trips rt(state);
    rt.start();
    for (auto _ : state) {
        std::uint64_t sum = expected;
        if (bytes == 0) {
            if (auto r = c->call_with<noop>(opts); !r) {
                state.SkipWithError(("call: " + r.error().message() + " " + rpc::error_detail()).c_str());
                break;
            }
        } else {
            std::memcpy(buffer, src, bytes);
            auto r = c->call_with<sum_shm>(opts, *block, std::uint64_t{bytes});
            if (!r) {
                state.SkipWithError(("call: " + r.error().message() + " " + rpc::error_detail()).c_str());
                break;
            }
            sum = *r;
        }
        if (sum != expected) {
            state.SkipWithError("wrong checksum");
            break;
        }
        rt.lap();
    }
    rt.report(state, bytes);
    (void)c->heap().deallocate(*block);
}

// ---- registration -------------------------------------------------------------------
// Explicit names (see the top of the file); real time, since the work spans two processes.
bool register_all() {
    benchmark::RegisterBenchmark("floor/cacheline", floor_cacheline)->UseRealTime();
    benchmark::RegisterBenchmark("floor/futex", floor_futex)->UseRealTime();
    for (const auto& s : payload_sizes) {
        benchmark::RegisterBenchmark((std::string("pipe/") + s.label).c_str(), pipe_ping_pong, s.bytes)->UseRealTime();
    }
    for (const auto& s : payload_sizes) {
        benchmark::RegisterBenchmark((std::string("uds/") + s.label).c_str(), uds_ping_pong, s.bytes)->UseRealTime();
    }
    for (const auto& s : payload_sizes) {
        benchmark::RegisterBenchmark((std::string("mq/") + s.label).c_str(), mq_ping_pong, s.bytes)->UseRealTime();
    }
    constexpr std::array modes{rpc::wait_mode::busy_poll, rpc::wait_mode::hybrid, rpc::wait_mode::futex};
    for (const auto& s : payload_sizes) {
        for (auto m : modes) {
            const std::string n =
                std::string("keel/") + s.label + "/mode:" + std::to_string(static_cast<unsigned>(m));
            benchmark::RegisterBenchmark(n.c_str(), keel_call, keel_case::payload, s.bytes, m)->UseRealTime();
        }
    }
    for (auto safety : {rpc::safety_mode::relaxed, rpc::safety_mode::copy, rpc::safety_mode::sealed,
                        rpc::safety_mode::sandboxed}) {
        for (const auto& s : {payload_sizes[0], payload_sizes[2]}) {  // noop, 4KiB
            for (auto m : {rpc::wait_mode::busy_poll, rpc::wait_mode::futex}) {
                const std::string n = std::string("keel/modes/") + std::string(rpc::to_string(safety)) + "/" +
                                      s.label + "/mode:" + std::to_string(static_cast<unsigned>(m));
                benchmark::RegisterBenchmark(n.c_str(), keel_mode_call, s.bytes, safety, m)->UseRealTime();
            }
        }
    }
#if KEEL_BENCH_HAVE_SERIALIZATION
    benchmark::RegisterBenchmark("serial_uds/tree", serial_uds_tree)->UseRealTime();
#endif
#if KEEL_BENCH_HAVE_GRPC
    // Last: once this process has run gRPC, later benchmarks would fork a process with
    // gRPC's state in it (gRPC's own children exec at once).
    for (const auto& s : payload_sizes) {
        benchmark::RegisterBenchmark((std::string("grpc/") + s.label).c_str(), grpc_call, s.bytes)->UseRealTime();
    }
#endif
    for (auto what : {keel_case::tree, keel_case::tree_build}) {
        for (auto m : modes) {
            const std::string n = std::string(what == keel_case::tree ? "keel/tree" : "keel/tree_build") +
                                  "/mode:" + std::to_string(static_cast<unsigned>(m));
            benchmark::RegisterBenchmark(n.c_str(), keel_call, what, std::size_t{0}, m)->UseRealTime();
        }
    }
    return true;
}
[[maybe_unused]] const bool registered = register_all();

}  // namespace
