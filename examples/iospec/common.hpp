#pragma once
// Shared by the iospec examples: a scratch directory, a clock, the page-cache dropper
// and the counters printer.

#include <keel/iospec.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace example {

namespace is = keel::iospec;

/// A fresh directory under $TMPDIR (or /var/tmp: a disk, where /tmp may be tmpfs),
/// removed with its contents at the end.
class scratch_dir {
public:
    scratch_dir() {
        const char* base = std::getenv("TMPDIR");
        std::string templ = std::string(base != nullptr ? base : "/var/tmp") + "/keel-iospec-XXXXXX";
        if (::mkdtemp(templ.data()) == nullptr) throw std::system_error(errno, std::system_category(), "mkdtemp " + templ);
        _path = templ;
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(_path, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    [[nodiscard]] const std::string& path() const noexcept { return _path; }

private:
    std::string _path;
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Writes the file back and asks the kernel to drop its pages (cold reads follow).
inline void drop_cache(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    (void)::fdatasync(fd);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
}

inline void print_counters(const char* what, const is::graph_counters& c) {
    std::printf("  %s: hits %llu, misses %llu, mismatches %llu, cancelled %llu, wasted %llu B, depth now %llu, "
                "probes %llu (%llu cached), dormant calls %llu\n",
                what, static_cast<unsigned long long>(c.hits), static_cast<unsigned long long>(c.misses),
                static_cast<unsigned long long>(c.mismatches), static_cast<unsigned long long>(c.cancelled),
                static_cast<unsigned long long>(c.wasted_bytes), static_cast<unsigned long long>(c.depth),
                static_cast<unsigned long long>(c.probes), static_cast<unsigned long long>(c.probes_cached),
                static_cast<unsigned long long>(c.dormant_calls));
}

}  // namespace example
