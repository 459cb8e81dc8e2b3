// A plain (never sanitized) program for the recorder test to run under
// LD_PRELOAD=libkeel-alloc-trace.so: a sanitizer runtime must come first in
// a process, so the preloaded recorder cannot go into an ASan test binary.
// Modes:
//   basic    one call of every interposed function, with sizes the test looks for
//   fork     malloc(1111), fork; the child malloc(2222)s; the parent malloc(3333)s
//   threads  4 threads x 20000 malloc/free pairs of sizes 7000 + thread

#include <malloc.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace {

// Keeps the compiler from eliding malloc/free pairs.
void* volatile sink;

void touch(void* p, std::size_t n) {
    if (p != nullptr && n > 0) std::memset(p, 1, n < 64 ? n : 64);
    sink = p;
}

int basic() {
    void* p = std::malloc(12345);
    touch(p, 12345);
    void* q = nullptr;
    if (posix_memalign(&q, 64, 1000) != 0) return 3;
    touch(q, 1000);
    p = std::realloc(p, 50000);
    touch(p, 50000);
    void* c = std::calloc(3, 100);
    touch(c, 300);
    void* a = aligned_alloc(128, 256);
    touch(a, 256);
    void* m = memalign(256, 100);
    touch(m, 100);
    void* v = valloc(10);
    touch(v, 10);
    void* pv = pvalloc(5000);
    touch(pv, 5000);
    void* ra = reallocarray(nullptr, 10, 20);
    touch(ra, 200);
    if (malloc_usable_size(p) < 50000) return 4;
    for (void* x : {p, q, c, a, m, v, pv, ra}) std::free(x);
    return 0;
}

int forking() {
    void* p = std::malloc(1111);
    touch(p, 1111);
    const pid_t pid = ::fork();
    if (pid < 0) return 5;
    if (pid == 0) {
        void* c = std::malloc(2222);
        touch(c, 2222);
        std::free(c);
        std::free(p);
        std::exit(0);  // exit, not _exit: the recorder flushes in a destructor
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 6;
    void* r = std::malloc(3333);
    touch(r, 3333);
    std::free(r);
    std::free(p);
    return 0;
}

void* churn(void* arg) {
    const auto k = reinterpret_cast<std::size_t>(arg);
    for (int i = 0; i < 20000; ++i) {
        void* p = std::malloc(7000 + k);
        touch(p, 16);
        std::free(p);
    }
    return nullptr;
}

int threads() {
    pthread_t t[4];
    for (std::size_t k = 0; k < 4; ++k) {
        if (pthread_create(&t[k], nullptr, churn, reinterpret_cast<void*>(k)) != 0) return 7;
    }
    for (auto& x : t) pthread_join(x, nullptr);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    if (std::strcmp(argv[1], "basic") == 0) return basic();
    if (std::strcmp(argv[1], "fork") == 0) return forking();
    if (std::strcmp(argv[1], "threads") == 0) return threads();
    return 2;
}
