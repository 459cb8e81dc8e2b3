// The shared heap: each side allocates in its own arena (the other maps it
// read-only), a 1,000-node tree built by the client with shm_ptr links is walked by
// the server's handler, results allocated by the server are lent to the client and
// given back through the client's give-back ring (hostile offsets are ignored and
// counted), out-of-memory is an error, the seals hold across processes, and nothing
// leaks (memfds, mappings, fds). Two processes via fork, plus in-process checks of
// the heap's bookkeeping over both views of one connection's memory.
#include "../rpc_calls_support.hpp"

#include <keel/rpc.hpp>

#include <catch2/catch.hpp>
#include <catch_result.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace rpc = keel::rpc;
using namespace keel::test;
using namespace std::chrono_literals;

namespace {

struct tnode {
    std::uint64_t value;
    rpc::shm_ptr<tnode> left;
    rpc::shm_ptr<tnode> right;
};

struct heap_report {
    std::uint64_t bytes_in_use;
    std::uint64_t live_blocks;
    std::uint64_t lent_blocks;
    std::uint64_t given_back;
    std::uint64_t refused;
    std::uint64_t verify_ok;
};

using walk_tree = rpc::method<"walk_tree", std::uint64_t(rpc::shm_ptr<tnode>, std::uint32_t)>;
using make_numbers = rpc::method<"make_numbers", rpc::shm_ptr<std::uint64_t>(std::uint32_t)>;
using private_block = rpc::method<"private_block", std::uint64_t()>;
using check_private = rpc::method<"check_private", std::uint64_t()>;
using report = rpc::method<"report", heap_report()>;
using try_write = rpc::method<"try_write", std::uint32_t(rpc::shm_ptr<std::uint64_t>)>;
using fill_heap = rpc::method<"fill_heap", std::uint64_t(std::uint32_t)>;
using heap_service =
    rpc::service<"heap", walk_tree, make_numbers, private_block, check_private, report, try_write, fill_heap>;

constexpr std::uint64_t canary = 0xc0ffee'0000'beefULL;

void register_heap_handlers(rpc::server<heap_service>& srv, std::uint64_t& kept) {
    // Reads the client's tree in place: every link resolved (bounds, alignment),
    // every node copied once, the walk bounded (a hostile client can make cycles).
    srv.handle<walk_tree>([](rpc::call_context& ctx, rpc::shm_ptr<tnode> root, std::uint32_t max) {
        std::uint64_t sum = 0, seen = 0;
        std::vector<rpc::shm_ptr<tnode>> stack{root};
        while (!stack.empty()) {
            const auto p = stack.back();
            stack.pop_back();
            if (!p) continue;
            auto n = ctx.resolve(p);
            if (!n) throw std::runtime_error("bad link: " + n.error().message());
            if (++seen > max) throw std::runtime_error("more nodes than the bound (a cycle?)");
            const tnode node = **n;
            sum += node.value;
            stack.push_back(node.left);
            stack.push_back(node.right);
        }
        return sum;
    });
    // A result in the server's arena: returning the shm_ptr lends it to the client.
    srv.handle<make_numbers>([](rpc::call_context& ctx, std::uint32_t n) {
        auto p = ctx.heap().make_array<std::uint64_t>(n);
        if (!p) throw std::runtime_error("allocate: " + p.error().message());
        auto* a = *ctx.heap().resolve(*p, n);
        for (std::uint32_t i = 0; i < n; ++i) a[i] = 3 * i;
        return *p;
    });
    // A block the server keeps for itself (its offset travels as a plain number: not lent).
    srv.handle<private_block>([&kept](rpc::call_context& ctx) {
        auto p = ctx.heap().make<std::uint64_t>(canary);
        if (!p) throw std::runtime_error("allocate");
        kept = p->offset();
        return kept;
    });
    srv.handle<check_private>([&kept](rpc::call_context& ctx) {
        auto p = ctx.heap().resolve(rpc::shm_ptr<std::uint64_t>(kept));
        if (!p) throw std::runtime_error("no private block");
        // Still a live block of the heap, and untouched.
        if (ctx.heap().lend(rpc::shm_ptr<std::uint64_t>(kept + 16)).error() != rpc::errc::not_allocated) {
            throw std::runtime_error("an interior offset was taken for a block");
        }
        return **p;
    });
    srv.handle<report>([](rpc::call_context& ctx) {
        (void)ctx.heap().collect_give_backs();
        const auto s = ctx.heap().stats();
        return heap_report{s.bytes_in_use, s.live_blocks,         s.lent_blocks,
                           s.given_back,   s.refused_give_backs, ctx.heap().verify().empty() ? 1u : 0u};
    });
    // Everything a handler might try to write the caller's argument memory with.
    srv.handle<try_write>([](rpc::call_context& ctx, rpc::shm_ptr<std::uint64_t> p) {
        auto a = ctx.resolve(p);
        if (!a) throw std::runtime_error("bad pointer");
        std::uint32_t refused = 0;
        auto* page = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(*a) & ~std::uintptr_t{4095});
        if (::mprotect(page, 4096, PROT_READ | PROT_WRITE) != 0) refused |= 1;
        const int fd = ctx.space().arena_fd(rpc::arena_role::client);
        void* w = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (w == MAP_FAILED) refused |= 2;
        const auto off = static_cast<off_t>(p.offset() - ctx.space().arena_offset(rpc::arena_role::client));
        if (::pwrite(fd, "x", 1, off) < 0) refused |= 4;
        if (!ctx.resolve_own(p)) refused |= 8;
        return refused;
    });
    srv.handle<fill_heap>([](rpc::call_context& ctx, std::uint32_t chunk) {
        std::vector<rpc::shm_ptr<std::byte>> got;
        for (;;) {
            auto p = ctx.heap().allocate(chunk);
            if (!p) {
                if (p.error() != rpc::errc::out_of_memory) throw std::runtime_error("error " + p.error().message());
                break;
            }
            got.push_back(*p);
        }
        for (auto p : got) {
            if (!ctx.heap().deallocate(p)) throw std::runtime_error("deallocate failed");
        }
        return static_cast<std::uint64_t>(got.size());
    });
}

std::string run_heap_server(const std::string& name, std::size_t clients = 1) {
    rpc::server_options o;
    o.arena_bytes = 1 << 20;
    rpc::server<heap_service> srv(name, o);
    std::uint64_t kept = 0;
    register_heap_handlers(srv, kept);
    serve_until_clients_leave(srv, clients);
    return {};
}

rpc::client_options heap_client_opts(std::size_t arena = 1 << 20) {
    auto o = client_opts();
    o.arena_bytes = arena;
    return o;
}

// fds, mappings and keel memfds of this process.
std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}
std::size_t mappings() {
    std::ifstream maps("/proc/self/maps");
    std::size_t n = 0;
    for (std::string line; std::getline(maps, line);) ++n;
    return n;
}
// Whether any mapping of this process overlaps [begin, end).
bool mapped_in(std::uintptr_t begin, std::uintptr_t end) {
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);) {
        const auto dash = line.find('-');
        const auto space = line.find(' ');
        const auto lo = std::stoull(line.substr(0, dash), nullptr, 16);
        const auto hi = std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16);
        if (lo < end && begin < hi) return true;
    }
    return false;
}

std::size_t keel_memfds() {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        const auto target = std::filesystem::read_symlink(e.path(), ec).string();
        if (target.rfind("/memfd:keel-rpc", 0) == 0) ++n;
    }
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);) {
        if (line.find("/memfd:keel-rpc") != std::string::npos) ++n;
    }
    return n;
}

// Both views of one connection's memory in this process, and a heap on each.
struct heap_pair {
    rpc::shared_space server_space;
    rpc::shared_space client_space;
    std::unique_ptr<rpc::shared_heap> server;
    std::unique_ptr<rpc::shared_heap> client;
};

heap_pair make_heaps(std::size_t bytes = 256 * 1024) {
    auto own = rpc::arena::create(rpc::arena_role::client, bytes);
    REQUIRE(own);
    auto s = rpc::shared_space::create_server(own->fd(), {.arena_bytes = bytes});
    REQUIRE(s);
    auto c = rpc::shared_space::attach_client(s->shared_segment().fd(), s->arena_fd(rpc::arena_role::server),
                                              std::move(*own), {});
    REQUIRE(c);
    heap_pair p{std::move(*s), std::move(*c), nullptr, nullptr};
    p.server = std::make_unique<rpc::shared_heap>(p.server_space);
    p.client = std::make_unique<rpc::shared_heap>(p.client_space);
    return p;
}

std::atomic<int> destroyed{0};
struct counted {
    std::uint64_t v = 7;
    ~counted() { destroyed.fetch_add(1); }
};

}  // namespace

TEST_CASE("shared heap: a 1,000-node tree built by the client is walked by the server's handler",
          "[rpc][shared_heap]") {
    const auto name = abstract_name("tree");
    child server([&] { return run_heap_server(name); });
    auto c = rpc::client<heap_service>::connect(name, heap_client_opts());
    REQUIRE(c);
    auto& heap = c->heap();
    CHECK(heap.role() == rpc::arena_role::client);
    const auto before = heap.stats();
    CHECK(before.bytes_in_use == 0);
    constexpr std::uint64_t count = 1000;
    std::vector<rpc::shm_ptr<tnode>> nodes;
    std::function<rpc::shm_ptr<tnode>(std::uint64_t, std::uint64_t)> build =
        [&](std::uint64_t lo, std::uint64_t hi) -> rpc::shm_ptr<tnode> {
        if (lo > hi) return {};
        const std::uint64_t mid = lo + (hi - lo) / 2;
        auto n = heap.make<tnode>(tnode{mid, build(lo, mid - 1), build(mid + 1, hi)});
        REQUIRE(n);
        nodes.push_back(*n);
        return *n;
    };
    const auto root = build(1, count);
    CHECK(heap.stats().live_blocks == count);
    auto sum = c->call<walk_tree>(root, std::uint32_t{count});
    REQUIRE(sum);
    CHECK(*sum == count * (count + 1) / 2);

    // A link out of bounds, and a cycle: the handler's checks refuse them.
    tnode* leaf = *heap.resolve(nodes.front());
    leaf->left = rpc::shm_ptr<tnode>(c->space().size() + 64);
    auto bad = c->call<walk_tree>(root, std::uint32_t{count});
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == rpc::errc::handler_failed);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("bad link"));
    leaf->left = rpc::shm_ptr<tnode>(nodes.front().offset() + 4);  // misaligned
    bad = c->call<walk_tree>(root, std::uint32_t{count});
    REQUIRE_FALSE(bad);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("misaligned"));
    leaf->left = root;
    bad = c->call<walk_tree>(root, std::uint32_t{count});
    REQUIRE_FALSE(bad);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("a cycle"));
    leaf->left = {};
    REQUIRE(c->call<walk_tree>(root, std::uint32_t{count}));

    for (auto n : nodes) REQUIRE(heap.deallocate(n));
    CHECK(heap.stats().bytes_in_use == 0);
    CHECK(heap.verify() == "");
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("shared heap: server results are lent to the client, read-only there, and given back",
          "[rpc][shared_heap]") {
    const auto name = abstract_name("lend");
    child server([&] { return run_heap_server(name); });
    auto c = rpc::client<heap_service>::connect(name, heap_client_opts());
    REQUIRE(c);
    auto base = c->call<report>();
    REQUIRE(base);
    auto r = c->call<make_numbers>(100u);
    REQUIRE(r);
    CHECK(r->offset() >= c->space().heap_offset(rpc::arena_role::server));
    auto a = c->space().resolve(*r, 100);  // const std::uint64_t*
    REQUIRE(a);
    for (std::uint32_t i = 0; i < 100; ++i) CHECK((*a)[i] == 3 * i);
    CHECK(c->space().resolve_own(*r).error() == rpc::errc::out_of_bounds);  // not ours to write
    auto lent = c->call<report>();
    REQUIRE(lent);
    CHECK(lent->lent_blocks == 1);
    CHECK(lent->bytes_in_use > base->bytes_in_use);

    REQUIRE(c->release(*r));
    CHECK(c->heap().stats().released == 1);
    CHECK(c->release(rpc::shm_ptr<std::uint64_t>(c->space().heap_offset(rpc::arena_role::client) + 16)).error() ==
          rpc::errc::out_of_bounds);  // our own block: not the server's to free
    CHECK(c->release(rpc::shm_ptr<std::uint64_t>(r->offset() + 8)).error() == rpc::errc::misaligned);
    auto back = c->call<report>();
    REQUIRE(back);
    CHECK(back->given_back == 1);
    CHECK(back->lent_blocks == 0);
    CHECK(back->bytes_in_use == base->bytes_in_use);
    CHECK(back->refused == 0);
    CHECK(back->verify_ok == 1);

    // The server cannot write the caller's argument memory, whatever it tries.
    auto arg = c->heap().make<std::uint64_t>(std::uint64_t{42});
    REQUIRE(arg);
    auto w = c->call<try_write>(*arg);
    REQUIRE(w);
    CHECK(*w == 15);
    CHECK(**c->heap().resolve(*arg) == 42);
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("shared heap: hostile offsets in the give-back ring are ignored and counted", "[rpc][shared_heap][fuzz]") {
    const auto name = abstract_name("hostile");
    child server([&] { return run_heap_server(name); });
    auto c = rpc::client<heap_service>::connect(name, heap_client_opts());
    REQUIRE(c);
    const auto& sp = c->space();
    auto kept = c->call<private_block>();  // a server block that was never lent
    REQUIRE(kept);
    auto r1 = c->call<make_numbers>(10u);
    auto r2 = c->call<make_numbers>(10u);
    REQUIRE(r1);
    REQUIRE(r2);
    REQUIRE(c->release(*r1));  // the one legitimate give-back

    // Now behave like a hostile client: write the ring by hand (it is in our arena).
    auto* h = reinterpret_cast<rpc::arena_header*>(c->space().own_arena().data());
    auto* ring = reinterpret_cast<std::uint64_t*>(c->space().own_arena().data() + h->ring_offset);
    std::atomic_ref<std::uint64_t> head(h->ring_head);
    std::uint64_t at = head.load();
    const std::uint64_t bogus[] = {
        0xdeadbeef, UINT64_MAX, 0, 1,                              // garbage
        *kept,                                                     // a block the server keeps for itself
        r1->offset(),                                              // given back twice
        r2->offset() + 16,                                         // inside a lent block
        sp.heap_offset(rpc::arena_role::client) + 16,              // our own arena
        4096,                                                      // the channel area
        sp.heap_offset(rpc::arena_role::server) + (1 << 20) - 8192,  // free server memory
    };
    for (std::uint64_t off : bogus) ring[at++ & (h->ring_capacity - 1)] = off;
    head.store(at, std::memory_order_release);
    auto rep = c->call<report>();
    REQUIRE(rep);
    CHECK(rep->given_back == 1);
    CHECK(rep->refused == std::size(bogus));
    CHECK(rep->lent_blocks == 1);  // r2 is still the client's
    CHECK(rep->verify_ok == 1);
    auto still = c->call<check_private>();
    REQUIRE(still);
    CHECK(*still == canary);
    auto a = sp.resolve(*r2, 10);  // r2 untouched
    REQUIRE(a);
    CHECK((*a)[9] == 27);

    // A head far beyond what the ring holds: the server skips the lot (one refusal).
    head.store(at + 5000, std::memory_order_release);
    rep = c->call<report>();
    REQUIRE(rep);
    CHECK(rep->refused == std::size(bogus) + 1);
    CHECK(rep->lent_blocks == 1);
    CHECK(rep->verify_ok == 1);
    REQUIRE(c->call<check_private>());
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("shared heap: out of memory is an error on both sides, and the heap recovers", "[rpc][shared_heap]") {
    const auto name = abstract_name("oom");
    child server([&] { return run_heap_server(name); });
    auto c = rpc::client<heap_service>::connect(name, heap_client_opts(64 * 1024));
    REQUIRE(c);
    auto& heap = c->heap();
    std::vector<rpc::shm_ptr<std::byte>> got;
    for (;;) {
        auto p = heap.allocate(4000);
        if (!p) {
            CHECK(p.error() == rpc::errc::out_of_memory);
            break;
        }
        got.push_back(*p);
        REQUIRE(got.size() < 100);
    }
    CHECK(got.size() >= 10);  // 64 KiB less the header page and the ring
    CHECK(heap.make<std::array<char, 8192>>().error() == rpc::errc::out_of_memory);
    CHECK(heap.make_array<std::uint64_t>(SIZE_MAX / 4).error() == rpc::errc::out_of_memory);
    CHECK(heap.allocate(16, 3).error() == std::errc::invalid_argument);
    CHECK(heap.stats().failed_allocations >= 2);
    for (auto p : got) REQUIRE(heap.deallocate(p));
    CHECK(heap.stats().bytes_in_use == 0);
    CHECK(heap.allocate(40000));
    auto filled = c->call<fill_heap>(64u * 1024);
    REQUIRE(filled);
    CHECK(*filled >= 10);
    auto rep = c->call<report>();
    REQUIRE(rep);
    CHECK(rep->bytes_in_use == 0);
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("shared heap: connections, killed clients and their arenas leave no memfd, mapping or fd behind",
          "[rpc][shared_heap][cleanup]") {
    const std::size_t fds_before = open_fds();
    const std::size_t maps_before = mappings();
    CHECK(keel_memfds() == 0);
    std::vector<std::pair<std::uintptr_t, std::size_t>> ranges;
    const auto name = abstract_name("leaks");
    {
        signal_pipe victim_ready;
        child server([&]() -> std::string {
            {
                rpc::server_options o;
                o.arena_bytes = 1 << 20;
                rpc::server<heap_service> srv(name, o);
                std::uint64_t kept = 0;
                register_heap_handlers(srv, kept);
                serve_until_clients_leave(srv, 4);
                if (srv.dropped() != 4) return "dropped " + std::to_string(srv.dropped());
            }
            if (keel_memfds() != 0) return "the server still holds keel memfds: " + std::to_string(keel_memfds());
            return {};
        });
        child victim([&]() -> std::string {
            auto c = rpc::client<heap_service>::connect(name, heap_client_opts());
            if (!c) return "connect";
            auto r = c->call<make_numbers>(1000u);  // holds a loan when it dies
            if (!r) return "call";
            victim_ready.post();
            for (;;) ::pause();
        });
        REQUIRE(victim_ready.wait());
        victim.kill(SIGKILL);
        (void)victim.join();
        for (int i = 0; i < 3; ++i) {
            auto c = rpc::client<heap_service>::connect(name, heap_client_opts());
            REQUIRE(c);
            ranges.emplace_back(reinterpret_cast<std::uintptr_t>(c->space().base()), c->space().size());
            auto p = c->heap().make_array<std::uint64_t>(1000);
            REQUIRE(p);
            auto r = c->call<make_numbers>(1000u);
            REQUIRE(r);
            CHECK(keel_memfds() >= 3);  // the segment and both arenas, mapped here
            // Neither loan nor allocation given back: both arenas simply go with the connection.
        }
        CHECK(server.join().empty());
        CHECK(keel_memfds() == 0);
    }  // the children's pipes close here
    CHECK(open_fds() == fds_before);
    // Nothing is mapped where the connections' ranges were. (The count of all
    // mappings is compared too, except under ASan and TSan, whose runtimes map as they go.)
    for (const auto& [begin, size] : ranges) CHECK_FALSE(mapped_in(begin, begin + size));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    CHECK(mappings() == maps_before);
#else
    (void)maps_before;
#endif
}

TEST_CASE("shared heap bookkeeping: deallocate refuses what is not a live block", "[rpc][shared_heap]") {
    auto hp = make_heaps();
    auto& heap = *hp.client;
    auto p = heap.allocate(100);
    REQUIRE(p);
    CHECK(p->offset() % 16 == 0);
    auto q = heap.allocate(100, 256);
    REQUIRE(q);
    CHECK(q->offset() % 256 == 0);
    CHECK(heap.deallocate(rpc::shm_ptr<std::byte>()).error() == rpc::errc::null_pointer);
    CHECK(heap.deallocate(rpc::shm_ptr<std::byte>(p->offset() + 16)).error() == rpc::errc::not_allocated);
    CHECK(heap.deallocate(rpc::shm_ptr<std::byte>(p->offset() + 1)).error() == rpc::errc::not_allocated);
    CHECK(heap.deallocate(rpc::shm_ptr<std::byte>(hp.server->heap_offset() + 16)).error() == rpc::errc::not_allocated);
    CHECK(heap.deallocate(rpc::shm_ptr<std::byte>(UINT64_MAX - 15)).error() == rpc::errc::not_allocated);
    REQUIRE(heap.deallocate(*p));
    CHECK(heap.deallocate(*p).error() == rpc::errc::not_allocated);  // double free
    destroyed = 0;
    auto cnt = heap.make<counted>();
    REQUIRE(cnt);
    REQUIRE(heap.destroy(*cnt));
    CHECK(destroyed == 1);
    CHECK(heap.destroy(*cnt).error() == rpc::errc::not_allocated);  // ~T does not run twice
    CHECK(destroyed == 1);
    REQUIRE(heap.deallocate(*q));
    CHECK(heap.verify() == "");
    CHECK(heap.stats().bytes_in_use == 0);
    // resolve and to_shm: this heap's arena only.
    auto x = heap.make<std::uint64_t>(std::uint64_t{5});
    REQUIRE(x);
    std::uint64_t* px = *heap.resolve(*x);
    CHECK(*px == 5);
    CHECK(heap.to_shm(px)->offset() == x->offset());
    std::uint64_t local = 0;
    CHECK(heap.to_shm(&local).error() == rpc::errc::out_of_bounds);
    CHECK(heap.resolve(rpc::shm_ptr<std::uint64_t>(hp.server->heap_offset() + 16)).error() == rpc::errc::out_of_bounds);
}

TEST_CASE("shared heap bookkeeping: lend, give back, destructors, the ring filling up", "[rpc][shared_heap]") {
    auto hp = make_heaps();
    auto& server = *hp.server;
    auto& client = *hp.client;
    destroyed = 0;
    auto a = server.make<counted>();
    auto b = server.make<counted>();
    auto kept = server.make<std::uint64_t>(canary);
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(kept);
    REQUIRE(server.lend(*a));
    REQUIRE(server.lend(*b));
    CHECK(server.lend(rpc::shm_ptr<std::byte>(a->offset() + 16)).error() == rpc::errc::not_allocated);
    CHECK(server.stats().lent_blocks == 2);
    // The owner takes b back itself: the loan is forgotten.
    REQUIRE(server.destroy(*b));
    CHECK(destroyed == 1);
    CHECK(server.give_back(*a).error() == std::errc::operation_not_supported);  // the server has no ring
    REQUIRE(client.give_back(*a));
    REQUIRE(client.give_back(*b));     // no longer lent
    REQUIRE(client.give_back(*kept));  // never lent
    CHECK(server.collect_give_backs() == 1);
    CHECK(destroyed == 2);  // ~counted ran on a when it came back, once
    auto s = server.stats();
    CHECK(s.given_back == 1);
    CHECK(s.refused_give_backs == 2);
    CHECK(s.lent_blocks == 0);
    CHECK(**server.resolve(*kept) == canary);
    CHECK(server.verify() == "");
    CHECK(server.collect_give_backs() == 0);
    CHECK(client.collect_give_backs() == 0);  // the client has no incoming ring

    // The ring holds give_back_capacity offsets until the server drains it.
    const auto off = rpc::shm_ptr<std::byte>(server.heap_offset() + 16);
    for (std::size_t i = 0; i < rpc::give_back_capacity; ++i) REQUIRE(client.give_back(off));
    CHECK(client.give_back(off).error() == rpc::errc::give_back_full);
    CHECK(server.collect_give_backs() == 0);
    CHECK(server.stats().refused_give_backs == 2 + rpc::give_back_capacity);
    CHECK(client.give_back(off));
    // A server allocation drains the ring first.
    auto c = server.make<counted>();
    REQUIRE(c);
    REQUIRE(server.lend(*c));
    REQUIRE(client.give_back(*c));
    CHECK(server.allocate(64));
    CHECK(server.stats().lent_blocks == 0);
    CHECK(destroyed == 3);
    CHECK(server.verify() == "");
}

TEST_CASE("shared heap bookkeeping: several threads allocate and free at once", "[rpc][shared_heap]") {
    auto hp = make_heaps(1 << 20);
    auto& heap = *hp.client;
    std::atomic<int> failures{0};
    {
        std::vector<std::jthread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&heap, &failures, t] {
                std::mt19937 rng(static_cast<unsigned>(t));
                std::vector<rpc::shm_ptr<std::uint32_t>> mine;
                for (int i = 0; i < 3000; ++i) {
                    if (mine.size() < 50 && rng() % 3 != 0) {
                        auto p = heap.make_array<std::uint32_t>(1 + rng() % 64);
                        if (!p) {
                            ++failures;
                            continue;
                        }
                        **heap.resolve(*p) = static_cast<std::uint32_t>(t);
                        mine.push_back(*p);
                    } else if (!mine.empty()) {
                        const auto p = mine.back();
                        mine.pop_back();
                        if (**heap.resolve(p) != static_cast<std::uint32_t>(t)) ++failures;
                        if (!heap.deallocate(p)) ++failures;
                    }
                }
                for (auto p : mine) {
                    if (!heap.deallocate(p)) ++failures;
                }
            });
        }
    }
    CHECK(failures == 0);
    CHECK(heap.stats().bytes_in_use == 0);
    CHECK(heap.verify() == "");
}
