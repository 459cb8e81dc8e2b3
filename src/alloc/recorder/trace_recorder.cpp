// libkeel-alloc-trace.so: records a program's allocations in the keel trace
// format (docs/alloc-trace-format.md).
//
//   KEEL_ALLOC_TRACE=/tmp/app.%p.trace LD_PRELOAD=libkeel-alloc-trace.so app
//
// %p in the path becomes the process id. Without KEEL_ALLOC_TRACE the
// library only forwards each call to the next definition (the C library's).
//
// Rules this file keeps, because it runs inside allocator calls of programs
// that know nothing of it:
//  - No allocation: records are formatted by hand into a fixed buffer, which
//    is written with write(2) when full, at exit, and after exit handlers
//    have run (then every record is written at once).
//  - dlsym may allocate: calls made while it resolves the real functions are
//    served from a static bootstrap buffer, which is never recorded and never
//    reused (free() of such a pointer does nothing).
//  - A thread_local guard: a call made while this thread records (by a libc
//    routine the recorder uses) is forwarded without being recorded.
//  - Order: one mutex orders all records. A free is recorded before the block
//    is freed, an allocation after it is made, and a realloc under the mutex,
//    so an address is never recorded as allocated while an earlier record
//    still holds it (the trace parser rejects that).
//  - fork: the child drops what the parent had buffered; with %p in the path
//    it records into its own file (its trace starts at the fork, so frees of
//    older blocks are counted as unmatched), without %p it stops recording.
//    exec starts afresh: without %p the new image truncates the same file,
//    so use %p for programs that fork or exec.
//  - Records made after _exit() or a crash are lost (the buffer is 64 KiB).

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#define KEEL_EXPORT __attribute__((visibility("default")))

namespace {

using malloc_fn = void* (*)(std::size_t);
using free_fn = void (*)(void*);
using calloc_fn = void* (*)(std::size_t, std::size_t);
using realloc_fn = void* (*)(void*, std::size_t);
using memalign_fn = void* (*)(std::size_t, std::size_t);
using posix_memalign_fn = int (*)(void**, std::size_t, std::size_t);
using valloc_fn = void* (*)(std::size_t);
using usable_fn = std::size_t (*)(void*);

struct real_functions {
    malloc_fn malloc = nullptr;
    free_fn free = nullptr;
    calloc_fn calloc = nullptr;
    realloc_fn realloc = nullptr;
    memalign_fn memalign = nullptr;
    memalign_fn aligned_alloc = nullptr;
    posix_memalign_fn posix_memalign = nullptr;
    valloc_fn valloc = nullptr;
    valloc_fn pvalloc = nullptr;
    usable_fn malloc_usable_size = nullptr;
};
real_functions real;

// ---- bootstrap buffer ------------------------------------------------------

constexpr std::size_t boot_size = std::size_t{1} << 16;
alignas(4096) unsigned char boot_buffer[boot_size];
std::atomic<std::size_t> boot_used{0};

bool is_boot(const void* p) noexcept {
    const auto* b = static_cast<const unsigned char*>(p);
    return b >= boot_buffer && b < boot_buffer + boot_size;
}

// 16-byte header holding the size, then the block, aligned to `align`.
void* boot_alloc(std::size_t n, std::size_t align) noexcept {
    std::size_t a = 16;
    while (a < align && a < boot_size) a <<= 1;  // memalign takes any alignment
    align = a;
    if (n > boot_size) return nullptr;
    std::size_t used = boot_used.load(std::memory_order_relaxed);
    for (;;) {
        const std::size_t start = (used + 16 + align - 1) & ~(align - 1);
        const std::size_t end = start + ((n + 15) & ~std::size_t{15});
        if (end > boot_size) return nullptr;
        if (boot_used.compare_exchange_weak(used, end, std::memory_order_relaxed)) {
            std::memcpy(boot_buffer + start - sizeof(std::size_t), &n, sizeof n);
            return boot_buffer + start;
        }
    }
}

std::size_t boot_size_of(const void* p) noexcept {
    std::size_t n = 0;
    std::memcpy(&n, static_cast<const unsigned char*>(p) - sizeof n, sizeof n);
    return n;
}

// ---- state -----------------------------------------------------------------

enum : int { state_uninit, state_initializing, state_ready };
std::atomic<int> state{state_uninit};

// initial-exec: a preloaded library's TLS is static, and the general dynamic
// model could call malloc on first access.
__attribute__((tls_model("initial-exec"))) thread_local bool in_init = false;
__attribute__((tls_model("initial-exec"))) thread_local bool busy = false;

std::atomic<bool> recording{false};
pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
int out_fd = -1;
bool finished = false;       // after the destructor: write every record at once
bool per_process = false;    // the path has %p
char path_template[1024];
constexpr std::size_t out_size = std::size_t{1} << 16;
char out_buffer[out_size];
std::size_t out_len = 0;

void write_all(int fd, const char* p, std::size_t n) noexcept {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

void flush_locked() noexcept {
    if (out_fd >= 0 && out_len > 0) write_all(out_fd, out_buffer, out_len);
    out_len = 0;
}

char* put_dec(char* p, std::uint64_t v) noexcept {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) *p++ = tmp[--n];
    return p;
}

char* put_hex(char* p, std::uint64_t v) noexcept {
    *p++ = '0';
    *p++ = 'x';
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v != 0);
    while (n > 0) *p++ = tmp[--n];
    return p;
}

char* put_str(char* p, const char* s) noexcept {
    while (*s != '\0') *p++ = *s++;
    return p;
}

std::uint64_t addr(const void* p) noexcept { return reinterpret_cast<std::uintptr_t>(p); }

// Opens the output for this process: the path with %p replaced by the pid.
// Writes the header. Caller holds the mutex (or runs single-threaded).
void open_output() noexcept {
    char path[sizeof path_template + 32];
    char* o = path;
    char* const end = path + sizeof path - 24;
    for (const char* s = path_template; *s != '\0' && o < end; ++s) {
        if (s[0] == '%' && s[1] == 'p') {
            o = put_dec(o, static_cast<std::uint64_t>(::getpid()));
            ++s;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        char msg[sizeof path + 64];
        char* m = put_str(msg, "libkeel-alloc-trace: cannot open ");
        m = put_str(m, path);
        m = put_str(m, "; not recording\n");
        write_all(2, msg, static_cast<std::size_t>(m - msg));
        out_fd = -1;
        recording.store(false, std::memory_order_relaxed);
        return;
    }
    // Keep clear of the low descriptors that programs dup2 onto.
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 200);
    if (high >= 0) {
        ::close(fd);
        fd = high;
    }
    out_fd = fd;
    out_len = 0;
    char head[96];
    char* h = put_str(head, "keel-alloc-trace 1\n# recorded by libkeel-alloc-trace.so, pid ");
    h = put_dec(h, static_cast<std::uint64_t>(::getpid()));
    *h++ = '\n';
    write_all(out_fd, head, static_cast<std::size_t>(h - head));
    recording.store(true, std::memory_order_relaxed);
}

void append_locked(const char* line, std::size_t n) noexcept {
    if (out_fd < 0) return;
    if (out_len + n > out_size) flush_locked();
    std::memcpy(out_buffer + out_len, line, n);
    out_len += n;
    if (finished) flush_locked();
}

void append(const char* line, std::size_t n) noexcept {
    pthread_mutex_lock(&mutex);
    append_locked(line, n);
    pthread_mutex_unlock(&mutex);
}

// Records are formatted into a stack line then appended under the mutex.
struct line {
    char text[96];
    char* p = text;
    line& c(char ch) noexcept {
        *p++ = ch;
        return *this;
    }
    line& dec(std::uint64_t v) noexcept {
        p = put_dec(p, v);
        return *this;
    }
    line& hex(std::uint64_t v) noexcept {
        p = put_hex(p, v);
        return *this;
    }
    [[nodiscard]] std::size_t size() const noexcept { return static_cast<std::size_t>(p - text); }
};

void record_m(std::size_t n, const void* p) noexcept {
    line l;
    l.c('m').c(' ').dec(n).c(' ').hex(addr(p)).c('\n');
    append(l.text, l.size());
}

std::size_t pow2_at_least(std::size_t a) noexcept {
    std::size_t r = 1;
    while (r < a && r != 0) r <<= 1;
    return r == 0 ? a : r;
}

void record_a(std::size_t align, std::size_t n, const void* p) noexcept {
    line l;
    l.c('a').c(' ').dec(pow2_at_least(align == 0 ? 1 : align)).c(' ').dec(n).c(' ').hex(addr(p)).c('\n');
    append(l.text, l.size());
}

void record_f(const void* p) noexcept {
    line l;
    l.c('f').c(' ').hex(addr(p)).c('\n');
    append(l.text, l.size());
}

void on_fork_prepare() noexcept { pthread_mutex_lock(&mutex); }
void on_fork_parent() noexcept { pthread_mutex_unlock(&mutex); }
void on_fork_child() noexcept {
    // This thread took the mutex in prepare; the parent flushes what was buffered.
    out_len = 0;
    if (out_fd >= 0) {
        ::close(out_fd);
        out_fd = -1;
    }
    if (recording.load(std::memory_order_relaxed) && per_process) {
        open_output();
    } else {
        recording.store(false, std::memory_order_relaxed);
    }
    pthread_mutex_unlock(&mutex);
}

template <class F>
void resolve(F& f, const char* name) noexcept {
    f = reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

void initialize() noexcept {
    int expected = state_uninit;
    if (!state.compare_exchange_strong(expected, state_initializing, std::memory_order_acq_rel)) {
        // Another thread initialises; this thread's own nested calls (from
        // dlsym) use the bootstrap buffer instead of waiting for themselves.
        while (!in_init && state.load(std::memory_order_acquire) != state_ready) ::sched_yield();
        return;
    }
    in_init = true;
    resolve(real.malloc, "malloc");
    resolve(real.free, "free");
    resolve(real.calloc, "calloc");
    resolve(real.realloc, "realloc");
    resolve(real.memalign, "memalign");
    resolve(real.aligned_alloc, "aligned_alloc");
    resolve(real.posix_memalign, "posix_memalign");
    resolve(real.valloc, "valloc");
    resolve(real.pvalloc, "pvalloc");
    resolve(real.malloc_usable_size, "malloc_usable_size");

    const char* path = ::getenv("KEEL_ALLOC_TRACE");
    if (path != nullptr && path[0] != '\0' && std::strlen(path) < sizeof path_template) {
        std::strcpy(path_template, path);
        per_process = std::strstr(path_template, "%p") != nullptr;
        open_output();
    }
    state.store(state_ready, std::memory_order_release);
    in_init = false;  // only now: until here, nested calls take the bootstrap buffer
    if (recording.load(std::memory_order_relaxed)) {
        busy = true;  // pthread_atfork may allocate: forward it unrecorded
        ::pthread_atfork(on_fork_prepare, on_fork_parent, on_fork_child);
        busy = false;
    }
}

// True when the real functions are there; false while this thread resolves them.
bool ready() noexcept {
    if (state.load(std::memory_order_acquire) == state_ready) return true;
    initialize();
    return state.load(std::memory_order_acquire) == state_ready && !in_init;
}

// Whether this call should be recorded; sets the guard when so.
bool begin_record() noexcept {
    if (!recording.load(std::memory_order_relaxed) || busy) return false;
    busy = true;
    return true;
}

struct guard_end {
    bool active;
    ~guard_end() {
        if (active) busy = false;
    }
};

void* do_realloc(void* p, std::size_t n) noexcept {
    if (!ready()) {
        void* q = boot_alloc(n, 16);
        if (q != nullptr && p != nullptr && is_boot(p)) {
            const std::size_t old = boot_size_of(p);
            std::memcpy(q, p, old < n ? old : n);
        }
        return q;
    }
    if (p != nullptr && is_boot(p)) {
        // Moving out of the bootstrap buffer: the old block was never recorded.
        void* q = ::malloc(n);
        if (q != nullptr) {
            const std::size_t old = boot_size_of(p);
            std::memcpy(q, p, old < n ? old : n);
        }
        return q;
    }
    const bool rec = begin_record();
    const guard_end g{rec};
    if (!rec) return real.realloc(p, n);
    // Under the mutex: the old address must not be recorded as reused by
    // another thread before this record says it was freed.
    pthread_mutex_lock(&mutex);
    void* q = real.realloc(p, n);
    line l;
    if (q != nullptr) {
        if (p == nullptr) {
            l.c('m').c(' ').dec(n).c(' ').hex(addr(q)).c('\n');
        } else {
            l.c('r').c(' ').hex(addr(p)).c(' ').dec(n).c(' ').hex(addr(q)).c('\n');
        }
    } else if (p != nullptr && n == 0) {
        l.c('f').c(' ').hex(addr(p)).c('\n');  // glibc's realloc(p, 0) frees p
    }
    if (l.size() > 0) append_locked(l.text, l.size());
    pthread_mutex_unlock(&mutex);
    return q;
}

void* do_memalign(memalign_fn fn, std::size_t align, std::size_t n) noexcept {
    const bool rec = begin_record();
    const guard_end g{rec};
    void* p = fn(align, n);
    if (rec && p != nullptr) record_a(align, n, p);
    return p;
}

__attribute__((destructor)) void finish() noexcept {
    pthread_mutex_lock(&mutex);
    flush_locked();
    finished = true;  // records from later exit handlers are written at once
    pthread_mutex_unlock(&mutex);
}

}  // namespace

extern "C" {

KEEL_EXPORT void* malloc(std::size_t n) noexcept {
    if (!ready()) return boot_alloc(n, 16);
    const bool rec = begin_record();
    const guard_end g{rec};
    void* p = real.malloc(n);
    if (rec && p != nullptr) record_m(n, p);
    return p;
}

KEEL_EXPORT void free(void* p) noexcept {
    if (p == nullptr || is_boot(p)) return;
    if (!ready()) return;  // cannot happen: only bootstrap blocks exist before
    const bool rec = begin_record();
    const guard_end g{rec};
    if (rec) record_f(p);  // before the free: see "Order" above
    real.free(p);
}

KEEL_EXPORT void* calloc(std::size_t count, std::size_t size) noexcept {
    std::size_t n = 0;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return nullptr;
    }
    if (!ready()) return boot_alloc(n, 16);  // static storage: already zero
    const bool rec = begin_record();
    const guard_end g{rec};
    void* p = real.calloc(count, size);
    if (rec && p != nullptr) record_m(n, p);
    return p;
}

KEEL_EXPORT void* realloc(void* p, std::size_t n) noexcept { return do_realloc(p, n); }

KEEL_EXPORT void* reallocarray(void* p, std::size_t count, std::size_t size) noexcept {
    std::size_t n = 0;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return nullptr;
    }
    return do_realloc(p, n);
}

KEEL_EXPORT void* memalign(std::size_t align, std::size_t n) noexcept {
    if (!ready()) return boot_alloc(n, align);
    return do_memalign(real.memalign, align, n);
}

KEEL_EXPORT void* aligned_alloc(std::size_t align, std::size_t n) noexcept {
    if (!ready()) return boot_alloc(n, align);
    return do_memalign(real.aligned_alloc, align, n);
}

KEEL_EXPORT int posix_memalign(void** out, std::size_t align, std::size_t n) noexcept {
    if (!ready()) {
        void* p = boot_alloc(n, align);
        if (p == nullptr) return ENOMEM;
        *out = p;
        return 0;
    }
    const bool rec = begin_record();
    const guard_end g{rec};
    const int r = real.posix_memalign(out, align, n);
    if (rec && r == 0) record_a(align, n, *out);
    return r;
}

KEEL_EXPORT void* valloc(std::size_t n) noexcept {
    const auto page = static_cast<std::size_t>(::getpagesize());
    if (!ready()) return boot_alloc(n, page);
    const bool rec = begin_record();
    const guard_end g{rec};
    void* p = real.valloc(n);
    if (rec && p != nullptr) record_a(page, n, p);
    return p;
}

KEEL_EXPORT void* pvalloc(std::size_t n) noexcept {
    const auto page = static_cast<std::size_t>(::getpagesize());
    const std::size_t rounded = n == 0 ? page : (n + page - 1) & ~(page - 1);
    if (!ready()) return boot_alloc(rounded, page);
    const bool rec = begin_record();
    const guard_end g{rec};
    void* p = real.pvalloc(n);
    if (rec && p != nullptr) record_a(page, rounded, p);
    return p;
}

KEEL_EXPORT std::size_t malloc_usable_size(void* p) noexcept {
    if (p == nullptr) return 0;
    if (is_boot(p)) return boot_size_of(p);
    if (!ready()) return 0;
    return real.malloc_usable_size(p);
}

}  // extern "C"
