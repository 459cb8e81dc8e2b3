#pragma once

/// keel::rpc safety modes: what a receiver may assume about the data behind a call's
/// shm_ptr arguments, and the mechanisms that give each guarantee. These are
/// self-contained building blocks; the call path chooses among them per method or per
/// call (docs/rpc.md, "Safety modes").
///
///  - copy:       copy_payload() into the receiver's private memory;
///  - sealed:     protection_window (mprotect of the sender's own pages) or
///                sealed_buffer (a one-shot memfd sealed F_SEAL_WRITE);
///  - sandboxed:  sandbox (Intel MPK protection keys, PKRU per thread).

#include <keel/platform/backend_status.hpp>
#include <keel/platform/protection.hpp>
#include <keel/result.hpp>
#include <keel/rpc/error.hpp>

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace keel::rpc {

/// What a receiver may assume about the data a call's shm_ptr arguments point to.
/// Arguments passed by value (inline in the ring slot) are always copied by the
/// receiver before use, in every mode; the modes differ only for shared data.
enum class safety_mode : std::uint8_t {
    /// Pointers as they are: the handler reads the sender's memory in place while the
    /// sender may still change it (time-of-check to time-of-use races are the
    /// handler's problem). Guards nothing; costs nothing.
    relaxed,
    /// The receiver copies each payload into its own private memory before use
    /// (copy_payload) and uses only the copy, so no sender, buggy or hostile, can change
    /// what the handler sees after the copy. Costs a memcpy; bounded to small payloads
    /// (default_copy_threshold, one page). Does not apply to pointer-rich structures
    /// whose links the handler follows into shared memory.
    copy,
    /// The sender cannot modify the argument buffer while the call runs.
    /// protection_window: the sender's own pages are mprotect'ed read-only, so a write
    /// by any sender thread faults (against a buggy sender; a hostile process can
    /// mprotect them back). sealed_buffer: a memfd sealed F_SEAL_WRITE, enforced by
    /// the kernel against every process (against a hostile sender), but one-shot.
    sealed,
    /// The handler runs with access only to the connection's memory (its arenas and a
    /// stack inside them; private memory read-only) using Intel MPK protection keys;
    /// a stray access becomes errc::sandbox_fault for the caller and the server stays
    /// up. Against a buggy handler following a bad pointer; needs MPK hardware
    /// (sandbox::probe()), never falls back to running unsandboxed.
    sandboxed,
};

/// "relaxed", "copy", "sealed" or "sandboxed".
[[nodiscard]] std::string_view to_string(safety_mode m) noexcept;

/// Whether a call made in mode `given` gives the guarantee `required` promises (what a
/// server's minimum, rpc::server::require_safety, accepts): anything satisfies relaxed;
/// copy is satisfied by copy and by sealed (the argument cannot change while the call
/// runs, so what the handler reads stays what it checked); sealed and sandboxed only by
/// themselves (a sandbox protects the server from its handler, not from the sender).
[[nodiscard]] constexpr bool satisfies(safety_mode given, safety_mode required) noexcept {
    switch (required) {
    case safety_mode::relaxed: return true;
    case safety_mode::copy: return given == safety_mode::copy || given == safety_mode::sealed;
    case safety_mode::sealed: return given == safety_mode::sealed;
    case safety_mode::sandboxed: return given == safety_mode::sandboxed;
    }
    return false;
}

// ---- copy ---------------------------------------------------------------------------

/// Payloads up to this size are cheaper to copy than to seal (RPCool measured a
/// one-page memcpy at about the cost of an mprotect seal + release; see docs/rpc.md
/// for this machine's numbers). One page.
inline constexpr std::size_t default_copy_threshold = 4096;

/// Private memory for one copied payload, aligned for any argument type.
struct alignas(64) copy_buffer {
    std::byte bytes[default_copy_threshold];
    [[nodiscard]] std::span<std::byte> span() noexcept { return {bytes, sizeof bytes}; }
};

/// Copies [src, src + n) (a range the receiver already resolved, e.g. with
/// segment::resolve) into the caller's private memory `dst` and returns the copied
/// bytes (a prefix of dst). The sender may change the source during or after the
/// copy; the copy then holds some mix of old and new bytes, but never changes again:
/// validate the copy, not the source. errc::payload_too_large when n exceeds
/// `max_bytes` or dst.size(). Sets no error_detail (hot path). Thread-safe. Cost: a
/// memcpy of n bytes.
[[nodiscard]] result<std::span<std::byte>> copy_payload(const void* src, std::size_t n, std::span<std::byte> dst,
                                                        std::size_t max_bytes = default_copy_threshold) noexcept;

/// Typed form: copies `src` (trivially copyable elements) into `dst` and returns the
/// copied elements.
template <class T>
    requires std::is_trivially_copyable_v<T>
[[nodiscard]] result<std::span<T>> copy_payload(std::span<const T> src, std::span<T> dst,
                                                std::size_t max_bytes = default_copy_threshold) noexcept {
    auto r = copy_payload(src.data(), src.size_bytes(), std::as_writable_bytes(dst), max_bytes);
    if (!r) return r.error();
    return dst.first(src.size());
}

// ---- sealed (a): protection window ---------------------------------------------------

/// Makes the sender's own pages covering [p, p + n) read-only (mprotect PROT_READ) for
/// its lifetime, then read-write again: while a call reads the argument buffer, a write
/// by any thread of the sending process faults (SIGSEGV) instead of changing what the
/// receiver sees. Whole pages: anything else on those pages is read-only too, so the
/// call path hands sealed calls page-aligned buffers.
///
/// Threat: a buggy sender thread. A hostile sender process can mprotect its pages
/// back (mprotect is voluntary; use sealed_buffer where that matters).
///
/// Windows of concurrent calls may overlap: each page has a reference count in a
/// process-wide table under a mutex, so a page becomes writable only when the last
/// window covering it ends. The range must lie in mappings that are read-write
/// outside windows (they are restored to PROT_READ | PROT_WRITE): the sender's own
/// arena mapping, which stays writable for its owner even after F_SEAL_FUTURE_WRITE.
///
/// Thread-safe (seal/release from any thread; one window object is not shared).
/// Cost: seal = the mutex + one mprotect (read-only: the kernel splits the mapping and
/// flushes the TLB of every core running the process); release = the mutex + one
/// mprotect per run of pages that become writable. µs; see docs/rpc.md.
class protection_window {
public:
    /// An empty window (seals nothing).
    protection_window() noexcept = default;
    protection_window(protection_window&& other) noexcept
        : _begin(std::exchange(other._begin, 0)), _end(std::exchange(other._end, 0)) {}
    protection_window& operator=(protection_window&& other) noexcept;
    protection_window(const protection_window&) = delete;
    protection_window& operator=(const protection_window&) = delete;
    /// Releases (errors ignored: call release() first where they matter).
    ~protection_window() { (void)release(); }

    /// Seals the pages covering [p, p + n). n == 0 gives an empty window. Errors: the
    /// errno of mprotect (ENOMEM: part of the range is unmapped, or vm.max_map_count
    /// was hit splitting mappings) with error_detail() naming the range; EINVAL when
    /// the range wraps; nothing stays sealed on failure.
    [[nodiscard]] static result<protection_window> seal(const void* p, std::size_t n) noexcept;

    /// Ends the window now (pages no other window covers become read-write again).
    /// Later calls and the destructor do nothing. Error: mprotect's errno.
    [[nodiscard]] result<void> release() noexcept;

    [[nodiscard]] bool active() const noexcept { return _end != _begin; }
    /// The sealed pages (empty when not active).
    [[nodiscard]] std::span<const std::byte> pages() const noexcept {
        return {reinterpret_cast<const std::byte*>(_begin), _end - _begin};
    }

    /// Pages sealed by some window right now, process-wide (a test and debugging aid).
    [[nodiscard]] static std::size_t sealed_page_count() noexcept;

private:
    protection_window(std::uintptr_t b, std::uintptr_t e) noexcept : _begin(b), _end(e) {}
    std::uintptr_t _begin = 0;
    std::uintptr_t _end = 0;
};

// ---- sealed (b): one-shot sealed memfd -------------------------------------------------

class sealed_view;

/// A one-shot payload buffer: its own memfd, filled by the sender, then sealed
/// F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, so nobody — the sender
/// included, through any fd or mapping — can change or resize it again. The sender
/// passes fd() to the receiver (SCM_RIGHTS); the receiver's attach() checks the seals
/// and maps it read-only. Enforced by the kernel against a hostile sender process.
///
/// Cost: memfd_create + ftruncate + mmap + page faults on fill + munmap + F_ADD_SEALS
/// for the sender; fstat + F_GET_SEALS + mmap + page faults for the receiver; fresh
/// pages every time (see docs/rpc.md). Move-only; the destructor closes the fd.
class sealed_buffer {
public:
    /// The unsealed buffer, mapped read-write in the sender only. Move-only; the
    /// destructor unmaps and closes it (nothing is sealed or sent).
    class writer {
    public:
        writer(writer&& other) noexcept;
        writer& operator=(writer&& other) noexcept;
        writer(const writer&) = delete;
        writer& operator=(const writer&) = delete;
        ~writer();

        /// The buffer's bytes (zero-filled at first); empty after seal() was tried.
        [[nodiscard]] std::span<std::byte> data() const noexcept { return {_data, _data ? _size : 0}; }
        [[nodiscard]] std::size_t size() const noexcept { return _size; }
        [[nodiscard]] int fd() const noexcept { return _fd; }

        /// Unmaps data() and seals the memfd. On success the writer is empty and the
        /// sealed_buffer owns the fd. errc::seal_busy when a writable mapping of the
        /// memfd remains elsewhere (an mmap of fd() the caller made, or a page pinned
        /// for I/O): the writer keeps the fd (data() is gone) so the caller can unmap
        /// that mapping and call seal() again. Other errors: F_ADD_SEALS's errno.
        [[nodiscard]] result<sealed_buffer> seal() noexcept;

    private:
        friend class sealed_buffer;
        writer(int fd, std::byte* data, std::size_t size) noexcept : _fd(fd), _data(data), _size(size) {}
        int _fd = -1;
        std::byte* _data = nullptr;
        std::size_t _size = 0;
    };

    /// A fresh memfd of n bytes, mapped read-write (n == 0: nothing mapped).
    /// `debug_name` appears in `/proc/<pid>/maps` as `/memfd:<name>`. Errors: the errno of
    /// memfd_create / ftruncate / mmap (nothing is left open).
    [[nodiscard]] static result<writer> create(std::size_t n, std::string_view debug_name = "keel-rpc-sealed") noexcept;

    /// create(n), fill(std::span<std::byte>) with the payload, seal().
    template <class Fill>
        requires std::invocable<Fill&, std::span<std::byte>>
    [[nodiscard]] static result<sealed_buffer> make(std::size_t n, Fill&& fill) {
        auto w = create(n);
        if (!w) return w.error();
        std::invoke(fill, w->data());
        return w->seal();
    }

    /// The receiving side: checks that `fd` is a memfd (errc::not_a_memfd) carrying
    /// F_SEAL_WRITE, F_SEAL_SHRINK, F_SEAL_GROW and F_SEAL_SEAL (errc::buffer_not_sealed,
    /// error_detail() names each missing seal), at most `max_size` bytes
    /// (errc::payload_too_large, checked before mapping), then maps it read-only
    /// (MAP_SHARED: no copy). Once the seals are there they cannot be removed, so what
    /// the view shows can never change. `populate` prefaults the whole mapping (one
    /// system call instead of a fault per page, for handlers that read everything).
    /// The caller keeps and closes `fd`. Thread-safe.
    [[nodiscard]] static result<sealed_view> attach(int fd, std::size_t max_size, bool populate = false) noexcept;

    sealed_buffer(sealed_buffer&& other) noexcept
        : _fd(std::exchange(other._fd, -1)), _size(std::exchange(other._size, 0)) {}
    sealed_buffer& operator=(sealed_buffer&& other) noexcept;
    sealed_buffer(const sealed_buffer&) = delete;
    sealed_buffer& operator=(const sealed_buffer&) = delete;
    ~sealed_buffer();

    /// The sealed memfd, to pass to the receiver; -1 after release_fd().
    [[nodiscard]] int fd() const noexcept { return _fd; }
    [[nodiscard]] std::size_t size() const noexcept { return _size; }
    /// Gives up ownership of the fd (the caller closes it).
    [[nodiscard]] int release_fd() noexcept { return std::exchange(_fd, -1); }

private:
    sealed_buffer(int fd, std::size_t size) noexcept : _fd(fd), _size(size) {}
    int _fd = -1;
    std::size_t _size = 0;
};

/// A sealed buffer mapped read-only in the receiver. Move-only; the destructor unmaps.
class sealed_view {
public:
    sealed_view() noexcept = default;
    sealed_view(sealed_view&& other) noexcept
        : _data(std::exchange(other._data, nullptr)), _size(std::exchange(other._size, 0)) {}
    sealed_view& operator=(sealed_view&& other) noexcept;
    sealed_view(const sealed_view&) = delete;
    sealed_view& operator=(const sealed_view&) = delete;
    ~sealed_view();

    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {_data, _size}; }
    [[nodiscard]] const std::byte* data() const noexcept { return _data; }
    [[nodiscard]] std::size_t size() const noexcept { return _size; }

private:
    friend class sealed_buffer;
    sealed_view(const std::byte* data, std::size_t size) noexcept : _data(data), _size(size) {}
    const std::byte* _data = nullptr;
    std::size_t _size = 0;
};

// ---- sandboxed: MPK --------------------------------------------------------------------

namespace detail {

/// How a guarded run ended.
struct guard_outcome {
    bool faulted = false;           ///< a fault on the guarded stack ended the run
    int signal = 0;                 ///< SIGSEGV, SIGBUS, SIGFPE or SIGILL (0: the run could not start)
    int code = 0;                   ///< its si_code, e.g. SEGV_MAPERR, SEGV_ACCERR, SEGV_PKUERR
    const void* address = nullptr;  ///< the faulting address (data address for SIGSEGV/SIGBUS)
    int pkey = -1;                  ///< the protection key of that address (SEGV_PKUERR only)
};

/// An mmap'ed stack with a PROT_NONE guard page below it, for guarded runs.
/// Move-only; the destructor unmaps it. Not thread-safe: one run at a time.
class guarded_stack {
public:
    /// No stack.
    guarded_stack() noexcept = default;
    /// Throws std::system_error when mmap fails, std::invalid_argument for size 0.
    explicit guarded_stack(std::size_t bytes);
    guarded_stack(guarded_stack&& other) noexcept
        : _map(std::exchange(other._map, nullptr)), _map_size(std::exchange(other._map_size, 0)),
          _guard(std::exchange(other._guard, 0)) {}
    guarded_stack& operator=(guarded_stack&& other) noexcept;
    guarded_stack(const guarded_stack&) = delete;
    guarded_stack& operator=(const guarded_stack&) = delete;
    ~guarded_stack();

    /// The usable stack (above the guard page).
    [[nodiscard]] std::byte* low() const noexcept { return static_cast<std::byte*>(_map) + _guard; }
    [[nodiscard]] std::byte* high() const noexcept { return static_cast<std::byte*>(_map) + _map_size; }
    [[nodiscard]] std::size_t size() const noexcept { return _map_size - _guard; }

private:
    void* _map = nullptr;
    std::size_t _map_size = 0;
    std::size_t _guard = 0;
};

/// PKRU values for a guarded run: `inside` while fn runs, `outside` before and after.
struct pkru_switch {
    std::uint32_t inside = 0;
    std::uint32_t outside = 0;
};

/// Runs fn(arg) on `stack` (below `top`, which lies inside it; 16-byte aligned down),
/// with PKRU = rights->inside when rights != nullptr. A fault (SIGSEGV, SIGBUS, SIGFPE,
/// SIGILL raised by the CPU) while fn runs on that stack ends the run: the signal
/// handler (installed once, process-wide, chaining every other fault to the handler
/// that was there before) makes the kernel resume this function instead, which
/// restores PKRU (rights->outside) and the signal mask (sigreturn) and reports the
/// fault. Nothing on the abandoned stack is destroyed. fn must not throw and must not
/// be left by longjmp. Not reentrant on one thread, and `top` must leave at least
/// 4 KiB of the stack below it: otherwise it returns {faulted = true, signal = 0}.
/// x86-64 only; elsewhere it returns the same. Cost: a stack switch (a few ns) plus
/// two PKRU writes when rights are given.
guard_outcome guarded_run(const guarded_stack& stack, std::byte* top, void (*fn)(void*) noexcept, void* arg,
                          const pkru_switch* rights) noexcept;

/// Installs the fault handlers guarded_run relies on (SIGSEGV, SIGBUS, SIGFPE, SIGILL)
/// where they are not installed: the first time, and again if someone replaced them
/// since (the replacement becomes the handler chained to). A fault that is not a
/// guarded run's goes to the handler found there (or the default action). guarded_run
/// installs them on first use only (checking on every run would cost four system
/// calls), sandbox::create() every time. A handler replaced after that makes faults in
/// runs reach the replacement (typically a crash: nothing runs unguarded silently).
/// Thread-safe; a few system calls.
void install_fault_handler();

/// E.g. "SIGSEGV (SEGV_PKUERR: protection key 0 denies the access) at 0x7f...".
[[nodiscard]] std::string describe_fault(const guard_outcome& o);

}  // namespace detail

/// Options of a sandbox. Plain data.
struct sandbox_options {
    /// The handler's stack, in sandbox memory (tagged with the sandbox's key): 64 KiB.
    /// A handler that overflows it (into the guard page) kills the process.
    std::size_t stack_bytes = 64 * 1024;
    /// What the handler may do with private memory (protection key 0: code constants,
    /// globals, the heap, thread stacks, TLS) during a run:
    ///  - read (default): read only. Constants, vtables, the GOT, its own captures
    ///    and the dispatcher's copies of arguments stay readable; every write to
    ///    private state faults before it takes effect (so no lock in private memory can
    ///    be left held by a fault). Protects integrity, not confidentiality.
    ///  - none: no access at all. Only code that touches nothing but sandbox memory
    ///    works: no library calls through the PLT, no constant pools, no stack
    ///    protector (its canary is in TLS).
    platform::access private_memory = platform::access::read;
    /// Block asynchronous signals during a run. A signal handler started while the
    /// handler runs on the sandbox stack begins with the kernel's initial PKRU, which
    /// denies the sandbox key, and faults on its first stack write, killing the
    /// process; blocking costs two sigprocmask calls per run. Turn off only where no
    /// signal handlers run in this process.
    bool block_signals = true;
};

/// An MPK sandbox for handlers: one protection key (pkey_alloc) tagging the ranges
/// add()ed (the connection's arenas) and a stack of its own. run(f) calls f on that
/// stack with PKRU allowing only the sandbox's key (and private memory as
/// sandbox_options::private_memory says); every other key (other connections'
/// sandboxes) is denied. A stray access (SIGSEGV: SEGV_PKUERR, or SEGV_ACCERR /
/// SEGV_MAPERR) or another CPU fault (SIGBUS, SIGFPE, SIGILL) while f runs on the
/// sandbox stack ends f, and run() returns errc::sandbox_fault with error_detail()
/// naming the fault; PKRU and the signal mask are restored and the process stays up.
/// Nothing on f's abandoned stack is destroyed. Recovering is safe because f could not
/// write private memory: no lock or heap structure there was half-changed.
///
/// Where MPK is missing (no cpu flag pku/ospke, pkey_alloc refused, all 15 keys in
/// use, not x86-64, or KEEL_DISABLE_BACKENDS naming "pkey" or "mpk_sandbox"),
/// create() returns errc::sandbox_unavailable with the reason in error_detail();
/// nothing runs unsandboxed.
///
/// Keys are per process and rights per thread: once a range is tagged, a thread whose
/// PKRU denies the key cannot touch it even outside runs. Threads created after
/// create() by the creating thread inherit its rights (allowed); older threads call
/// allow_this_thread(). run() allows the key for the duration of the run itself.
///
/// What f can do inside (private_memory = read): read anything but other sandboxes'
/// memory; write only sandbox memory (its stack, this side's arena). So: no malloc, no
/// exceptions, no errno-setting calls, no I/O; and a first call through a lazily bound
/// PLT entry writes the GOT (private memory) and faults: link with -z now or make the
/// call once outside. Limits: a handler overflowing its stack (into the guard page)
/// kills the process (the kernel cannot write the signal frame); a SIGSEGV handler
/// installed after create() replaces the one runs rely on (faults then reach it:
/// typically a crash, never a silent unsandboxed run); sanitizers cannot run inside
/// (their instrumentation writes shadow memory, their signal wrappers run with the
/// kernel's initial PKRU); CET shadow stacks are not supported (the fault path skips
/// returns).
///
/// Thread-safety: run() on one sandbox from one thread at a time (a second concurrent
/// run returns std::errc::device_or_resource_busy); add/remove not concurrently with
/// runs. Move-only. Cost of run: an atomic flag, two PKRU writes (tens of cycles
/// each), a stack switch, and with block_signals two sigprocmask system calls.
class sandbox {
public:
    /// Whether MPK sandboxes work here: x86-64, cpu flags pku and ospke, a successful
    /// pkey_alloc, and not disabled by KEEL_DISABLE_BACKENDS ("pkey" or "mpk_sandbox").
    /// Thread-safe; never crashes.
    [[nodiscard]] static platform::backend_status probe();

    /// A sandbox with its own key and stack. errc::sandbox_unavailable (reason in
    /// error_detail()) where probe() refuses or keys ran out.
    [[nodiscard]] static result<sandbox> create(sandbox_options options = {});

    sandbox(sandbox&& other) noexcept;
    sandbox& operator=(sandbox&& other) noexcept;
    sandbox(const sandbox&) = delete;
    sandbox& operator=(const sandbox&) = delete;
    /// Gives every range back to key 0 (with its protection), unmaps the stack, frees the key.
    ~sandbox();

    /// Tags the page-aligned range [p, p + n) with the sandbox's key and sets its
    /// protection to `a` (read: the peer's arena, mapped read-only; read_write: this
    /// side's arena). The range must stay mapped until remove() or the sandbox's end
    /// (which gives it back to key 0 with that protection: unmapped and reused, it
    /// would retag someone else's memory). Throws std::invalid_argument for
    /// misaligned/overlapping ranges or access::none, std::system_error when
    /// pkey_mprotect refuses.
    void add(void* p, std::size_t n, platform::access a);
    /// Gives [p, p + n) (exactly as added) back to key 0 with the same protection.
    void remove(void* p, std::size_t n);

    /// Allows the calling thread full access to the sandbox's key outside runs.
    void allow_this_thread() const noexcept;

    /// Calls f() inside the sandbox; its result (void or trivially copyable) comes back.
    /// f is moved onto the sandbox stack first (so with private_memory = none its
    /// captures are reachable; references it captures still point to private memory).
    /// f must not throw: exceptions allocate in private memory, which faults
    /// (errc::sandbox_fault); a throw that does not fault becomes errc::handler_failed.
    template <class F>
        requires std::invocable<std::decay_t<F>&> &&
                 (std::is_void_v<std::invoke_result_t<std::decay_t<F>&>> ||
                  std::is_trivially_copyable_v<std::invoke_result_t<std::decay_t<F>&>>)
    [[nodiscard]] result<std::invoke_result_t<std::decay_t<F>&>> run(F&& f);

    [[nodiscard]] int key() const noexcept { return _key; }
    [[nodiscard]] const sandbox_options& options() const noexcept { return _options; }

private:
    struct range {
        std::byte* data;
        std::size_t size;
        int prot;
    };
    /// What run() places at the top of the sandbox stack: the callable and its result.
    template <class Fn, class R>
    struct frame {
        template <class G>
        explicit frame(G&& g) : fn(std::forward<G>(g)) {}
        Fn fn;
        bool threw = false;
        alignas(R) unsigned char out[sizeof(R)] = {};
    };
    template <class Fn>
    struct frame<Fn, void> {
        template <class G>
        explicit frame(G&& g) : fn(std::forward<G>(g)) {}
        Fn fn;
        bool threw = false;
    };
    template <class Frame, class R>
    static void invoke(void* p) noexcept {
        auto* fr = static_cast<Frame*>(p);
        try {
            if constexpr (std::is_void_v<R>) {
                std::invoke(fr->fn);
            } else {
                // Placement copy, not memcpy: no library call (with private_memory
                // none a call through the PLT would read private memory).
                ::new (static_cast<void*>(fr->out)) R(std::invoke(fr->fn));
            }
        } catch (...) {
            fr->threw = true;
        }
    }

    /// Starts a run: claims the sandbox, allows its key for this thread, returns the
    /// slot at the top of the sandbox stack for a frame of `size` bytes.
    result<std::byte*> begin_run(std::size_t size, std::size_t align) noexcept;
    /// Runs fn(frame_ptr) on the sandbox stack below `slot`.
    result<void> call(std::byte* slot, void (*fn)(void*) noexcept, void* frame_ptr) noexcept;
    /// Ends a run: restores this thread's PKRU and releases the sandbox.
    void end_run() noexcept;
    void release_all() noexcept;

    struct run_state;  // busy flag, saved PKRU and signal mask (heap: keeps the sandbox movable)

    sandbox(int key, detail::guarded_stack stack, sandbox_options options, std::unique_ptr<run_state> state) noexcept;

    int _key = -1;
    sandbox_options _options;
    detail::guarded_stack _stack;
    std::vector<range> _ranges;
    std::unique_ptr<run_state> _state;
};

template <class F>
    requires std::invocable<std::decay_t<F>&> &&
             (std::is_void_v<std::invoke_result_t<std::decay_t<F>&>> ||
              std::is_trivially_copyable_v<std::invoke_result_t<std::decay_t<F>&>>)
result<std::invoke_result_t<std::decay_t<F>&>> sandbox::run(F&& f) {
    using Fn = std::decay_t<F>;
    using R = std::invoke_result_t<Fn&>;
    using Frame = frame<Fn, R>;
    auto slot = begin_run(sizeof(Frame), alignof(Frame));
    if (!slot) return slot.error();
    struct end_guard {
        sandbox* self;
        ~end_guard() { self->end_run(); }
    } guard{this};
    auto* fr = ::new (static_cast<void*>(*slot)) Frame(std::forward<F>(f));
    struct frame_guard {
        Frame* fr;
        ~frame_guard() { fr->~Frame(); }
    } destroy{fr};
    if (auto ran = call(*slot, &invoke<Frame, R>, fr); !ran) return ran.error();
    if (fr->threw) return detail::fail(errc::handler_failed, "the sandboxed handler threw an exception");
    if constexpr (std::is_void_v<R>) {
        return {};
    } else {
        return std::bit_cast<R>(fr->out);
    }
}

}  // namespace keel::rpc
