#include "support.hpp"
#include <keel/platform/shared_memory.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <utility>

namespace keel::platform {

static_assert(static_cast<unsigned>(memfd_seal::seal) == F_SEAL_SEAL);
static_assert(static_cast<unsigned>(memfd_seal::shrink) == F_SEAL_SHRINK);
static_assert(static_cast<unsigned>(memfd_seal::grow) == F_SEAL_GROW);
static_assert(static_cast<unsigned>(memfd_seal::write) == F_SEAL_WRITE);
static_assert(static_cast<unsigned>(memfd_seal::future_write) == F_SEAL_FUTURE_WRITE);

namespace {

constexpr unsigned all_seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;

// Maps `size` bytes of fd shared; closes fd on failure so callers leak nothing.
result<memory_region> map_fd(detail::fd_guard& fd, std::size_t size, int prot) {
    void* p = ::mmap(nullptr, size, prot, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) return keel::errno_code(errno);
    return memory_region(p, size, fd.release());
}

result<std::size_t> file_size(int fd) {
    struct stat st{};
    if (::fstat(fd, &st) != 0) return keel::errno_code(errno);
    if (st.st_size <= 0) return keel::make_error_code(std::errc::invalid_argument);
    return static_cast<std::size_t>(st.st_size);
}

void unmap_and_close(memory_region region) noexcept {
    if (region) ::munmap(region.data(), region.size());
    if (region.fd() >= 0) ::close(region.fd());
}

}  // namespace

// ---- memfd_memory ----------------------------------------------------------------

memfd_memory::memfd_memory(memfd_options options) : _debug_name(std::move(options.debug_name)) {
    if (_debug_name.size() > 249) {
        throw std::invalid_argument("memfd_memory: debug name is " + std::to_string(_debug_name.size()) +
                                    " bytes; memfd_create allows at most 249");
    }
    if (_debug_name.find('\0') != std::string::npos || _debug_name.find('/') != std::string::npos) {
        throw std::invalid_argument("memfd_memory: debug name must not contain '/' or NUL");
    }
}

result<memory_region> memfd_memory::map(std::size_t n) {
    auto size = detail::checked_map_size(n, granularity());
    if (!size) return size.error();
    if (*size > static_cast<std::size_t>(INT64_MAX)) return keel::make_error_code(std::errc::invalid_argument);
    detail::fd_guard fd(::memfd_create(_debug_name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (fd.get() < 0) return keel::errno_code(errno);
    if (::ftruncate(fd.get(), static_cast<off_t>(*size)) != 0) return keel::errno_code(errno);
    return map_fd(fd, *size, PROT_READ | PROT_WRITE);
}

result<memory_region> memfd_memory::attach(int fd, memfd_attach_options options) {
    auto seals = current_seals(fd);
    if (!seals) return seals.error();
    if (!has_seals(*seals, options.required_seals)) return keel::make_error_code(std::errc::operation_not_permitted);
    auto size = file_size(fd);
    if (!size) return size.error();
    detail::fd_guard own(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (own.get() < 0) return keel::errno_code(errno);
    return map_fd(own, *size, PROT_READ | (options.writable ? PROT_WRITE : 0));
}

void memfd_memory::unmap(memory_region region) noexcept { unmap_and_close(region); }

std::size_t memfd_memory::granularity() const noexcept { return detail::page_size(); }

result<void> memfd_memory::seal(int fd, memfd_seal seals) noexcept {
    auto bits = static_cast<unsigned>(seals);
    if ((bits & ~all_seals) != 0) return keel::make_error_code(std::errc::invalid_argument);
    if (::fcntl(fd, F_ADD_SEALS, static_cast<int>(bits)) != 0) return keel::errno_code(errno);
    return {};
}

result<memfd_seal> memfd_memory::current_seals(int fd) noexcept {
    int bits = ::fcntl(fd, F_GET_SEALS);
    if (bits < 0) return keel::errno_code(errno);
    return static_cast<memfd_seal>(static_cast<unsigned>(bits));
}

backend_status memfd_memory::probe() {
    if (auto off = detail::disabled_status(name)) return *off;
    detail::fd_guard fd(::memfd_create("keel-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (fd.get() < 0) return detail::errno_status(name, "memfd_create", errno);
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
        return detail::errno_status(name, "fcntl(F_ADD_SEALS)", errno);
    }
    return detail::memory_status(name, true, "memfd_create with sealing works");
}

// ---- posix_shm_memory ------------------------------------------------------------

void posix_shm_memory::validate_name(std::string_view object_name) {
    auto fail = [&](std::string_view why) {
        throw std::invalid_argument("posix_shm_memory: name \"" + std::string(object_name) + "\" " + std::string(why));
    };
    if (object_name.empty()) fail("is empty; use \"/name\"");
    if (object_name.front() != '/') fail("must start with '/'");
    if (object_name.size() == 1) fail("has nothing after the leading '/'");
    if (object_name.find('/', 1) != std::string_view::npos) fail("must not contain '/' after the leading one");
    if (object_name.find('\0') != std::string_view::npos) fail("must not contain NUL");
    if (object_name.size() - 1 > 254) fail("is longer than 254 characters after the '/'");
    if (object_name == "/." || object_name == "/..") fail("is not a valid file name");
}

posix_shm_memory::posix_shm_memory(std::string object_name, posix_shm_options options)
    : _name(std::move(object_name)), _options(options) {
    validate_name(_name);
    if ((_options.permissions & ~0777u) != 0) {
        throw std::invalid_argument("posix_shm_memory: permissions " + std::to_string(_options.permissions) +
                                    " have bits outside 0777");
    }
}

posix_shm_memory::posix_shm_memory(posix_shm_memory&& other) noexcept
    : _name(std::move(other._name)), _options(other._options), _created(std::exchange(other._created, false)) {}

posix_shm_memory& posix_shm_memory::operator=(posix_shm_memory&& other) noexcept {
    if (this != &other) {
        if (_created && _options.unlink_on_destroy) ::shm_unlink(_name.c_str());
        _name = std::move(other._name);
        _options = other._options;
        _created = std::exchange(other._created, false);
    }
    return *this;
}

posix_shm_memory::~posix_shm_memory() {
    if (_created && _options.unlink_on_destroy) ::shm_unlink(_name.c_str());
}

result<memory_region> posix_shm_memory::map(std::size_t n) {
    auto size = detail::checked_map_size(n, granularity());
    if (!size) return size.error();
    if (*size > static_cast<std::size_t>(INT64_MAX)) return keel::make_error_code(std::errc::invalid_argument);
    if (_options.mode == shm_mode::open) {
        detail::fd_guard fd(::shm_open(_name.c_str(), O_RDWR | O_CLOEXEC, 0));
        if (fd.get() < 0) return keel::errno_code(errno);
        auto have = file_size(fd.get());
        if (!have) return have.error();
        if (*have < n) return keel::make_error_code(std::errc::invalid_argument);
        return map_fd(fd, std::min(*size, *have), PROT_READ | PROT_WRITE);
    }
    detail::fd_guard fd(::shm_open(_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                                   static_cast<mode_t>(_options.permissions)));
    if (fd.get() < 0) return keel::errno_code(errno);
    auto undo = [&](int err) {
        ::shm_unlink(_name.c_str());  // ours: O_EXCL succeeded
        return keel::errno_code(err);
    };
    if (::ftruncate(fd.get(), static_cast<off_t>(*size)) != 0) return undo(errno);
    auto region = map_fd(fd, *size, PROT_READ | PROT_WRITE);
    if (!region) return undo(region.error().value());
    _created = true;
    return region;
}

result<memory_region> posix_shm_memory::attach() {
    detail::fd_guard fd(::shm_open(_name.c_str(), O_RDWR | O_CLOEXEC, 0));
    if (fd.get() < 0) return keel::errno_code(errno);
    auto size = file_size(fd.get());
    if (!size) return size.error();
    return map_fd(fd, *size, PROT_READ | PROT_WRITE);
}

void posix_shm_memory::unmap(memory_region region) noexcept { unmap_and_close(region); }

std::size_t posix_shm_memory::granularity() const noexcept { return detail::page_size(); }

result<void> posix_shm_memory::unlink() noexcept {
    if (::shm_unlink(_name.c_str()) != 0) return keel::errno_code(errno);
    _created = false;
    return {};
}

backend_status posix_shm_memory::probe() {
    if (auto off = detail::disabled_status(name)) return *off;
    static std::atomic<unsigned> counter{0};
    std::string scratch = "/keel-probe-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    detail::fd_guard fd(::shm_open(scratch.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) return detail::errno_status(name, "shm_open", errno);
    ::shm_unlink(scratch.c_str());
    return detail::memory_status(name, true, "shm_open works (/dev/shm)");
}

}  // namespace keel::platform
