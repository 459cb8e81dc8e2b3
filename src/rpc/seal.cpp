// The sealed safety mode's two mechanisms: protection_window (mprotect of the sender's
// own pages, reference-counted per page across concurrent windows) and sealed_buffer
// (a one-shot memfd sealed against writes, checked by the receiver).
#include <keel/rpc/safety.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace keel::rpc {
namespace {

std::size_t page_size() noexcept {
    static const std::size_t size = [] {
        const long s = ::sysconf(_SC_PAGESIZE);
        return s > 0 ? static_cast<std::size_t>(s) : std::size_t{4096};
    }();
    return size;
}

std::string range_text(std::uintptr_t b, std::uintptr_t e) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "[%#lx, %#lx) (%lu pages)", static_cast<unsigned long>(b),
                  static_cast<unsigned long>(e), static_cast<unsigned long>((e - b) / page_size()));
    return buf;
}

/// Records an error_detail() without letting an allocation failure escape a noexcept function.
error_code note(error_code code, const char* what, std::uintptr_t b, std::uintptr_t e, int err) noexcept {
    try {
        return detail::fail(code, std::string(what) + " " + range_text(b, e) + ": " + std::strerror(err));
    } catch (...) {
        return code;
    }
}

// ---- the process-wide table of sealed pages -------------------------------------------

/// A run of pages [begin, end) sealed by `count` windows.
struct page_run {
    std::uintptr_t begin;
    std::uintptr_t end;
    std::uint32_t count;
};

struct seal_table {
    std::mutex lock;
    std::vector<page_run> runs;     // sorted, disjoint, count >= 1; only sealed pages
    std::vector<page_run> scratch;  // the next `runs` (swapped: no allocation once warm)
    std::vector<page_run> freed;    // runs whose count reached 0 in the last apply()

    /// Room for apply() over [a, b) so that it cannot fail half-way. Throws bad_alloc.
    void reserve() {
        scratch.reserve(runs.size() + 3);
        freed.reserve(runs.size() + 1);
    }

    /// Adds `delta` (+1 or -1) to the count of every page in [a, b). Pages reaching 0
    /// go to `freed` (adjacent ones merged). Needs reserve() first; does not allocate.
    void apply(std::uintptr_t a, std::uintptr_t b, int delta) noexcept {
        scratch.clear();
        freed.clear();
        auto push = [this](page_run r) {
            if (!scratch.empty() && scratch.back().end == r.begin && scratch.back().count == r.count) {
                scratch.back().end = r.end;
            } else {
                scratch.push_back(r);
            }
        };
        std::uintptr_t cursor = a;  // [a, cursor) is done
        auto gap = [&](std::uintptr_t lo, std::uintptr_t hi) {
            // Pages no window covered: a seal covers them now; a release cannot meet them.
            if (lo < hi && delta > 0) push({lo, hi, 1});
        };
        for (const page_run& r : runs) {
            if (r.end <= a || r.begin >= b) {
                if (r.begin >= b && cursor < b) {
                    gap(cursor, b);
                    cursor = b;
                }
                push(r);
                continue;
            }
            if (r.begin < a) push({r.begin, a, r.count});
            const std::uintptr_t lo = std::max(r.begin, a);
            const std::uintptr_t hi = std::min(r.end, b);
            gap(cursor, lo);
            const auto count = static_cast<std::uint32_t>(static_cast<std::int64_t>(r.count) + delta);
            if (count > 0) {
                push({lo, hi, count});
            } else if (!freed.empty() && freed.back().end == lo) {
                freed.back().end = hi;
            } else {
                freed.push_back({lo, hi, 0});
            }
            cursor = hi;
            if (r.end > b) push({b, r.end, r.count});
        }
        gap(cursor, b);
        runs.swap(scratch);
    }

    /// mprotect read-write every page of [a, b) no window covers (undoing a failed seal).
    void restore_uncovered(std::uintptr_t a, std::uintptr_t b) noexcept {
        std::uintptr_t cursor = a;
        for (const page_run& r : runs) {
            if (r.end <= cursor) continue;
            if (r.begin >= b) break;
            if (r.begin > cursor) {
                (void)::mprotect(reinterpret_cast<void*>(cursor), r.begin - cursor, PROT_READ | PROT_WRITE);
            }
            cursor = std::max(cursor, r.end);
        }
        if (cursor < b) (void)::mprotect(reinterpret_cast<void*>(cursor), b - cursor, PROT_READ | PROT_WRITE);
    }
};

seal_table& table() noexcept {
    static seal_table* const t = new seal_table;  // never destroyed: windows may outlive static destruction
    return *t;
}

}  // namespace

// ---- protection_window -----------------------------------------------------------------

protection_window& protection_window::operator=(protection_window&& other) noexcept {
    if (this != &other) {
        (void)release();
        _begin = std::exchange(other._begin, 0);
        _end = std::exchange(other._end, 0);
    }
    return *this;
}

result<protection_window> protection_window::seal(const void* p, std::size_t n) noexcept {
    if (n == 0) return protection_window{};
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t page = page_size();
    if (addr + n < addr || addr + n > UINTPTR_MAX - (page - 1)) {
        return note(keel::errno_code(EINVAL), "protection_window: range wraps around:", addr, addr, EINVAL);
    }
    const std::uintptr_t a = addr & ~(page - 1);
    const std::uintptr_t b = (addr + n + page - 1) & ~(page - 1);
    seal_table& t = table();
    std::lock_guard<std::mutex> hold(t.lock);
    try {
        t.reserve();
    } catch (...) {
        return note(keel::errno_code(ENOMEM), "protection_window: no memory to record", a, b, ENOMEM);
    }
    // Pages other windows already sealed are read-only already: one call for the range.
    if (::mprotect(reinterpret_cast<void*>(a), b - a, PROT_READ) != 0) {
        const int err = errno;
        t.restore_uncovered(a, b);  // mprotect may have changed part of the range
        return note(keel::errno_code(err), "protection_window: mprotect(PROT_READ) of", a, b, err);
    }
    t.apply(a, b, +1);
    return protection_window(a, b);
}

result<void> protection_window::release() noexcept {
    if (!active()) return {};
    const std::uintptr_t a = std::exchange(_begin, 0);
    const std::uintptr_t b = std::exchange(_end, 0);
    seal_table& t = table();
    std::lock_guard<std::mutex> hold(t.lock);
    try {
        t.reserve();
    } catch (...) {
        return note(keel::errno_code(ENOMEM), "protection_window: no memory to release", a, b, ENOMEM);
    }
    t.apply(a, b, -1);
    error_code first;
    for (const page_run& r : t.freed) {
        if (::mprotect(reinterpret_cast<void*>(r.begin), r.end - r.begin, PROT_READ | PROT_WRITE) != 0 && !first) {
            const int err = errno;
            first = note(keel::errno_code(err), "protection_window: mprotect(PROT_READ|PROT_WRITE) of", r.begin,
                         r.end, err);
        }
    }
    if (first) return first;
    return {};
}

std::size_t protection_window::sealed_page_count() noexcept {
    seal_table& t = table();
    std::lock_guard<std::mutex> hold(t.lock);
    std::size_t pages = 0;
    for (const page_run& r : t.runs) pages += (r.end - r.begin) / page_size();
    return pages;
}

// ---- sealed_buffer ---------------------------------------------------------------------

namespace {

constexpr int all_seals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

std::string seal_names(int seals) {
    static constexpr std::pair<int, const char*> names[] = {
        {F_SEAL_WRITE, "F_SEAL_WRITE"},
        {F_SEAL_SHRINK, "F_SEAL_SHRINK"},
        {F_SEAL_GROW, "F_SEAL_GROW"},
        {F_SEAL_SEAL, "F_SEAL_SEAL"},
#ifdef F_SEAL_FUTURE_WRITE
        {F_SEAL_FUTURE_WRITE, "F_SEAL_FUTURE_WRITE"},
#endif
    };
    std::string out;
    for (const auto& [bit, name] : names) {
        if ((seals & bit) == 0) continue;
        if (!out.empty()) out += ", ";
        out += name;
    }
    return out.empty() ? "none" : out;
}

error_code fail_errno(error_code code, const std::string& what, int err) noexcept {
    try {
        return detail::fail(code, what + ": " + std::strerror(err));
    } catch (...) {
        return code;
    }
}

}  // namespace

sealed_buffer::writer::writer(writer&& other) noexcept
    : _fd(std::exchange(other._fd, -1)), _data(std::exchange(other._data, nullptr)),
      _size(std::exchange(other._size, 0)) {}

sealed_buffer::writer& sealed_buffer::writer::operator=(writer&& other) noexcept {
    if (this != &other) {
        this->~writer();
        _fd = std::exchange(other._fd, -1);
        _data = std::exchange(other._data, nullptr);
        _size = std::exchange(other._size, 0);
    }
    return *this;
}

sealed_buffer::writer::~writer() {
    if (_data != nullptr) ::munmap(_data, _size);
    if (_fd >= 0) ::close(_fd);
    _data = nullptr;
    _fd = -1;
}

result<sealed_buffer> sealed_buffer::writer::seal() noexcept {
    if (_fd < 0) return keel::errno_code(EBADF);
    if (_data != nullptr) {
        // Our own writable mapping must go first, or F_SEAL_WRITE is refused.
        ::munmap(_data, _size);
        _data = nullptr;
    }
    if (::fcntl(_fd, F_ADD_SEALS, all_seals) != 0) {
        const int err = errno;
        if (err == EBUSY) {
            return fail_errno(make_error_code(errc::seal_busy),
                              "sealed_buffer: F_SEAL_WRITE refused (EBUSY): a writable shared mapping of the "
                              "memfd still exists (or one of its pages is pinned for I/O); unmap it and seal() again",
                              err);
        }
        return fail_errno(keel::errno_code(err), "sealed_buffer: F_ADD_SEALS failed", err);
    }
    return sealed_buffer(std::exchange(_fd, -1), _size);
}

result<sealed_buffer::writer> sealed_buffer::create(std::size_t n, std::string_view debug_name) noexcept {
    char name[250];  // memfd names are at most 249 bytes
    const std::size_t len = std::min(debug_name.size(), sizeof name - 1);
    std::memcpy(name, debug_name.data(), len);
    name[len] = '\0';
    const int fd = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        const int err = errno;
        return fail_errno(keel::errno_code(err), "sealed_buffer: memfd_create failed", err);
    }
    if (::ftruncate(fd, static_cast<off_t>(n)) != 0) {
        const int err = errno;
        ::close(fd);
        return fail_errno(keel::errno_code(err), "sealed_buffer: ftruncate to " + std::to_string(n) + " bytes failed",
                          err);
    }
    std::byte* data = nullptr;
    if (n != 0) {
        void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            return fail_errno(keel::errno_code(err), "sealed_buffer: mmap of " + std::to_string(n) + " bytes failed",
                              err);
        }
        data = static_cast<std::byte*>(p);
    }
    return writer(fd, data, n);
}

result<sealed_view> sealed_buffer::attach(int fd, std::size_t max_size, bool populate) noexcept {
    // Seals first: they can only be added, never removed, so once they are all there
    // the size read next and the contents mapped after can no longer change.
    const int seals = ::fcntl(fd, F_GET_SEALS);
    if (seals < 0) {
        const int err = errno;
        return fail_errno(make_error_code(err == EINVAL ? errc::not_a_memfd : errc::bad_message),
                          "sealed_buffer::attach: F_GET_SEALS on fd " + std::to_string(fd) +
                              " failed (not a sealable memfd)",
                          err);
    }
    if (const int missing = all_seals & ~seals; missing != 0) {
        try {
            return detail::fail(errc::buffer_not_sealed, "sealed buffer lacks " + seal_names(missing) +
                                                             " (it has " + seal_names(seals) + ")");
        } catch (...) {
            return make_error_code(errc::buffer_not_sealed);
        }
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        return fail_errno(keel::errno_code(err), "sealed_buffer::attach: fstat failed", err);
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 0) {
        return fail_errno(make_error_code(errc::not_a_memfd), "sealed_buffer::attach: not a regular memfd", EINVAL);
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size > max_size) {
        try {
            return detail::fail(errc::payload_too_large, "sealed buffer is " + std::to_string(size) +
                                                             " bytes, more than the " + std::to_string(max_size) +
                                                             " this side accepts");
        } catch (...) {
            return make_error_code(errc::payload_too_large);
        }
    }
    if (size == 0) return sealed_view{};
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
    if (p == MAP_FAILED) {
        const int err = errno;
        return fail_errno(keel::errno_code(err),
                          "sealed_buffer::attach: mmap of " + std::to_string(size) + " bytes failed", err);
    }
    return sealed_view(static_cast<const std::byte*>(p), size);
}

sealed_buffer& sealed_buffer::operator=(sealed_buffer&& other) noexcept {
    if (this != &other) {
        if (_fd >= 0) ::close(_fd);
        _fd = std::exchange(other._fd, -1);
        _size = std::exchange(other._size, 0);
    }
    return *this;
}

sealed_buffer::~sealed_buffer() {
    if (_fd >= 0) ::close(_fd);
}

sealed_view& sealed_view::operator=(sealed_view&& other) noexcept {
    if (this != &other) {
        if (_data != nullptr) ::munmap(const_cast<std::byte*>(_data), _size);
        _data = std::exchange(other._data, nullptr);
        _size = std::exchange(other._size, 0);
    }
    return *this;
}

sealed_view::~sealed_view() {
    if (_data != nullptr) ::munmap(const_cast<std::byte*>(_data), _size);
}

}  // namespace keel::rpc
