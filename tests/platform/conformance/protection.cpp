#include <catch2/catch.hpp>

#include <keel/platform/protection.hpp>

#include "refuse_syscalls.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

using namespace keel::platform;

namespace {

const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

/// Anonymous pages for a test, unmapped at the end.
struct pages {
    explicit pages(std::size_t count) : size(count * page) {
        data = static_cast<std::byte*>(
            ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (static_cast<void*>(data) == MAP_FAILED) throw std::system_error(errno, std::system_category(), "mmap");
    }
    pages(const pages&) = delete;
    pages& operator=(const pages&) = delete;
    ~pages() { ::munmap(data, size); }
    std::byte* data;
    std::size_t size;
};

void poke(void* p, unsigned char v = 42) { *static_cast<volatile unsigned char*>(p) = v; }
unsigned char peek(const void* p) { return *static_cast<const volatile unsigned char*>(p); }

const std::string segv = "[child killed by signal 11]";

/// Runs `f` in a forked child with the default SIGSEGV action (sanitizers install a
/// handler that would turn the fault into an exit); returns the child's report.
std::string in_child(const std::function<void()>& f) {
    return keel::test::run_in_child([&]() -> std::string {
        ::signal(SIGSEGV, SIG_DFL);
        f();
        return {};
    });
}

bool killed_by_segv(const std::string& report) { return report.find(segv) != std::string::npos; }

std::string expected_default_backend() {
    if (pkey_domain::probe().available) return "pkey";
    if (mprotect_domain::probe().available) return "mprotect";
    return "none";
}

}  // namespace

static_assert(protection_domain<mprotect_domain>);
static_assert(protection_domain<pkey_domain>);
static_assert(protection_domain<no_protection>);
static_assert(!protection_domain<int>);

TEST_CASE("access values name themselves", "[platform][protection]") {
    CHECK(to_string(access::none) == "none");
    CHECK(to_string(access::read) == "read");
    CHECK(to_string(access::read_write) == "read_write");
}

TEST_CASE("protection backends have their fixed names and probe", "[platform][protection]") {
    CHECK(mprotect_domain::name == "mprotect");
    CHECK(pkey_domain::name == "pkey");
    CHECK(no_protection::name == "none");
    CHECK(pkey_domain::per_thread);
    CHECK_FALSE(mprotect_domain::per_thread);
    const auto all = probe_protection_domains();
    REQUIRE(all.size() == 3);
    for (const auto& s : all) {
        INFO(s.name << ": " << s.reason);
        CHECK(s.kind == "protection");
        CHECK_FALSE(s.reason.empty());
    }
    CHECK(mprotect_domain::probe().available);
    CHECK(no_protection::probe().available);
    // MPK depends on the CPU; whichever way, the probe says why.
    const auto pk = pkey_domain::probe();
    WARN("pkey: " << (pk.available ? "available" : "unavailable") << " (" << pk.reason << ")");
}

TEMPLATE_TEST_CASE("domains reject misaligned, empty, overlapping and unknown ranges", "[platform][protection]",
                   mprotect_domain, no_protection) {
    pages mem(4);
    TestType d;
    CHECK_THROWS_AS(d.add(mem.data + 1, page), std::invalid_argument);
    CHECK_THROWS_AS(d.add(mem.data, page + 1), std::invalid_argument);
    CHECK_THROWS_AS(d.add(mem.data, 0), std::invalid_argument);
    CHECK_THROWS_AS(d.add(nullptr, page), std::invalid_argument);
    d.add(mem.data, 2 * page);
    CHECK_THROWS_AS(d.add(mem.data + page, 2 * page), std::invalid_argument);
    d.add(mem.data + 2 * page, page);  // adjacent is fine
    CHECK(d.range_count() == 2);
    CHECK_THROWS_AS(d.remove(mem.data, page), std::invalid_argument);  // not as added
    CHECK_THROWS_AS(d.remove(mem.data + 3 * page, page), std::invalid_argument);
    d.remove(mem.data, 2 * page);
    d.remove(mem.data + 2 * page, page);
    CHECK(d.range_count() == 0);
    try {
        d.add(mem.data + 8, page);
        FAIL("no exception");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("page-aligned") != std::string::npos);
    }
}

TEST_CASE("mprotect_domain: read-only ranges fault on write, for the whole process", "[platform][protection]") {
    pages mem(3);
    poke(mem.data, 7);
    mprotect_domain d;
    CHECK(d.current_access() == access::read_write);
    d.add(mem.data, 2 * mem.size / 3);

    {
        scoped_access guard(d, access::read);
        CHECK(d.current_access() == access::read);
        CHECK(peek(mem.data) == 7);  // reads still work
        CHECK(killed_by_segv(in_child([&] { poke(mem.data + page); })));
        // The page outside the domain is untouched.
        CHECK(in_child([&] { poke(mem.data + 2 * page); }).empty());
        // mprotect holds for every thread, not just this one.
        CHECK(killed_by_segv(in_child([&] { std::thread([&] { poke(mem.data); }).join(); })));
    }
    CHECK(d.current_access() == access::read_write);
    poke(mem.data + page, 9);  // writable again after the scope
    CHECK(peek(mem.data + page) == 9);
    CHECK(in_child([&] { poke(mem.data); }).empty());
}

TEST_CASE("mprotect_domain: access none faults on read", "[platform][protection]") {
    pages mem(1);
    mprotect_domain d;
    d.add(mem.data, mem.size);
    REQUIRE(d.set_access(access::none));
    CHECK(killed_by_segv(in_child([&] { (void)peek(mem.data); })));
    REQUIRE(d.set_access(access::read_write));
    CHECK(peek(mem.data) == 0);
}

TEST_CASE("mprotect_domain: added ranges take the current access - removed ones get read_write back",
          "[platform][protection]") {
    pages mem(2);
    mprotect_domain d;
    REQUIRE(d.set_access(access::read));
    d.add(mem.data, page);
    CHECK(killed_by_segv(in_child([&] { poke(mem.data); })));
    d.remove(mem.data, page);
    poke(mem.data);
    CHECK(peek(mem.data) == 42);

    // The destructor gives ranges back too.
    {
        mprotect_domain other;
        other.add(mem.data + page, page);
        REQUIRE(other.set_access(access::none));
    }
    poke(mem.data + page);
    CHECK(peek(mem.data + page) == 42);
}

TEST_CASE("mprotect_domain: moving keeps the ranges with the new owner", "[platform][protection]") {
    pages mem(1);
    mprotect_domain a;
    a.add(mem.data, page);
    REQUIRE(a.set_access(access::read));
    mprotect_domain b(std::move(a));
    CHECK(b.range_count() == 1);
    CHECK(b.current_access() == access::read);
    CHECK(killed_by_segv(in_child([&] { poke(mem.data); })));
    REQUIRE(b.set_access(access::read_write));
    poke(mem.data);
}

TEST_CASE("scoped_access nests and restores in order", "[platform][protection]") {
    pages mem(1);
    mprotect_domain d;
    d.add(mem.data, page);
    {
        scoped_access outer(d, access::read);
        {
            scoped_access inner(d, access::none);
            CHECK(inner.previous() == access::read);
            CHECK(d.current_access() == access::none);
        }
        CHECK(d.current_access() == access::read);
        CHECK(outer.restore());
        CHECK(d.current_access() == access::read_write);
        CHECK(outer.restore());  // a second restore does nothing
    }
    CHECK(d.current_access() == access::read_write);
    poke(mem.data);
}

TEST_CASE("no_protection keeps the contract and protects nothing", "[platform][protection]") {
    pages mem(1);
    no_protection d;
    d.add(mem.data, page);
    {
        scoped_access guard(d, access::none);
        CHECK(d.current_access() == access::none);
        poke(mem.data);
        CHECK(peek(mem.data) == 42);
    }
    CHECK(d.current_access() == access::read_write);
}

TEST_CASE("pkey_domain: access is per thread", "[platform][protection][pkey]") {
    const auto status = pkey_domain::probe();
    if (!status.available) {
        CHECK_THROWS_AS(pkey_domain{}, std::system_error);
        WARN("skipped: MPK unavailable here (" << status.reason << ")");
        return;
    }
    pages mem(2);
    pkey_domain d;
    CHECK(d.key() > 0);
    d.add(mem.data, page);
    CHECK_THROWS_AS(d.add(mem.data + 3, page), std::invalid_argument);
    CHECK(d.current_access() == access::read_write);

    // Started before the change, the other thread keeps read_write (its own PKRU).
    std::atomic<int> step{0};
    keel::platform::access seen_there = access::none;
    std::thread other([&] {
        while (step.load() != 1) std::this_thread::yield();
        poke(mem.data, 5);  // allowed: this thread's rights are unchanged
        seen_there = d.current_access();
        step.store(2);
    });
    REQUIRE(d.set_access(access::read));
    CHECK(d.current_access() == access::read);
    step.store(1);
    other.join();
    CHECK(seen_there == access::read_write);
    CHECK(peek(mem.data) == 5);  // reads still work here
    // A fork copies this thread and its PKRU: writes fault there.
    CHECK(killed_by_segv(in_child([&] { poke(mem.data); })));
    CHECK(in_child([&] { poke(mem.data + page); }).empty());  // not in the domain

    REQUIRE(d.set_access(access::none));
    CHECK(killed_by_segv(in_child([&] { (void)peek(mem.data); })));

    {
        scoped_access guard(d, access::read_write);
        poke(mem.data, 6);
    }
    CHECK(d.current_access() == access::none);

    // Removing the range gives it back its default access, whatever this thread's rights.
    d.remove(mem.data, page);
    poke(mem.data, 8);
    CHECK(peek(mem.data) == 8);
    REQUIRE(d.set_access(access::read_write));
}

TEST_CASE("pkey_domain: the destructor frees the key and untags the pages", "[platform][protection][pkey]") {
    if (!pkey_domain::probe().available) {
        WARN("skipped: MPK unavailable here");
        return;
    }
    pages mem(1);
    {
        pkey_domain d;
        d.add(mem.data, page);
        REQUIRE(d.set_access(access::none));
        pkey_domain moved(std::move(d));
        CHECK(moved.range_count() == 1);
        CHECK(d.key() < 0);
        CHECK(d.current_access() == access::read_write);
    }
    poke(mem.data);
    CHECK(peek(mem.data) == 42);
    // Keys are reusable: more domains over time than the 15 a process may hold at once.
    for (int i = 0; i < 40; ++i) pkey_domain again;
}

TEST_CASE("make_protection_domain picks by preference and falls back by probe", "[platform][protection]") {
    auto best = make_protection_domain();
    CHECK(best.name() == expected_default_backend());
    CHECK(best.per_thread() == (best.name() == "pkey"));

    auto mp = make_protection_domain("mprotect");
    CHECK(mp.name() == "mprotect");
    CHECK_FALSE(mp.per_thread());
    auto none = make_protection_domain("none");
    CHECK(none.name() == "none");
    CHECK_THROWS_AS(make_protection_domain("bogus"), std::invalid_argument);

    // The type-erased domain behaves like the one inside.
    pages mem(1);
    mp.add(mem.data, page);
    CHECK_THROWS_AS(mp.add(mem.data + 1, page), std::invalid_argument);
    {
        scoped_access guard(mp, access::read);
        CHECK(mp.current_access() == access::read);
        CHECK(killed_by_segv(in_child([&] { poke(mem.data); })));
    }
    poke(mem.data);
    mp.remove(mem.data, page);
}
