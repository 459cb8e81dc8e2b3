// Connection set-up across two processes: the handshake, the client's arena passed
// with the hello and the segment and server's arena with the reply (SCM_RIGHTS),
// refusals that name the field and both values, timeouts, CLOEXEC, and the seals
// that keep a peer from truncating the segment or writing the other's arena.
#include "../rpc_test_support.hpp"

#include <keel/platform/shared_memory.hpp>
#include <keel/rpc.hpp>
#include <keel/rpc/detail/wire.hpp>

#include <catch2/catch.hpp>
#include <catch_result.hpp>
#include <temp_dir.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace rpc = keel::rpc;
using keel::test::child;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t schema = 0x5eed'0000'0000'0001ULL;

rpc::listener_options server_options(std::uint64_t hash = schema) {
    rpc::listener_options o;
    o.service = "kv";
    o.schema_hash = hash;
    o.arena_bytes = 64 * 1024;
    o.handshake_timeout = 5s;
    return o;
}

rpc::connect_options client_options(std::uint64_t hash = schema, std::string service = "kv") {
    rpc::connect_options o;
    o.service = std::move(service);
    o.schema_hash = hash;
    o.wait_for_listener = true;
    o.connect_timeout = 10s;
    o.handshake_timeout = 10s;
    o.arena_bytes = 64 * 1024;
    return o;
}

bool cloexec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

// A raw client socket connected to `path` (test side of a forged handshake).
int raw_connect(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

rpc::detail::hello_message valid_hello(std::uint64_t hash = schema) {
    rpc::detail::hello_message h{};
    h.magic = rpc::detail::hello_magic;
    h.version = rpc::protocol_version;
    h.message_size = sizeof h;
    h.fingerprint = rpc::layout_fingerprint;
    h.schema_hash = hash;
    h.pid = ::getpid();
    h.service_length = 2;
    std::memcpy(h.service, "kv", 2);
    return h;
}

bool read_all(int fd, void* p, std::size_t n) {
    auto* b = static_cast<char*>(p);
    while (n > 0) {
        const ssize_t k = ::read(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        b += k;
        n -= static_cast<std::size_t>(k);
    }
    return true;
}

}  // namespace

TEST_CASE("a client connects, attaches the server's segment, and both see each other's writes",
          "[rpc][handshake]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("kv.sock");
    rpc::listener server(path, server_options());
    CHECK(cloexec(server.fd()));
    const pid_t server_pid = ::getpid();
    child client([&]() -> std::string {
        auto c = rpc::connect(path, client_options());
        if (!c) return "connect failed: " + c.error().message() + " / " + rpc::error_detail();
        if (c->role() != rpc::connection::side::client) return "wrong role";
        if (c->peer_pid() != server_pid) return "peer_pid is " + std::to_string(c->peer_pid());
        if (c->shared_segment().creator_pid() != server_pid) return "creator_pid wrong";
        const auto& sp = c->space();
        if (!cloexec(c->socket_fd()) || !cloexec(c->shared_segment().fd()) ||
            !cloexec(sp.arena_fd(rpc::arena_role::client)) || !cloexec(sp.arena_fd(rpc::arena_role::server))) {
            return "an fd is not CLOEXEC";
        }
        if (c->pidfd() >= 0 && !cloexec(c->pidfd())) return "the pidfd is not CLOEXEC";
        // The server's first block (a fresh heap's first block starts 16 bytes into its
        // heap part), read-only here; ours in our own arena, from our heap.
        auto theirs = sp.resolve(rpc::shm_ptr<std::uint64_t>(sp.heap_offset(rpc::arena_role::server) + 16), 3);
        if (!theirs) return "resolve of the server's arena failed";
        auto* flag = const_cast<std::uint64_t*>(*theirs);  // wait_word only reads
        if (!keel::test::wait_word(flag, 1)) return "never saw the server's flag";
        if ((*theirs)[1] != 0x1122334455667788ULL) return "server's value not seen";
        auto block = c->heap().make_array<std::uint64_t>(3);
        if (!block || block->offset() != sp.heap_offset(rpc::arena_role::client) + 16) return "first block elsewhere";
        auto mine = sp.resolve_own(*block, 3);
        if (!mine) return "resolve_own failed";
        (*mine)[2] = 0x8877665544332211ULL;
        keel::test::set_word(*mine, 1);
        // Stay until the server has read our write (its close is our signal).
        if (!c->wait_peer_exit(10s)) return "server never hung up";
        return {};
    });
    auto conn = server.accept(10s);
    REQUIRE(conn);
    CHECK(conn->role() == rpc::connection::side::server);
    CHECK(conn->peer_pid() == client.pid());
    CHECK(conn->service() == "kv");
    CHECK(conn->schema_hash() == schema);
    CHECK(cloexec(conn->socket_fd()));
    CHECK(cloexec(conn->shared_segment().fd()));
    const auto& sp = conn->space();
    CHECK(cloexec(sp.arena_fd(rpc::arena_role::client)));
    CHECK(cloexec(sp.arena_fd(rpc::arena_role::server)));
    CHECK(sp.heap_size(rpc::arena_role::client) == 64 * 1024 - 3 * 4096);
    CHECK(sp.heap_size(rpc::arena_role::server) == 64 * 1024 - 4096);
    auto block = conn->heap().make_array<std::uint64_t>(3);
    REQUIRE(block);
    REQUIRE(block->offset() == sp.heap_offset(rpc::arena_role::server) + 16);
    auto mine = sp.resolve_own(*block, 3);
    REQUIRE(mine);
    (*mine)[1] = 0x1122334455667788ULL;
    keel::test::set_word(*mine, 1);
    auto theirs = sp.resolve(rpc::shm_ptr<std::uint64_t>(sp.heap_offset(rpc::arena_role::client) + 16), 3);
    REQUIRE(theirs);
    REQUIRE(keel::test::wait_word(const_cast<std::uint64_t*>(*theirs), 1));
    CHECK((*theirs)[2] == 0x8877665544332211ULL);
    conn->close();
    CHECK(client.join() == "");
}

TEST_CASE("an abstract-namespace listener needs no file", "[rpc][handshake]") {
    const std::string name = keel::test::abstract_name("abstract");
    rpc::listener server(name, server_options());
    child client([&]() -> std::string {
        auto c = rpc::connect(name, client_options());
        if (!c) return "connect failed: " + rpc::error_detail();
        return {};
    });
    auto conn = server.accept(10s);
    REQUIRE(conn);
    CHECK(client.join() == "");
}

TEST_CASE("a peer cannot truncate or grow the segment or write the other's arena - the mappings stay usable",
          "[rpc][seals]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("seal.sock");
    rpc::listener server(path, server_options());
    child client([&]() -> std::string {
        auto c = rpc::connect(path, client_options());
        if (!c) return "connect failed: " + rpc::error_detail();
        const int fd = c->shared_segment().fd();
        if (::ftruncate(fd, 0) == 0 || errno != EPERM) return "ftruncate to 0 was not refused with EPERM";
        if (::ftruncate(fd, 4096) == 0 || errno != EPERM) return "shrinking ftruncate was not refused with EPERM";
        const auto bigger = static_cast<off_t>(c->shared_segment().size() * 2);
        if (::ftruncate(fd, bigger) == 0 || errno != EPERM) return "growing ftruncate was not refused with EPERM";
        // No more seals either: a write seal would break the server's next mapping.
        auto added = keel::platform::memfd_memory::seal(fd, keel::platform::memfd_seal::future_write);
        if (added || added.error() != keel::errno_code(EPERM)) return "adding F_SEAL_FUTURE_WRITE was not refused";
        // The server's arena: no writable mapping, no write, no truncation, no hole.
        const auto& sp = c->space();
        const int afd = sp.arena_fd(rpc::arena_role::server);
        const std::size_t asize = sp.arena_bytes(rpc::arena_role::server).size();
        if (::mmap(nullptr, asize, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0) != MAP_FAILED) {
            return "a writable shared mapping of the server's arena was allowed";
        }
        auto* peer = const_cast<std::byte*>(sp.arena_bytes(rpc::arena_role::server).data());
        if (::mprotect(peer, asize, PROT_READ | PROT_WRITE) == 0) return "mprotect(PROT_WRITE) of the server's arena worked";
        if (::pwrite(afd, "x", 1, 4096) >= 0) return "pwrite into the server's arena worked";
        if (::ftruncate(afd, 0) == 0) return "the server's arena was truncated";
        // The segment's channel area is still shared read-write.
        auto chan = c->shared_segment().channel_area();
        chan.back() = std::byte{0x5a};  // the last byte is still there
        keel::test::set_word(chan.data() + 1024, 7);
        if (!c->wait_peer_exit(10s)) return "server never hung up";
        return {};
    });
    auto conn = server.accept(10s);
    REQUIRE(conn);
    auto chan = conn->shared_segment().channel_area();
    REQUIRE(keel::test::wait_word(chan.data() + 1024, 7));
    CHECK(chan.back() == std::byte{0x5a});
    // The client's arena, from here: the same refusals.
    const auto& sp = conn->space();
    const int afd = sp.arena_fd(rpc::arena_role::client);
    CHECK(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0) == MAP_FAILED);
    CHECK(::mprotect(const_cast<std::byte*>(sp.arena_bytes(rpc::arena_role::client).data()), 4096,
                     PROT_READ | PROT_WRITE) != 0);
    CHECK(::pwrite(afd, "x", 1, 4096) < 0);
    conn->close();
    CHECK(client.join() == "");
}

TEST_CASE("a hello without the client's arena, or with more fds, is refused", "[rpc][handshake]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("nofd.sock");
    rpc::listener server(path, server_options());
    for (int fds : {0, 2}) {
        CAPTURE(fds);
        child client([&]() -> std::string {
            auto own = rpc::arena::create(rpc::arena_role::client, 64 * 1024);
            if (!own) return "arena";
            const int fd = raw_connect(path);
            if (fd < 0) return "raw connect failed";
            const auto h = valid_hello();
            iovec iov{const_cast<rpc::detail::hello_message*>(&h), sizeof h};
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
            if (fds != 0) {
                const int pass[2] = {own->fd(), own->fd()};
                msg.msg_control = control;
                msg.msg_controllen = CMSG_SPACE(sizeof pass);
                cmsghdr* c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof pass);
                std::memcpy(CMSG_DATA(c), pass, sizeof pass);
            }
            if (::sendmsg(fd, &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof h)) return "send failed";
            rpc::detail::reply_message m{};
            const bool ok = read_all(fd, &m, sizeof m);
            ::close(fd);
            if (!ok) return "no reply";
            if (m.status != static_cast<std::uint32_t>(rpc::errc::bad_message)) return "status " + std::to_string(m.status);
            return {};
        });
        auto conn = server.accept(10s);
        REQUIRE_FALSE(conn);
        CHECK(conn.error() == rpc::errc::bad_message);
        CHECK_THAT(rpc::error_detail(), Catch::Contains("expected 1 (the client's arena)"));
        CHECK(client.join() == "");
    }
}

TEST_CASE("a client arena without F_SEAL_FUTURE_WRITE is refused, and the client is told why", "[rpc][seals]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("unsealed.sock");
    rpc::listener server(path, server_options());
    child client([&]() -> std::string {
        // A well-formed arena whose memfd lacks the write seal: the client could
        // still map it writable and change what the server reads.
        auto good = rpc::arena::create(rpc::arena_role::client, 64 * 1024);
        if (!good) return "arena";
        keel::platform::memfd_memory source;
        auto r = source.map(good->size());
        if (!r) return "memfd";
        std::memcpy(r->data(), good->data(), good->size());
        (void)keel::platform::memfd_memory::seal(
            r->fd(), keel::platform::memfd_seal::shrink | keel::platform::memfd_seal::grow);
        const int fd = raw_connect(path);
        if (fd < 0) return "raw connect failed";
        const auto h = valid_hello();
        iovec iov{const_cast<rpc::detail::hello_message*>(&h), sizeof h};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        const int pass = r->fd();
        std::memcpy(CMSG_DATA(c), &pass, sizeof pass);
        if (::sendmsg(fd, &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof h)) return "send failed";
        rpc::detail::reply_message m{};
        const bool ok = read_all(fd, &m, sizeof m);
        ::close(fd);
        source.unmap(*r);
        if (!ok) return "no reply";
        if (m.status != static_cast<std::uint32_t>(rpc::errc::missing_seals)) return "status " + std::to_string(m.status);
        const std::string text(m.text, std::min<std::size_t>(m.text_length, sizeof m.text));
        if (text.find("lacks F_SEAL_FUTURE_WRITE|F_SEAL_SEAL") == std::string::npos) return "reply text: " + text;
        return {};
    });
    auto conn = server.accept(10s);
    REQUIRE_FALSE(conn);
    CHECK(conn.error() == rpc::errc::missing_seals);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("the client's arena memfd lacks F_SEAL_FUTURE_WRITE"));
    CHECK(client.join() == "");
}

TEST_CASE("a schema hash mismatch is refused on both sides, naming both values", "[rpc][handshake]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("schema.sock");
    rpc::listener server(path, server_options(0x1111));
    child client([&]() -> std::string {
        auto c = rpc::connect(path, client_options(0x2222));
        if (c) return "connect succeeded";
        if (c.error() != rpc::errc::schema_mismatch) return "error is " + c.error().message();
        const std::string d = rpc::error_detail();
        if (d.find("schema hash mismatch") == std::string::npos ||
            d.find("client 0x0000000000002222") == std::string::npos ||
            d.find("server 0x0000000000001111") == std::string::npos) {
            return "detail does not name both values: " + d;
        }
        return {};
    });
    auto conn = server.accept(10s);
    REQUIRE_FALSE(conn);
    CHECK(conn.error() == rpc::errc::schema_mismatch);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("client 0x0000000000002222") &&
                                        Catch::Contains("server 0x0000000000001111"));
    CHECK(client.join() == "");
}

TEST_CASE("an unknown service is refused", "[rpc][handshake]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("svc.sock");
    rpc::listener server(path, server_options());
    child client([&]() -> std::string {
        auto c = rpc::connect(path, client_options(schema, "queue"));
        if (c || c.error() != rpc::errc::unknown_service) return "not refused as unknown_service";
        if (rpc::error_detail().find("'queue'") == std::string::npos) return "detail: " + rpc::error_detail();
        return {};
    });
    auto conn = server.accept(10s);
    REQUIRE_FALSE(conn);
    CHECK(conn.error() == rpc::errc::unknown_service);
    CHECK(client.join() == "");
}

TEST_CASE("a hello with another protocol version or layout fingerprint is refused with the reason",
          "[rpc][handshake]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("ver.sock");
    rpc::listener server(path, server_options());
    auto forged = [&](rpc::detail::hello_message h, rpc::errc want, std::string words) {
        child client([&]() -> std::string {
            const int fd = raw_connect(path);
            if (fd < 0) return "raw connect failed";
            if (::write(fd, &h, sizeof h) != static_cast<ssize_t>(sizeof h)) return "write failed";
            rpc::detail::reply_message m{};
            const bool ok = read_all(fd, &m, sizeof m);
            ::close(fd);
            if (!ok) return "no reply";
            if (m.magic != rpc::detail::reply_magic) return "reply magic wrong";
            if (m.status != static_cast<std::uint32_t>(want)) return "status " + std::to_string(m.status);
            const std::string text(m.text, m.text_length);
            if (text.find(words) == std::string::npos) return "reply text: " + text;
            return {};
        });
        auto conn = server.accept(10s);
        REQUIRE_FALSE(conn);
        CHECK(conn.error() == want);
        CHECK_THAT(rpc::error_detail(), Catch::Contains(words));
        CHECK(client.join() == "");
    };
    SECTION("version") {
        auto h = valid_hello();
        h.version = 99;
        forged(h, rpc::errc::version_mismatch, "client speaks 99, server speaks 2");
    }
    SECTION("fingerprint") {
        auto h = valid_hello();
        h.fingerprint = rpc::layout_fingerprint ^ 1;
        forged(h, rpc::errc::fingerprint_mismatch, "layout fingerprint mismatch");
    }
    SECTION("magic") {
        auto h = valid_hello();
        h.magic = 42;
        forged(h, rpc::errc::bad_magic, "hello magic");
    }
    SECTION("service length") {
        auto h = valid_hello();
        h.service_length = 1000;
        forged(h, rpc::errc::bad_message, "service_length is 1000");
    }
}

TEST_CASE("the client refuses a reply with another version, fingerprint or schema, naming both values",
          "[rpc][handshake]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("fake.sock");
    // A fake server: a raw listening socket in a child answers every hello with a forged reply.
    keel::test::signal_pipe ready;
    auto fake = [&](std::function<void(rpc::detail::reply_message&)> change, bool with_fd) {
        return std::make_unique<child>([&, change, with_fd]() -> std::string {
            const int ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_un a{};
            a.sun_family = AF_UNIX;
            std::memcpy(a.sun_path, path.data(), path.size());
            ::unlink(path.c_str());
            if (::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 4) != 0) return "bind";
            ready.post();
            const int fd = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
            rpc::detail::hello_message h{};
            if (!read_all(fd, &h, sizeof h)) return "no hello";
            rpc::detail::reply_message m{};
            m.magic = rpc::detail::reply_magic;
            m.version = rpc::protocol_version;
            m.message_size = sizeof m;
            m.fingerprint = rpc::layout_fingerprint;
            m.schema_hash = h.schema_hash;
            m.status = rpc::detail::reply_accept;
            change(m);
            auto seg = rpc::segment::create({}, 64 * 1024, 64 * 1024);
            auto arena = rpc::arena::create(rpc::arena_role::server, 64 * 1024);
            msghdr msg{};
            iovec iov{&m, sizeof m};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            const int pass[2] = {seg->fd(), arena->fd()};
            alignas(cmsghdr) char control[CMSG_SPACE(sizeof pass)] = {};
            if (with_fd) {
                msg.msg_control = control;
                msg.msg_controllen = sizeof control;
                cmsghdr* c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof pass);
                std::memcpy(CMSG_DATA(c), pass, sizeof pass);
            }
            (void)::sendmsg(fd, &msg, MSG_NOSIGNAL);
            char c = 0;
            (void)::read(fd, &c, 1);  // until the client hangs up
            ::close(fd);
            ::close(ls);
            ::unlink(path.c_str());
            return {};
        });
    };
    auto expect = [&](std::function<void(rpc::detail::reply_message&)> change, bool with_fd, rpc::errc want,
                      const std::string& words) {
        auto server = fake(change, with_fd);
        REQUIRE(ready.wait());
        auto c = rpc::connect(path, client_options());
        REQUIRE_FALSE(c);
        CHECK(c.error() == want);
        CHECK_THAT(rpc::error_detail(), Catch::Contains(words));
        CHECK(server->join() == "");
    };
    expect([](auto& m) { m.version = 7; }, true, rpc::errc::version_mismatch, "client speaks 2, server speaks 7");
    expect([](auto& m) { m.fingerprint ^= 0xff; }, true, rpc::errc::fingerprint_mismatch, "layout fingerprint mismatch");
    expect([](auto& m) { m.schema_hash = 3; }, true, rpc::errc::schema_mismatch, "server 0x0000000000000003");
    expect([](auto&) {}, false, rpc::errc::bad_message,
           "carried 0 file descriptors, expected 2 (the segment and the server's arena)");
    // And a well-formed reply with both fds is accepted: the fake server is a valid one.
    {
        auto server = fake([](auto&) {}, true);
        REQUIRE(ready.wait());
        auto c = rpc::connect(path, client_options());
        CHECK(c);
        if (c) c->close();
        CHECK(server->join() == "");
    }
    expect(
        [](auto& m) {
            m.status = static_cast<std::uint32_t>(rpc::errc::unknown_service);
            std::memcpy(m.text, "go away", 7);
            m.text_length = 7;
        },
        false, rpc::errc::unknown_service, "the server refused: go away");
    expect([](auto& m) { m.status = 9999; }, false, rpc::errc::rejected, "the server refused");
}

TEST_CASE("connect and handshake time out as configured", "[rpc][handshake][timeout]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("slow.sock");
    SECTION("nobody listens") {
        auto o = client_options();
        o.wait_for_listener = false;
        auto c = rpc::connect(path, o);
        REQUIRE_FALSE(c);
        CHECK(c.error() == keel::errno_code(ENOENT));
        o.wait_for_listener = true;
        o.connect_timeout = 50ms;
        c = rpc::connect(path, o);
        REQUIRE_FALSE(c);
        CHECK(c.error() == std::errc::timed_out);
    }
    SECTION("the server never answers") {
        rpc::listener server(path, server_options());  // never accept()ed: the backlog holds the client
        auto o = client_options();
        o.handshake_timeout = 50ms;
        auto c = rpc::connect(path, o);
        REQUIRE_FALSE(c);
        CHECK(c.error() == std::errc::timed_out);
    }
    SECTION("no client comes, or a client never says hello") {
        auto o = server_options();
        o.handshake_timeout = 50ms;
        rpc::listener server(path, o);
        auto a = server.accept(20ms);
        REQUIRE_FALSE(a);
        CHECK(a.error() == std::errc::timed_out);
        const int fd = raw_connect(path);
        REQUIRE(fd >= 0);
        a = server.accept(1s);
        REQUIRE_FALSE(a);
        CHECK(a.error() == std::errc::timed_out);
        ::close(fd);
    }
}

TEST_CASE("bad listener and connect arguments throw naming the problem", "[rpc][handshake]") {
    CHECK_THROWS_WITH(rpc::listener("", server_options()), Catch::Contains("empty"));
    CHECK_THROWS_WITH(rpc::listener(std::string(200, 'x'), server_options()), Catch::Contains("sockaddr_un"));
    auto o = server_options();
    o.service = "";
    CHECK_THROWS_WITH(rpc::listener("@x", o), Catch::Contains("service name"));
    o = server_options();
    o.arena_bytes = 4096;
    CHECK_THROWS_WITH(rpc::listener("@x", o), Catch::Contains("arena_bytes 4096"));
    auto c = client_options();
    c.arena_bytes = 100;
    CHECK_THROWS_WITH(rpc::connect("@x", c), Catch::Contains("an arena needs"));
    CHECK_THROWS_AS(rpc::connect("@", client_options()), std::invalid_argument);
}
