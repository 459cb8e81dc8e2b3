// Containers in shared memory (rpc::vector, rpc::string, rpc::map over
// rpc::shm_allocator): built by one process in its own arena, passed by shm_ptr and
// read by the other (offset_ptr links mean the same in both mappings); rpc::verify
// keeps a received vector's or string's storage inside the sender's arena, and
// refuses containers a hostile sender has bent; containers returned by the server
// are lent to the client and freed (with their storage) when given back.
#include "../rpc_calls_support.hpp"

#include <keel/rpc.hpp>
#include <keel/rpc/containers.hpp>

#include <catch2/catch.hpp>
#include <catch_result.hpp>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <string_view>

namespace rpc = keel::rpc;
using namespace keel::test;
using namespace std::chrono_literals;

namespace {

using vec_t = rpc::vector<std::uint64_t>;
using map_t = rpc::map<std::uint32_t, std::uint64_t>;

using sum_vector = rpc::method<"sum_vector", std::uint64_t(rpc::shm_ptr<vec_t>)>;
using string_hash = rpc::method<"string_hash", std::uint64_t(rpc::shm_ptr<rpc::string>)>;
using map_sum = rpc::method<"map_sum", std::uint64_t(rpc::shm_ptr<map_t>, std::uint32_t)>;
using make_vector = rpc::method<"make_vector", rpc::shm_ptr<vec_t>(std::uint32_t)>;
using make_string = rpc::method<"make_string", rpc::shm_ptr<rpc::string>(std::uint32_t)>;
using server_bytes = rpc::method<"server_bytes", std::uint64_t()>;
using container_service =
    rpc::service<"containers", sum_vector, string_hash, map_sum, make_vector, make_string, server_bytes>;

std::uint64_t fnv(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

std::string text_of(std::uint32_t n) {
    std::string s;
    for (std::uint32_t i = 0; i < n; ++i) s += static_cast<char>('a' + i % 26);
    return s;
}

std::string run_container_server(const std::string& name) {
    rpc::server_options o;
    o.arena_bytes = 1 << 20;
    rpc::server<container_service> srv(name, o);
    srv.handle<sum_vector>([](rpc::call_context& ctx, rpc::shm_ptr<vec_t> p) {
        auto span = rpc::verify(ctx.space(), p);
        if (!span) throw std::runtime_error("vector refused: " + span.error().message());
        return std::accumulate(span->begin(), span->end(), std::uint64_t{0});
    });
    srv.handle<string_hash>([](rpc::call_context& ctx, rpc::shm_ptr<rpc::string> p) {
        auto s = rpc::verify(ctx.space(), p);
        if (!s) throw std::runtime_error("string refused: " + s.error().message());
        return fnv(*s);
    });
    // A map from a client this test trusts: walked with a bound and each node's
    // address checked before it is read (a hostile map is not safe to walk: the
    // iterator follows links on its own; see docs/rpc.md).
    srv.handle<map_sum>([](rpc::call_context& ctx, rpc::shm_ptr<map_t> p, std::uint32_t max) {
        auto m = ctx.resolve(p);
        if (!m) throw std::runtime_error("map refused: " + m.error().message());
        std::uint64_t sum = 0, seen = 0;
        for (auto it = (*m)->begin(); it != (*m)->end(); ++it) {
            if (++seen > max) throw std::runtime_error("more entries than the bound");
            if (!ctx.space().in_heap(rpc::arena_role::client, &*it, sizeof *it)) throw std::runtime_error("stray node");
            sum += it->first * it->second;
        }
        return sum;
    });
    // Containers returned to the client: built in the server's arena, lent with
    // their destructor (which frees their storage when the client gives them back).
    srv.handle<make_vector>([](rpc::call_context& ctx, std::uint32_t n) {
        auto v = ctx.heap().make<vec_t>(ctx.heap());
        if (!v) throw std::runtime_error("out of memory");
        vec_t& vec = **ctx.heap().resolve(*v);
        for (std::uint32_t i = 0; i < n; ++i) vec.push_back(std::uint64_t{i} * i);
        return *v;
    });
    srv.handle<make_string>([](rpc::call_context& ctx, std::uint32_t n) {
        const std::string t = text_of(n);
        auto s = ctx.heap().make<rpc::string>(t.data(), t.size(), ctx.heap());
        if (!s) throw std::runtime_error("out of memory");
        return *s;
    });
    srv.handle<server_bytes>([](rpc::call_context& ctx) {
        (void)ctx.heap().collect_give_backs();
        return static_cast<std::uint64_t>(ctx.heap().bytes_in_use());
    });
    serve_until_clients_leave(srv);
    return {};
}

rpc::client_options container_client_opts() {
    auto o = client_opts();
    o.arena_bytes = 1 << 20;
    return o;
}

// The 8-byte word inside [obj, obj + size) that holds `value`, or nullptr (to bend a
// container's internals the way a hostile sender could, without relying on layout).
std::uint64_t* find_word(void* obj, std::size_t size, std::uint64_t value) {
    auto* w = static_cast<std::uint64_t*>(obj);
    std::uint64_t* found = nullptr;
    for (std::size_t i = 0; i < size / 8; ++i) {
        if (w[i] == value) {
            if (found != nullptr) return nullptr;  // ambiguous
            found = &w[i];
        }
    }
    return found;
}

// The word of an offset_ptr inside `obj` that points at `target`.
std::uint64_t* find_offset_ptr(void* obj, std::size_t size, const void* target) {
    auto* w = static_cast<std::uint64_t*>(obj);
    for (std::size_t i = 0; i < size / 8; ++i) {
        if (reinterpret_cast<std::uintptr_t>(&w[i]) + w[i] == reinterpret_cast<std::uintptr_t>(target)) return &w[i];
    }
    return nullptr;
}

}  // namespace

TEST_CASE("containers: a vector, strings and a map built by the client are read by the server", "[rpc][containers]") {
    const auto name = abstract_name("containers");
    child server([&] { return run_container_server(name); });
    auto c = rpc::client<container_service>::connect(name, container_client_opts());
    REQUIRE(c);
    auto& heap = c->heap();

    auto v = heap.make<vec_t>(heap);
    REQUIRE(v);
    vec_t& vec = **heap.resolve(*v);
    for (std::uint64_t i = 1; i <= 10000; ++i) vec.push_back(i);
    auto sum = c->call<sum_vector>(*v);
    REQUIRE(sum);
    CHECK(*sum == 10000ULL * 10001 / 2);

    for (std::uint32_t n : {0u, 5u, 22u, 300u}) {  // empty, short (in the object), long (in a block)
        CAPTURE(n);
        const std::string t = text_of(n);
        auto s = heap.make<rpc::string>(t.data(), t.size(), heap);
        REQUIRE(s);
        auto h = c->call<string_hash>(*s);
        REQUIRE(h);
        CHECK(*h == fnv(t));
        REQUIRE(heap.destroy(*s));
    }

    auto m = heap.make<map_t>(heap);
    REQUIRE(m);
    std::uint64_t want = 0;
    for (std::uint32_t k = 0; k < 200; ++k) {
        (**heap.resolve(*m)).emplace(k, std::uint64_t{k} + 7);
        want += std::uint64_t{k} * (k + 7);
    }
    auto ms = c->call<map_sum>(*m, 1000u);
    REQUIRE(ms);
    CHECK(*ms == want);

    REQUIRE(heap.destroy(*v));
    REQUIRE(heap.destroy(*m));
    CHECK(heap.stats().bytes_in_use == 0);  // the containers freed their storage
    CHECK(heap.verify() == "");
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("containers: the server refuses a vector or string a hostile client has bent", "[rpc][containers]") {
    const auto name = abstract_name("bent");
    child server([&] { return run_container_server(name); });
    auto c = rpc::client<container_service>::connect(name, container_client_opts());
    REQUIRE(c);
    auto& heap = c->heap();
    const auto& sp = c->space();
    auto v = heap.make<vec_t>(heap);
    REQUIRE(v);
    vec_t& vec = **heap.resolve(*v);
    vec.reserve(2000);
    for (std::uint64_t i = 0; i < 1000; ++i) vec.push_back(1);
    REQUIRE(c->call<sum_vector>(*v));
    auto refused = [&](const char* why) {
        INFO(why);
        auto r = c->call<sum_vector>(*v);
        REQUIRE_FALSE(r);
        CHECK(r.error() == rpc::errc::handler_failed);
        CHECK_THAT(rpc::error_detail(), Catch::Contains("vector refused"));
    };
    // The size: far past the arena.
    std::uint64_t* size_word = find_word(&vec, sizeof vec, 1000);
    REQUIRE(size_word != nullptr);
    *size_word = std::uint64_t{1} << 40;
    refused("huge size");
    *size_word = 1000;
    // The element pointer: into the segment, into the server's arena, misaligned, back.
    std::uint64_t* data_word = find_offset_ptr(&vec, sizeof vec, vec.data());
    REQUIRE(data_word != nullptr);
    const std::uint64_t good = *data_word;
    const auto aim = [&](const void* at) {
        *data_word = reinterpret_cast<std::uintptr_t>(at) - reinterpret_cast<std::uintptr_t>(data_word);
    };
    aim(sp.base() + 4096);
    refused("storage in the channel area");
    aim(sp.arena_bytes(rpc::arena_role::server).data() + 8192);
    refused("storage in the other arena");
    aim(sp.base() + sp.size() - 64);
    refused("storage running off the end");
    *data_word = good + 4;
    refused("misaligned storage");
    *data_word = good;
    auto ok = c->call<sum_vector>(*v);
    REQUIRE(ok);
    CHECK(*ok == 1000);

    // A long string whose character pointer leaves the arena.
    const std::string t = text_of(300);
    auto s = heap.make<rpc::string>(t.data(), t.size(), heap);
    REQUIRE(s);
    rpc::string& str = **heap.resolve(*s);
    std::uint64_t* chars = find_offset_ptr(&str, sizeof str, str.data());
    REQUIRE(chars != nullptr);
    const std::uint64_t good_chars = *chars;
    *chars = reinterpret_cast<std::uintptr_t>(sp.base()) - reinterpret_cast<std::uintptr_t>(chars);
    auto r = c->call<string_hash>(*s);
    REQUIRE_FALSE(r);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("string refused"));
    *chars = good_chars;
    auto h = c->call<string_hash>(*s);
    REQUIRE(h);
    CHECK(*h == fnv(t));
    // A container pointer outside the arenas is refused by resolve.
    auto bad = c->call<sum_vector>(rpc::shm_ptr<vec_t>(4096));
    REQUIRE_FALSE(bad);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("shm_ptr outside"));
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("containers: the server returns a vector and a string, lent - given back, their storage is freed",
          "[rpc][containers]") {
    const auto name = abstract_name("returned");
    child server([&] { return run_container_server(name); });
    auto c = rpc::client<container_service>::connect(name, container_client_opts());
    REQUIRE(c);
    auto base = c->call<server_bytes>();
    REQUIRE(base);
    auto v = c->call<make_vector>(5000u);
    REQUIRE(v);
    auto span = rpc::verify(c->space(), *v);  // read-only: the server's arena
    REQUIRE(span);
    REQUIRE(span->size() == 5000);
    for (std::uint64_t i = 0; i < 5000; ++i) CHECK((*span)[i] == i * i);
    auto s = c->call<make_string>(1000u);
    REQUIRE(s);
    auto text = rpc::verify(c->space(), *s);
    REQUIRE(text);
    CHECK(*text == text_of(1000));
    auto held = c->call<server_bytes>();
    REQUIRE(held);
    CHECK(*held > *base + 5000 * 8 + 1000);
    REQUIRE(c->release(*v));
    REQUIRE(c->release(*s));
    auto after = c->call<server_bytes>();
    REQUIRE(after);
    CHECK(*after == *base);  // ~vector and ~string ran in the server and freed their blocks
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("containers: verify in one process over both views of a connection", "[rpc][containers]") {
    auto own = rpc::arena::create(rpc::arena_role::client, 256 * 1024);
    REQUIRE(own);
    auto server = rpc::shared_space::create_server(own->fd(), {.arena_bytes = 256 * 1024});
    REQUIRE(server);
    auto client = rpc::shared_space::attach_client(server->shared_segment().fd(),
                                                   server->arena_fd(rpc::arena_role::server), std::move(*own), {});
    REQUIRE(client);
    rpc::shared_heap heap(*client);
    auto v = heap.make<vec_t>(heap);
    REQUIRE(v);
    for (std::uint64_t i = 0; i < 100; ++i) (**heap.resolve(*v)).push_back(i);
    // The server's view of the client's vector: the same elements at another address.
    auto span = rpc::verify(*server, *v);
    REQUIRE(span);
    CHECK(span->size() == 100);
    CHECK((*span)[99] == 99);
    CHECK(static_cast<const void*>(span->data()) != static_cast<const void*>((**heap.resolve(*v)).data()));
    // A vector object on the stack is not in an arena.
    vec_t local(heap);
    CHECK(rpc::verify(*client, local).error() == rpc::errc::out_of_bounds);
    // An empty vector and a short string verify to empty / inline views.
    auto e = heap.make<vec_t>(heap);
    REQUIRE(e);
    auto es = rpc::verify(*server, *e);
    REQUIRE(es);
    CHECK(es->empty());
    auto s = heap.make<rpc::string>("hi", heap);
    REQUIRE(s);
    auto sv = rpc::verify(*server, *s);
    REQUIRE(sv);
    CHECK(*sv == "hi");
    // Out of memory inside a container: std::bad_alloc, as the standard requires.
    CHECK_THROWS_AS((**heap.resolve(*e)).resize(1 << 20), std::bad_alloc);
    REQUIRE(heap.destroy(*e));
    REQUIRE(heap.destroy(*s));
    REQUIRE(heap.destroy(*v));
    CHECK(heap.stats().bytes_in_use == 0);
}
