#pragma once

#include <keel/iospec/engine.hpp>
#include <keel/iospec/graph.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>

namespace keel::iospec {

/// How a scope makes sure a descriptor still names the file it speculated on.
///  - verify: the scope records each trusted descriptor's (device, inode) and checks it
///    with one fstat before handing over a pre-issued result, so a descriptor closed
///    behind the scope's back and reused for another file never yields that file's data
///    (the call then runs itself). Costs one fstat per hit.
///  - trust_caller: no check; the caller promises to close pinned and graph-opened
///    descriptors only through the scope while it lives.
enum class fd_checks : std::uint8_t { verify, trust_caller };

/// Per-scope settings.
struct scope_options {
    /// A fixed pre-issue depth for this scope (overrides graph_options::depth and turns
    /// the adaptive depth off).
    std::optional<unsigned> depth;
    fd_checks checks = fd_checks::verify;
    /// With the adaptive depth: once the depth is 0 and no node's recent probes found
    /// data uncached, the scope goes dormant for the rest of its life: it stops following
    /// the graph and passes calls straight through, probing one read (or timing one
    /// metadata call) in probe_interval, so a warm cache costs next to nothing. A probe
    /// that then finds data uncached raises the graph's learned depth, and the graph's
    /// next scope pre-issues again; this scope does not. A scope starts dormant when the
    /// graph learned depth 0. False: the scope keeps matching at depth 0 (a per-call
    /// cost) so that a cold probe brings pre-issuing back within the scope, which long
    /// scopes over data whose cache state changes may prefer.
    bool rest_when_cached = true;
};

/// What one scope did (the same fields as graph_counters, for this scope only).
using scope_counters = graph_counters;

/// One run of a graph (RAII): from construction to destruction, the program makes its
/// calls through the scope's methods instead of the system calls, in the order the
/// graph declares. The scope pre-issues the calls ahead whose arguments are known and
/// hands each call the result of its pre-issued twin.
///
/// Guarantees:
///  - Every call returns exactly what the system call would (value, errno, bytes):
///    its arguments are compared with the pre-issued ones, and on any difference the
///    call runs synchronously, the speculative work is dropped and speculation ends for
///    the scope (a mismatch). Transient speculative failures (EINTR, EAGAIN, ECANCELED)
///    are retried by the real call.
///  - Only descriptors the graph opened in this scope, or that the scope pins, are
///    speculated on; a descriptor closed through the scope is no longer trusted.
///  - Nothing with side effects (openat, pwrite) is pre-issued past a possible exit, and
///    by default only once it is the program's next call; close never is. (A pre-issued
///    write whose own arguments then mismatch has still happened: graphs must predict
///    writes exactly. A pre-issued openat returns the lowest descriptor number free when
///    it ran, which can differ from the number the call would have got.)
///  - When the scope ends, no speculative operation is in flight and no descriptor it
///    opened speculatively is left open: in-flight work is cancelled, and work the kernel
///    had already started is waited for (it cannot be recalled).
///
/// The methods mirror the system calls: -1 and errno on failure. Not thread-safe: one
/// thread uses a scope. Cost per call: the argument comparison plus, for a hit, a copy of
/// the result (and one fstat with fd_checks::verify).
class scope {
public:
    /// Opens a scope of `g` on engine `e` (this_thread_engine() by default). If the graph
    /// is disabled or `e` is busy with another scope, every call passes through.
    explicit scope(const graph& g, scope_options options = {});
    scope(const graph& g, engine& e, scope_options options = {});
    /// Same, pinning `pinned` descriptors first.
    scope(const graph& g, engine& e, std::initializer_list<int> pinned, scope_options options = {});
    ~scope();
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

    /// Trusts `fd` for speculation until it is closed through the scope (the caller keeps
    /// it open and unmodified otherwise). False if `fd` is not open.
    bool pin(int fd) noexcept;

    int openat(int dirfd, const char* path, int flags, mode_t mode = 0) noexcept;
    ssize_t pread(int fd, void* buffer, std::size_t length, off_t offset) noexcept {
        if (_direct_calls_left != 0) return direct(), ::pread(fd, buffer, length, offset);
        return pread_through_state(fd, buffer, length, offset);
    }
    ssize_t pwrite(int fd, const void* buffer, std::size_t length, off_t offset) noexcept;
    int fstat(int fd, struct ::stat* out) noexcept {
        if (_direct_calls_left != 0) return direct(), ::fstat(fd, out);
        return fstat_through_state(fd, out);
    }
    int fstatat(int dirfd, const char* path, struct ::stat* out, int flags) noexcept {
        if (_direct_calls_left != 0) return direct(), ::fstatat(dirfd, path, out, flags);
        return fstatat_through_state(dirfd, path, out, flags);
    }
    int statx(int dirfd, const char* path, int flags, unsigned mask, struct ::statx* out) noexcept {
        if (_direct_calls_left != 0) return direct(), ::statx(dirfd, path, flags, mask, out);
        return statx_through_state(dirfd, path, flags, mask, out);
    }
    int close(int fd) noexcept;
    ssize_t getdents64(int fd, void* buffer, std::size_t length) noexcept;

    /// This scope's counters so far.
    [[nodiscard]] scope_counters counters() const noexcept;
    /// True once a mismatch (or a disabled graph) made the scope pass every call through.
    [[nodiscard]] bool passthrough() const noexcept;
    /// True while the scope is dormant (see scope_options::rest_when_cached).
    [[nodiscard]] bool dormant() const noexcept;

private:
    ssize_t pread_through_state(int fd, void* buffer, std::size_t length, off_t offset) noexcept;
    int fstat_through_state(int fd, struct ::stat* out) noexcept;
    int fstatat_through_state(int dirfd, const char* path, struct ::stat* out, int flags) noexcept;
    int statx_through_state(int dirfd, const char* path, int flags, unsigned mask, struct ::statx* out) noexcept;
    void after_call() noexcept;
    void direct() noexcept {
        --_direct_calls_left;
        ++_direct_calls;
    }

    std::unique_ptr<detail::scope_state> _state;
    // While dormant, the reads and stat calls between two probes go straight to the
    // kernel from here, inline: a warm cache then costs a branch per call, not a call
    // into the library (docs/iospec.md, "Dormant scopes").
    std::uint32_t _direct_calls_left = 0;
    std::uint64_t _direct_calls = 0;
};

}  // namespace keel::iospec
