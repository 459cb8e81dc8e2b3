#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <span>
#include <string>
#include <string_view>

namespace keel::iospec {

/// The system calls a foreaction graph can declare. fstat, fstatat and statx are
/// distinct kinds because the program's calls are: a scope matches `fstatat` only to
/// an fstatat node. All three are issued as statx on the io engines.
enum class op_kind : std::uint8_t { openat, pread, pwrite, fstat, fstatat, statx, close, getdents64 };

/// The call's name, e.g. "pread".
[[nodiscard]] std::string_view to_string(op_kind kind) noexcept;

/// True for the calls whose effect outlives the call (they change files or the
/// descriptor table): openat, pwrite, close. A scope never pre-issues them past a
/// possible early exit, and never pre-issues close at all (see docs/iospec.md).
[[nodiscard]] constexpr bool has_side_effects(op_kind kind) noexcept {
    return kind == op_kind::openat || kind == op_kind::pwrite || kind == op_kind::close;
}

// The arguments of each call, as a graph's generator computes them and as the
// program passes them. Plain values; paths are owned (compared with strcmp).

/// openat(dirfd, path, flags, mode); mode is compared only when flags hold O_CREAT or O_TMPFILE.
struct openat_args {
    int dirfd = AT_FDCWD;
    std::string path;
    int flags = O_RDONLY;
    mode_t mode = 0;
};
/// pread(fd, buffer, length, offset): the buffer is the scope's own until the call.
struct pread_args {
    int fd = -1;
    std::size_t length = 0;
    std::uint64_t offset = 0;
};
/// pwrite(fd, data, data.size(), offset). `data` is borrowed only while the generator
/// runs: the scope copies it, and the program's call must pass the same bytes.
struct pwrite_args {
    int fd = -1;
    std::span<const std::byte> data;
    std::uint64_t offset = 0;
};
/// fstat(fd, &st).
struct fstat_args {
    int fd = -1;
};
/// fstatat(dirfd, path, &st, flags).
struct fstatat_args {
    int dirfd = AT_FDCWD;
    std::string path;
    int flags = 0;
};
/// statx(dirfd, path, flags, mask, &stx).
struct statx_args {
    int dirfd = AT_FDCWD;
    std::string path;
    int flags = 0;
    unsigned mask = STATX_BASIC_STATS;
};
/// close(fd). Never pre-issued: it frees the descriptor number.
struct close_args {
    int fd = -1;
};
/// getdents64(fd, buffer, length): reads at the directory fd's position and moves it.
struct getdents64_args {
    int fd = -1;
    std::size_t length = 0;
};

/// The outcome of one call, as later generators see it (context::result).
/// `value` is what the system call returned (bytes, fd or 0), or the negated errno.
/// `data` holds the bytes a pread or getdents64 transferred; `stat` the statx record
/// of fstat, fstatat and statx nodes. Views stay valid while the generator runs.
struct op_result {
    std::int64_t value = 0;
    std::span<const std::byte> data;
    const struct ::statx* stat = nullptr;

    [[nodiscard]] constexpr bool ok() const noexcept { return value >= 0; }
    /// The errno, or 0 on success.
    [[nodiscard]] constexpr int error() const noexcept { return value < 0 ? static_cast<int>(-value) : 0; }
    /// The descriptor an openat returned (-1 on failure).
    [[nodiscard]] constexpr int fd() const noexcept { return value >= 0 ? static_cast<int>(value) : -1; }
};

// Op tags: they type the node handles (node<pread_op>) and name each call's arguments.
/// The tag of openat nodes.
struct openat_op {
    static constexpr op_kind kind = op_kind::openat;
    using args = openat_args;
};
/// The tag of pread nodes.
struct pread_op {
    static constexpr op_kind kind = op_kind::pread;
    using args = pread_args;
};
/// The tag of pwrite nodes.
struct pwrite_op {
    static constexpr op_kind kind = op_kind::pwrite;
    using args = pwrite_args;
};
/// The tag of fstat nodes.
struct fstat_op {
    static constexpr op_kind kind = op_kind::fstat;
    using args = fstat_args;
};
/// The tag of fstatat nodes.
struct fstatat_op {
    static constexpr op_kind kind = op_kind::fstatat;
    using args = fstatat_args;
};
/// The tag of statx nodes.
struct statx_op {
    static constexpr op_kind kind = op_kind::statx;
    using args = statx_args;
};
/// The tag of close nodes.
struct close_op {
    static constexpr op_kind kind = op_kind::close;
    using args = close_args;
};
/// The tag of getdents64 nodes.
struct getdents64_op {
    static constexpr op_kind kind = op_kind::getdents64;
    using args = getdents64_args;
};

/// One record of a getdents64 buffer (struct linux_dirent64), as a view.
struct dirent64_view {
    std::uint64_t ino = 0;
    std::int64_t off = 0;
    unsigned char type = 0;  ///< DT_REG, DT_DIR, ... (DT_UNKNOWN on some file systems)
    std::string_view name;
};

/// The records of a getdents64 result, in order. Stops at the first malformed record.
/// Cost: no allocation; each step reads one record header.
class dirent64_range {
public:
    explicit dirent64_range(std::span<const std::byte> bytes) noexcept : _bytes(bytes) {}

    /// Walks the records; equal to end() after the last well-formed one.
    class iterator {
    public:
        using value_type = dirent64_view;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(std::span<const std::byte> rest) noexcept : _rest(rest) { load(); }
        const dirent64_view& operator*() const noexcept { return _view; }
        const dirent64_view* operator->() const noexcept { return &_view; }
        iterator& operator++() noexcept {
            _rest = _rest.subspan(_reclen);
            load();
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator old = *this;
            ++*this;
            return old;
        }
        friend bool operator==(const iterator& a, const iterator& b) noexcept {
            return a._rest.size() == b._rest.size();
        }

    private:
        static constexpr std::size_t header = 19;  // ino 8, off 8, reclen 2, type 1
        void load() noexcept {
            _reclen = 0;
            if (_rest.size() < header) {
                _rest = {};
                return;
            }
            std::uint16_t reclen = 0;
            std::memcpy(&_view.ino, _rest.data(), 8);
            std::memcpy(&_view.off, _rest.data() + 8, 8);
            std::memcpy(&reclen, _rest.data() + 16, 2);
            if (reclen <= header || reclen > _rest.size()) {
                _rest = {};
                return;
            }
            _reclen = reclen;
            _view.type = static_cast<unsigned char>(_rest[18]);
            const char* name = reinterpret_cast<const char*>(_rest.data() + header);
            _view.name = std::string_view(name, ::strnlen(name, reclen - header));
        }
        std::span<const std::byte> _rest;
        std::size_t _reclen = 0;
        dirent64_view _view;
    };

    [[nodiscard]] iterator begin() const noexcept { return iterator(_bytes); }
    [[nodiscard]] iterator end() const noexcept { return iterator(); }

private:
    std::span<const std::byte> _bytes;
};

}  // namespace keel::iospec
