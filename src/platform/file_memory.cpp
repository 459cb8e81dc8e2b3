#include "support.hpp"
#include <keel/platform/file_memory.hpp>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bit>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <system_error>

namespace keel::platform {

struct file_memory::state {
    struct extent {
        std::uint64_t size;
        bool used;
    };
    std::string path;
    int fd = -1;
    bool dax = false;
    bool growable = true;
    bool reserve = true;
    std::uint64_t capacity = 0;  // 0: unbounded
    std::size_t granularity = 0;
    mutable std::mutex mutex;
    std::map<std::uint64_t, extent> extents;      // by offset; covers [0, end)
    std::map<std::uintptr_t, std::uint64_t> at;   // mapped address -> offset
    std::uint64_t end = 0;                        // first offset never carved

    ~state() {
        if (fd >= 0) ::close(fd);
    }
};

namespace {

[[noreturn]] void throw_errno(int err, const std::string& what) {
    throw std::system_error(err, std::system_category(), what);
}

// Grows the file to cover [offset, offset + len): blocks reserved when asked.
int grow_file(int fd, std::uint64_t offset, std::uint64_t len, bool reserve) {
    if (reserve) {
        if (::fallocate(fd, 0, static_cast<off_t>(offset), static_cast<off_t>(len)) == 0) return 0;
        if (errno != EOPNOTSUPP) return errno;  // fall back only when the fs cannot reserve
    }
    struct stat st{};
    if (::fstat(fd, &st) != 0) return errno;
    auto want = offset + len;
    if (static_cast<std::uint64_t>(st.st_size) < want && ::ftruncate(fd, static_cast<off_t>(want)) != 0) return errno;
    return 0;
}

// Size in bytes of a device-DAX character device, and its mapping alignment.
void char_device_geometry(const struct stat& st, std::uint64_t& size, std::size_t& align) {
    std::string dir = "/sys/dev/char/" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
    size = detail::read_unsigned_file(dir + "/size").value_or(0);
    auto a = detail::read_unsigned_file(dir + "/align").value_or(std::size_t{2} << 20);
    align = (a >= detail::page_size() && std::has_single_bit(a)) ? static_cast<std::size_t>(a) : std::size_t{2} << 20;
}

bool try_map_sync(int fd) {
    std::size_t page = detail::page_size();
    void* p = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
    if (p == MAP_FAILED) return false;
    ::munmap(p, page);
    return true;
}

}  // namespace

file_memory::file_memory(std::string path, file_memory_options options) : _state(std::make_unique<state>()) {
    auto& s = *_state;
    s.path = std::move(path);
    s.growable = options.growable;
    s.reserve = options.reserve;
    s.granularity = detail::page_size();
    s.fd = ::open(s.path.c_str(), O_RDWR | O_CLOEXEC | (options.create ? O_CREAT : 0), 0600);
    if (s.fd < 0) throw_errno(errno, "file_memory: cannot open " + s.path);
    struct stat st{};
    if (::fstat(s.fd, &st) != 0) throw_errno(errno, "file_memory: cannot stat " + s.path);

    std::uint64_t size = 0;
    if (S_ISREG(st.st_mode)) {
        size = static_cast<std::uint64_t>(st.st_size);
    } else if (S_ISBLK(st.st_mode)) {
        if (::ioctl(s.fd, BLKGETSIZE64, &size) != 0) throw_errno(errno, "file_memory: cannot size block device " + s.path);
    } else if (S_ISCHR(st.st_mode)) {
        char_device_geometry(st, size, s.granularity);
    } else {
        throw std::invalid_argument("file_memory: " + s.path + " is neither a regular file nor a device");
    }
    if (s.growable && !S_ISREG(st.st_mode)) {
        throw std::invalid_argument("file_memory: " + s.path + " is a device and cannot grow; set growable = false");
    }
    if (s.growable) {
        s.capacity = options.capacity;
    } else {
        s.capacity = options.capacity != 0 ? options.capacity : size;
        if (s.capacity == 0) {
            throw std::invalid_argument("file_memory: fixed-size " + s.path + " is empty; give options.capacity");
        }
        if (S_ISREG(st.st_mode) && size < s.capacity) {
            if (int err = grow_file(s.fd, size, s.capacity - size, s.reserve)) {
                throw_errno(err, "file_memory: cannot extend " + s.path + " to its capacity");
            }
        } else if (size != 0 && size < s.capacity) {
            throw std::invalid_argument("file_memory: capacity " + std::to_string(s.capacity) + " exceeds the size of " +
                                        s.path + " (" + std::to_string(size) + ")");
        }
    }
    s.dax = options.try_dax && try_map_sync(s.fd);
}

file_memory::file_memory(file_memory&&) noexcept = default;
file_memory& file_memory::operator=(file_memory&&) noexcept = default;
file_memory::~file_memory() = default;

result<memory_region> file_memory::map(std::size_t n) {
    if (!_state) return keel::errno_code(EBADF);
    auto& s = *_state;
    auto size = detail::checked_map_size(n, s.granularity);
    if (!size) return size.error();
    std::lock_guard lock(s.mutex);

    // First fit among freed extents, else carve at the end.
    std::uint64_t offset = s.end;
    bool reused = false;
    for (const auto& [off, e] : s.extents) {
        if (!e.used && e.size >= *size) {
            offset = off;
            reused = true;
            break;
        }
    }
    if (!reused) {
        if (offset > INT64_MAX - *size) return keel::make_error_code(std::errc::invalid_argument);
        if (s.capacity != 0 && offset + *size > s.capacity) return keel::errno_code(ENOSPC);
        if (s.growable) {
            if (int err = grow_file(s.fd, offset, *size, s.reserve)) return keel::errno_code(err);
        }
    }
    int flags = s.dax ? (MAP_SHARED_VALIDATE | MAP_SYNC) : MAP_SHARED;
    void* p = ::mmap(nullptr, *size, PROT_READ | PROT_WRITE, flags, s.fd, static_cast<off_t>(offset));
    if (p == MAP_FAILED) return keel::errno_code(errno);

    try {
        s.at.emplace(reinterpret_cast<std::uintptr_t>(p), offset);
        if (reused) {
            auto& e = s.extents.at(offset);
            if (e.size > *size) s.extents.emplace(offset + *size, state::extent{e.size - *size, false});
            e = {*size, true};
        } else {
            s.extents.emplace(offset, state::extent{*size, true});
            s.end = offset + *size;
        }
    } catch (const std::bad_alloc&) {
        s.at.erase(reinterpret_cast<std::uintptr_t>(p));
        ::munmap(p, *size);
        return keel::errno_code(ENOMEM);
    }
    return memory_region(p, *size, s.fd);
}

void file_memory::unmap(memory_region region) noexcept {
    if (!_state || !region) return;
    auto& s = *_state;
    std::lock_guard lock(s.mutex);
    auto a = s.at.find(reinterpret_cast<std::uintptr_t>(region.data()));
    if (a == s.at.end()) return;
    auto it = s.extents.find(a->second);
    s.at.erase(a);
    if (it == s.extents.end()) return;
    ::munmap(region.data(), it->second.size);
    it->second.used = false;
    // Merge with free neighbours (erasing only: unmap must not allocate).
    if (auto next = std::next(it); next != s.extents.end() && !next->second.used) {
        it->second.size += next->second.size;
        s.extents.erase(next);
    }
    if (it != s.extents.begin()) {
        if (auto prev = std::prev(it); !prev->second.used) {
            prev->second.size += it->second.size;
            s.extents.erase(it);
            it = prev;
        }
    }
    // A free extent at the end goes back to the never-carved tail.
    if (it->first + it->second.size == s.end) {
        s.end = it->first;
        s.extents.erase(it);
    }
}

std::size_t file_memory::granularity() const noexcept { return _state ? _state->granularity : detail::page_size(); }
bool file_memory::dax() const noexcept { return _state && _state->dax; }
int file_memory::fd() const noexcept { return _state ? _state->fd : -1; }
std::uint64_t file_memory::capacity() const noexcept { return _state ? _state->capacity : 0; }
const std::string& file_memory::path() const noexcept {
    static const std::string none;
    return _state ? _state->path : none;
}

result<std::uint64_t> file_memory::offset_of(const memory_region& region) const {
    if (!_state) return keel::errno_code(EBADF);
    std::lock_guard lock(_state->mutex);
    auto a = _state->at.find(reinterpret_cast<std::uintptr_t>(region.data()));
    if (a == _state->at.end()) return keel::make_error_code(std::errc::invalid_argument);
    return a->second;
}

backend_status file_memory::probe() {
    if (auto off = detail::disabled_status(name)) return *off;
    const char* env = std::getenv("TMPDIR");
    std::string dir = env && *env ? env : "/tmp";
    int raw = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (raw < 0) {  // no O_TMPFILE on this file system: a named file, unlinked at once
        std::string tmpl = dir + "/keel-probe-XXXXXX";
        raw = ::mkostemp(tmpl.data(), O_CLOEXEC);
        if (raw < 0) return detail::errno_status(name, "creating a file in " + dir, errno);
        ::unlink(tmpl.c_str());
    }
    detail::fd_guard fd(raw);
    std::size_t page = detail::page_size();
    if (::ftruncate(fd.get(), static_cast<off_t>(page)) != 0) return detail::errno_status(name, "ftruncate", errno);
    void* p = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) return detail::errno_status(name, "mmap(MAP_SHARED)", errno);
    ::munmap(p, page);
    bool dax = try_map_sync(fd.get());
    return detail::memory_status(name, true, "shared file mappings work; " + dir + (dax ? " is DAX (MAP_SYNC)" : " is not DAX"));
}

}  // namespace keel::platform
