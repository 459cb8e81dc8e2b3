#pragma once
// Shared by the iospec example programs (and the test and benchmark that run them): the
// two ways a program makes its calls, the raw system calls or an iospec scope, with the
// same signatures, so that each program is written once as a template over them; and
// little-endian field access for the example file formats.

#include <keel/iospec.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <span>

namespace example {

/// The raw system calls.
struct raw_calls {
    int openat(int d, const char* p, int f) { return ::openat(d, p, f); }
    ssize_t pread(int fd, void* b, std::size_t n, off_t o) { return ::pread(fd, b, n, o); }
    ssize_t pwrite(int fd, const void* b, std::size_t n, off_t o) { return ::pwrite(fd, b, n, o); }
    ssize_t getdents64(int fd, void* b, std::size_t n) { return ::syscall(SYS_getdents64, fd, b, n); }
    int fstatat(int d, const char* p, struct ::stat* st, int f) { return ::fstatat(d, p, st, f); }
    int close(int fd) { return ::close(fd); }
};

/// The same calls through a scope.
struct scope_calls {
    keel::iospec::scope& s;
    int openat(int d, const char* p, int f) { return s.openat(d, p, f); }
    ssize_t pread(int fd, void* b, std::size_t n, off_t o) { return s.pread(fd, b, n, o); }
    ssize_t pwrite(int fd, const void* b, std::size_t n, off_t o) { return s.pwrite(fd, b, n, o); }
    ssize_t getdents64(int fd, void* b, std::size_t n) { return s.getdents64(fd, b, n); }
    int fstatat(int d, const char* p, struct ::stat* st, int f) { return s.fstatat(d, p, st, f); }
    int close(int fd) { return s.close(fd); }
};

/// A field of type T at byte `at` (the formats are little-endian, as is the host).
template <class T>
[[nodiscard]] inline T load(std::span<const std::byte> b, std::size_t at) noexcept {
    T v{};
    std::memcpy(&v, b.data() + at, sizeof v);
    return v;
}
template <class T>
inline void store(std::span<std::byte> b, std::size_t at, T v) noexcept {
    std::memcpy(b.data() + at, &v, sizeof v);
}

/// Writes back dirty pages and drops the machine's caches (`echo what >
/// /proc/sys/vm/drop_caches`: 2 = dentries and inodes, 3 = those and the page cache);
/// root only, false when not allowed.
inline bool drop_caches(char what) {
    ::sync();
    const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::write(fd, &what, 1) == 1;
    ::close(fd);
    return ok;
}

}  // namespace example
