#include "refuse_syscalls.hpp"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

namespace keel::test {
namespace {

#if defined(__x86_64__)
constexpr unsigned audit_arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned audit_arch = AUDIT_ARCH_AARCH64;
#else
#error "refuse_syscalls: unsupported architecture"
#endif

// Installs a filter that makes each listed syscall return -err and allows all others.
bool install_filter(std::initializer_list<long> syscalls, int err) {
    std::vector<sock_filter> prog;
    auto stmt = [&](unsigned short code, unsigned k) {
        prog.push_back(sock_filter{code, 0, 0, k});
    };
    auto jump = [&](unsigned short code, unsigned k, unsigned char jt, unsigned char jf) {
        prog.push_back(sock_filter{code, jt, jf, k});
    };
    stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
    jump(BPF_JMP | BPF_JEQ | BPF_K, audit_arch, 1, 0);
    stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
    for (long nr : syscalls) {
        jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(nr), 0, 1);
        stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA));
    }
    stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
    return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) == 0;
}

std::string fork_and_run(const std::function<bool()>& setup,
                         const std::function<std::string()>& body) {
    int fds[2];
    if (::pipe(fds) != 0) return std::string("pipe: ") + std::strerror(errno);
    pid_t pid = ::fork();
    if (pid < 0) return std::string("fork: ") + std::strerror(errno);
    if (pid == 0) {
        ::close(fds[0]);
        std::string message;
        if (!setup()) {
            message = std::string("could not install the seccomp filter: ") + std::strerror(errno);
        } else {
            try {
                message = body();
            } catch (const std::exception& e) {
                message = std::string("exception in child: ") + e.what();
            }
        }
        std::size_t off = 0;
        while (off < message.size()) {
            ssize_t n = ::write(fds[1], message.data() + off, message.size() - off);
            if (n <= 0) break;
            off += static_cast<std::size_t>(n);
        }
        ::_exit(message.empty() ? 0 : 1);
    }
    ::close(fds[1]);
    std::string message;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        message.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
        return message + " [child killed by signal " + std::to_string(WTERMSIG(status)) + "]";
    }
    if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && message.empty())) {
        return "child exited abnormally";
    }
    return message;
}

}  // namespace

std::string run_with_refused_syscalls(std::initializer_list<long> syscalls, int err,
                                      const std::function<std::string()>& body) {
    return fork_and_run([&] { return install_filter(syscalls, err); }, body);
}

std::string run_in_child(const std::function<std::string()>& body) {
    return fork_and_run([] { return true; }, body);
}

}  // namespace keel::test
