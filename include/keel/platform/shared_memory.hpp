#pragma once

#include <keel/platform/backend_status.hpp>
#include <keel/platform/memory_source.hpp>
#include <keel/result.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace keel::platform {

/// Seals on a memfd (the kernel's F_SEAL_* values). Seals only accumulate:
///  - shrink: the file cannot be truncated, so a peer's mapping never SIGBUSes;
///  - grow: the file cannot be extended;
///  - write: no write at all; refused (EBUSY) while a writable shared mapping exists;
///  - future_write: no new writable mapping or write(); existing mappings stay writable;
///  - seal: no further seals.
enum class memfd_seal : unsigned {
    none = 0,
    seal = 0x1,
    shrink = 0x2,
    grow = 0x4,
    write = 0x8,
    future_write = 0x10,
};

constexpr memfd_seal operator|(memfd_seal a, memfd_seal b) noexcept {
    return static_cast<memfd_seal>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr memfd_seal operator&(memfd_seal a, memfd_seal b) noexcept {
    return static_cast<memfd_seal>(static_cast<unsigned>(a) & static_cast<unsigned>(b));
}
/// True when every seal in `wanted` is in `set`.
constexpr bool has_seals(memfd_seal set, memfd_seal wanted) noexcept { return (set & wanted) == wanted; }

/// Options for memfd_memory. Plain data.
struct memfd_options {
    std::string debug_name = "keel";  ///< shown in `/proc/<pid>/maps` as `/memfd:<name>`; at most 249 bytes
};

/// What memfd_memory::attach() demands of a memfd received from a peer. Plain data.
struct memfd_attach_options {
    /// Seals the fd must already carry. The default, shrink, means the peer cannot
    /// truncate the file under our mapping (which would SIGBUS us on access).
    memfd_seal required_seals = memfd_seal::shrink;
    bool writable = true;  ///< map PROT_WRITE (fails with EPERM if the peer sealed writes)
};

/// Shareable, sealable memory: each region is its own memfd (memfd_create with
/// MFD_CLOEXEC | MFD_ALLOW_SEALING), sized with ftruncate and mapped MAP_SHARED.
/// region.fd() is that memfd: pass it to a peer (SCM_RIGHTS, fork), seal it, and
/// let unmap() close it. Nothing is ever created in /dev/shm or any file system.
/// Thread-safety: stateless apart from the name; any thread may map/unmap.
/// Cost: memfd_create + ftruncate + mmap per map(); munmap + close per unmap().
class memfd_memory {
public:
    static constexpr std::string_view name = "memfd";

    /// Throws std::invalid_argument when the debug name is too long or contains '/' or NUL.
    explicit memfd_memory(memfd_options options = {});

    /// A fresh zero-filled memfd of n bytes rounded up to the page size, mapped
    /// read-write. Errors: invalid_argument (n == 0, overflow), else the errno of
    /// memfd_create/ftruncate/mmap (nothing is left open on failure).
    [[nodiscard]] result<memory_region> map(std::size_t n);

    /// Maps the whole of a memfd received from a peer. The region holds its own
    /// duplicate of `fd` (the caller keeps and closes `fd`); unmap() closes the
    /// duplicate. Errors: EPERM when the fd lacks options.required_seals,
    /// EINVAL when it is not a sealable memfd or is empty, else the kernel's errno.
    [[nodiscard]] result<memory_region> attach(int fd, memfd_attach_options options = {});

    /// Unmaps and closes region.fd().
    void unmap(memory_region region) noexcept;
    [[nodiscard]] std::size_t granularity() const noexcept;

    /// Adds seals to the memfd behind `fd` (F_ADD_SEALS). Errors: EPERM when sealing
    /// is already sealed, EBUSY for `write` while a writable mapping exists.
    [[nodiscard]] static result<void> seal(int fd, memfd_seal seals) noexcept;
    [[nodiscard]] static result<void> seal(const memory_region& region, memfd_seal seals) noexcept {
        return seal(region.fd(), seals);
    }
    /// The seals the memfd behind `fd` carries (F_GET_SEALS); EINVAL for a non-memfd.
    [[nodiscard]] static result<memfd_seal> current_seals(int fd) noexcept;

    /// Tries memfd_create and F_ADD_SEALS on a scratch memfd.
    [[nodiscard]] static backend_status probe();

private:
    std::string _debug_name;
};

/// How posix_shm_memory opens its named object.
enum class shm_mode {
    create,  ///< map() creates the object exclusively (EEXIST when the name is taken)
    open,    ///< map() opens an existing object (ENOENT when there is none)
};

/// Options for posix_shm_memory. Plain data.
struct posix_shm_options {
    shm_mode mode = shm_mode::create;
    /// The destructor unlinks a name this source created (peers that already mapped it keep their memory).
    bool unlink_on_destroy = true;
    unsigned permissions = 0600;  ///< mode bits for a created object
};

/// Memory shared by name through POSIX shared memory (shm_open, ftruncate, mmap
/// MAP_SHARED): for peers that are not related by fork and cannot pass fds.
/// One source names one object: in create mode map() creates it (exclusively),
/// in open mode map() opens it; attach() maps the whole existing object.
/// region.fd() is the object's fd, closed by unmap(). The name stays in /dev/shm
/// until unlink() or the destructor (see options); a crashed creator leaves it behind.
/// Thread-safety: map/attach/unlink from one thread at a time; unmap from any.
/// Cost: shm_open + ftruncate + mmap per map().
class posix_shm_memory {
public:
    static constexpr std::string_view name = "posix_shm";

    /// `object_name` must look like "/name": one leading '/', no other '/', 1 to 254
    /// further characters, not "/." or "/..". Throws std::invalid_argument naming the problem.
    explicit posix_shm_memory(std::string object_name, posix_shm_options options = {});
    posix_shm_memory(posix_shm_memory&& other) noexcept;
    posix_shm_memory& operator=(posix_shm_memory&& other) noexcept;
    posix_shm_memory(const posix_shm_memory&) = delete;
    posix_shm_memory& operator=(const posix_shm_memory&) = delete;
    ~posix_shm_memory();

    /// create mode: a new object of n bytes rounded up to the page size; open mode:
    /// maps the first n bytes (rounded up, at most the object's size) of the existing
    /// object, EINVAL when it is smaller than n. Errors otherwise: invalid_argument
    /// (n == 0, overflow) or the errno of shm_open/ftruncate/mmap; a failed create
    /// unlinks what it created.
    [[nodiscard]] result<memory_region> map(std::size_t n);
    /// Maps the whole existing object (either mode). EINVAL when it is empty.
    [[nodiscard]] result<memory_region> attach();
    /// Unmaps and closes region.fd(); the name is untouched.
    void unmap(memory_region region) noexcept;
    [[nodiscard]] std::size_t granularity() const noexcept;

    /// Removes the name (shm_unlink); mappings stay valid. ENOENT when it is not there.
    [[nodiscard]] result<void> unlink() noexcept;
    [[nodiscard]] const std::string& object_name() const noexcept { return _name; }

    /// Throws std::invalid_argument when `object_name` is not a valid POSIX shm name.
    static void validate_name(std::string_view object_name);

    /// Creates, unlinks and closes a scratch object.
    [[nodiscard]] static backend_status probe();

private:
    std::string _name;
    posix_shm_options _options;
    bool _created = false;  // this source created the name and has not unlinked it
};

}  // namespace keel::platform
