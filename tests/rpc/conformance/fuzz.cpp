// Seeded random tests that always run: malformed hello messages (and wrong fd counts)
// against a listener, malformed replies, segments and server arenas against connect,
// malformed segment headers against attach, malformed client arena headers against
// the server's checks. All must be refused (or, when the mutation left the message
// valid, accepted) without crashing, hanging or leaking.
#include "../rpc_test_support.hpp"

#include <keel/platform/shared_memory.hpp>
#include <keel/rpc.hpp>
#include <keel/rpc/detail/wire.hpp>

#include <catch2/catch.hpp>
#include <catch_result.hpp>
#include <temp_dir.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace rpc = keel::rpc;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t schema = 0xfeed;
constexpr std::uint32_t seed = 20240607;

std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

rpc::detail::hello_message valid_hello() {
    rpc::detail::hello_message h{};
    h.magic = rpc::detail::hello_magic;
    h.version = rpc::protocol_version;
    h.message_size = sizeof h;
    h.fingerprint = rpc::layout_fingerprint;
    h.schema_hash = schema;
    h.pid = 1;
    h.service_length = 4;
    std::memcpy(h.service, "fuzz", 4);
    return h;
}

bool hello_is_valid(const rpc::detail::hello_message& h) {
    const auto v = valid_hello();
    return h.magic == v.magic && h.version == v.version && h.message_size == v.message_size &&
           h.fingerprint == v.fingerprint && h.schema_hash == v.schema_hash && h.service_length == 4 &&
           std::memcmp(h.service, "fuzz", 4) == 0;
}

// Changes one random field, or random bytes, of a message.
template <class M>
void mutate(M& m, std::mt19937_64& rng) {
    auto* bytes = reinterpret_cast<unsigned char*>(&m);
    switch (rng() % 4) {
    case 0: {  // one random 32-bit word replaced
        const std::size_t at = (rng() % (sizeof m / 4)) * 4;
        const auto v = static_cast<std::uint32_t>(rng());
        std::memcpy(bytes + at, &v, 4);
        break;
    }
    case 1:  // one random bit flipped
        bytes[rng() % sizeof m] ^= static_cast<unsigned char>(1u << (rng() % 8));
        break;
    case 2:  // a run of random bytes
        for (std::size_t i = rng() % sizeof m, n = rng() % 32; n > 0 && i < sizeof m; --n, ++i) {
            bytes[i] = static_cast<unsigned char>(rng());
        }
        break;
    default: {  // an extreme value in a random 64-bit slot
        const std::size_t at = (rng() % (sizeof m / 8)) * 8;
        const std::uint64_t extremes[] = {0, 1, UINT64_MAX, UINT64_MAX / 2, 1ULL << 32, 4096};
        std::memcpy(bytes + at, &extremes[rng() % 6], 8);
    }
    }
}

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

void send_with_fds(int fd, const void* data, std::size_t n, std::vector<int> pass) {
    iovec iov{const_cast<void*>(data), n};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
    if (!pass.empty()) {
        const std::size_t bytes = pass.size() * sizeof(int);
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(bytes);
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(bytes);
        std::memcpy(CMSG_DATA(c), pass.data(), bytes);
    }
    (void)::sendmsg(fd, &msg, MSG_NOSIGNAL);
}

constexpr std::size_t arena_bytes = 64 * 1024;
constexpr auto arena_seals = keel::platform::memfd_seal::shrink | keel::platform::memfd_seal::grow |
                             keel::platform::memfd_seal::future_write | keel::platform::memfd_seal::seal;

}  // namespace

TEST_CASE("malformed hellos are refused without crashing the listener", "[rpc][fuzz]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("fuzz.sock");
    rpc::listener_options o;
    o.service = "fuzz";
    o.schema_hash = schema;
    o.arena_bytes = arena_bytes;
    o.handshake_timeout = 2s;
    rpc::listener server(path, o);
    // One client arena serves every attempt (the server only ever reads it).
    auto own = rpc::arena::create(rpc::arena_role::client, arena_bytes);
    REQUIRE(own);
    const std::size_t fds_before = open_fds();
    std::mt19937_64 rng(seed);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 300; ++i) {
        auto h = valid_hello();
        const int mutations = 1 + static_cast<int>(rng() % 3);
        for (int k = 0; k < mutations; ++k) mutate(h, rng);
        const int fd = raw_connect(path);
        REQUIRE(fd >= 0);
        const bool truncate = rng() % 8 == 0;
        const auto fd_pick = rng() % 8;  // 0: no fd, 1: an extra fd, else the arena alone
        const std::size_t n = truncate ? rng() % sizeof h : sizeof h;
        std::vector<int> pass;
        if (fd_pick != 0) pass.push_back(own->fd());
        if (fd_pick == 1) pass.push_back(fd);
        send_with_fds(fd, &h, n, pass);
        if (truncate) ::shutdown(fd, SHUT_WR);
        auto c = server.accept(5s);
        const bool should_accept = !truncate && fd_pick > 1 && hello_is_valid(h);
        INFO("iteration " << i << ": " << (c ? std::string("accepted") : rpc::error_detail()));
        CHECK(static_cast<bool>(c) == should_accept);
        if (c) {
            ++accepted;
        } else {
            ++refused;
            CHECK(c.error() != std::errc::timed_out);
        }
        ::close(fd);
    }
    CHECK(refused > 100);  // many mutations land in unused service bytes or the pid
    CHECK(open_fds() == fds_before);
    INFO("accepted " << accepted << ", refused " << refused);
}

TEST_CASE("malformed replies and segments from a server are refused by connect", "[rpc][fuzz]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("fake.sock");
    constexpr int rounds = 150;
    keel::test::signal_pipe ready;
    // A fake server answers each hello with a mutated reply and, sometimes, a segment
    // whose header is mutated, an unsealed memfd or a pipe in its place, a server arena
    // whose header is mutated, one without the write seal, the two fds swapped, or
    // only one of them.
    keel::test::child fake([&]() -> std::string {
        const int ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::memcpy(a.sun_path, path.data(), path.size());
        if (::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 8) != 0) return "bind";
        ready.post();
        std::mt19937_64 rng(seed + 1);
        for (int i = 0; i < rounds; ++i) {
            const int fd = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) return "accept";
            rpc::detail::hello_message h{};
            std::size_t got = 0;
            while (got < sizeof h) {
                const ssize_t k = ::read(fd, reinterpret_cast<char*>(&h) + got, sizeof h - got);
                if (k <= 0) break;
                got += static_cast<std::size_t>(k);
            }
            rpc::detail::reply_message m{};
            m.magic = rpc::detail::reply_magic;
            m.version = rpc::protocol_version;
            m.message_size = sizeof m;
            m.fingerprint = rpc::layout_fingerprint;
            m.schema_hash = schema;
            if (rng() % 2 == 0) mutate(m, rng);
            auto seg = rpc::segment::create({}, arena_bytes, arena_bytes);
            auto arena = rpc::arena::create(rpc::arena_role::server, arena_bytes);
            keel::platform::memfd_memory plain;
            auto unsealed = keel::platform::map_unique(plain, seg->size());
            // A copy of the arena, its header mutated, sealed like a real one (or not).
            auto forged = keel::platform::map_unique(plain, arena_bytes);
            std::memcpy((*forged)->data(), arena->data(), arena_bytes);
            int pipefd[2];
            if (::pipe(pipefd) != 0) return "pipe";
            int seg_fd = seg->fd();
            int arena_fd = arena->fd();
            switch (rng() % 8) {
            case 0: {
                auto& hdr = *reinterpret_cast<rpc::segment_header*>(seg->data());
                mutate(hdr, rng);
                break;
            }
            case 1:
                std::memcpy((*unsealed)->data(), seg->data(), sizeof(rpc::segment_header));
                seg_fd = (*unsealed)->fd();
                break;
            case 2: seg_fd = pipefd[0]; break;
            case 3:
                mutate(*reinterpret_cast<rpc::arena_header*>((*forged)->data()), rng);
                (void)keel::platform::memfd_memory::seal((*forged)->fd(), arena_seals);
                arena_fd = (*forged)->fd();
                break;
            case 4:
                (void)keel::platform::memfd_memory::seal(
                    (*forged)->fd(), keel::platform::memfd_seal::shrink | keel::platform::memfd_seal::grow);
                arena_fd = (*forged)->fd();
                break;
            case 5: std::swap(seg_fd, arena_fd); break;
            default: break;
            }
            const std::size_t n = rng() % 10 == 0 ? rng() % sizeof m : sizeof m;
            const auto fd_pick = rng() % 10;
            std::vector<int> pass{seg_fd, arena_fd};
            if (fd_pick == 0) pass.clear();
            if (fd_pick == 1) pass.pop_back();
            send_with_fds(fd, &m, n, pass);
            ::close(pipefd[0]);
            ::close(pipefd[1]);
            ::close(fd);  // the client sees EOF after what was sent
        }
        ::close(ls);
        return {};
    });
    REQUIRE(ready.wait());
    const std::size_t fds_before = open_fds();
    rpc::connect_options o;
    o.service = "fuzz";
    o.schema_hash = schema;
    o.handshake_timeout = 5s;
    o.arena_bytes = arena_bytes;
    int connected = 0, refused = 0;
    for (int i = 0; i < rounds; ++i) {
        auto c = rpc::connect(path, o);
        if (c) {
            ++connected;
            // Whatever was accepted has its areas inside the mappings.
            const auto& s = c->shared_segment();
            CHECK(s.channel_area().data() + s.channel_area().size() <= s.data() + s.size());
            CHECK(s.channel_area().data() >= s.data() + rpc::segment_area_alignment);
            const auto& sp = c->space();
            for (auto r : {rpc::arena_role::client, rpc::arena_role::server}) {
                CHECK(sp.heap_offset(r) >= sp.arena_offset(r) + rpc::segment_area_alignment);
                CHECK(sp.heap_offset(r) + sp.heap_size(r) == sp.arena_offset(r) + sp.arena_bytes(r).size());
            }
            CHECK(sp.arena_offset(rpc::arena_role::server) + sp.arena_bytes(rpc::arena_role::server).size() ==
                  sp.size());
        } else {
            ++refused;
            CHECK(c.error() != std::errc::timed_out);
        }
    }
    CHECK(fake.join() == "");
    CHECK(refused > rounds / 2);
    CHECK(connected > 0);
    CHECK(open_fds() == fds_before);
}

TEST_CASE("malformed segment headers are refused by attach or yield areas inside the segment", "[rpc][fuzz]") {
    auto s = rpc::segment::create({.channel_bytes = 96 * 1024}, arena_bytes, arena_bytes);
    REQUIRE(s);
    auto& h = *reinterpret_cast<rpc::segment_header*>(s->data());
    const rpc::segment_header good = h;
    std::mt19937_64 rng(seed + 2);
    int refused = 0;
    for (int i = 0; i < 2000; ++i) {
        const int mutations = 1 + static_cast<int>(rng() % 3);
        for (int k = 0; k < mutations; ++k) mutate(h, rng);
        auto t = rpc::segment::attach(s->fd());
        if (t) {
            const auto chan = t->channel_area();
            CHECK(chan.data() >= t->data() + rpc::segment_area_alignment);
            CHECK(chan.data() + chan.size() <= t->data() + t->size());
            CHECK(t->client_arena_size() % rpc::segment_area_alignment == 0);
            CHECK(t->server_arena_size() % rpc::segment_area_alignment == 0);
        } else {
            ++refused;
        }
        h = good;
    }
    CHECK(refused > 1000);
}

TEST_CASE("malformed client arena headers are refused by the server or yield a heap inside the arena",
          "[rpc][fuzz]") {
    // The forged arena is sealed like a real one; its creator keeps the one writable
    // mapping made before the seal and rewrites the header through it each round.
    keel::platform::memfd_memory source;
    auto forged = keel::platform::map_unique(source, arena_bytes);
    REQUIRE(forged);
    auto real = rpc::arena::create(rpc::arena_role::client, arena_bytes);
    REQUIRE(real);
    std::memcpy((*forged)->data(), real->data(), arena_bytes);
    REQUIRE(keel::platform::memfd_memory::seal((*forged)->fd(), arena_seals));
    auto& h = *reinterpret_cast<rpc::arena_header*>((*forged)->data());
    const rpc::arena_header good = h;
    const std::size_t fds_before = open_fds();
    std::mt19937_64 rng(seed + 3);
    int refused = 0;
    for (int i = 0; i < 400; ++i) {
        const int mutations = 1 + static_cast<int>(rng() % 3);
        for (int k = 0; k < mutations; ++k) mutate(h, rng);
        auto s = rpc::shared_space::create_server((*forged)->fd(), {.arena_bytes = arena_bytes});
        if (s) {
            const auto r = rpc::arena_role::client;
            CHECK(s->heap_offset(r) >= s->arena_offset(r) + rpc::segment_area_alignment);
            CHECK(s->heap_offset(r) + s->heap_size(r) == s->arena_offset(r) + arena_bytes);
            CHECK(s->heap_size(r) > 0);
        } else {
            ++refused;
            CHECK(s.error().category() == rpc::rpc_category());
        }
        h = good;
    }
    CHECK(refused > 120);  // half the header is reserved words and the two counters
    CHECK(open_fds() == fds_before);
}
