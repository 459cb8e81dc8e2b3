#pragma once

// Private helpers shared by keel::platform's .cpp files: file reading for
// sysfs/procfs, list parsing, errno text, size rounding. Not installed.

#include <keel/platform/backend_status.hpp>
#include <keel/result.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace keel::platform::detail {

/// The whole of a small text file (sysfs, procfs), or nullopt when it cannot be read.
inline std::optional<std::string> read_text_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string text;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

inline std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// Parses an unsigned decimal number that makes up all of `s` (after trimming).
inline std::optional<std::uint64_t> parse_unsigned(std::string_view s) noexcept {
    s = trim(s);
    if (s.empty() || s.size() > 19) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

/// A number read from a one-value file such as sysfs `core_id`.
inline std::optional<std::uint64_t> read_unsigned_file(const std::string& path) {
    auto text = read_text_file(path);
    if (!text) return std::nullopt;
    return parse_unsigned(*text);
}

/// Parses the kernel's list format ("0-3,8,10-11"); nullopt when malformed.
/// Ids are capped so a corrupt file cannot make us allocate without bound.
inline std::optional<std::vector<unsigned>> parse_id_list(std::string_view s) {
    constexpr std::uint64_t max_id = 1u << 20;
    std::vector<unsigned> ids;
    s = trim(s);
    while (!s.empty()) {
        auto comma = s.find(',');
        auto item = trim(s.substr(0, comma));
        s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
        if (item.empty()) continue;
        auto dash = item.find('-');
        auto lo = parse_unsigned(item.substr(0, dash));
        auto hi = dash == std::string_view::npos ? lo : parse_unsigned(item.substr(dash + 1));
        if (!lo || !hi || *lo > *hi || *hi >= max_id) return std::nullopt;
        for (auto id = *lo; id <= *hi; ++id) ids.push_back(static_cast<unsigned>(id));
    }
    return ids;
}

/// The value in kB of `key` in a meminfo-style file ("HugePages_Total:  0",
/// "Hugepagesize:  2048 kB", "Node 0 MemTotal:  123 kB"); nullopt when absent.
inline std::optional<std::uint64_t> meminfo_value(const std::string& path, std::string_view key) {
    auto text = read_text_file(path);
    if (!text) return std::nullopt;
    std::istringstream lines(*text);
    std::string line;
    while (std::getline(lines, line)) {
        std::string_view l(line);
        auto colon = l.find(':');
        if (colon == std::string_view::npos) continue;
        auto name = trim(l.substr(0, colon));
        if (name.size() < key.size() || name.substr(name.size() - key.size()) != key) continue;
        // "Node 0 MemTotal" ends with the key; make sure it is a whole word.
        if (name.size() > key.size() && name[name.size() - key.size() - 1] != ' ') continue;
        auto value = trim(l.substr(colon + 1));
        if (value.size() >= 2 && value.substr(value.size() - 2) == "kB") value = trim(value.substr(0, value.size() - 2));
        return parse_unsigned(value);
    }
    return std::nullopt;
}

/// "EPERM (Operation not permitted)": the symbolic name first, so reasons can be grepped.
inline std::string errno_text(int err) {
    const char* name = ::strerrorname_np(err);
    const char* desc = ::strerrordesc_np(err);
    std::string out = name ? name : "errno " + std::to_string(err);
    if (desc) {
        out += " (";
        out += desc;
        out += ')';
    }
    return out;
}

/// The system page size, read once.
inline std::size_t page_size() noexcept {
    static const std::size_t size = [] {
        long v = ::sysconf(_SC_PAGESIZE);
        return v > 0 ? static_cast<std::size_t>(v) : std::size_t{4096};
    }();
    return size;
}

/// n rounded up to a multiple of `unit` (a power of two); nullopt on overflow.
inline std::optional<std::size_t> round_up(std::size_t n, std::size_t unit) noexcept {
    if (n > SIZE_MAX - (unit - 1)) return std::nullopt;
    return (n + unit - 1) & ~(unit - 1);
}

/// The size check every map() starts with: 0 and overflowing sizes are invalid.
inline result<std::size_t> checked_map_size(std::size_t n, std::size_t unit) noexcept {
    if (n == 0) return keel::make_error_code(std::errc::invalid_argument);
    auto rounded = round_up(n, unit);
    if (!rounded) return keel::make_error_code(std::errc::invalid_argument);
    return *rounded;
}

inline backend_status memory_status(std::string_view name, bool available, std::string reason) {
    return backend_status{"memory_source", std::string(name), available, std::move(reason)};
}

/// The status a probe returns when KEEL_DISABLE_BACKENDS names it, or nullopt.
inline std::optional<backend_status> disabled_status(std::string_view name) {
    if (!disabled_by_environment(name)) return std::nullopt;
    return memory_status(name, false, std::string(disabled_reason));
}

/// A refused status naming the call and its errno.
inline backend_status errno_status(std::string_view name, std::string_view call, int err) {
    std::string reason(call);
    reason += " failed: ";
    reason += errno_text(err);
    return memory_status(name, false, std::move(reason));
}

/// Closes an fd on scope exit unless released; keeps error paths leak-free.
class fd_guard {
public:
    explicit fd_guard(int fd) noexcept : _fd(fd) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() {
        if (_fd >= 0) {
            int saved = errno;  // callers read errno after the guard dies
            ::close(_fd);
            errno = saved;
        }
    }
    [[nodiscard]] int get() const noexcept { return _fd; }
    int release() noexcept {
        int fd = _fd;
        _fd = -1;
        return fd;
    }

private:
    int _fd;
};

}  // namespace keel::platform::detail
