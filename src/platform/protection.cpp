#include <keel/platform/protection.hpp>

#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace keel::platform {
namespace {

std::size_t page_size() noexcept {
    static const std::size_t size = [] {
        const long s = ::sysconf(_SC_PAGESIZE);
        return s > 0 ? static_cast<std::size_t>(s) : std::size_t{4096};
    }();
    return size;
}

int prot_of(access a) noexcept {
    switch (a) {
        case access::none: return PROT_NONE;
        case access::read: return PROT_READ;
        case access::read_write: return PROT_READ | PROT_WRITE;
    }
    return PROT_READ | PROT_WRITE;
}

unsigned pkey_rights_of(access a) noexcept {
    switch (a) {
        case access::none: return PKEY_DISABLE_ACCESS;
        case access::read: return PKEY_DISABLE_WRITE;
        case access::read_write: return 0;
    }
    return 0;
}

std::string describe(const void* p, std::size_t n) {
    char buf[80];
    std::snprintf(buf, sizeof buf, "[%p, +%zu)", p, n);
    return buf;
}

[[noreturn]] void throw_errno(int err, std::string_view backend, const char* what) {
    throw std::system_error(err, std::system_category(), std::string(backend) + ": " + what);
}

backend_status status(std::string_view name, bool available, std::string reason) {
    return backend_status{"protection", std::string(name), available, std::move(reason)};
}

// Why MPK cannot be used here, or "" with a freshly allocated key in `key`.
std::string pkey_refusal(int& key, int& err) {
    key = -1;
    err = 0;
    if (disabled_by_environment(pkey_domain::name)) {
        err = ENOTSUP;
        return std::string(disabled_reason);
    }
    if (!detail::cpu_has_pku()) {
        err = ENOTSUP;
        return "the CPU has no protection keys (cpuid flag pku missing)";
    }
    if (!detail::os_enabled_pku()) {
        err = ENOTSUP;
        return "the OS has not enabled protection keys (cpuid flag ospke missing)";
    }
    key = ::pkey_alloc(0, 0);
    if (key < 0) {
        err = errno;
        return std::string("pkey_alloc failed: ") + std::strerror(err);
    }
    return {};
}

}  // namespace

std::string_view to_string(access a) noexcept {
    switch (a) {
        case access::none: return "none";
        case access::read: return "read";
        case access::read_write: return "read_write";
    }
    return "?";
}

namespace detail {

void page_ranges::add(void* p, std::size_t n, std::string_view backend) {
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    const std::size_t page = page_size();
    if (p == nullptr || n == 0) {
        throw std::invalid_argument(std::string(backend) + ": empty range " + describe(p, n));
    }
    if (addr % page != 0 || n % page != 0) {
        throw std::invalid_argument(std::string(backend) + ": range " + describe(p, n) +
                                    " is not page-aligned (page size " + std::to_string(page) + ")");
    }
    if (addr + n < addr) {
        throw std::invalid_argument(std::string(backend) + ": range " + describe(p, n) + " wraps around");
    }
    auto* b = static_cast<std::byte*>(p);
    for (const auto& r : _ranges) {
        if (b < r.data + r.size && r.data < b + n) {
            throw std::invalid_argument(std::string(backend) + ": range " + describe(p, n) +
                                        " overlaps guarded range " + describe(r.data, r.size));
        }
    }
    _ranges.push_back(range{b, n});
}

void page_ranges::remove(void* p, std::size_t n, std::string_view backend) {
    auto* b = static_cast<std::byte*>(p);
    auto it = std::find_if(_ranges.begin(), _ranges.end(),
                           [&](const range& r) { return r.data == b && r.size == n; });
    if (it == _ranges.end()) {
        throw std::invalid_argument(std::string(backend) + ": range " + describe(p, n) +
                                    " was not added to this domain");
    }
    _ranges.erase(it);
}

void page_ranges::forget(void* p) noexcept {
    auto* b = static_cast<std::byte*>(p);
    auto it = std::find_if(_ranges.begin(), _ranges.end(), [&](const range& r) { return r.data == b; });
    if (it != _ranges.end()) _ranges.erase(it);
}

bool cpu_has_pku() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (c & (1u << 3)) != 0;
#else
    return false;
#endif
}

bool os_enabled_pku() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (c & (1u << 4)) != 0;
#else
    return false;
#endif
}

void throw_access_error(const error_code& ec, access a) {
    throw std::system_error(std::error_code(ec),
                            "scoped_access: set_access(" + std::string(to_string(a)) + ") refused");
}

}  // namespace detail

// ---- mprotect ---------------------------------------------------------------------

mprotect_domain::mprotect_domain(mprotect_domain&& other) noexcept
    : _ranges(std::move(other._ranges)), _access(std::exchange(other._access, access::read_write)) {
    other._ranges.clear();
}

mprotect_domain& mprotect_domain::operator=(mprotect_domain&& other) noexcept {
    if (this != &other) {
        release_all();
        _ranges = std::move(other._ranges);
        other._ranges.clear();
        _access = std::exchange(other._access, access::read_write);
    }
    return *this;
}

mprotect_domain::~mprotect_domain() { release_all(); }

void mprotect_domain::release_all() noexcept {
    for (const auto& r : _ranges.all()) (void)::mprotect(r.data, r.size, PROT_READ | PROT_WRITE);
    _ranges.clear();
}

backend_status mprotect_domain::probe() {
    if (disabled_by_environment(name)) return status(name, false, std::string(disabled_reason));
    const std::size_t page = page_size();
    void* p = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return status(name, false, std::string("mmap of a scratch page failed: ") + std::strerror(errno));
    const int rc = ::mprotect(p, page, PROT_READ);
    const int err = errno;
    ::munmap(p, page);
    if (rc != 0) return status(name, false, std::string("mprotect failed: ") + std::strerror(err));
    return status(name, true, "mprotect works (process-wide, a syscall per range)");
}

void mprotect_domain::add(void* p, std::size_t n) {
    _ranges.add(p, n, name);
    if (::mprotect(p, n, prot_of(_access)) != 0) {
        const int err = errno;
        _ranges.forget(p);
        throw_errno(err, name, "mprotect failed in add");
    }
}

void mprotect_domain::remove(void* p, std::size_t n) {
    _ranges.remove(p, n, name);
    if (::mprotect(p, n, PROT_READ | PROT_WRITE) != 0) {
        const int err = errno;
        _ranges.add(p, n, name);  // capacity is there: no allocation
        throw_errno(err, name, "mprotect failed in remove");
    }
}

result<void> mprotect_domain::set_access(access a) noexcept {
    const auto& all = _ranges.all();
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (::mprotect(all[i].data, all[i].size, prot_of(a)) != 0) {
            const int err = errno;
            // All or nothing: put back the ranges already changed.
            for (std::size_t j = 0; j < i; ++j) (void)::mprotect(all[j].data, all[j].size, prot_of(_access));
            return keel::errno_code(err);
        }
    }
    _access = a;
    return {};
}

// ---- pkey -------------------------------------------------------------------------

pkey_domain::pkey_domain() {
    int err = 0;
    std::string why = pkey_refusal(_key, err);
    if (!why.empty()) throw std::system_error(err, std::system_category(), "pkey_domain: " + why);
}

pkey_domain::pkey_domain(pkey_domain&& other) noexcept
    : _ranges(std::move(other._ranges)), _key(std::exchange(other._key, -1)) {
    other._ranges.clear();
}

pkey_domain& pkey_domain::operator=(pkey_domain&& other) noexcept {
    if (this != &other) {
        release_all();
        _ranges = std::move(other._ranges);
        other._ranges.clear();
        _key = std::exchange(other._key, -1);
    }
    return *this;
}

pkey_domain::~pkey_domain() { release_all(); }

void pkey_domain::release_all() noexcept {
    // Back to the default key 0 (plain mprotect would keep our key on the pages).
    for (const auto& r : _ranges.all()) (void)::pkey_mprotect(r.data, r.size, PROT_READ | PROT_WRITE, 0);
    _ranges.clear();
    if (_key >= 0) ::pkey_free(std::exchange(_key, -1));
}

backend_status pkey_domain::probe() {
    int key = -1;
    int err = 0;
    std::string why = pkey_refusal(key, err);
    if (!why.empty()) return status(name, false, std::move(why));
    ::pkey_free(key);
    return status(name, true, "pku, ospke and pkey_alloc work (per-thread PKRU writes)");
}

void pkey_domain::add(void* p, std::size_t n) {
    if (_key < 0) throw std::invalid_argument("pkey: add on a moved-from domain");
    _ranges.add(p, n, name);
    if (::pkey_mprotect(p, n, PROT_READ | PROT_WRITE, _key) != 0) {
        const int err = errno;
        _ranges.forget(p);
        throw_errno(err, name, "pkey_mprotect failed in add");
    }
}

void pkey_domain::remove(void* p, std::size_t n) {
    _ranges.remove(p, n, name);
    if (::pkey_mprotect(p, n, PROT_READ | PROT_WRITE, 0) != 0) {
        const int err = errno;
        _ranges.add(p, n, name);  // capacity is there: no allocation
        throw_errno(err, name, "pkey_mprotect failed in remove");
    }
}

result<void> pkey_domain::set_access(access a) noexcept {
    if (_key < 0) return keel::errno_code(EBADF);
    if (::pkey_set(_key, pkey_rights_of(a)) != 0) return keel::errno_code(errno);
    return {};
}

access pkey_domain::current_access() const noexcept {
    if (_key < 0) return access::read_write;
    const int rights = ::pkey_get(_key);
    if (rights < 0) return access::read_write;
    if ((static_cast<unsigned>(rights) & PKEY_DISABLE_ACCESS) != 0) return access::none;
    if ((static_cast<unsigned>(rights) & PKEY_DISABLE_WRITE) != 0) return access::read;
    return access::read_write;
}

// ---- none -------------------------------------------------------------------------

backend_status no_protection::probe() {
    if (disabled_by_environment(name)) return status(name, false, std::string(disabled_reason));
    return status(name, true, "always available; protects nothing");
}

void no_protection::add(void* p, std::size_t n) { _ranges.add(p, n, name); }
void no_protection::remove(void* p, std::size_t n) { _ranges.remove(p, n, name); }

// ---- run-time choice --------------------------------------------------------------

any_protection_domain make_protection_domain(std::string_view preference) {
    static constexpr std::string_view order[] = {pkey_domain::name, mprotect_domain::name, no_protection::name};
    const auto* first = std::find(std::begin(order), std::end(order), preference);
    if (first == std::end(order)) {
        throw std::invalid_argument("make_protection_domain: unknown backend '" + std::string(preference) +
                                    "' (want pkey, mprotect or none)");
    }
    std::string refusals;
    for (const auto* it = first; it != std::end(order); ++it) {
        if (*it == pkey_domain::name) {
            try {
                return any_protection_domain(pkey_domain{});
            } catch (const std::system_error& e) {
                refusals += std::string(e.what()) + "; ";
            }
        } else if (*it == mprotect_domain::name) {
            auto s = mprotect_domain::probe();
            if (s.available) return any_protection_domain(mprotect_domain{});
            refusals += "mprotect: " + s.reason + "; ";
        } else {
            auto s = no_protection::probe();
            if (s.available) return any_protection_domain(no_protection{});
            refusals += "none: " + s.reason;
        }
    }
    throw std::system_error(std::make_error_code(std::errc::operation_not_supported),
                            "make_protection_domain: every backend refused (" + refusals + ")");
}

std::vector<backend_status> probe_protection_domains() {
    return {pkey_domain::probe(), mprotect_domain::probe(), no_protection::probe()};
}

}  // namespace keel::platform
