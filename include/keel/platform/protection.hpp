#pragma once

#include <keel/platform/backend_status.hpp>
#include <keel/result.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace keel::platform {

/// What a protection domain allows on its ranges. A range not in any domain has the
/// default, read_write.
enum class access : std::uint8_t { none, read, read_write };

/// "none", "read" or "read_write".
[[nodiscard]] std::string_view to_string(access a) noexcept;

/// A protection domain guards a set of page-aligned ranges and switches what is
/// allowed on all of them at once.
///  - d.add(p, n) / d.remove(p, n): start / stop guarding [p, p + n). add gives the
///    range the domain's current access; remove gives it back read_write and takes
///    exactly a range that was added. Misaligned or overlapping ranges throw
///    std::invalid_argument; a kernel refusal throws std::system_error.
///  - d.set_access(a): allow `a` on every range. Returns the kernel's error if it
///    refuses (e.g. ENOMEM when splitting mappings hits vm.max_map_count).
///  - d.current_access(): what set_access last allowed (for the calling thread where
///    D::per_thread).
///  - D::per_thread: true when access is a property of the calling thread (MPK),
///    false when it holds for the whole process (mprotect).
///  - D::name and D::probe(): the backend's name and whether this machine offers it.
template <class D>
concept protection_domain = requires(D& d, const D& cd, void* p, std::size_t n, access a) {
    d.add(p, n);
    d.remove(p, n);
    { d.set_access(a) } -> std::same_as<result<void>>;
    { cd.current_access() } noexcept -> std::same_as<access>;
    { D::per_thread } -> std::convertible_to<bool>;
    { D::name } -> std::convertible_to<std::string_view>;
    { D::probe() } -> std::same_as<backend_status>;
};

namespace detail {

/// The page-aligned ranges a domain guards; rejects misaligned, empty and
/// overlapping ones. Not thread-safe. Domains guard a handful of ranges, so a vector.
class page_ranges {
public:
    struct range {
        std::byte* data;
        std::size_t size;
    };

    /// Throws std::invalid_argument naming `backend` and the problem.
    void add(void* p, std::size_t n, std::string_view backend);
    /// Throws std::invalid_argument unless [p, p + n) was added as one range.
    void remove(void* p, std::size_t n, std::string_view backend);
    /// Undoes an add (no checks); for rolling back when the kernel refuses.
    void forget(void* p) noexcept;

    [[nodiscard]] const std::vector<range>& all() const noexcept { return _ranges; }
    [[nodiscard]] bool empty() const noexcept { return _ranges.empty(); }
    void clear() noexcept { _ranges.clear(); }

private:
    std::vector<range> _ranges;
};

/// Whether the CPU has protection keys (cpuid leaf 7: PKU) and the OS enabled them (OSPKE).
[[nodiscard]] bool cpu_has_pku() noexcept;
[[nodiscard]] bool os_enabled_pku() noexcept;

}  // namespace detail

/// Protection by mprotect: set_access re-mprotects every range, so it holds for every
/// thread of the process. Cost per set_access: one mprotect system call per range,
/// plus a TLB shootdown of the other cores running the process when access shrinks
/// (µs). Not thread-safe: serialise calls on one domain. Move-only; the destructor
/// gives the remaining ranges back read_write. Always constructible on Linux.
class mprotect_domain {
public:
    static constexpr std::string_view name = "mprotect";
    static constexpr bool per_thread = false;

    mprotect_domain() noexcept = default;
    mprotect_domain(mprotect_domain&& other) noexcept;
    mprotect_domain& operator=(mprotect_domain&& other) noexcept;
    mprotect_domain(const mprotect_domain&) = delete;
    mprotect_domain& operator=(const mprotect_domain&) = delete;
    ~mprotect_domain();

    /// Whether mprotect works here (it changes a scratch page to read-only).
    static backend_status probe();

    void add(void* p, std::size_t n);
    void remove(void* p, std::size_t n);
    [[nodiscard]] result<void> set_access(access a) noexcept;
    [[nodiscard]] access current_access() const noexcept { return _access; }
    [[nodiscard]] std::size_t range_count() const noexcept { return _ranges.all().size(); }

private:
    void release_all() noexcept;

    detail::page_ranges _ranges;
    access _access = access::read_write;
};

/// Protection by Intel MPK protection keys: owns one key (pkey_alloc, freed by the
/// destructor); add() tags the range with it (pkey_mprotect), and set_access writes
/// the calling thread's PKRU register (glibc pkey_set): tens of cycles, no system
/// call, no TLB shootdown, and it affects only the calling thread. A thread keeps
/// the rights it had when it was created (a copy of its creator's PKRU): threads
/// started after construction by the constructing thread begin with read_write,
/// older ones may begin with none (the kernel's default for an unused key); each
/// thread sets its own. set_access and current_access are thread-safe; add/remove are
/// not. A process has at most 15 keys. Move-only. Constructing it where MPK is
/// unavailable or disabled throws std::system_error naming the cause.
/// Keys do not restrict instruction fetches.
class pkey_domain {
public:
    static constexpr std::string_view name = "pkey";
    static constexpr bool per_thread = true;

    pkey_domain();
    pkey_domain(pkey_domain&& other) noexcept;
    pkey_domain& operator=(pkey_domain&& other) noexcept;
    pkey_domain(const pkey_domain&) = delete;
    pkey_domain& operator=(const pkey_domain&) = delete;
    ~pkey_domain();

    /// Whether MPK works here: CPU flags pku and ospke, and a pkey_alloc that succeeds.
    static backend_status probe();

    void add(void* p, std::size_t n);
    void remove(void* p, std::size_t n);
    [[nodiscard]] result<void> set_access(access a) noexcept;
    [[nodiscard]] access current_access() const noexcept;
    [[nodiscard]] int key() const noexcept { return _key; }
    [[nodiscard]] std::size_t range_count() const noexcept { return _ranges.all().size(); }

private:
    void release_all() noexcept;

    detail::page_ranges _ranges;
    int _key = -1;
};

/// No protection: keeps the bookkeeping and contracts (alignment checks, current
/// access) but changes nothing, so code runs unchanged where neither mprotect nor MPK
/// is wanted, and measurements can subtract protection's cost. Free; not thread-safe.
class no_protection {
public:
    static constexpr std::string_view name = "none";
    static constexpr bool per_thread = false;

    static backend_status probe();

    void add(void* p, std::size_t n);
    void remove(void* p, std::size_t n);
    [[nodiscard]] result<void> set_access(access a) noexcept {
        _access = a;
        return {};
    }
    [[nodiscard]] access current_access() const noexcept { return _access; }
    [[nodiscard]] std::size_t range_count() const noexcept { return _ranges.all().size(); }

private:
    detail::page_ranges _ranges;
    access _access = access::read_write;
};

static_assert(protection_domain<mprotect_domain>);
static_assert(protection_domain<pkey_domain>);
static_assert(protection_domain<no_protection>);

/// A protection domain chosen at run time: one virtual call per operation, small
/// next to mprotect, noticeable next to a PKRU write (a few ns). Thread-safety and
/// per-thread semantics: as the wrapped domain's (check per_thread()).
class any_protection_domain {
public:
    template <protection_domain Domain>
        requires(!std::same_as<std::remove_cvref_t<Domain>, any_protection_domain>)
    explicit any_protection_domain(Domain domain)
        : _impl(std::make_unique<model<Domain>>(std::move(domain))) {}

    void add(void* p, std::size_t n) { _impl->add(p, n); }
    void remove(void* p, std::size_t n) { _impl->remove(p, n); }
    [[nodiscard]] result<void> set_access(access a) noexcept { return _impl->set_access(a); }
    [[nodiscard]] access current_access() const noexcept { return _impl->current_access(); }
    [[nodiscard]] std::string_view name() const noexcept { return _impl->name(); }
    [[nodiscard]] bool per_thread() const noexcept { return _impl->per_thread(); }

private:
    struct concept_t {
        virtual ~concept_t() = default;
        virtual void add(void* p, std::size_t n) = 0;
        virtual void remove(void* p, std::size_t n) = 0;
        virtual result<void> set_access(access a) noexcept = 0;
        virtual access current_access() const noexcept = 0;
        virtual std::string_view name() const noexcept = 0;
        virtual bool per_thread() const noexcept = 0;
    };
    template <class Domain>
    struct model final : concept_t {
        explicit model(Domain d) : domain(std::move(d)) {}
        void add(void* p, std::size_t n) override { domain.add(p, n); }
        void remove(void* p, std::size_t n) override { domain.remove(p, n); }
        result<void> set_access(access a) noexcept override { return domain.set_access(a); }
        access current_access() const noexcept override { return domain.current_access(); }
        std::string_view name() const noexcept override { return Domain::name; }
        bool per_thread() const noexcept override { return Domain::per_thread; }
        Domain domain;
    };
    std::unique_ptr<concept_t> _impl;
};

/// The best protection domain this machine offers, starting at `preference` ("pkey",
/// "mprotect" or "none") and falling back pkey -> mprotect -> none by probe (and by
/// construction: MPK keys can run out). Note that pkey is per thread while mprotect
/// holds for the process: ask for "mprotect" when other threads must be kept out.
/// Throws std::invalid_argument for an unknown name, std::system_error if every
/// backend from the preference on is refused (KEEL_DISABLE_BACKENDS=all).
[[nodiscard]] any_protection_domain make_protection_domain(std::string_view preference = "pkey");

/// Probes every protection backend: pkey, mprotect, none. Thread-safe.
[[nodiscard]] std::vector<backend_status> probe_protection_domains();

namespace detail {
[[noreturn]] void throw_access_error(const error_code& ec, access a);
}  // namespace detail

/// Sets a domain's access for a scope and restores the previous one on exit (for a
/// per-thread domain: the calling thread's; create and destroy it on the same thread).
/// The constructor throws std::system_error if the domain refuses; the destructor
/// cannot report a refusal, so call restore() first where it matters. Not copyable.
template <class Domain>
    requires requires(Domain& d, access a) {
        { d.set_access(a) } -> std::same_as<result<void>>;
        { d.current_access() } -> std::same_as<access>;
    }
class scoped_access {
public:
    scoped_access(Domain& domain, access a) : _domain(&domain), _previous(domain.current_access()) {
        if (auto r = domain.set_access(a); !r) detail::throw_access_error(r.error(), a);
    }
    scoped_access(const scoped_access&) = delete;
    scoped_access& operator=(const scoped_access&) = delete;
    ~scoped_access() { (void)restore(); }

    /// Restores the previous access now; later calls and the destructor do nothing.
    [[nodiscard]] result<void> restore() noexcept {
        if (_domain == nullptr) return {};
        return std::exchange(_domain, nullptr)->set_access(_previous);
    }
    [[nodiscard]] access previous() const noexcept { return _previous; }

private:
    Domain* _domain;
    access _previous;
};

}  // namespace keel::platform
