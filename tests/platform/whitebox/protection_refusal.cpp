#include <catch2/catch.hpp>

#include <keel/platform/protection.hpp>

#include "refuse_syscalls.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

using namespace keel::platform;

namespace {

const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// Where the CPU has MPK the refusal comes from pkey_alloc and carries its errno text;
// elsewhere the probe stops at the missing CPU flag first.
std::string expected_reason_part(int err) {
    if (detail::cpu_has_pku() && detail::os_enabled_pku()) return std::strerror(err);
    return detail::cpu_has_pku() ? "ospke" : "pku";
}

std::string check_pkey_refused(const std::string& part, const std::string& fallback) {
    const auto s = pkey_domain::probe();
    if (s.available) return "pkey probe says available";
    if (!contains(s.reason, part)) return "pkey reason '" + s.reason + "' lacks '" + part + "'";
    try {
        pkey_domain d;
        return "pkey_domain constructed";
    } catch (const std::system_error& e) {
        if (!contains(e.what(), part)) return std::string("constructor message lacks the cause: ") + e.what();
    }
    auto chosen = make_protection_domain();
    if (chosen.name() != fallback) return "fell back to " + std::string(chosen.name()) + ", not " + fallback;
    if (make_protection_domain("pkey").name() != fallback) return "make(\"pkey\") did not fall back";
    return {};
}

}  // namespace

TEST_CASE("pkey_alloc refused: probe says why, constructor throws, choice falls back to mprotect",
          "[platform][protection][whitebox]") {
    for (int err : {ENOSPC, ENOSYS}) {
        INFO("errno " << err);
        const auto part = expected_reason_part(err);
        auto msg = keel::test::run_with_refused_syscalls({__NR_pkey_alloc}, err,
                                                         [&] { return check_pkey_refused(part, "mprotect"); });
        INFO(msg);
        CHECK(msg.empty());
    }
}

TEST_CASE("KEEL_DISABLE_BACKENDS refuses protection backends", "[platform][protection][whitebox]") {
    SECTION("pkey") {
        auto msg = keel::test::run_in_child([] {
            ::setenv("KEEL_DISABLE_BACKENDS", "pkey", 1);
            auto problems = check_pkey_refused(std::string(disabled_reason), "mprotect");
            if (pkey_domain::probe().reason != disabled_reason) problems += " reason differs";
            return problems;
        });
        INFO(msg);
        CHECK(msg.empty());
    }
    SECTION("pkey and mprotect") {
        auto msg = keel::test::run_in_child([]() -> std::string {
            ::setenv("KEEL_DISABLE_BACKENDS", "pkey,mprotect", 1);
            if (mprotect_domain::probe().available) return "mprotect still available";
            if (mprotect_domain::probe().reason != disabled_reason) return "mprotect reason differs";
            return check_pkey_refused(std::string(disabled_reason), "none");
        });
        INFO(msg);
        CHECK(msg.empty());
    }
    SECTION("all") {
        auto msg = keel::test::run_in_child([]() -> std::string {
            ::setenv("KEEL_DISABLE_BACKENDS", "all", 1);
            for (const auto& s : probe_protection_domains())
                if (s.available) return s.name + " still available";
            try {
                (void)make_protection_domain("none");
                return "make_protection_domain did not throw";
            } catch (const std::system_error& e) {
                if (!contains(e.what(), "KEEL_DISABLE_BACKENDS")) return std::string("message: ") + e.what();
            }
            return {};
        });
        INFO(msg);
        CHECK(msg.empty());
    }
}

TEST_CASE("page_ranges bookkeeping", "[platform][protection][whitebox]") {
    detail::page_ranges r;
    auto* base = reinterpret_cast<std::byte*>(std::uintptr_t{1} << 30);
    r.add(base, page, "t");
    r.add(base + 2 * page, 2 * page, "t");
    CHECK(r.all().size() == 2);
    CHECK_THROWS_AS(r.add(base + 3 * page, page, "t"), std::invalid_argument);
    CHECK_THROWS_AS(r.add(base - page, 2 * page, "t"), std::invalid_argument);
    r.add(base + page, page, "t");  // fills the gap exactly
    CHECK_THROWS_AS(r.remove(base, 2 * page, "t"), std::invalid_argument);
    r.forget(base + page);
    CHECK(r.all().size() == 2);
    r.remove(base, page, "t");
    r.remove(base + 2 * page, 2 * page, "t");
    CHECK(r.empty());
    try {
        r.add(base + 1, page, "mybackend");
        FAIL("no throw");
    } catch (const std::invalid_argument& e) {
        CHECK(contains(e.what(), "mybackend"));
    }
}

TEST_CASE("mprotect_domain: a refused set_access is all or nothing", "[platform][protection][whitebox]") {
    auto* mem = static_cast<std::byte*>(
        ::mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    REQUIRE(static_cast<void*>(mem) != MAP_FAILED);
    {
        mprotect_domain d;
        d.add(mem, page);
        d.add(mem + page, page);
        ::munmap(mem + page, page);  // the kernel now refuses mprotect on the second range
        auto r = d.set_access(access::read);
        REQUIRE_FALSE(r);
        CHECK(r.error() == keel::errno_code(ENOMEM));
        CHECK(d.current_access() == access::read_write);
        *static_cast<volatile std::byte*>(mem) = std::byte{1};  // first range rolled back
        CHECK_THROWS_AS(d.remove(mem + page, page), std::system_error);
        CHECK(d.range_count() == 2);  // a refused remove keeps the range
        d.remove(mem, page);
        // Adding unmapped memory is refused and leaves nothing behind.
        const auto before = d.range_count();
        std::byte* hole = mem + 2 * page;
        ::munmap(hole, page);
        CHECK_THROWS_AS(d.add(hole, page), std::system_error);
        CHECK(d.range_count() == before);
    }
    ::munmap(mem, page);
}

TEST_CASE("scoped_access throws when the domain refuses", "[platform][protection][whitebox]") {
    auto* mem = static_cast<std::byte*>(
        ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    REQUIRE(static_cast<void*>(mem) != MAP_FAILED);
    mprotect_domain d;
    d.add(mem, page);
    ::munmap(mem, page);
    try {
        scoped_access guard(d, access::read);
        FAIL("no throw");
    } catch (const std::system_error& e) {
        CHECK(contains(e.what(), "set_access(read)"));
    }
}
