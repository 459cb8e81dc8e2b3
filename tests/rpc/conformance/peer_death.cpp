// Peer death: SIGKILL of either side is noticed by the other within a bound; the
// pidfd and the socket-hang-up fallback; a stale socket file from a killed server is
// reused, a live one is not; nothing is left in /dev/shm or the file system; a tree
// built with shm_ptr by one process is walked by the other.
#include "../rpc_test_support.hpp"

#include <keel/rpc.hpp>

#include <catch2/catch.hpp>
#include <catch_result.hpp>
#include <refuse_syscalls.hpp>
#include <temp_dir.hpp>

#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

namespace rpc = keel::rpc;
using keel::test::child;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t schema = 77;

rpc::listener_options server_options() {
    rpc::listener_options o;
    o.service = "tree";
    o.schema_hash = schema;
    o.arena_bytes = 1 << 20;
    return o;
}

rpc::connect_options client_options() {
    rpc::connect_options o;
    o.service = "tree";
    o.schema_hash = schema;
    o.wait_for_listener = true;
    o.connect_timeout = 10s;
    o.handshake_timeout = 10s;
    o.arena_bytes = 256 * 1024;
    return o;
}

// Kills the peer process and checks this side notices within the bound.
void check_death_noticed(rpc::connection& c, child& peer) {
    CHECK(c.peer_alive());
    CHECK(c.wait_peer_exit(1ms).error() == std::errc::timed_out);
    peer.kill(SIGKILL);
    REQUIRE(c.wait_peer_exit(10s));
    CHECK_FALSE(c.peer_alive());
    const auto w = c.peer_watch_fd();
    // The socket hangs up as the killed process's fds close, a moment before its
    // pidfd turns readable: wait for the watch fd too, with the same bound.
    pollfd p{w.fd, w.events, 0};
    CHECK(::poll(&p, 1, 10000) == 1);
    (void)peer.join();
}

std::set<std::string> dev_shm() {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) names.insert(e.path().string());
    return names;
}

std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

struct node {
    std::uint64_t value;
    rpc::shm_ptr<node> left;
    rpc::shm_ptr<node> right;
};

}  // namespace

TEST_CASE("SIGKILL of the client is noticed by the server", "[rpc][peer_death]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("s.sock");
    rpc::listener server(path, server_options());
    child client([&]() -> std::string {
        auto c = rpc::connect(path, client_options());
        if (!c) return "connect failed: " + rpc::error_detail();
        for (;;) ::pause();
    });
    auto conn = server.accept(10s);
    REQUIRE(conn);
    CHECK(conn->watch() == rpc::peer_watch::pidfd);
    CHECK(conn->pidfd() >= 0);
    INFO(conn->watch_note());
    check_death_noticed(*conn, client);
}

TEST_CASE("SIGKILL of the server is noticed by the client, and its stale socket file is reused", "[rpc][peer_death]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("s.sock");
    child server([&]() -> std::string {
        rpc::listener l(path, server_options());
        auto c = l.accept(10s);
        if (!c) return "accept failed: " + rpc::error_detail();
        for (;;) ::pause();
    });
    auto conn = rpc::connect(path, client_options());
    REQUIRE(conn);
    CHECK(conn->peer_pid() == server.pid());
    CHECK(conn->watch() == rpc::peer_watch::pidfd);
    check_death_noticed(*conn, server);

    // The killed server left its socket file; a new server takes it over.
    struct stat st{};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    {
        rpc::listener again(path, server_options());
        child client([&]() -> std::string {
            auto c = rpc::connect(path, client_options());
            return c ? std::string() : "reconnect failed: " + rpc::error_detail();
        });
        CHECK(again.accept(10s));
        CHECK(client.join() == "");
    }
    CHECK_FALSE(std::filesystem::exists(path));  // the listener removed its file
}

TEST_CASE("a live listener's path is not taken over, and a non-socket file is never removed", "[rpc][listener]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("live.sock");
    rpc::listener first(path, server_options());
    CHECK_THROWS_WITH(rpc::listener(path, server_options()), Catch::Contains("live listener"));
    const std::string plain = dir.file("plain");
    { std::FILE* f = std::fopen(plain.c_str(), "w"); std::fclose(f); }
    CHECK_THROWS_WITH(rpc::listener(plain, server_options()), Catch::Contains("not a socket"));
    CHECK(std::filesystem::exists(plain));
    const std::string name = keel::test::abstract_name("live");
    rpc::listener abstract(name, server_options());
    CHECK_THROWS_AS(rpc::listener(name, server_options()), std::system_error);
    // The first listener still works (the probe's connection is dropped by accept).
    child client([&]() -> std::string {
        auto c = rpc::connect(path, client_options());
        return c ? std::string() : "connect failed: " + rpc::error_detail();
    });
    auto a = first.accept(10s);
    if (!a) a = first.accept(10s);  // the takeover probe left one empty connection first
    CHECK(a);
    CHECK(client.join() == "");
}

TEST_CASE("with pidfds refused the socket hang-up is watched, and says so", "[rpc][peer_death]") {
    const std::string verdict = keel::test::run_in_child([]() -> std::string {
        ::setenv("KEEL_DISABLE_BACKENDS", "pidfd", 1);
        if (rpc::probe_peer_watch().available) return "probe says available";
        const std::string name = keel::test::abstract_name("fallback");
        rpc::listener server(name, server_options());
        child client([&]() -> std::string {
            auto c = rpc::connect(name, client_options());
            if (!c) return "connect failed";
            for (;;) ::pause();
        });
        auto conn = server.accept(10s);
        if (!conn) return "accept failed: " + rpc::error_detail();
        if (conn->watch() != rpc::peer_watch::socket_hangup || conn->pidfd() != -1) return "not the fallback";
        if (conn->watch_note().find("KEEL_DISABLE_BACKENDS") == std::string::npos) return "note: " + conn->watch_note();
        if (!conn->peer_alive()) return "peer looks dead too early";
        client.kill(SIGKILL);
        if (!conn->wait_peer_exit(10s)) return "death not noticed";
        if (conn->peer_alive()) return "peer still alive";
        return {};
    });
    CHECK(verdict == "");
    const std::string refused = keel::test::run_with_refused_syscalls({SYS_pidfd_open}, ENOSYS, []() -> std::string {
        auto s = rpc::probe_peer_watch();
        if (s.available) return "probe says available";
        if (s.reason.find("pidfd_open refused") == std::string::npos) return "reason: " + s.reason;
        return {};
    });
    CHECK(refused == "");
    CHECK(rpc::to_string(rpc::peer_watch::pidfd) == "pidfd");
}

TEST_CASE("a tree built with shm_ptr by the server is walked by the client", "[rpc][shm_ptr]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("t.sock");
    rpc::listener server(path, server_options());
    constexpr std::uint64_t count = 1000;
    // Where the server publishes the root: its first block (the first allocation of
    // a fresh heap lies at the start of its heap part), two words: a flag, the root.
    child client([&]() -> std::string {
        auto c = rpc::connect(path, client_options());
        if (!c) return "connect failed";
        const auto& sp = c->space();
        auto slot = sp.resolve(rpc::shm_ptr<std::uint64_t>(sp.heap_offset(rpc::arena_role::server) + 16), 2);
        if (!slot) return "no slot";
        if (!keel::test::wait_word(const_cast<std::uint64_t*>(*slot), 1)) return "tree never published";
        const rpc::shm_ptr<node> root((*slot)[1]);
        std::uint64_t sum = 0, seen = 0;
        std::vector<rpc::shm_ptr<node>> stack{root};
        while (!stack.empty()) {
            auto p = stack.back();
            stack.pop_back();
            if (!p) continue;
            auto n = sp.resolve(p);
            if (!n) return "resolve failed: " + n.error().message();
            if (++seen > count) return "cycle";
            sum += (*n)->value;
            stack.push_back((*n)->left);
            stack.push_back((*n)->right);
        }
        if (seen != count || sum != count * (count + 1) / 2) return "walked " + std::to_string(seen) + " nodes";
        // A forged pointer is refused, not followed.
        auto bad = sp.resolve(rpc::shm_ptr<node>(sp.size() + 64));
        if (bad) return "out-of-bounds pointer resolved";
        // Say done through our own arena (the server's is read-only here).
        auto done = sp.resolve_own(rpc::shm_ptr<std::uint32_t>(sp.heap_offset(rpc::arena_role::client)));
        if (!done) return "no done word";
        keel::test::set_word(*done, 1);
        return {};
    });
    auto conn = server.accept(10s);
    REQUIRE(conn);
    auto& heap = conn->heap();
    auto slot = heap.make_array<std::uint64_t>(2);
    REQUIRE(slot);
    REQUIRE(slot->offset() == heap.heap_offset() + 16);
    // A binary search tree of 1..count, one heap block per node.
    std::function<rpc::shm_ptr<node>(std::uint64_t, std::uint64_t)> build =
        [&](std::uint64_t lo, std::uint64_t hi) -> rpc::shm_ptr<node> {
        if (lo > hi) return {};
        const std::uint64_t mid = lo + (hi - lo) / 2;
        auto n = heap.make<node>(node{mid, build(lo, mid - 1), build(mid + 1, hi)});
        REQUIRE(n);
        return *n;
    };
    const auto root = build(1, count);
    auto* words = *heap.resolve(*slot, 2);
    words[1] = root.offset();
    keel::test::set_word(words, 1);
    const auto& sp = conn->space();
    auto done = sp.resolve(rpc::shm_ptr<std::uint32_t>(sp.heap_offset(rpc::arena_role::client)));
    REQUIRE(done);
    CHECK(keel::test::wait_word(const_cast<std::uint32_t*>(*done), 1));
    CHECK(client.join() == "");
    CHECK(heap.stats().live_blocks == count + 1);
    CHECK(heap.verify() == "");
}

TEST_CASE("connections and killed peers leave nothing in /dev/shm, the file system or the fd table",
          "[rpc][cleanup]") {
    const auto shm_before = dev_shm();
    const std::size_t fds_before = open_fds();
    keel::test::temp_dir dir;
    const std::string path = dir.file("c.sock");
    {
        rpc::listener server(path, server_options());
        for (int i = 0; i < 3; ++i) {
            child client([&]() -> std::string {
                auto c = rpc::connect(path, client_options());
                if (!c) return "connect failed";
                for (;;) ::pause();
            });
            auto conn = server.accept(10s);
            REQUIRE(conn);
            client.kill(SIGKILL);
            REQUIRE(conn->wait_peer_exit(10s));
            (void)client.join();
        }
    }
    CHECK(std::filesystem::is_empty(dir.path));
    CHECK(dev_shm() == shm_before);
    CHECK(open_fds() == fds_before);
}
