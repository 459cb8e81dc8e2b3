// Segments: layout and seals, attach's checks of every header field (each refusal
// names the problem), and shm_ptr's bounds and alignment checks.
#include "../rpc_test_support.hpp"

#include <keel/platform/shared_memory.hpp>
#include <keel/rpc.hpp>

#include <catch2/catch.hpp>
#include <catch_result.hpp>

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

}  // namespace

TEST_CASE("a new segment is a sealed memfd with a header, a channel area and a heap area", "[rpc][segment]") {
    auto s = rpc::segment::create(256 * 1024, {.channel_bytes = 10000});
    REQUIRE(s);
    CHECK(s->size() == 256 * 1024);
    const auto& h = s->header();
    CHECK(h.magic == rpc::segment_magic);
    CHECK(h.version == rpc::protocol_version);
    CHECK(h.fingerprint == rpc::layout_fingerprint);
    CHECK(h.total_size == s->size());
    CHECK(h.channel_offset == 4096);
    CHECK(h.channel_size == 12288);
    CHECK(h.heap_offset == 4096 + 12288);
    CHECK(h.heap_offset + h.heap_size == s->size());
    CHECK(h.creator_pid == ::getpid());
    CHECK(s->channel_area().data() == s->data() + 4096);
    CHECK(s->heap_area().size() == h.heap_size);
    auto seals = kp::memfd_memory::current_seals(s->fd());
    REQUIRE(seals);
    CHECK(kp::has_seals(*seals, kp::memfd_seal::shrink | kp::memfd_seal::grow | kp::memfd_seal::seal));
    const auto target = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(s->fd())).string();
    CHECK_THAT(target, Catch::StartsWith("/memfd:keel-rpc"));
    CHECK(::ftruncate(s->fd(), 0) != 0);
    CHECK(errno == EPERM);
    CHECK_THROWS_WITH(rpc::segment::create(8192, {.channel_bytes = 4096}), Catch::Contains("no heap area"));
}

TEST_CASE("attach maps a valid segment with the same geometry", "[rpc][segment]") {
    auto s = rpc::segment::create(256 * 1024);
    REQUIRE(s);
    auto t = rpc::segment::attach(s->fd());
    REQUIRE(t);
    CHECK(t->data() != s->data());
    CHECK(t->size() == s->size());
    CHECK(t->heap_offset() == s->heap_offset());
    CHECK(t->channel_offset() == s->channel_offset());
    s->heap_area()[100] = std::byte{9};
    CHECK(t->heap_area()[100] == std::byte{9});
}

TEST_CASE("attach refuses a bad header, naming the field and both values", "[rpc][segment]") {
    auto s = rpc::segment::create(256 * 1024);
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
    h.version = 2;
    refused(rpc::errc::version_mismatch, "segment has 2, this library speaks 1");
    h.fingerprint ^= 1;
    refused(rpc::errc::fingerprint_mismatch, "layout fingerprint mismatch");
    h.header_size = 8;
    refused(rpc::errc::bad_header, "header_size is 8");
    h.total_size = 1 << 30;
    refused(rpc::errc::size_mismatch, "total_size 1073741824 but the memfd holds 262144");
    h.heap_size += 4096;
    refused(rpc::errc::area_out_of_bounds, "runs past the end");
    h.heap_offset = UINT64_MAX - 4095;
    refused(rpc::errc::area_out_of_bounds, "heap area");
    h.heap_offset = good.channel_offset;
    refused(rpc::errc::area_out_of_bounds, "overlaps");
    h.channel_offset = 100;
    refused(rpc::errc::area_out_of_bounds, "not aligned");
    h.channel_offset = 0;
    refused(rpc::errc::area_out_of_bounds, "channel area");
    h.creator_pid = -1;
    refused(rpc::errc::bad_header, "creator_pid");
    CHECK(rpc::segment::attach(s->fd()));
}

TEST_CASE("attach refuses fds that are not sealed memfds, and oversized ones", "[rpc][segment]") {
    SECTION("unsealed memfd with a valid header") {
        auto s = rpc::segment::create(256 * 1024);
        REQUIRE(s);
        kp::memfd_memory source;
        auto r = kp::map_unique(source, s->size());
        REQUIRE(r);
        std::memcpy((*r)->data(), s->data(), sizeof(rpc::segment_header));
        auto t = rpc::segment::attach((*r)->fd());
        REQUIRE_FALSE(t);
        CHECK(t.error() == rpc::errc::missing_seals);
        CHECK_THAT(rpc::error_detail(), Catch::Contains("carries seals none"));
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
        auto s = rpc::segment::create(1 << 20);
        REQUIRE(s);
        auto t = rpc::segment::attach(s->fd(), {.max_size = 1 << 16});
        REQUIRE_FALSE(t);
        CHECK(t.error() == rpc::errc::segment_too_large);
    }
}

TEST_CASE("shm_ptr is an 8-byte offset, and resolve checks bounds and alignment against the heap area",
          "[rpc][shm_ptr]") {
    STATIC_REQUIRE(sizeof(rpc::shm_ptr<double>) == 8);
    STATIC_REQUIRE(std::is_trivially_copyable_v<rpc::shm_ptr<double>>);
    auto s = rpc::segment::create(256 * 1024);
    REQUIRE(s);
    const std::uint64_t heap = s->heap_offset();
    const std::uint64_t end = heap + s->heap_area().size();
    using P = rpc::shm_ptr<std::uint64_t>;

    CHECK(rpc::shm_ptr<int>().is_null());
    CHECK(s->resolve(P()).error() == rpc::errc::null_pointer);
    auto ok = s->resolve(P(heap + 64));
    REQUIRE(ok);
    CHECK(reinterpret_cast<std::byte*>(*ok) == s->data() + heap + 64);
    CHECK(s->resolve(P(heap - 8)).error() == rpc::errc::out_of_bounds);       // in the channel area
    CHECK(s->resolve(P(8)).error() == rpc::errc::out_of_bounds);              // the header
    CHECK(s->resolve(P(end)).error() == rpc::errc::out_of_bounds);            // one past the end
    CHECK(s->resolve(P(end - 8)));                                            // the last element
    CHECK(s->resolve(P(end - 8), 2).error() == rpc::errc::out_of_bounds);     // runs over the end
    CHECK(s->resolve(P(heap), SIZE_MAX).error() == rpc::errc::out_of_bounds); // count overflow
    CHECK(s->resolve(P(UINT64_MAX - 7)).error() == rpc::errc::out_of_bounds);
    CHECK(s->resolve(P(heap + 4)).error() == rpc::errc::misaligned);
    CHECK(s->resolve(P(end), 0));                                             // empty range at the end
    CHECK(s->resolve(P(heap), (end - heap) / 8));                             // the whole heap

    auto* q = reinterpret_cast<std::uint64_t*>(s->data() + heap + 128);
    auto sp = s->to_shm(q);
    REQUIRE(sp);
    CHECK(sp->offset() == heap + 128);
    CHECK(*s->resolve(*sp) == q);
    CHECK(s->to_shm(static_cast<std::uint64_t*>(nullptr))->is_null());
    CHECK(s->to_shm(reinterpret_cast<std::uint64_t*>(s->data())).error() == rpc::errc::out_of_bounds);
    std::uint64_t local = 0;
    CHECK(s->to_shm(&local).error() == rpc::errc::out_of_bounds);
}

TEST_CASE("resolve uses the geometry checked at attach, not the header a peer may rewrite later",
          "[rpc][shm_ptr]") {
    auto s = rpc::segment::create(256 * 1024);
    REQUIRE(s);
    auto t = rpc::segment::attach(s->fd());
    REQUIRE(t);
    header_of(*s).heap_size = UINT64_MAX / 2;  // a hostile peer widens the heap after attach
    const std::uint64_t end = t->heap_offset() + t->heap_area().size();
    CHECK(t->resolve(rpc::shm_ptr<char>(end)).error() == rpc::errc::out_of_bounds);
    CHECK(t->resolve(rpc::shm_ptr<char>(end + 4096)).error() == rpc::errc::out_of_bounds);
}

TEST_CASE("error codes of keel.rpc have messages", "[rpc][errors]") {
    const keel::error_code e = rpc::errc::schema_mismatch;
    CHECK(std::string(e.category().name()) == "keel.rpc");
    CHECK(e.message() == "service schema hash mismatch");
}
