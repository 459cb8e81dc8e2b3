#pragma once

// Helpers for keel::rpc's two-process tests: a forked child whose verdict (an empty
// string for success, else a message) comes back through a pipe, a one-byte pipe
// signal, a shared flag wait with a bound, and a unique socket path.

#include <keel/rpc.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

namespace keel::test {

/// A one-way pipe for "I am ready" signals between the two processes.
struct signal_pipe {
    int fds[2] = {-1, -1};
    signal_pipe() {
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    }
    ~signal_pipe() {
        for (int fd : fds)
            if (fd >= 0) ::close(fd);
    }
    void post() const {
        const char c = 1;
        while (::write(fds[1], &c, 1) < 0 && errno == EINTR) {
        }
    }
    /// True once a post arrived, false on EOF.
    bool wait() const {
        char c = 0;
        for (;;) {
            const ssize_t n = ::read(fds[0], &c, 1);
            if (n < 0 && errno == EINTR) continue;
            return n == 1;
        }
    }
};

/// A forked child running `body`; join() gives its verdict.
class child {
public:
    explicit child(const std::function<std::string()>& body) {
        if (::pipe2(_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
        _pid = ::fork();
        if (_pid < 0) throw std::runtime_error("fork");
        if (_pid == 0) {
            ::close(_pipe[0]);
            std::string message;
            try {
                message = body();
            } catch (const std::exception& e) {
                message = std::string("exception in child: ") + e.what();
            }
            std::size_t off = 0;
            while (off < message.size()) {
                const ssize_t n = ::write(_pipe[1], message.data() + off, message.size() - off);
                if (n <= 0) break;
                off += static_cast<std::size_t>(n);
            }
            ::_exit(message.empty() ? 0 : 1);
        }
        ::close(_pipe[1]);
        _pipe[1] = -1;
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;
    ~child() {
        if (_pid > 0) {
            ::kill(_pid, SIGKILL);
            (void)join();
        }
        if (_pipe[0] >= 0) ::close(_pipe[0]);
    }

    [[nodiscard]] pid_t pid() const noexcept { return _pid; }
    void kill(int sig = SIGKILL) const { ::kill(_pid, sig); }

    /// Waits for the child; its message, or a note on how it ended abnormally.
    std::string join() {
        std::string message;
        char buf[512];
        for (;;) {
            const ssize_t n = ::read(_pipe[0], buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            message.append(buf, static_cast<std::size_t>(n));
        }
        int status = 0;
        while (::waitpid(_pid, &status, 0) < 0 && errno == EINTR) {
        }
        _pid = -1;
        if (WIFSIGNALED(status)) return message + " [child killed by signal " + std::to_string(WTERMSIG(status)) + "]";
        if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && message.empty())) return "child exited abnormally";
        return message;
    }

private:
    pid_t _pid = -1;
    int _pipe[2] = {-1, -1};
};

/// Waits until the 32-bit word at `p` (in shared memory) equals `want`, for at most
/// `bound`: true when it did.
inline bool wait_word(void* p, std::uint32_t want, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    std::atomic_ref<std::uint32_t> w(*static_cast<std::uint32_t*>(p));
    const auto end = std::chrono::steady_clock::now() + bound;
    while (w.load(std::memory_order_acquire) != want) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::yield();
    }
    return true;
}

inline void set_word(void* p, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(*static_cast<std::uint32_t*>(p)).store(v, std::memory_order_release);
}

/// An abstract-namespace socket name unique to this process and call.
inline std::string abstract_name(const char* tag) {
    static std::atomic<int> n{0};
    return "@keel-rpc-test-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

}  // namespace keel::test
