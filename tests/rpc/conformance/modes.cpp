// Safety modes wired into calls, across two processes (fork: a child serves): the
// mode travels in the request (per call, or the method's default, a per-call choice
// overriding it), unknown bits in the request code are refused; copy: the handler
// reads a private copy, so a client changing its data during the call changes
// nothing the handler sees (relaxed shows the change), over the bound is
// payload_too_large; sealed: the argument block's pages are read-only in the client
// for the call, a second client thread writing them dies with SIGSEGV (observed in a
// forked client) and the server's view is unchanged, blocks not from
// allocate_sealable are refused; sandboxed: refused with sandbox_unavailable where
// MPK is missing (the server stays up), run in a sandbox where it exists; a server's
// minimum mode per method refuses weaker calls (safety_refused) before the handler runs.
#include "../rpc_calls_support.hpp"

#include <catch2/catch.hpp>
#include <catch_result.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <thread>

namespace rpc = keel::rpc;
using namespace keel::test;
using namespace std::chrono_literals;

namespace {

// peek: resolves n u64 at p, sums them, tells the test (word 0 = 1), waits until the
// test says go on (word 0 = 2, or 3 s), and returns the sum of what the pointer it
// resolved shows then (also written to words[2..3]).
using peek = rpc::method<"peek", std::uint64_t(rpc::shm_ptr<std::uint64_t>, std::uint32_t)>;
using peek_copy =
    rpc::method<"peek_copy", std::uint64_t(rpc::shm_ptr<std::uint64_t>, std::uint32_t), rpc::safety_mode::copy>;
using sum_copy =
    rpc::method<"sum_copy", std::uint64_t(rpc::shm_ptr<std::uint64_t>, std::uint32_t), rpc::safety_mode::copy>;
using mode_of = rpc::method<"mode_of", std::uint32_t()>;
using sandboxed_add = rpc::method<"sandboxed_add", std::uint64_t(std::uint64_t, std::uint32_t), rpc::safety_mode::sandboxed>;
using sandboxed_stray = rpc::method<"sandboxed_stray", void(), rpc::safety_mode::sandboxed>;
using modes_service = rpc::service<"modes", peek, peek_copy, sum_copy, mode_of, sandboxed_add, sandboxed_stray>;

/// A page of MAP_SHARED anonymous memory: flags between the test and the forked
/// processes (made before they fork).
struct shared_words {
    std::uint32_t* w = nullptr;
    shared_words() {
        void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap");
        w = static_cast<std::uint32_t*>(p);
    }
    ~shared_words() { ::munmap(w, 4096); }
    shared_words(const shared_words&) = delete;
    shared_words& operator=(const shared_words&) = delete;
    void reset() { std::memset(w, 0, 4096); }
};

int private_word = 0;  // a sandboxed handler writing it strays out of the sandbox

std::string run_server(const std::string& name, std::uint32_t* flags, std::size_t clients = 1,
                       bool copy_minimum = false) {
    rpc::server<modes_service> srv(name);
    auto peek_handler = [flags](rpc::call_context& ctx, rpc::shm_ptr<std::uint64_t> p, std::uint32_t n) {
        auto a = ctx.resolve(p, n);
        if (!a) throw std::runtime_error("resolve: " + a.error().message());
        const volatile std::uint64_t* v = *a;
        set_word(&flags[0], 1);
        (void)wait_word(&flags[0], 2, 3s);
        std::uint64_t s = 0;
        for (std::uint32_t i = 0; i < n; ++i) s += v[i];
        std::memcpy(&flags[2], &s, sizeof s);
        set_word(&flags[1], 1);
        return s;
    };
    srv.handle<peek>(peek_handler);
    srv.handle<peek_copy>(peek_handler);
    srv.handle<sum_copy>([](rpc::call_context& ctx, rpc::shm_ptr<std::uint64_t> p, std::uint32_t n) {
        auto a = ctx.resolve(p, n);
        if (!a) throw std::runtime_error("resolve: " + a.error().message());
        return std::accumulate(*a, *a + n, std::uint64_t{0});
    });
    srv.handle<mode_of>([](rpc::call_context& ctx) { return static_cast<std::uint32_t>(ctx.mode()); });
    srv.handle<sandboxed_add>([](std::uint64_t a, std::uint32_t b) { return a + b; });
    srv.handle<sandboxed_stray>([] { *static_cast<volatile int*>(&private_word) = 1; });
    if (copy_minimum) srv.require_safety<sum_copy>(rpc::safety_mode::copy);
    serve_until_clients_leave(srv, clients);
    return {};
}

std::uint64_t sum_of(std::uint32_t n) { return std::uint64_t{n} * (n - 1) / 2; }

/// Calls Method (a peek) on `a` (n elements 0..n-1) from a second thread; when the
/// handler has resolved, rewrites every element to 1000, then lets the handler go
/// on. The handler's final sum.
template <class Method>
std::uint64_t peek_while_changing(rpc::client<modes_service>& c, std::uint32_t* flags, rpc::shm_ptr<std::uint64_t> p,
                                  std::uint32_t n, rpc::call_options o = {}) {
    auto* a = *c.heap().resolve(p, n);
    for (std::uint32_t i = 0; i < n; ++i) a[i] = i;
    set_word(&flags[0], 0);
    set_word(&flags[1], 0);
    keel::result<std::uint64_t> r = std::uint64_t{0};
    std::thread t([&] { r = c.call_with<Method>(o, p, n); });
    REQUIRE(wait_word(&flags[0], 1));
    for (std::uint32_t i = 0; i < n; ++i) a[i] = 1000;
    set_word(&flags[0], 2);
    t.join();
    REQUIRE(r);
    return *r;
}

}  // namespace

TEST_CASE("modes: the mode travels per call or per method - unknown bits are refused", "[rpc][modes]") {
    shared_words flags;
    const auto name = abstract_name("modes");
    child server([&] { return run_server(name, flags.w, 2); });
    auto c = rpc::client<modes_service>::connect(name, client_opts());
    REQUIRE(c);
    STATIC_REQUIRE(peek::safety == rpc::safety_mode::relaxed);
    STATIC_REQUIRE(peek_copy::safety == rpc::safety_mode::copy);
    STATIC_REQUIRE(rpc::method<"m", void(), rpc::safety_mode::copy>::hash != rpc::method<"m", void()>::hash);

    auto m = c->call<mode_of>();
    REQUIRE(m);
    CHECK(*m == static_cast<std::uint32_t>(rpc::safety_mode::relaxed));
    for (auto mode : {rpc::safety_mode::relaxed, rpc::safety_mode::copy, rpc::safety_mode::sealed}) {
        CAPTURE(rpc::to_string(mode));
        auto r = c->call_with<mode_of>({.safety = mode});
        REQUIRE(r);
        CHECK(*r == static_cast<std::uint32_t>(mode));
    }

    // A request whose code carries bits the server does not know: bad_arguments, and
    // the connection stays usable.
    {
        auto raw = rpc::client<modes_service>::connect(name, client_opts());
        REQUIRE(raw);
        auto ch = rpc::detail::map_channels(raw->shared_segment());
        REQUIRE(ch);
        for (std::uint64_t p = 0; p < 2; ++p) {
            auto& s = ch->requests.slot(p);
            const std::uint32_t free = ch->requests.free_value(p);
            const std::uint32_t index = modes_service::index_of<mode_of>();
            s.code.store(p == 0 ? index | (7u << rpc::detail::request_method_bits) : index | (1u << 31));
            s.length.store(0);
            s.call_id.store(p);
            s.seq.store(free + 1, std::memory_order_release);
            auto& rs = ch->responses.slot(p);
            REQUIRE(wait_word(&rs.seq, free + 1));
            CHECK(rs.code.load() == static_cast<std::uint32_t>(rpc::errc::bad_arguments));
            const std::string text(reinterpret_cast<const char*>(ch->responses.payload(p)), rs.length.load());
            CHECK_THAT(text, Catch::Contains("unknown bits"));
            rs.seq.store(free + 2, std::memory_order_release);
        }
    }
    REQUIRE(c->call<mode_of>());
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("modes: copy gives the handler a private snapshot - relaxed reads in place", "[rpc][modes]") {
    shared_words flags;
    const auto name = abstract_name("copy");
    child server([&] { return run_server(name, flags.w); });
    auto c = rpc::client<modes_service>::connect(name, client_opts());
    REQUIRE(c);
    constexpr std::uint32_t n = 256;
    auto p = c->heap().make_array<std::uint64_t>(n);
    REQUIRE(p);

    // relaxed: the handler sees the client's change.
    CHECK(peek_while_changing<peek>(*c, flags.w, *p, n) == 1000u * n);
    // copy, per call on a relaxed method: it does not.
    CHECK(peek_while_changing<peek>(*c, flags.w, *p, n, {.safety = rpc::safety_mode::copy}) == sum_of(n));
    // copy as the method's default.
    CHECK(peek_while_changing<peek_copy>(*c, flags.w, *p, n) == sum_of(n));
    // A per-call choice overrides the method's default.
    CHECK(peek_while_changing<peek_copy>(*c, flags.w, *p, n, {.safety = rpc::safety_mode::relaxed}) == 1000u * n);

    // The bound: one page (server_options::max_copy_bytes) per call.
    auto big = c->heap().make_array<std::uint64_t>(513);
    REQUIRE(big);
    auto* b = *c->heap().resolve(*big, 513);
    std::iota(b, b + 513, std::uint64_t{0});
    auto fits = c->call<sum_copy>(*big, 512u);
    REQUIRE(fits);
    CHECK(*fits == sum_of(512));
    auto over = c->call<sum_copy>(*big, 513u);
    REQUIRE_FALSE(over);
    CHECK(over.error() == rpc::errc::payload_too_large);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("4104 bytes") && Catch::Contains("max_copy_bytes"));
    // The server's own blocks are not copied, nor counted; relaxed has no bound.
    auto relaxed_big = c->call_with<sum_copy>({.safety = rpc::safety_mode::relaxed}, *big, 513u);
    REQUIRE(relaxed_big);
    CHECK(*relaxed_big == sum_of(513));
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("modes: sealed makes the argument pages read-only in the client for the call", "[rpc][modes]") {
    shared_words flags;
    const auto name = abstract_name("sealed");
    child server([&] { return run_server(name, flags.w, 3); });
    constexpr std::uint32_t n = 512;  // one page of u64

    {
        auto c = rpc::client<modes_service>::connect(name, client_opts());
        REQUIRE(c);
        auto block = c->heap().allocate_sealable(n * sizeof(std::uint64_t));
        REQUIRE(block);
        CHECK(block->offset() % 4096 == 0);
        auto sealable = c->heap().sealable_bytes(*block);
        REQUIRE(sealable);
        CHECK(*sealable == 4096);
        const auto p = rpc::shm_cast<std::uint64_t>(*block);
        auto* a = *c->heap().resolve(p, n);
        std::iota(a, a + n, std::uint64_t{0});
        flags.reset();
        set_word(&flags.w[0], 2);  // the handler need not wait
        auto r = c->call_with<sum_copy>({.safety = rpc::safety_mode::sealed}, p, n);
        REQUIRE(r);
        CHECK(*r == sum_of(n));
        // Released after the call: writable again.
        CHECK(rpc::protection_window::sealed_page_count() == 0);
        a[0] = 7;
        CHECK(a[0] == 7);

        // A block not from allocate_sealable is refused before anything is sent.
        auto plain = c->heap().make_array<std::uint64_t>(8);
        REQUIRE(plain);
        auto refused = c->call_with<sum_copy>({.safety = rpc::safety_mode::sealed}, *plain, 8u);
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == rpc::errc::bad_arguments);
        CHECK_THAT(rpc::error_detail(), Catch::Contains("allocate_sealable"));
        REQUIRE(c->call<mode_of>());  // nothing was sent: the ring is in step
    }

    // A forked client: while its sealed call runs, a second thread writes the
    // argument and dies with SIGSEGV; the handler's view is unchanged.
    flags.reset();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::signal(SIGSEGV, SIG_DFL);
        auto c = rpc::client<modes_service>::connect(name, client_opts());
        if (!c) ::_exit(10);
        auto block = c->heap().allocate_sealable(n * sizeof(std::uint64_t));
        if (!block) ::_exit(11);
        const auto p = rpc::shm_cast<std::uint64_t>(*block);
        auto* a = *c->heap().resolve(p, n);
        std::iota(a, a + n, std::uint64_t{0});
        std::thread writer([&] {
            if (!wait_word(&flags.w[0], 1)) ::_exit(12);
            for (std::uint32_t i = 0; i < n; ++i) *static_cast<volatile std::uint64_t*>(a + i) = 1000;  // faults
            ::_exit(13);
        });
        (void)c->call_with<peek>({.safety = rpc::safety_mode::sealed}, p, n);
        writer.join();
        ::_exit(14);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    CHECK(WIFSIGNALED(status));
    if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGSEGV);
    if (WIFEXITED(status)) FAIL("the forked client exited with " << WEXITSTATUS(status));
    set_word(&flags.w[0], 2);  // let the handler finish reading
    REQUIRE(wait_word(&flags.w[1], 1));
    std::uint64_t seen = 0;
    std::memcpy(&seen, &flags.w[2], sizeof seen);
    CHECK(seen == sum_of(n));

    // The server stays up for the next client.
    auto c = rpc::client<modes_service>::connect(name, client_opts());
    REQUIRE(c);
    REQUIRE(c->call<mode_of>());
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("modes: sandboxed calls run in an MPK sandbox, or are refused where there is none", "[rpc][modes]") {
    shared_words flags;
    const auto name = abstract_name("sandbox");
    child server([&] { return run_server(name, flags.w); });
    auto c = rpc::client<modes_service>::connect(name, client_opts());
    REQUIRE(c);
    const auto status = rpc::sandbox::probe();
    if (!status.available) {
        for (int i = 0; i < 2; ++i) {  // the refusal is remembered per connection, same answer
            auto r = c->call<sandboxed_add>(std::uint64_t{40}, 2u);
            REQUIRE_FALSE(r);
            CHECK(r.error() == rpc::errc::sandbox_unavailable);
            CHECK_THAT(rpc::error_detail(), Catch::Contains("nothing ran") && Catch::Contains(status.reason));
        }
        auto per_call = c->call_with<mode_of>({.safety = rpc::safety_mode::sandboxed});
        REQUIRE_FALSE(per_call);
        CHECK(per_call.error() == rpc::errc::sandbox_unavailable);
        // The server stays up; the same method called relaxed runs.
        auto r = c->call_with<sandboxed_add>({.safety = rpc::safety_mode::relaxed}, std::uint64_t{40}, 2u);
        REQUIRE(r);
        CHECK(*r == 42);
        WARN("sandboxed calls not run: " << status.reason);
    } else {
        auto r = c->call<sandboxed_add>(std::uint64_t{40}, 2u);
        REQUIRE(r);
        CHECK(*r == 42);
        auto stray = c->call<sandboxed_stray>();
        REQUIRE_FALSE(stray);
        CHECK(stray.error() == rpc::errc::sandbox_fault);
        auto again = c->call<sandboxed_add>(std::uint64_t{1}, 2u);
        REQUIRE(again);
        CHECK(*again == 3);
    }
    c = {};
    CHECK(server.join().empty());
}

TEST_CASE("modes: a server's minimum mode refuses weaker calls before the handler runs", "[rpc][modes]") {
    STATIC_REQUIRE(rpc::satisfies(rpc::safety_mode::sealed, rpc::safety_mode::copy));
    STATIC_REQUIRE_FALSE(rpc::satisfies(rpc::safety_mode::relaxed, rpc::safety_mode::copy));
    STATIC_REQUIRE_FALSE(rpc::satisfies(rpc::safety_mode::sandboxed, rpc::safety_mode::copy));
    STATIC_REQUIRE_FALSE(rpc::satisfies(rpc::safety_mode::copy, rpc::safety_mode::sealed));
    STATIC_REQUIRE(rpc::satisfies(rpc::safety_mode::relaxed, rpc::safety_mode::relaxed));
    shared_words flags;
    const auto name = abstract_name("minimum");
    child server([&] { return run_server(name, flags.w, 1, true); });
    auto c = rpc::client<modes_service>::connect(name, client_opts());
    REQUIRE(c);
    auto p = c->heap().allocate_sealable(64 * sizeof(std::uint64_t));
    REQUIRE(p);
    const auto a = rpc::shm_cast<std::uint64_t>(*p);
    auto* v = *c->heap().resolve(a, 64);
    for (std::uint32_t i = 0; i < 64; ++i) v[i] = i;
    // sum_copy's default (copy) and sealed satisfy the minimum; relaxed does not.
    auto ok = c->call<sum_copy>(a, 64u);
    REQUIRE(ok);
    CHECK(*ok == sum_of(64));
    auto sealed = c->call_with<sum_copy>({.safety = rpc::safety_mode::sealed}, a, 64u);
    REQUIRE(sealed);
    CHECK(*sealed == sum_of(64));
    auto weak = c->call_with<sum_copy>({.safety = rpc::safety_mode::relaxed}, a, 64u);
    REQUIRE_FALSE(weak);
    CHECK(weak.error() == rpc::errc::safety_refused);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("requires safety mode copy") && Catch::Contains("relaxed"));
    // Other methods are not affected, and the connection goes on.
    auto m = c->call_with<mode_of>({.safety = rpc::safety_mode::relaxed});
    REQUIRE(m);
    CHECK(*m == static_cast<std::uint32_t>(rpc::safety_mode::relaxed));
    c = {};
    CHECK(server.join().empty());
}
