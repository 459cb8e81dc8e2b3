// keel-tour, rpc: calls between two processes over keel's shared-memory RPC, in each
// safety mode and two wait modes, next to the same request over a Unix-domain socket.
// The server is a second process: the tour itself, re-executed as
// `keel-tour --child rpc ...` (the tour already runs threads, so it does not fork).
// Every call sends 4 KiB that the server reads in full and answers with their digest,
// which the caller checks.
#include "console.hpp"
#include "section_load_support.hpp"
#include "tour.hpp"

#include <keel/rpc.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

extern char** environ;

namespace keel_tour {
namespace {

namespace rpc = keel::rpc;
using seconds = std::chrono::duration<double>;

constexpr std::size_t payload_bytes = 4096;
constexpr std::chrono::seconds reply_timeout{5};

using sum_payload =
    rpc::method<"sum_payload", std::uint64_t(rpc::shm_ptr<std::byte>, std::uint64_t)>;
using tour_service = rpc::service<"keel_tour", sum_payload>;
using tour_client = rpc::client<tour_service>;

/// What the server computes: reads every byte (FNV-1a over 8-byte words, then the tail).
std::uint64_t digest(const std::byte* p, std::size_t n) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    for (; i < n; ++i)
        h = (h ^ static_cast<std::uint8_t>(p[i])) * 0x100000001b3ULL;
    return h;
}

std::vector<std::byte> make_payload() {
    std::vector<std::byte> v(payload_bytes);
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (auto& b : v) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b = static_cast<std::byte>(x);
    }
    return v;
}

/// Sends all of it on a socket; false when the peer is gone (no SIGPIPE) or too slow.
bool send_all(int fd, const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n != 0) {
        const ssize_t r = ::send(fd, p, n, MSG_NOSIGNAL);
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
        if (r <= 0) return false;  // EOF (server gone), error or SO_RCVTIMEO
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

std::optional<rpc::wait_mode> wait_mode_named(const std::string& name) {
    for (auto m : {rpc::wait_mode::busy_poll, rpc::wait_mode::hybrid, rpc::wait_mode::futex}) {
        if (rpc::to_string(m) == name) return m;
    }
    return std::nullopt;
}

// ---- the server process ----------------------------------------------------------------

/// The descriptor number the Unix-socket server finds its end of the socket pair at.
constexpr int child_socket_fd = 3;

/// `keel-tour --child rpc keel <parent pid> <socket name> <wait mode>`: a keel::rpc
/// server until killed. `... uds <parent pid>`: answers requests on child_socket_fd
/// until the socket closes. Either dies with its parent.
int rpc_child(const std::vector<std::string>& args) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (args.size() < 2 || std::to_string(::getppid()) != args[1]) {
        std::fprintf(
            stderr,
            "keel-tour --child rpc: wants keel|uds <parent pid> ... (or the parent is gone)\n");
        return 2;
    }
    try {
        if (args[0] == "keel" && args.size() == 4) {
            const auto mode = wait_mode_named(args[3]);
            if (!mode) throw std::invalid_argument("unknown wait mode '" + args[3] + "'");
            rpc::server_options so;
            so.wait = *mode;
            rpc::server<tour_service> server(args[2], so);
            server.handle<sum_payload>(
                [](rpc::call_context& ctx, rpc::shm_ptr<std::byte> p, std::uint64_t n) {
                    auto bytes = ctx.resolve(p, n);
                    if (!bytes) throw std::runtime_error("sum_payload: " + bytes.error().message());
                    return digest(*bytes, n);
                });
            server.run(std::stop_token{});  // until the tour kills it
            return 0;
        }
        if (args[0] == "uds" && args.size() == 2) {
            std::vector<std::byte> buf(payload_bytes);
            while (read_all(child_socket_fd, buf.data(), buf.size())) {
                const std::uint64_t sum = digest(buf.data(), buf.size());
                if (!send_all(child_socket_fd, &sum, sizeof sum)) return 1;
            }
            return 0;
        }
        throw std::invalid_argument("unknown request '" + args[0] + "'");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "keel-tour --child rpc: %s\n", e.what());
        return 1;
    }
}

/// The server process, spawned from the tour's own executable; killed and reaped when
/// this goes out of scope.
class server_process {
public:
    /// `socket_fd` >= 0: handed to the child as child_socket_fd.
    server_process(const std::filesystem::path& self, const std::vector<std::string>& args,
                   int socket_fd = -1) {
        std::vector<std::string> argv_strings{self.string(), "--child", "rpc"};
        argv_strings.insert(argv_strings.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& s : argv_strings)
            argv.push_back(s.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        // A copy above child_socket_fd: dup2 onto itself would keep close-on-exec.
        int spare = -1;
        if (socket_fd >= 0) {
            spare = ::fcntl(socket_fd, F_DUPFD_CLOEXEC, child_socket_fd + 1);
            if (spare < 0)
                throw std::system_error(errno, std::system_category(),
                                        "rpc: fcntl(F_DUPFD_CLOEXEC)");
            ::posix_spawn_file_actions_adddup2(&actions, spare, child_socket_fd);
        }
        const int err = ::posix_spawn(&_pid, self.c_str(), &actions, nullptr, argv.data(), environ);
        ::posix_spawn_file_actions_destroy(&actions);
        if (spare >= 0) ::close(spare);
        if (err != 0)
            throw std::system_error(err, std::system_category(), "rpc: spawning " + self.string());
    }
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;
    ~server_process() {
        if (!_reaped) {
            ::kill(_pid, SIGKILL);
            int status = 0;
            while (::waitpid(_pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
    }

    /// "... is still running", "... exited with status S", "... was killed by signal S".
    /// Called after a failure: gives a dying server half a second to finish exiting.
    std::string fate() {
        const std::string who = "the server process (pid " + std::to_string(_pid) + ")";
        for (int i = 0; i < 50 && !_reaped; ++i) {
            int status = 0;
            if (::waitpid(_pid, &status, WNOHANG) == _pid) {
                _reaped = true;
                _status = status;
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        if (!_reaped) return who + " is still running";
        if (WIFSIGNALED(_status))
            return who + " was killed by signal " + std::to_string(WTERMSIG(_status));
        return who + " exited with status " + std::to_string(WEXITSTATUS(_status));
    }

private:
    pid_t _pid = -1;
    bool _reaped = false;
    int _status = 0;
};

// ---- measuring -------------------------------------------------------------------------

struct latency {
    double median_us = 0;
    double p99_us = 0;
    double calls_per_s = 0;
};

/// Times call() one round trip at a time for `length` (after 50 ms of untimed warm-up).
template <class Call>
latency measure(seconds length, Call&& call) {
    using clock = std::chrono::steady_clock;
    const auto warm_until = clock::now() + std::chrono::milliseconds(50);
    while (clock::now() < warm_until)
        call();
    std::vector<std::uint32_t> ns;
    ns.reserve(1 << 20);
    const auto start = clock::now();
    const auto end = start + std::chrono::duration_cast<clock::duration>(length);
    auto t0 = start;
    while (t0 < end) {
        call();
        const auto t1 = clock::now();
        ns.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count(), UINT32_MAX)));
        t0 = t1;
    }
    latency l;
    l.calls_per_s = static_cast<double>(ns.size()) / seconds(t0 - start).count();
    std::sort(ns.begin(), ns.end());
    l.median_us = ns[ns.size() / 2] / 1e3;
    l.p99_us = ns[std::min(ns.size() - 1, ns.size() * 99 / 100)] / 1e3;
    return l;
}

std::vector<std::string> latency_row(const std::string& mode, const std::string& wait,
                                     const latency& l) {
    return {mode, wait, format_number(l.median_us), format_number(l.p99_us),
            format_number(l.calls_per_s)};
}

struct keel_rows {
    std::vector<std::vector<std::string>> rows;
    std::optional<latency> relaxed, copy;
};

/// One server process in wait mode `wait`, one client in the same mode: a 4 KiB call in
/// each safety mode (sandboxed only where the CPU has protection keys).
keel_rows keel_calls(const options& o, progress& p, rpc::wait_mode wait, seconds length,
                     const std::vector<std::byte>& payload, const std::string& sandbox_missing) {
    const std::string wait_name(rpc::to_string(wait));
    static int instance = 0;
    const std::string name =
        "@keel-tour-rpc-" + std::to_string(::getpid()) + "-" + std::to_string(instance++);
    p.step("rpc: starting the server process (" + wait_name + ")");
    server_process server(o.self, {"keel", std::to_string(::getpid()), name, wait_name});
    rpc::client_options co;
    co.wait = wait;
    co.wait_for_listener = true;
    co.connect_timeout = std::chrono::seconds(10);
    auto client = tour_client::connect(name, co);
    if (!client) {
        throw std::runtime_error(
            "rpc: cannot connect to the server process: " + client.error().message() + " " +
            rpc::error_detail() + "; " + server.fate());
    }
    auto block = client->heap().allocate_sealable(payload_bytes);
    if (!block) throw std::runtime_error("rpc: no room in shared memory for the payload");
    std::byte* buffer = *client->heap().resolve(*block, payload_bytes);
    const std::uint64_t expected = digest(payload.data(), payload.size());

    keel_rows out;
    for (auto safety : {rpc::safety_mode::relaxed, rpc::safety_mode::copy, rpc::safety_mode::sealed,
                        rpc::safety_mode::sandboxed}) {
        const std::string safety_name(rpc::to_string(safety));
        if (safety == rpc::safety_mode::sandboxed && !sandbox_missing.empty())
            continue;  // said once, in run_rpc
        p.step("rpc: 4 KiB calls, " + safety_name + ", " + wait_name);
        const rpc::call_options opts{.timeout = reply_timeout, .safety = safety};
        const latency l = measure(length, [&] {
            std::memcpy(buffer, payload.data(), payload_bytes);  // a fresh request each call
            auto r = client->call_with<sum_payload>(opts, *block, std::uint64_t{payload_bytes});
            if (!r) {
                throw std::runtime_error("rpc: " + safety_name +
                                         " call failed: " + r.error().message() + " " +
                                         rpc::error_detail() + "; " + server.fate());
            }
            if (*r != expected)
                throw std::runtime_error("rpc: " + safety_name + " call returned a wrong digest");
        });
        out.rows.push_back(latency_row(safety_name, wait_name, l));
        if (safety == rpc::safety_mode::relaxed) out.relaxed = l;
        if (safety == rpc::safety_mode::copy) out.copy = l;
    }
    (void)client->heap().deallocate(*block);
    return out;
}

/// The same request over a Unix stream socket pair to a server process: 4 KiB written,
/// the 8-byte digest read back.
latency unix_socket_calls(const options& o, progress& p, seconds length,
                          const std::vector<std::byte>& payload) {
    p.step("rpc: 4 KiB requests over a Unix socket");
    int s[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) != 0) {
        throw std::system_error(errno, std::system_category(), "rpc: socketpair");
    }
    struct fds {
        int a, b;
        ~fds() {
            ::close(a);
            if (b >= 0) ::close(b);
        }
    } guard{s[0], s[1]};
    server_process server(o.self, {"uds", std::to_string(::getpid())}, s[1]);
    ::close(s[1]);  // the server's end lives only in the server: its death is an EOF here
    guard.b = -1;
    const timeval limit{static_cast<time_t>(reply_timeout.count()), 0};
    ::setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(s[0], SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    const std::uint64_t expected = digest(payload.data(), payload.size());
    return measure(length, [&] {
        std::uint64_t sum = 0;
        errno = 0;
        if (!send_all(s[0], payload.data(), payload.size()) || !read_all(s[0], &sum, sizeof sum)) {
            throw std::runtime_error(
                "rpc: the Unix-socket server stopped answering (" +
                std::string(errno == EAGAIN ? "no reply within 5 s" : "connection closed") + "); " +
                server.fate());
        }
        if (sum != expected)
            throw std::runtime_error("rpc: the Unix-socket server returned a wrong digest");
    });
}

section_result run_rpc(const options& o, progress& p) {
    if (o.self.empty())
        throw std::runtime_error("rpc: the tour's own path is unknown, cannot start a server");
    const seconds length(1.5 * o.scale);
    const std::string load = load_average_now();
    const std::vector<std::byte> payload = make_payload();
    const auto probe = rpc::sandbox::probe();
    const std::string sandbox_missing = probe.available ? "" : probe.reason;

    // One server at a time: a busy-polling server keeps a CPU busy until it is killed.
    keel_rows busy = keel_calls(o, p, rpc::wait_mode::busy_poll, length, payload, sandbox_missing);
    keel_rows hybrid = keel_calls(o, p, rpc::wait_mode::hybrid, length, payload, sandbox_missing);
    const latency uds = unix_socket_calls(o, p, length, payload);

    section_result out;
    table t{"4 KiB request, 8-byte reply, between two processes (each row " +
                format_number(length.count()) + " s)",
            {"transport / safety mode", "wait", "median µs", "p99 µs", "calls/s"},
            {}};
    for (auto& r : busy.rows)
        t.rows.push_back(std::move(r));
    for (auto& r : hybrid.rows)
        t.rows.push_back(std::move(r));
    if (!sandbox_missing.empty())
        t.rows.push_back({"sandboxed", "not run: no MPK here", "", "", ""});
    t.rows.push_back(latency_row("Unix socket (write + read)", "blocking read", uds));
    for (auto& r : t.rows) {
        if (r[0] != "Unix socket (write + read)") r[0] = "keel rpc, " + r[0];
    }
    out.tables.push_back(std::move(t));

    out.lines.push_back(
        "The server is a second process (this program re-executed); the 4 KiB sit in the "
        "client's shared heap, rewritten before every call, and the handler reads them all "
        "(relaxed: in place; copy: from a private copy; sealed: with the client's page made "
        "read-only for the call). The Unix socket carries the same 4 KiB each way through the "
        "kernel.");
    out.lines.push_back(
        "busy_poll: both sides spin while they wait, so the two processes keep both of this "
        "machine's CPUs busy, and a call completes quickly only while both are on a CPU: with "
        "other programs running, calls wait for the scheduler (milliseconds). hybrid (keel's "
        "default) spins about 1 µs and then sleeps on a futex; each wake-up is a system call "
        "and a scheduler hand-off.");
    out.lines.push_back(
        "calls/s counts every call of the row's time, so it also shows the slow calls the "
        "median hides (a side descheduled by other programs on these CPUs" +
        (load.empty() ? std::string(")") : "; " + load + " when the section began)") + ".");
    if (!sandbox_missing.empty())
        out.lines.push_back("sandboxed: not run here: " + sandbox_missing + ".");
    if (!busy.relaxed || !busy.copy || !hybrid.relaxed || !hybrid.copy) {
        throw std::runtime_error("rpc: a relaxed or copy row is missing");
    }
    out.summary.push_back({"4 KiB RPC between processes, median, defaults (relaxed, hybrid wait)",
                           "µs", "keel rpc", hybrid.relaxed->median_us, "Unix socket",
                           uds.median_us, false});
    out.summary.push_back({"4 KiB RPC between processes, median, copy mode, hybrid wait", "µs",
                           "keel rpc", hybrid.copy->median_us, "Unix socket", uds.median_us,
                           false});
    out.summary.push_back({"4 KiB RPC between processes, median, relaxed, busy-poll wait", "µs",
                           "keel rpc", busy.relaxed->median_us, "Unix socket", uds.median_us,
                           false});
    return out;
}

}  // namespace
}  // namespace keel_tour

KEEL_TOUR_SECTION(50, "rpc", "Shared-memory RPC between processes", keel_tour::run_rpc,
                  keel_tour::rpc_child);
