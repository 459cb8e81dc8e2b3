// Segments, arenas and the connection's address range: layout and seals, attach's
// checks of every header field (each refusal names the problem), the arena checks
// (seals, size limits before mapping, header), one layout in both views of a
// connection, and resolve's bounds and alignment checks against either arena.
// Both sides of a space are built in this process here (no socket); the two-process
// versions are in handshake.cpp and shared_heap.cpp.
#include "../rpc_test_support.hpp"

#include <keel/platform/shared_memory.hpp>
#include <keel/rpc.hpp>

#include <catch2/catch.hpp>
#include <catch_result.hpp>

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <filesystem>
#include <string>

namespace rpc = keel::rpc;
namespace kp = keel::platform;

namespace {

rpc::segment_header& header_of(rpc::segment& s) { return *reinterpret_cast<rpc::segment_header*>(s.data()); }

constexpr std::size_t arena_size = 64 * 1024;

// Both views of one connection's memory, built in this process.
struct space_pair {
    rpc::shared_space server;
    rpc::shared_space client;
};

space_pair make_pair_of_spaces(std::size_t client_bytes = arena_size, std::size_t server_bytes = arena_size) {
    auto own = rpc::arena::create(rpc::arena_role::client, client_bytes);
    REQUIRE(own);
    auto server = rpc::shared_space::create_server(own->fd(), {.arena_bytes = server_bytes});
    REQUIRE(server);
    auto client = rpc::shared_space::attach_client(server->shared_segment().fd(),
                                                   server->arena_fd(rpc::arena_role::server), std::move(*own), {});
    REQUIRE(client);
    return {std::move(*server), std::move(*client)};
}

// A memfd holding `bytes` with the first bytes of `from` and only `seals`.
keel::platform::memory_region forged_memfd(kp::memfd_memory& source, const void* from, std::size_t copy,
                                           std::size_t bytes, kp::memfd_seal seals) {
    auto r = source.map(bytes);
    REQUIRE(r);
    std::memcpy(r->data(), from, copy);
    if (seals != kp::memfd_seal::none) REQUIRE(kp::memfd_memory::seal(r->fd(), seals));
    return *r;
}

constexpr auto all_arena_seals = kp::memfd_seal::shrink | kp::memfd_seal::grow | kp::memfd_seal::future_write |
                                 kp::memfd_seal::seal;

}  // namespace

TEST_CASE("a new segment is a sealed memfd with a header and a channel area - the arenas follow it",
          "[rpc][segment]") {
    auto s = rpc::segment::create({.channel_bytes = 10000}, 65536, 3 * 4096);
    REQUIRE(s);
    CHECK(s->size() == 4096 + 12288);
    const auto& h = s->header();
    CHECK(h.magic == rpc::segment_magic);
    CHECK(h.version == rpc::protocol_version);
    CHECK(h.version == 2);
    CHECK(h.fingerprint == rpc::layout_fingerprint);
    CHECK(h.total_size == s->size());
    CHECK(h.channel_offset == 4096);
    CHECK(h.channel_size == 12288);
    CHECK(h.client_arena_offset == s->size());
    CHECK(h.client_arena_size == 65536);
    CHECK(h.server_arena_offset == s->size() + 65536);
    CHECK(h.server_arena_size == 3 * 4096);
    CHECK(h.creator_pid == ::getpid());
    CHECK(s->channel_area().data() == s->data() + 4096);
    auto seals = kp::memfd_memory::current_seals(s->fd());
    REQUIRE(seals);
    CHECK(kp::has_seals(*seals, kp::memfd_seal::shrink | kp::memfd_seal::grow | kp::memfd_seal::seal));
    const auto target = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(s->fd())).string();
    CHECK_THAT(target, Catch::StartsWith("/memfd:keel-rpc"));
    CHECK(::ftruncate(s->fd(), 0) != 0);
    CHECK(errno == EPERM);
}

TEST_CASE("attach maps a valid segment with the same geometry", "[rpc][segment]") {
    auto s = rpc::segment::create({}, 65536, 65536);
    REQUIRE(s);
    auto t = rpc::segment::attach(s->fd());
    REQUIRE(t);
    CHECK(t->data() != s->data());
    CHECK(t->size() == s->size());
    CHECK(t->channel_offset() == s->channel_offset());
    CHECK(t->client_arena_size() == 65536);
    CHECK(t->server_arena_size() == 65536);
    s->channel_area()[100] = std::byte{9};
    CHECK(t->channel_area()[100] == std::byte{9});
}

TEST_CASE("attach refuses a bad header, naming the field and both values", "[rpc][segment]") {
    auto s = rpc::segment::create({}, 65536, 65536);
    REQUIRE(s);
    auto& h = header_of(*s);
    const rpc::segment_header good = h;
    auto refused = [&](rpc::errc want, const std::string& words) {
        auto t = rpc::segment::attach(s->fd());
        REQUIRE_FALSE(t);
        CHECK(t.error() == want);
        CHECK_THAT(rpc::error_detail(), Catch::Contains(words));
        h = good;
    };
    h.magic = 0x1234;
    refused(rpc::errc::bad_magic, "segment magic is 0x0000000000001234");
    h.version = 3;
    refused(rpc::errc::version_mismatch, "segment has 3, this library speaks 2");
    h.fingerprint ^= 1;
    refused(rpc::errc::fingerprint_mismatch, "layout fingerprint mismatch");
    h.header_size = 8;
    refused(rpc::errc::bad_header, "header_size is 8");
    h.total_size = 1 << 30;
    refused(rpc::errc::size_mismatch, "total_size 1073741824 but the memfd holds");
    h.channel_size += 4096;
    refused(rpc::errc::area_out_of_bounds, "runs past the end");
    h.channel_offset = UINT64_MAX - 4095;
    refused(rpc::errc::area_out_of_bounds, "channel area");
    h.channel_offset = 100;
    refused(rpc::errc::area_out_of_bounds, "not aligned");
    h.channel_offset = 0;
    refused(rpc::errc::area_out_of_bounds, "overlaps");
    h.client_arena_offset += 4096;
    refused(rpc::errc::area_out_of_bounds, "back to back");
    h.server_arena_offset = 0;
    refused(rpc::errc::area_out_of_bounds, "server arena [0,");
    h.client_arena_size = 100;
    refused(rpc::errc::area_out_of_bounds, "page multiples");
    h.server_arena_size = UINT64_MAX - 4095;
    refused(rpc::errc::area_out_of_bounds, "server arena");
    h.creator_pid = -1;
    refused(rpc::errc::bad_header, "creator_pid");
    CHECK(rpc::segment::attach(s->fd()));
}

TEST_CASE("attach refuses fds that are not sealed memfds, and oversized ones", "[rpc][segment]") {
    SECTION("unsealed memfd with a valid header") {
        auto s = rpc::segment::create();
        REQUIRE(s);
        kp::memfd_memory source;
        auto r = kp::map_unique(source, s->size());
        REQUIRE(r);
        std::memcpy((*r)->data(), s->data(), sizeof(rpc::segment_header));
        auto t = rpc::segment::attach((*r)->fd());
        REQUIRE_FALSE(t);
        CHECK(t.error() == rpc::errc::missing_seals);
        CHECK_THAT(rpc::error_detail(), Catch::Contains("lacks F_SEAL_SHRINK|F_SEAL_GROW") &&
                                            Catch::Contains("carries none"));
    }
    SECTION("a pipe") {
        int p[2];
        REQUIRE(::pipe(p) == 0);
        auto t = rpc::segment::attach(p[0]);
        ::close(p[0]);
        ::close(p[1]);
        REQUIRE_FALSE(t);
        CHECK(t.error() == rpc::errc::not_a_memfd);
    }
    SECTION("too large") {
        auto s = rpc::segment::create({.channel_bytes = 1 << 20});
        REQUIRE(s);
        auto t = rpc::segment::attach(s->fd(), {.max_size = 1 << 16});
        REQUIRE_FALSE(t);
        CHECK(t.error() == rpc::errc::segment_too_large);
    }
}

TEST_CASE("an arena is sealed against writes by anyone but its owner's first mapping", "[rpc][arena][seals]") {
    auto a = rpc::arena::create(rpc::arena_role::client, 50000);
    REQUIRE(a);
    CHECK(a->size() == 53248);  // whole pages
    const auto& h = *reinterpret_cast<const rpc::arena_header*>(a->data());
    CHECK(h.magic == rpc::arena_magic);
    CHECK(h.role == static_cast<std::uint32_t>(rpc::arena_role::client));
    CHECK(h.arena_size == a->size());
    CHECK(h.ring_capacity == rpc::give_back_capacity);
    CHECK(h.heap_offset % 4096 == 0);
    CHECK(h.heap_offset + h.heap_size == a->size());
    auto seals = kp::memfd_memory::current_seals(a->fd());
    REQUIRE(seals);
    CHECK(kp::has_seals(*seals, all_arena_seals));
    a->data()[a->size() - 1] = std::byte{7};  // the owner's mapping stays writable

    // What a peer holding the fd would try (same process: the kernel checks the fd).
    CHECK(::mmap(nullptr, a->size(), PROT_READ | PROT_WRITE, MAP_SHARED, a->fd(), 0) == MAP_FAILED);
    CHECK(errno == EPERM);
    void* ro = ::mmap(nullptr, a->size(), PROT_READ, MAP_SHARED, a->fd(), 0);
    REQUIRE(ro != MAP_FAILED);
    CHECK(static_cast<const std::byte*>(ro)[a->size() - 1] == std::byte{7});
    CHECK(::mprotect(ro, 4096, PROT_READ | PROT_WRITE) != 0);
    CHECK(errno == EACCES);
    CHECK(::madvise(ro, 4096, MADV_REMOVE) != 0);
    ::munmap(ro, a->size());
    CHECK(::pwrite(a->fd(), "x", 1, 0) < 0);
    CHECK(errno == EPERM);
    CHECK(::ftruncate(a->fd(), 0) != 0);
    CHECK(::fallocate(a->fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) != 0);
    CHECK(errno == EPERM);
    CHECK_FALSE(kp::memfd_memory::seal(a->fd(), kp::memfd_seal::write));
    CHECK(h.magic == rpc::arena_magic);  // nothing above changed it

    CHECK_THROWS_WITH(rpc::arena::create(rpc::arena_role::server, 4096), Catch::Contains("an arena needs"));
}

TEST_CASE("both views of a connection have one layout: [segment][client arena][server arena]",
          "[rpc][space]") {
    auto [server, client] = make_pair_of_spaces(64 * 1024, 128 * 1024);
    for (const rpc::shared_space* s : {&server, &client}) {
        CHECK(s->size() == s->shared_segment().size() + 64 * 1024 + 128 * 1024);
        CHECK(s->shared_segment().data() == s->base());
        CHECK(s->arena_offset(rpc::arena_role::client) == s->shared_segment().size());
        CHECK(s->arena_offset(rpc::arena_role::server) == s->shared_segment().size() + 64 * 1024);
        CHECK(s->heap_offset(rpc::arena_role::client) == s->arena_offset(rpc::arena_role::client) + 3 * 4096);
        CHECK(s->heap_offset(rpc::arena_role::server) == s->arena_offset(rpc::arena_role::server) + 4096);
        CHECK(s->heap_size(rpc::arena_role::server) == 128 * 1024 - 4096);
    }
    CHECK(server.own_role() == rpc::arena_role::server);
    CHECK(client.own_role() == rpc::arena_role::client);
    CHECK(server.base() != client.base());
    // Each side writes its own arena; the other reads the same bytes at the same offset.
    const std::uint64_t c_off = client.heap_offset(rpc::arena_role::client) + 64;
    const std::uint64_t s_off = server.heap_offset(rpc::arena_role::server) + 128;
    **client.resolve_own(rpc::shm_ptr<std::uint64_t>(c_off)) = 0x1111;
    **server.resolve_own(rpc::shm_ptr<std::uint64_t>(s_off)) = 0x2222;
    CHECK(**server.resolve(rpc::shm_ptr<std::uint64_t>(c_off)) == 0x1111);
    CHECK(**client.resolve(rpc::shm_ptr<std::uint64_t>(s_off)) == 0x2222);
    // The peer's arena is mapped read-only.
    CHECK(::mprotect(client.base() + client.arena_offset(rpc::arena_role::server), 4096, PROT_READ | PROT_WRITE) != 0);
    CHECK(::mprotect(server.base() + server.arena_offset(rpc::arena_role::client), 4096, PROT_READ | PROT_WRITE) != 0);
    // The channel area is shared read-write.
    server.shared_segment().channel_area()[8] = std::byte{3};
    CHECK(client.shared_segment().channel_area()[8] == std::byte{3});
}

TEST_CASE("resolve checks null, bounds, alignment and overflow against the heap parts of the arenas",
          "[rpc][shm_ptr]") {
    STATIC_REQUIRE(sizeof(rpc::shm_ptr<double>) == 8);
    STATIC_REQUIRE(std::is_trivially_copyable_v<rpc::shm_ptr<double>>);
    auto [server, client] = make_pair_of_spaces();
    using P = rpc::shm_ptr<std::uint64_t>;
    for (const rpc::shared_space* s : {&server, &client}) {
        for (auto r : {rpc::arena_role::client, rpc::arena_role::server}) {
            const std::uint64_t heap = s->heap_offset(r);
            const std::uint64_t end = heap + s->heap_size(r);
            CAPTURE(static_cast<int>(r), heap, end);
            auto ok = s->resolve(P(heap + 64));
            REQUIRE(ok);
            CHECK(reinterpret_cast<const std::byte*>(*ok) == s->base() + heap + 64);
            CHECK(s->resolve(P(heap - 8)).error() == rpc::errc::out_of_bounds);      // arena header/ring
            CHECK(s->resolve(P(end - 8)));                                           // the last element
            CHECK(s->resolve(P(end - 8), 2).error() == rpc::errc::out_of_bounds);    // runs over the end
            CHECK(s->resolve(P(heap), SIZE_MAX).error() == rpc::errc::out_of_bounds);  // count overflow
            CHECK(s->resolve(P(heap + 4)).error() == rpc::errc::misaligned);
            CHECK(s->resolve_in(r, P(end), 0));                                      // empty range at the end
            CHECK(s->resolve(P(heap), (end - heap) / 8));                            // the whole heap part
            CHECK(s->resolve_in(r, P(heap + 64)));
            auto sp = s->to_shm(*ok);
            REQUIRE(sp);
            CHECK(sp->offset() == heap + 64);
        }
        CHECK(rpc::shm_ptr<int>().is_null());
        CHECK(s->resolve(P()).error() == rpc::errc::null_pointer);
        CHECK(s->resolve(P(8)).error() == rpc::errc::out_of_bounds);      // the segment header
        CHECK(s->resolve(P(4096)).error() == rpc::errc::out_of_bounds);   // the channel area
        CHECK(s->resolve(P(s->size())).error() == rpc::errc::out_of_bounds);
        CHECK(s->resolve(P(s->size() + 4096)).error() == rpc::errc::out_of_bounds);
        CHECK(s->resolve(P(UINT64_MAX - 7)).error() == rpc::errc::out_of_bounds);
        CHECK(s->to_shm(static_cast<std::uint64_t*>(nullptr))->is_null());
        CHECK(s->to_shm(reinterpret_cast<std::uint64_t*>(s->base())).error() == rpc::errc::out_of_bounds);
        std::uint64_t local = 0;
        CHECK(s->to_shm(&local).error() == rpc::errc::out_of_bounds);
        // resolve_own: only this side's arena; resolve_in: only the named one.
        const auto peer = s->peer_role();
        CHECK(s->resolve_own(P(s->heap_offset(s->own_role()) + 8)));
        CHECK(s->resolve_own(P(s->heap_offset(peer) + 8)).error() == rpc::errc::out_of_bounds);
        CHECK(s->resolve_in(s->own_role(), P(s->heap_offset(peer) + 8)).error() == rpc::errc::out_of_bounds);
    }
}

TEST_CASE("resolve uses the geometry checked when the space was built, not headers rewritten later",
          "[rpc][shm_ptr]") {
    auto [server, client] = make_pair_of_spaces();
    // The client owns its arena and may rewrite its header; the server does not care.
    auto* h = reinterpret_cast<rpc::arena_header*>(client.own_arena().data());
    const std::uint64_t end = server.heap_offset(rpc::arena_role::client) + server.heap_size(rpc::arena_role::client);
    h->heap_size = UINT64_MAX / 2;
    h->heap_offset = 0;
    CHECK(server.resolve(rpc::shm_ptr<char>(end)).error() == rpc::errc::out_of_bounds);
    CHECK(server.resolve(rpc::shm_ptr<char>(server.arena_offset(rpc::arena_role::client) + 8)).error() ==
          rpc::errc::out_of_bounds);
    // Nor does a rewritten segment header move anything.
    header_of(server.shared_segment()).client_arena_size = 1 << 30;
    CHECK(client.resolve(rpc::shm_ptr<char>(end)).error() == rpc::errc::out_of_bounds);
}

TEST_CASE("the server refuses a client arena without the seals, too large or with a bad header",
          "[rpc][arena]") {
    auto good = rpc::arena::create(rpc::arena_role::client, arena_size);
    REQUIRE(good);
    kp::memfd_memory source;
    auto refused = [&](int fd, rpc::errc want, const std::string& words, std::size_t max = std::size_t{1} << 30) {
        auto s = rpc::shared_space::create_server(fd, {.arena_bytes = arena_size, .max_peer_arena_bytes = max});
        REQUIRE_FALSE(s);
        CHECK(s.error() == want);
        CHECK_THAT(rpc::error_detail(), Catch::Contains(words));
    };
    SECTION("no F_SEAL_FUTURE_WRITE: the client could write its arena through a new mapping") {
        auto r = forged_memfd(source, good->data(), arena_size, arena_size,
                              kp::memfd_seal::shrink | kp::memfd_seal::grow | kp::memfd_seal::seal);
        refused(r.fd(), rpc::errc::missing_seals, "lacks F_SEAL_FUTURE_WRITE");
        source.unmap(r);
    }
    SECTION("no seals at all") {
        auto r = forged_memfd(source, good->data(), arena_size, arena_size, kp::memfd_seal::none);
        refused(r.fd(), rpc::errc::missing_seals, "lacks F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_FUTURE_WRITE|F_SEAL_SEAL");
        source.unmap(r);
    }
    SECTION("no F_SEAL_SEAL: the client could add F_SEAL_WRITE later") {
        auto r = forged_memfd(source, good->data(), arena_size, arena_size,
                              kp::memfd_seal::shrink | kp::memfd_seal::grow | kp::memfd_seal::future_write);
        refused(r.fd(), rpc::errc::missing_seals, "lacks F_SEAL_SEAL");
        source.unmap(r);
    }
    SECTION("larger than accepted: refused before mapping") {
        refused(good->fd(), rpc::errc::segment_too_large, "holds 65536 bytes, more than", 32768);
    }
    SECTION("a pipe") {
        int p[2];
        REQUIRE(::pipe(p) == 0);
        refused(p[0], rpc::errc::not_a_memfd, "not a sealable memfd");
        ::close(p[0]);
        ::close(p[1]);
    }
    SECTION("bad arena headers") {
        rpc::arena_header h = *reinterpret_cast<const rpc::arena_header*>(good->data());
        auto with = [&](auto change, rpc::errc want, const std::string& words) {
            rpc::arena_header bad = h;
            change(bad);
            auto r = forged_memfd(source, &bad, sizeof bad, arena_size, all_arena_seals);
            refused(r.fd(), want, words);
            source.unmap(r);
        };
        with([](auto& b) { b.magic = 1; }, rpc::errc::bad_magic, "the client's arena: magic is");
        with([](auto& b) { b.version = 1; }, rpc::errc::version_mismatch, "arena has 1, this library speaks 2");
        with([](auto& b) { b.fingerprint ^= 1; }, rpc::errc::fingerprint_mismatch, "layout fingerprint mismatch");
        with([](auto& b) { b.role = 2; }, rpc::errc::bad_header, "role is 2, expected 1 (client)");
        with([](auto& b) { b.arena_size = 1 << 20; }, rpc::errc::size_mismatch, "arena_size 1048576");
        with([](auto& b) { b.heap_offset = 0; }, rpc::errc::area_out_of_bounds, "heap part");
        with([](auto& b) { b.heap_size += 4096; }, rpc::errc::area_out_of_bounds, "heap part");
        with([](auto& b) { b.ring_capacity = 3; }, rpc::errc::bad_header, "capacity is 3");
        with([](auto& b) { b.ring_capacity = 1 << 14; }, rpc::errc::area_out_of_bounds, "give-back ring");
        with([](auto& b) { b.ring_offset = 8; }, rpc::errc::area_out_of_bounds, "give-back ring at 8");
    }
}

TEST_CASE("the client refuses a server arena without the seals, or disagreeing with the segment", "[rpc][arena]") {
    auto own = rpc::arena::create(rpc::arena_role::client, arena_size);
    REQUIRE(own);
    auto server = rpc::shared_space::create_server(own->fd(), {.arena_bytes = arena_size});
    REQUIRE(server);
    const auto& server_arena = server->arena_bytes(rpc::arena_role::server);
    kp::memfd_memory source;
    auto attach = [&](int seg_fd, int arena_fd, rpc::segment_attach_options o = {}) {
        auto mine = rpc::arena::create(rpc::arena_role::client, arena_size);
        REQUIRE(mine);
        return rpc::shared_space::attach_client(seg_fd, arena_fd, std::move(*mine), o);
    };
    SECTION("no F_SEAL_FUTURE_WRITE") {
        auto r = forged_memfd(source, server_arena.data(), server_arena.size(), server_arena.size(),
                              kp::memfd_seal::shrink | kp::memfd_seal::grow | kp::memfd_seal::seal);
        auto c = attach(server->shared_segment().fd(), r.fd());
        REQUIRE_FALSE(c);
        CHECK(c.error() == rpc::errc::missing_seals);
        CHECK_THAT(rpc::error_detail(), Catch::Contains("the server's arena memfd lacks F_SEAL_FUTURE_WRITE"));
        source.unmap(r);
    }
    SECTION("too large") {
        auto c = attach(server->shared_segment().fd(), server->arena_fd(rpc::arena_role::server),
                        {.max_arena_size = 16384});
        REQUIRE_FALSE(c);
        CHECK(c.error() == rpc::errc::segment_too_large);
    }
    SECTION("a client arena in the server's place") {
        auto other = rpc::arena::create(rpc::arena_role::client, arena_size);
        REQUIRE(other);
        auto c = attach(server->shared_segment().fd(), other->fd());
        REQUIRE_FALSE(c);
        CHECK(c.error() == rpc::errc::bad_header);
        CHECK_THAT(rpc::error_detail(), Catch::Contains("role is 1, expected 2 (server)"));
    }
    SECTION("arena sizes that disagree with the segment header") {
        auto big = rpc::arena::create(rpc::arena_role::client, 2 * arena_size);
        REQUIRE(big);
        auto c = rpc::shared_space::attach_client(server->shared_segment().fd(),
                                                  server->arena_fd(rpc::arena_role::server), std::move(*big), {});
        REQUIRE_FALSE(c);
        CHECK(c.error() == rpc::errc::size_mismatch);
        CHECK_THAT(rpc::error_detail(), Catch::Contains("the segment header says the arenas hold 65536 (client)"));
    }
    SECTION("the segment and the arena swapped") {
        auto c = attach(server->arena_fd(rpc::arena_role::server), server->shared_segment().fd());
        REQUIRE_FALSE(c);
        CHECK(c.error() == rpc::errc::missing_seals);
    }
}

TEST_CASE("error codes of keel.rpc have messages", "[rpc][errors]") {
    const keel::error_code e = rpc::errc::schema_mismatch;
    CHECK(std::string(e.category().name()) == "keel.rpc");
    CHECK(e.message() == "service schema hash mismatch");
    CHECK(keel::error_code(rpc::errc::out_of_memory).message().find("out of memory") != std::string::npos);
    CHECK(keel::error_code(rpc::errc::give_back_full).message().find("give-back ring") != std::string::npos);
}
