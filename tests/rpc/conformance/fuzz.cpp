// Seeded random tests that always run: malformed hello messages against a listener,
// malformed replies against connect, malformed segment headers against attach. All
// must be refused (or, when the mutation left the message valid, accepted) without
// crashing, hanging or leaking.
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

void send_with_fd(int fd, const void* data, std::size_t n, int pass) {
    iovec iov{const_cast<void*>(data), n};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (pass >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &pass, sizeof pass);
    }
    (void)::sendmsg(fd, &msg, MSG_NOSIGNAL);
}

}  // namespace

TEST_CASE("malformed hellos are refused without crashing the listener", "[rpc][fuzz]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("fuzz.sock");
    rpc::listener_options o;
    o.service = "fuzz";
    o.schema_hash = schema;
    o.segment_size = 256 * 1024;
    o.handshake_timeout = 2s;
    rpc::listener server(path, o);
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
        const bool pass_fd = rng() % 8 == 0;
        const std::size_t n = truncate ? rng() % sizeof h : sizeof h;
        send_with_fd(fd, &h, n, pass_fd ? fd : -1);
        if (truncate) ::shutdown(fd, SHUT_WR);
        auto c = server.accept(5s);
        const bool should_accept = !truncate && !pass_fd && hello_is_valid(h);
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
    // whose header is mutated, an unsealed memfd or a pipe.
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
            auto seg = rpc::segment::create(256 * 1024);
            keel::platform::memfd_memory plain;
            auto unsealed = keel::platform::map_unique(plain, 256 * 1024);
            int pipefd[2];
            if (::pipe(pipefd) != 0) return "pipe";
            int pass = seg->fd();
            switch (rng() % 4) {
            case 0: {
                auto& hdr = *reinterpret_cast<rpc::segment_header*>(seg->data());
                mutate(hdr, rng);
                break;
            }
            case 1:
                std::memcpy((*unsealed)->data(), seg->data(), sizeof(rpc::segment_header));
                pass = (*unsealed)->fd();
                break;
            case 2: pass = pipefd[0]; break;
            default: break;
            }
            const std::size_t n = rng() % 10 == 0 ? rng() % sizeof m : sizeof m;
            send_with_fd(fd, &m, n, rng() % 10 == 0 ? -1 : pass);
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
    int connected = 0, refused = 0;
    for (int i = 0; i < rounds; ++i) {
        auto c = rpc::connect(path, o);
        if (c) {
            ++connected;
            // Whatever was accepted has its areas inside the mapping.
            const auto& s = c->shared_segment();
            CHECK(s.heap_area().data() + s.heap_area().size() <= s.data() + s.size());
            CHECK(s.channel_area().data() >= s.data() + rpc::segment_area_alignment);
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
    auto s = rpc::segment::create(128 * 1024);
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
            const auto heap = t->heap_area();
            const auto chan = t->channel_area();
            CHECK(heap.data() >= t->data() + rpc::segment_area_alignment);
            CHECK(heap.data() + heap.size() <= t->data() + t->size());
            CHECK(chan.data() + chan.size() <= heap.data());
            CHECK(!heap.empty());
        } else {
            ++refused;
        }
        h = good;
    }
    CHECK(refused > 1000);
}
