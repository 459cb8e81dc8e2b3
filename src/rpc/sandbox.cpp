// The sandboxed safety mode. Two layers:
//  - guarded_run: calls a function on a stack of its own (x86-64 assembly below) and,
//    when the CPU faults while it runs there, has the kernel resume the caller instead
//    (the fault handler rewrites the interrupted context: stack pointer back to the
//    caller's, instruction pointer to a resume stub), so the fault becomes a value;
//  - sandbox: an MPK protection key tagging the connection's memory and that stack,
//    and guarded runs with PKRU allowing only that key (private memory read-only).
//
// Why resume through the signal context instead of siglongjmp: sigreturn restores the
// signal mask for free (sigsetjmp would need a sigprocmask call on every run to save
// it), and glibc's fortified longjmp refuses to jump between unrelated stacks.
//
// PKRU and signals: the kernel delivers a signal with its initial PKRU, which denies
// every key but 0, while the fault happened on a stack tagged with the sandbox's key.
// The handler's entry stub therefore writes PKRU (all keys allowed) before touching
// the stack, and hands the PKRU it found to the C++ handler, which restores it before
// chaining to the previous handler. The signal frame itself is written by the kernel
// onto the sandbox stack: with the interrupted thread's PKRU (which allows the sandbox
// key) on kernels before 6.12, with every key enabled from 6.12 on.
#include <keel/rpc/safety.hpp>

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

#if defined(__SANITIZE_ADDRESS__)
#define KEEL_RPC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEEL_RPC_ASAN 1
#endif
#endif
#ifdef KEEL_RPC_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace keel::rpc {
namespace detail {
namespace {

std::size_t page_size() noexcept {
    static const std::size_t size = [] {
        const long s = ::sysconf(_SC_PAGESIZE);
        return s > 0 ? static_cast<std::size_t>(s) : std::size_t{4096};
    }();
    return size;
}

/// The block the assembly reads and writes; the offsets are fixed (asserted below).
struct guard_call {
    void* stack_top;             // 0: where fn's stack starts (16-byte aligned)
    void (*fn)(void*) noexcept;  // 8
    void* arg;                   // 16
    void* saved_rsp;             // 24: the caller's stack pointer, written by the assembly
    std::uint32_t inside;        // 32: PKRU while fn runs
    std::uint32_t outside;       // 36: PKRU after
    std::uint32_t use_pkru;      // 40: 0: leave PKRU alone
};
static_assert(offsetof(guard_call, fn) == 8 && offsetof(guard_call, arg) == 16 &&
              offsetof(guard_call, saved_rsp) == 24 && offsetof(guard_call, inside) == 32 &&
              offsetof(guard_call, outside) == 36 && offsetof(guard_call, use_pkru) == 40);

/// A guarded run in progress on this thread; the fault handler fills in the fault.
struct guard_state {
    guard_call call;
    std::uintptr_t stack_low;
    std::uintptr_t stack_high;
    int signal;
    int code;
    const void* address;
    int pkey;
};

// initial-exec: the handler reads it; a lazily allocated (dynamic) TLS slot could
// call malloc inside the signal handler.
thread_local guard_state* tls_guard __attribute__((tls_model("initial-exec"))) = nullptr;

constexpr int guarded_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
struct sigaction previous_action[4];  // what each signal had before; written once, before installing
bool entry_writes_pkru = false;       // the handlers were installed with the PKRU entry stub

bool pku_usable() noexcept {
    return platform::detail::cpu_has_pku() && platform::detail::os_enabled_pku();
}

/// Whether the running kernel is at least major.minor (false when uname fails).
bool kernel_at_least(int major, int minor) noexcept {
    utsname u{};
    if (::uname(&u) != 0) return false;
    int ma = 0;
    int mi = 0;
    if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return false;
    return ma > major || (ma == major && mi >= minor);
}

}  // namespace
}  // namespace detail
}  // namespace keel::rpc

#if defined(__x86_64__)

extern "C" {
int keel_rpc_guarded_call(void* call);
void keel_rpc_guarded_resume();
void keel_rpc_guarded_resume_pkru();
void keel_rpc_fault_entry_pkru(int sig, siginfo_t* info, void* context);
__attribute__((visibility("hidden"), used)) void keel_rpc_on_fault(int sig, siginfo_t* info, void* context,
                                                                   unsigned entry_pkru);
}

// keel_rpc_guarded_call(guard_call* c): saves the callee-saved registers on the
// caller's stack, records that stack pointer in c->saved_rsp, switches to
// c->stack_top, writes PKRU = c->inside (if c->use_pkru), calls c->fn(c->arg), writes
// PKRU = c->outside, switches back and returns 0. Every field is read before the
// first PKRU write (c lives in private memory, which the sandbox may deny).
// keel_rpc_guarded_resume[_pkru]: where the fault handler sends the interrupted thread
// (rsp = c->saved_rsp, eax = c->outside): [write PKRU from eax,] return 1.
// keel_rpc_fault_entry_pkru: the signal handler's first instructions: no stack use
// until PKRU allows every key; passes the PKRU the kernel gave as a fourth argument.
// wrpkru / rdpkru are spelled as bytes (0f 01 ef / 0f 01 ee) for older assemblers.
asm(R"(
    .pushsection .text
    .p2align 4
    .globl keel_rpc_guarded_call
    .hidden keel_rpc_guarded_call
    .type keel_rpc_guarded_call, @function
keel_rpc_guarded_call:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, 24(%rdi)
    movq %rsp, %r12
    movq %rdi, %rbx
    movl 40(%rbx), %r13d
    movl 36(%rbx), %r14d
    movq 8(%rbx), %r15
    movq 16(%rbx), %rdi
    movq 0(%rbx), %rsp
    testl %r13d, %r13d
    jz 1f
    movl 32(%rbx), %eax
    xorl %ecx, %ecx
    xorl %edx, %edx
    .byte 0x0f, 0x01, 0xef
1:
    callq *%r15
    testl %r13d, %r13d
    jz 2f
    movl %r14d, %eax
    xorl %ecx, %ecx
    xorl %edx, %edx
    .byte 0x0f, 0x01, 0xef
2:
    movq %r12, %rsp
    xorl %eax, %eax
.Lkeel_rpc_guarded_return:
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    retq
    .size keel_rpc_guarded_call, .-keel_rpc_guarded_call

    .p2align 4
    .globl keel_rpc_guarded_resume_pkru
    .hidden keel_rpc_guarded_resume_pkru
    .type keel_rpc_guarded_resume_pkru, @function
    .globl keel_rpc_guarded_resume
    .hidden keel_rpc_guarded_resume
    .type keel_rpc_guarded_resume, @function
keel_rpc_guarded_resume_pkru:
    xorl %ecx, %ecx
    xorl %edx, %edx
    .byte 0x0f, 0x01, 0xef
keel_rpc_guarded_resume:
    movl $1, %eax
    jmp .Lkeel_rpc_guarded_return
    .size keel_rpc_guarded_resume_pkru, .-keel_rpc_guarded_resume_pkru
    .size keel_rpc_guarded_resume, .-keel_rpc_guarded_resume

    .p2align 4
    .globl keel_rpc_fault_entry_pkru
    .hidden keel_rpc_fault_entry_pkru
    .type keel_rpc_fault_entry_pkru, @function
keel_rpc_fault_entry_pkru:
    movq %rdx, %r8
    xorl %ecx, %ecx
    .byte 0x0f, 0x01, 0xee
    movl %eax, %r9d
    xorl %eax, %eax
    xorl %ecx, %ecx
    xorl %edx, %edx
    .byte 0x0f, 0x01, 0xef
    movq %r8, %rdx
    movl %r9d, %ecx
    jmp keel_rpc_on_fault
    .size keel_rpc_fault_entry_pkru, .-keel_rpc_fault_entry_pkru
    .popsection
)");

namespace keel::rpc::detail {
namespace {

std::uint32_t read_pkru() noexcept {
    std::uint32_t eax = 0;
    std::uint32_t edx = 0;
    asm volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
    return eax;
}

void write_pkru(std::uint32_t value) noexcept {
    asm volatile(".byte 0x0f, 0x01, 0xef" : : "a"(value), "c"(0), "d"(0) : "memory");
}

int slot_of(int sig) noexcept {
    for (int i = 0; i < 4; ++i)
        if (guarded_signals[i] == sig) return i;
    return -1;
}

/// Passes a fault that is not a guarded run's to the handler that was there before.
void chain(int sig, siginfo_t* info, void* context) noexcept {
    const int i = slot_of(sig);
    if (i < 0) return;
    const struct sigaction& prev = previous_action[i];
    if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
        // The default action: reinstall it; a CPU fault re-executes the instruction and
        // gets it, a signal someone sent is sent again (delivered once we return).
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        ::sigaction(sig, &dfl, nullptr);
        if (info == nullptr || info->si_code <= 0) ::raise(sig);
        return;
    }
    if ((prev.sa_flags & SA_SIGINFO) != 0) {
        prev.sa_sigaction(sig, info, context);
    } else {
        prev.sa_handler(sig);
    }
}

}  // namespace
}  // namespace keel::rpc::detail

extern "C" void keel_rpc_on_fault(int sig, siginfo_t* info, void* context, unsigned entry_pkru) {
    using namespace keel::rpc::detail;
    guard_state* g = tls_guard;
    auto* uc = static_cast<ucontext_t*>(context);
    // Ours: a CPU fault (si_code > 0: not sent by kill) while the thread ran on the
    // guarded stack of this thread's run in progress.
    if (g != nullptr && info != nullptr && uc != nullptr && info->si_code > 0 && g->call.saved_rsp != nullptr) {
        const auto rsp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
        if (rsp >= g->stack_low && rsp < g->stack_high) {
            g->signal = sig;
            g->code = info->si_code;
            g->address = info->si_addr;
            g->pkey = (sig == SIGSEGV && info->si_code == SEGV_PKUERR) ? static_cast<int>(info->si_pkey) : -1;
            void (*resume)() = g->call.use_pkru != 0 ? &keel_rpc_guarded_resume_pkru : &keel_rpc_guarded_resume;
            uc->uc_mcontext.gregs[REG_RSP] = reinterpret_cast<greg_t>(g->call.saved_rsp);
            uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(resume);
            uc->uc_mcontext.gregs[REG_RAX] = static_cast<greg_t>(g->call.outside);
            return;  // sigreturn: the mask and PKRU at the fault come back, then the resume stub runs
        }
    }
    if (entry_writes_pkru) write_pkru(entry_pkru);
    chain(sig, info, context);
}

namespace keel::rpc::detail {
namespace {

void on_fault_plain(int sig, siginfo_t* info, void* context) { keel_rpc_on_fault(sig, info, context, 0); }

}  // namespace

namespace {
std::mutex install_lock;
std::atomic<bool> installed{false};
}  // namespace

void install_fault_handler() {
    std::lock_guard<std::mutex> hold(install_lock);
    entry_writes_pkru = pku_usable();  // rdpkru/wrpkru fault where the OS did not enable keys
    void (*const ours)(int, siginfo_t*, void*) = entry_writes_pkru ? &keel_rpc_fault_entry_pkru : &on_fault_plain;
    for (int i = 0; i < 4; ++i) {
        struct sigaction current {};
        ::sigaction(guarded_signals[i], nullptr, &current);
        if ((current.sa_flags & SA_SIGINFO) != 0 && current.sa_sigaction == ours) continue;
        // Someone (a test runner, a crash reporter) installed a handler after ours, or
        // this is the first time: that one becomes the handler we chain to.
        previous_action[i] = current;
        struct sigaction sa {};
        sigemptyset(&sa.sa_mask);
        // Keep an alternate stack where the previous handler wanted one (a stack
        // overflow elsewhere must still reach it), unless a kernel older than 6.12
        // would write the signal frame there with the sandbox's PKRU, which denies
        // private memory (the process would die instead of getting an error).
        const bool onstack = (current.sa_flags & SA_ONSTACK) != 0 && (!entry_writes_pkru || kernel_at_least(6, 12));
        sa.sa_flags = SA_SIGINFO | (onstack ? SA_ONSTACK : 0);
        sa.sa_sigaction = ours;
        ::sigaction(guarded_signals[i], &sa, nullptr);
    }
    installed.store(true, std::memory_order_release);
}

guard_outcome guarded_run(const guarded_stack& stack, std::byte* top, void (*fn)(void*) noexcept, void* arg,
                          const pkru_switch* rights) noexcept {
    const auto low = reinterpret_cast<std::uintptr_t>(stack.low());
    const auto high = reinterpret_cast<std::uintptr_t>(stack.high());
    const auto t = reinterpret_cast<std::uintptr_t>(top) & ~std::uintptr_t{15};
    if (tls_guard != nullptr || stack.size() == 0 || t > high || t < low + 4096) return {true, 0, 0, nullptr, -1};
    if (!installed.load(std::memory_order_acquire)) {  // later replacements: see sandbox::create
        try {
            install_fault_handler();
        } catch (...) {
            return {true, 0, 0, nullptr, -1};
        }
    }
    guard_state st{};
    st.call.stack_top = reinterpret_cast<void*>(t);
    st.call.fn = fn;
    st.call.arg = arg;
    st.call.use_pkru = rights != nullptr ? 1u : 0u;
    st.call.inside = rights != nullptr ? rights->inside : 0u;
    st.call.outside = rights != nullptr ? rights->outside : 0u;
    st.stack_low = low;
    st.stack_high = high;
    tls_guard = &st;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const int faulted = keel_rpc_guarded_call(&st.call);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    tls_guard = nullptr;
    if (faulted == 0) return {};
#ifdef KEEL_RPC_ASAN
    // The frames the fault abandoned keep their poisoned redzones.
    __asan_unpoison_memory_region(stack.low(), stack.size());
#endif
    return {true, st.signal, st.code, st.address, st.pkey};
}

}  // namespace keel::rpc::detail

#else  // not x86-64: no guarded runs, no sandbox

namespace keel::rpc::detail {
void install_fault_handler() {}
guard_outcome guarded_run(const guarded_stack&, std::byte*, void (*)(void*) noexcept, void*,
                          const pkru_switch*) noexcept {
    return {true, 0, 0, nullptr, -1};
}
namespace {
std::uint32_t read_pkru() noexcept { return 0; }
void write_pkru(std::uint32_t) noexcept {}
}  // namespace
}  // namespace keel::rpc::detail

#endif

namespace keel::rpc {
namespace detail {

guarded_stack::guarded_stack(std::size_t bytes) {
    if (bytes == 0) throw std::invalid_argument("guarded_stack: size 0");
    const std::size_t page = page_size();
    if (bytes > (SIZE_MAX >> 1)) throw std::invalid_argument("guarded_stack: size too large");
    const std::size_t usable = (bytes + page - 1) & ~(page - 1);
    void* p = ::mmap(nullptr, usable + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) {
        throw std::system_error(errno, std::system_category(),
                                "guarded_stack: mmap of " + std::to_string(usable + page) + " bytes failed");
    }
    if (::mprotect(p, page, PROT_NONE) != 0) {  // the guard page: an overflow faults there
        const int err = errno;
        ::munmap(p, usable + page);
        throw std::system_error(err, std::system_category(), "guarded_stack: mprotect of the guard page failed");
    }
    _map = p;
    _map_size = usable + page;
    _guard = page;
}

guarded_stack& guarded_stack::operator=(guarded_stack&& other) noexcept {
    if (this != &other) {
        if (_map != nullptr) ::munmap(_map, _map_size);
        _map = std::exchange(other._map, nullptr);
        _map_size = std::exchange(other._map_size, 0);
        _guard = std::exchange(other._guard, 0);
    }
    return *this;
}

guarded_stack::~guarded_stack() {
    if (_map != nullptr) ::munmap(_map, _map_size);
}

std::string describe_fault(const guard_outcome& o) {
    if (!o.faulted) return "no fault";
    if (o.signal == 0) return "the guarded run could not start (nested run, or no room on its stack)";
    std::string what;
    switch (o.signal) {
        case SIGSEGV:
            what = "SIGSEGV";
            switch (o.code) {
                case SEGV_MAPERR: what += " (SEGV_MAPERR: no mapping at the address)"; break;
                case SEGV_ACCERR: what += " (SEGV_ACCERR: the page's protection forbids the access)"; break;
                case SEGV_PKUERR:
                    what += " (SEGV_PKUERR: protection key " + std::to_string(o.pkey) + " denies the access" +
                            (o.pkey == 0 ? ", private memory)" : ")");
                    break;
                default: what += " (si_code " + std::to_string(o.code) + ")"; break;
            }
            break;
        case SIGBUS: what = "SIGBUS (si_code " + std::to_string(o.code) + ")"; break;
        case SIGFPE: what = "SIGFPE (si_code " + std::to_string(o.code) + ", e.g. an integer division by zero)"; break;
        case SIGILL: what = "SIGILL (si_code " + std::to_string(o.code) + ")"; break;
        default: what = "signal " + std::to_string(o.signal); break;
    }
    char at[48];
    std::snprintf(at, sizeof at, " at %p", o.address);
    return what + at;
}

}  // namespace detail

// ---- sandbox ---------------------------------------------------------------------------

struct sandbox::run_state {
    std::atomic<bool> busy{false};
    std::uint32_t saved_pkru = 0;  // the running thread's PKRU before the run
    sigset_t saved_mask{};
    bool mask_saved = false;
};

namespace {

constexpr std::string_view sandbox_backend = "mpk_sandbox";

/// Why MPK sandboxes cannot be used here, or "" (without allocating a key).
std::string sandbox_refusal() {
    if (platform::disabled_by_environment("pkey") || platform::disabled_by_environment(sandbox_backend)) {
        return std::string(platform::disabled_reason) + " (pkey or mpk_sandbox)";
    }
#if !defined(__x86_64__)
    return "MPK sandboxes are implemented for x86-64 only";
#else
    if (!platform::detail::cpu_has_pku()) return "the CPU has no protection keys (cpuid flag pku missing)";
    if (!platform::detail::os_enabled_pku()) {
        return "the OS has not enabled protection keys (cpuid flag ospke missing)";
    }
    return {};
#endif
}

std::string pkey_alloc_refusal(int err) {
    std::string why = std::string("pkey_alloc failed: ") + std::strerror(err);
    if (err == ENOSPC) why += " (every protection key of this process is in use)";
    return why;
}

/// PKRU inside a run: every key access-disabled (bit 2k) except the sandbox's; key 0
/// (private memory) write-disabled (bit 1) or access-disabled (bit 0).
std::uint32_t inside_pkru(int key, platform::access private_memory) noexcept {
    std::uint32_t v = 0x55555555u;
    v &= ~(3u << (2 * key));
    v &= ~3u;
    v |= private_memory == platform::access::none ? 1u : 2u;
    return v;
}

int prot_of(platform::access a) noexcept { return a == platform::access::read ? PROT_READ : PROT_READ | PROT_WRITE; }

}  // namespace

platform::backend_status sandbox::probe() {
    std::string why = sandbox_refusal();
    if (why.empty()) {
        const int key = ::pkey_alloc(0, 0);
        if (key < 0) {
            why = pkey_alloc_refusal(errno);
        } else {
            ::pkey_free(key);
        }
    }
    if (!why.empty()) return {"protection", std::string(sandbox_backend), false, "no MPK sandbox: " + why};
    return {"protection", std::string(sandbox_backend), true,
            "protection keys work: handlers run with PKRU allowing only their sandbox's key"};
}

result<sandbox> sandbox::create(sandbox_options options) {
    if (options.private_memory == platform::access::read_write) {
        throw std::invalid_argument(
            "sandbox: private_memory must be read or none (read_write would leave private memory writable)");
    }
    if (options.stack_bytes < 16 * 1024) {
        throw std::invalid_argument("sandbox: stack_bytes " + std::to_string(options.stack_bytes) +
                                    " is below the 16 KiB minimum");
    }
    if (std::string why = sandbox_refusal(); !why.empty()) {
        return detail::fail(errc::sandbox_unavailable, "no MPK sandbox: " + why);
    }
    const int key = ::pkey_alloc(0, 0);  // the calling thread gets full access to it
    if (key < 0) return detail::fail(errc::sandbox_unavailable, "no MPK sandbox: " + pkey_alloc_refusal(errno));
    try {
        detail::guarded_stack stack(options.stack_bytes);
        if (::pkey_mprotect(stack.low(), stack.size(), PROT_READ | PROT_WRITE, key) != 0) {
            const int err = errno;
            ::pkey_free(key);
            return detail::fail(errc::sandbox_unavailable,
                                std::string("no MPK sandbox: pkey_mprotect of its stack failed: ") + std::strerror(err));
        }
        detail::install_fault_handler();
        return sandbox(key, std::move(stack), options, std::make_unique<run_state>());
    } catch (...) {
        ::pkey_free(key);
        throw;
    }
}

sandbox::sandbox(int key, detail::guarded_stack stack, sandbox_options options,
                 std::unique_ptr<run_state> state) noexcept
    : _key(key), _options(options), _stack(std::move(stack)), _state(std::move(state)) {}

sandbox::sandbox(sandbox&& other) noexcept
    : _key(std::exchange(other._key, -1)), _options(other._options), _stack(std::move(other._stack)),
      _ranges(std::move(other._ranges)), _state(std::move(other._state)) {
    other._ranges.clear();
}

sandbox& sandbox::operator=(sandbox&& other) noexcept {
    if (this != &other) {
        release_all();
        _key = std::exchange(other._key, -1);
        _options = other._options;
        _stack = std::move(other._stack);
        _ranges = std::move(other._ranges);
        other._ranges.clear();
        _state = std::move(other._state);
    }
    return *this;
}

sandbox::~sandbox() { release_all(); }

void sandbox::release_all() noexcept {
    // Back to key 0 before the key is freed (a freed key still tags its pages).
    for (const range& r : _ranges) (void)::pkey_mprotect(r.data, r.size, r.prot, 0);
    _ranges.clear();
    _stack = detail::guarded_stack{};
    if (_key >= 0) ::pkey_free(std::exchange(_key, -1));
}

void sandbox::add(void* p, std::size_t n, platform::access a) {
    if (_key < 0) throw std::invalid_argument("sandbox::add on a moved-from sandbox");
    if (a == platform::access::none) throw std::invalid_argument("sandbox::add: access none (use read or read_write)");
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    const std::size_t page = detail::page_size();
    if (p == nullptr || n == 0 || addr % page != 0 || n % page != 0 || addr + n < addr) {
        throw std::invalid_argument("sandbox::add: range [" + std::to_string(addr) + ", +" + std::to_string(n) +
                                    ") is empty or not page-aligned");
    }
    auto* b = static_cast<std::byte*>(p);
    auto overlaps = [&](const std::byte* d, std::size_t s) { return b < d + s && d < b + n; };
    if (overlaps(_stack.low() - page, _stack.size() + page)) {
        throw std::invalid_argument("sandbox::add: range overlaps the sandbox's own stack");
    }
    for (const range& r : _ranges) {
        if (overlaps(r.data, r.size)) throw std::invalid_argument("sandbox::add: range overlaps one already added");
    }
    _ranges.reserve(_ranges.size() + 1);
    if (::pkey_mprotect(p, n, prot_of(a), _key) != 0) {
        throw std::system_error(errno, std::system_category(), "sandbox::add: pkey_mprotect failed");
    }
    _ranges.push_back({b, n, prot_of(a)});
}

void sandbox::remove(void* p, std::size_t n) {
    auto it = std::find_if(_ranges.begin(), _ranges.end(),
                           [&](const range& r) { return r.data == p && r.size == n; });
    if (it == _ranges.end()) throw std::invalid_argument("sandbox::remove: range was not added to this sandbox");
    if (::pkey_mprotect(p, n, it->prot, 0) != 0) {
        throw std::system_error(errno, std::system_category(), "sandbox::remove: pkey_mprotect failed");
    }
    _ranges.erase(it);
}

void sandbox::allow_this_thread() const noexcept {
    if (_key >= 0) (void)::pkey_set(_key, 0);
}

result<std::byte*> sandbox::begin_run(std::size_t size, std::size_t align) noexcept {
    if (_key < 0 || !_state) return make_error_code(errc::sandbox_unavailable);
    bool expected = false;
    if (!_state->busy.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
        return keel::make_error_code(std::errc::device_or_resource_busy);
    }
    align = std::max<std::size_t>(align, 64);
    if (size > _stack.size() / 2) {
        _state->busy.store(false, std::memory_order_release);
        return make_error_code(errc::payload_too_large);  // the callable would not leave room to run
    }
    const auto top = reinterpret_cast<std::uintptr_t>(_stack.high());
    auto* slot = reinterpret_cast<std::byte*>((top - size) & ~(align - 1));
    // The frame goes onto the sandbox stack: this thread needs the key before the run.
    _state->saved_pkru = detail::read_pkru();
    const std::uint32_t setup = _state->saved_pkru & ~(3u << (2 * _key));
    if (setup != _state->saved_pkru) detail::write_pkru(setup);
    _state->mask_saved = false;
    if (_options.block_signals) {
        sigset_t block;
        sigfillset(&block);
        for (int sig : detail::guarded_signals) sigdelset(&block, sig);
        _state->mask_saved = ::pthread_sigmask(SIG_BLOCK, &block, &_state->saved_mask) == 0;
    }
    return slot;
}

result<void> sandbox::call(std::byte* slot, void (*fn)(void*) noexcept, void* frame_ptr) noexcept {
    const detail::pkru_switch rights{inside_pkru(_key, _options.private_memory), detail::read_pkru()};
    const detail::guard_outcome o = detail::guarded_run(_stack, slot, fn, frame_ptr, &rights);
    if (!o.faulted) return {};
    try {
        return detail::fail(errc::sandbox_fault, "sandboxed handler: " + detail::describe_fault(o));
    } catch (...) {
        return make_error_code(errc::sandbox_fault);
    }
}

void sandbox::end_run() noexcept {
    if (_state->mask_saved) ::pthread_sigmask(SIG_SETMASK, &_state->saved_mask, nullptr);
    if (detail::read_pkru() != _state->saved_pkru) detail::write_pkru(_state->saved_pkru);
    _state->busy.store(false, std::memory_order_release);
}

}  // namespace keel::rpc
