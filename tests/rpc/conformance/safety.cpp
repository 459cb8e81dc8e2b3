// Safety modes (keel/rpc/safety.hpp): the copy mode's bounded copy; the sealed mode's
// protection_window (a write by any sender thread during the window faults: observed
// in forked children) and sealed_buffer (kernel-enforced seals checked by the
// receiver, across fork with the fd passed over a socketpair); the sandboxed mode's
// refusal where MPK is missing, its fault-to-error mechanism (guarded runs, testable
// without MPK), and the MPK sandbox itself (runs where protection keys exist, skipped
// with a printed reason elsewhere).
#include <keel/rpc/error.hpp>
#include <keel/rpc/safety.hpp>

#include <catch2/catch.hpp>
#include <catch_result.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace rpc = keel::rpc;
namespace kp = keel::platform;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KEEL_TEST_SANITIZED 1
#endif

namespace {

const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

/// How a forked child ended.
struct ending {
    bool exited = false;
    int code = -1;    // exit status when exited
    int signal = 0;   // terminating signal otherwise
};

/// Runs body() in a forked child; its return value is the exit status.
ending in_child(const std::function<int()>& body) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork");
    if (pid == 0) {
        // The default action for faults: the test runner's fatal-signal handler would
        // report the expected fault as a failure from the child.
        ::signal(SIGSEGV, SIG_DFL);
        int code = 99;
        try {
            code = body();
        } catch (...) {
            code = 98;
        }
        ::_exit(code);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ending e;
    if (WIFEXITED(status)) {
        e.exited = true;
        e.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        e.signal = WTERMSIG(status);
    }
    return e;
}

/// Whether a write to *p by a forked child (a copy of this process, with the same page
/// protections) faults. `from_thread`: the write is made by a second thread of the child.
bool write_faults(volatile std::byte* p, bool from_thread = false) {
    const ending e = in_child([p, from_thread] {
        if (from_thread) {
            std::thread t([p] { *p = std::byte{0x5a}; });
            t.join();
        } else {
            *p = std::byte{0x5a};
        }
        return 0;
    });
    if (e.exited && e.code == 0) return false;
    if (e.signal == SIGSEGV) return true;
    FAIL("child ended neither normally nor by SIGSEGV (exit " << e.code << ", signal " << e.signal << ")");
    return false;
}

/// A MAP_SHARED read-write mapping of a fresh memfd: like a sender's arena.
struct shared_pages {
    int fd = -1;
    std::byte* data = nullptr;
    std::size_t size = 0;
    explicit shared_pages(std::size_t pages, unsigned extra_seals = 0) : size(pages * page) {
        fd = ::memfd_create("keel-safety-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(size)) != 0) throw std::runtime_error("memfd");
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap");
        data = static_cast<std::byte*>(p);
        std::memset(data, 1, size);
        if (extra_seals != 0 && ::fcntl(fd, F_ADD_SEALS, extra_seals) != 0) throw std::runtime_error("seal");
    }
    shared_pages(const shared_pages&) = delete;
    shared_pages& operator=(const shared_pages&) = delete;
    ~shared_pages() {
        ::munmap(data, size);
        ::close(fd);
    }
    std::byte* at(std::size_t page_index, std::size_t offset = 0) const { return data + page_index * page + offset; }
};

// ---- SCM_RIGHTS over a socketpair (the tests' own; src/rpc/io.cpp's are private) ----

bool send_fd(int sock, int fd) {
    char byte = 'f';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return ::sendmsg(sock, &msg, MSG_NOSIGNAL) == 1;
}

int recv_fd(int sock) {
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return -1;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (c == nullptr || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

bool send_byte(int sock, char b) { return ::send(sock, &b, 1, MSG_NOSIGNAL) == 1; }
char recv_byte(int sock) {
    char b = 0;
    return ::recv(sock, &b, 1, 0) == 1 ? b : '\0';
}

}  // namespace

// ---- safety_mode and copy -------------------------------------------------------------

TEST_CASE("safety modes have names", "[rpc][safety]") {
    CHECK(rpc::to_string(rpc::safety_mode::relaxed) == "relaxed");
    CHECK(rpc::to_string(rpc::safety_mode::copy) == "copy");
    CHECK(rpc::to_string(rpc::safety_mode::sealed) == "sealed");
    CHECK(rpc::to_string(rpc::safety_mode::sandboxed) == "sandboxed");
}

TEST_CASE("copy mode: copy_payload copies a resolved range into private memory, bounded", "[rpc][safety][copy]") {
    shared_pages src(2);
    for (std::size_t i = 0; i < 2 * page; ++i) src.data[i] = static_cast<std::byte>(i * 7);
    rpc::copy_buffer buf{};

    auto r = rpc::copy_payload(src.data + 3, 1000, buf.span());
    REQUIRE(r);
    CHECK(r->data() == buf.bytes);
    CHECK(r->size() == 1000);
    CHECK(std::memcmp(buf.bytes, src.data + 3, 1000) == 0);
    // The sender changes its copy afterwards: the receiver's does not change.
    src.data[3] = std::byte{0xee};
    CHECK(buf.bytes[0] == static_cast<std::byte>(3 * 7));

    auto whole = rpc::copy_payload(src.data, rpc::default_copy_threshold, buf.span());
    REQUIRE(whole);
    CHECK(whole->size() == 4096);

    auto too_big = rpc::copy_payload(src.data, rpc::default_copy_threshold + 1, buf.span());
    REQUIRE_FALSE(too_big);
    CHECK(too_big.error() == rpc::errc::payload_too_large);

    std::array<std::byte, 16> small{};
    auto no_room = rpc::copy_payload(src.data, 17, std::span<std::byte>(small), 1 << 20);
    REQUIRE_FALSE(no_room);
    CHECK(no_room.error() == rpc::errc::payload_too_large);

    auto lower_bound = rpc::copy_payload(src.data, 200, buf.span(), 100);
    REQUIRE_FALSE(lower_bound);
    CHECK(lower_bound.error() == rpc::errc::payload_too_large);

    auto empty = rpc::copy_payload(nullptr, 0, buf.span());
    REQUIRE(empty);
    CHECK(empty->empty());

    const std::uint64_t values[3] = {1, 2, 3};
    std::uint64_t out[4] = {};
    auto typed = rpc::copy_payload(std::span<const std::uint64_t>(values), std::span<std::uint64_t>(out));
    REQUIRE(typed);
    CHECK(typed->size() == 3);
    CHECK(out[2] == 3);
}

// ---- sealed: protection_window ----------------------------------------------------------

TEST_CASE("protection_window: a write by any sender thread during the window faults, after release it works",
          "[rpc][safety][sealed][window]") {
    shared_pages arena(4);
    const std::size_t before = rpc::protection_window::sealed_page_count();
    {
        // An unaligned range: the window covers the whole pages under it (pages 1 and 2).
        auto w = rpc::protection_window::seal(arena.at(1, 100), page);
        REQUIRE(w);
        CHECK(w->active());
        CHECK(w->pages().data() == arena.at(1));
        CHECK(w->pages().size() == 2 * page);
        CHECK(rpc::protection_window::sealed_page_count() == before + 2);

        CHECK(*arena.at(1, 100) == std::byte{1});  // reading is fine
        CHECK(write_faults(arena.at(1, 100)));
        CHECK(write_faults(arena.at(2, page - 1)));
        CHECK(write_faults(arena.at(1, 5), /*from_thread=*/true));
        CHECK_FALSE(write_faults(arena.at(0, page - 1)));  // pages outside stay writable
        CHECK_FALSE(write_faults(arena.at(3)));
        REQUIRE(w->release());
        CHECK_FALSE(w->active());
        REQUIRE(w->release());  // idempotent
    }
    CHECK(rpc::protection_window::sealed_page_count() == before);
    CHECK_FALSE(write_faults(arena.at(1, 100)));
    CHECK_FALSE(write_faults(arena.at(2, 5), true));
    *arena.at(1, 100) = std::byte{9};  // and in this process
    CHECK(*arena.at(1, 100) == std::byte{9});
}

TEST_CASE("protection_window: overlapping windows of concurrent calls keep shared pages sealed",
          "[rpc][safety][sealed][window]") {
    shared_pages arena(4);
    const std::size_t before = rpc::protection_window::sealed_page_count();
    auto a = rpc::protection_window::seal(arena.at(0), 2 * page);  // pages 0, 1
    REQUIRE(a);
    auto b = rpc::protection_window::seal(arena.at(1), 2 * page);  // pages 1, 2
    REQUIRE(b);
    CHECK(rpc::protection_window::sealed_page_count() == before + 3);

    REQUIRE(a->release());  // page 0 free again; page 1 is still b's
    CHECK(rpc::protection_window::sealed_page_count() == before + 2);
    CHECK_FALSE(write_faults(arena.at(0)));
    CHECK(write_faults(arena.at(1)));
    CHECK(write_faults(arena.at(2)));

    auto c = rpc::protection_window::seal(arena.at(2), page);  // page 2 twice now
    REQUIRE(c);
    REQUIRE(b->release());
    CHECK(rpc::protection_window::sealed_page_count() == before + 1);
    CHECK_FALSE(write_faults(arena.at(1)));
    CHECK(write_faults(arena.at(2)));

    // Moving a window moves the seal; it is released once.
    rpc::protection_window moved = std::move(*c);
    CHECK_FALSE(c->active());
    CHECK(moved.active());
    moved = rpc::protection_window{};
    CHECK(rpc::protection_window::sealed_page_count() == before);
    CHECK_FALSE(write_faults(arena.at(2)));
}

TEST_CASE("protection_window works on an arena sealed F_SEAL_FUTURE_WRITE (only its owner's mapping writes)",
          "[rpc][safety][sealed][window]") {
    shared_pages arena(2, F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW);
    // Nobody can map it writable any more; the owner's existing mapping still writes.
    CHECK(::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, arena.fd, 0) == MAP_FAILED);
    {
        auto w = rpc::protection_window::seal(arena.at(0), page);
        REQUIRE(w);
        CHECK(write_faults(arena.at(0)));
    }
    *arena.at(0) = std::byte{3};  // PROT_WRITE came back
    CHECK(*arena.at(0) == std::byte{3});
}

TEST_CASE("protection_window: errors name the range and leave nothing sealed", "[rpc][safety][sealed][window]") {
    const std::size_t before = rpc::protection_window::sealed_page_count();
    auto empty = rpc::protection_window::seal(nullptr, 0);
    REQUIRE(empty);
    CHECK_FALSE(empty->active());

    // Pages 0 and 2 mapped, page 1 a hole: mprotect refuses with ENOMEM.
    void* p = ::mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    auto* b = static_cast<std::byte*>(p);
    REQUIRE(::munmap(b + page, page) == 0);
    auto w = rpc::protection_window::seal(b, 3 * page);
    REQUIRE_FALSE(w);
    CHECK(w.error() == keel::errno_code(ENOMEM));
    CHECK_THAT(rpc::error_detail(), Catch::Contains("mprotect(PROT_READ)") && Catch::Contains("3 pages"));
    CHECK(rpc::protection_window::sealed_page_count() == before);
    CHECK_FALSE(write_faults(b));  // page 0 was given back its write permission
    CHECK_FALSE(write_faults(b + 2 * page));
    ::munmap(b, page);
    ::munmap(b + 2 * page, page);

    auto wrap = rpc::protection_window::seal(reinterpret_cast<void*>(UINTPTR_MAX - 10), 100);
    REQUIRE_FALSE(wrap);
    CHECK(wrap.error() == keel::errno_code(EINVAL));
}

TEST_CASE("protection_window: concurrent seals and releases from several threads keep the counts right",
          "[rpc][safety][sealed][window]") {
    constexpr std::size_t pages = 16;
    shared_pages arena(pages);
    const std::size_t before = rpc::protection_window::sealed_page_count();
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937 rng(1234 + t);
            for (int i = 0; i < 300; ++i) {
                const std::size_t first = rng() % pages;
                const std::size_t count = 1 + rng() % (pages - first);
                auto w = rpc::protection_window::seal(arena.at(first), count * page);
                if (!w || rpc::protection_window::sealed_page_count() < before + count) ++failures;
                // Reads are always fine.
                if (*arena.at(first) != std::byte{1}) ++failures;
                if (w && !w->release()) ++failures;
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(failures.load() == 0);
    CHECK(rpc::protection_window::sealed_page_count() == before);
    for (std::size_t i = 0; i < pages; ++i) *arena.at(i) = std::byte{2};  // all writable again
}

// ---- sealed: sealed_buffer --------------------------------------------------------------

TEST_CASE("sealed_buffer: sealed against writes, resizing and further seals, the view is read-only",
          "[rpc][safety][sealed][buffer]") {
    auto b = rpc::sealed_buffer::make(10000, [](std::span<std::byte> d) {
        for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::byte>(i % 251);
    });
    REQUIRE(b);
    CHECK(b->size() == 10000);
    const int seals = ::fcntl(b->fd(), F_GET_SEALS);
    CHECK(seals == (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
    const char x = 'x';
    CHECK(::pwrite(b->fd(), &x, 1, 0) < 0);
    CHECK(errno == EPERM);
    CHECK(::ftruncate(b->fd(), 0) != 0);
    CHECK(::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd(), 0) == MAP_FAILED);
    CHECK(errno == EPERM);

    auto v = rpc::sealed_buffer::attach(b->fd(), 1 << 20);
    REQUIRE(v);
    REQUIRE(v->size() == 10000);
    CHECK(v->bytes()[250] == std::byte{250});
    CHECK(v->bytes()[9999] == static_cast<std::byte>(9999 % 251));
    // The receiver cannot make its own view writable either.
    CHECK(::mprotect(const_cast<std::byte*>(v->data()), page, PROT_READ | PROT_WRITE) != 0);

    auto populated = rpc::sealed_buffer::attach(b->fd(), 10000, /*populate=*/true);
    REQUIRE(populated);
    CHECK(std::memcmp(populated->data(), v->data(), 10000) == 0);

    auto empty = rpc::sealed_buffer::make(0, [](std::span<std::byte> d) { CHECK(d.empty()); });
    REQUIRE(empty);
    auto ev = rpc::sealed_buffer::attach(empty->fd(), 0);
    REQUIRE(ev);
    CHECK(ev->size() == 0);
}

TEST_CASE("sealed_buffer across processes: a hostile sender cannot change the buffer after sending it",
          "[rpc][safety][sealed][buffer]") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(sv[0]);
        int code = 0;
        auto b = rpc::sealed_buffer::make(3 * page, [](std::span<std::byte> d) { std::memset(d.data(), 0x42, d.size()); });
        if (!b || !send_fd(sv[1], b->fd())) ::_exit(10);
        recv_byte(sv[1]);  // the receiver has attached
        // Every way to change or resize it after the fact:
        const char junk[8] = "hostile";
        if (::pwrite(b->fd(), junk, sizeof junk, 0) >= 0) code |= 1;
        if (::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd(), 0) != MAP_FAILED) code |= 2;
        if (::ftruncate(b->fd(), 0) == 0) code |= 4;
        if (::fallocate(b->fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(page)) == 0) {
            code |= 8;
        }
        // Its /proc path reopened for writing: the seal is on the file, not the fd.
        const std::string path = "/proc/self/fd/" + std::to_string(b->fd());
        const int again = ::open(path.c_str(), O_RDWR);
        if (again >= 0) {
            if (::pwrite(again, junk, sizeof junk, 0) >= 0) code |= 16;
            ::close(again);
        }
        send_byte(sv[1], 'd');
        ::_exit(code);
    }
    ::close(sv[1]);
    const int fd = recv_fd(sv[0]);
    REQUIRE(fd >= 0);
    auto v = rpc::sealed_buffer::attach(fd, 1 << 20);
    ::close(fd);  // the mapping keeps the file
    REQUIRE(v);
    REQUIRE(v->size() == 3 * page);
    send_byte(sv[0], 'a');
    CHECK(recv_byte(sv[0]) == 'd');
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(sv[0]);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // bit set = that attempt succeeded
    for (std::size_t i = 0; i < v->size(); ++i) {
        if (v->bytes()[i] != std::byte{0x42}) FAIL("byte " << i << " changed");
    }
}

TEST_CASE("sealed_buffer::attach refuses what is not a fully sealed memfd, naming the missing seal",
          "[rpc][safety][sealed][buffer]") {
    auto unsealed = rpc::sealed_buffer::create(page);
    REQUIRE(unsealed);
    auto r = rpc::sealed_buffer::attach(unsealed->fd(), 1 << 20);
    REQUIRE_FALSE(r);
    CHECK(r.error() == rpc::errc::buffer_not_sealed);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("lacks F_SEAL_WRITE, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SEAL"));

    // Everything but F_SEAL_WRITE (the sender kept the right to write).
    const int fd = ::memfd_create("partly", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(page)) == 0);
    REQUIRE(::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0);
    r = rpc::sealed_buffer::attach(fd, 1 << 20);
    REQUIRE_FALSE(r);
    CHECK(r.error() == rpc::errc::buffer_not_sealed);
    CHECK_THAT(rpc::error_detail(), Catch::StartsWith("sealed buffer lacks F_SEAL_WRITE (it has"));
    ::close(fd);

    // F_SEAL_FUTURE_WRITE is not F_SEAL_WRITE: the sender's existing mapping could still write.
    const int fw = ::memfd_create("future", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    REQUIRE(fw >= 0);
    REQUIRE(::ftruncate(fw, static_cast<off_t>(page)) == 0);
    REQUIRE(::fcntl(fw, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0);
    r = rpc::sealed_buffer::attach(fw, 1 << 20);
    REQUIRE_FALSE(r);
    CHECK(r.error() == rpc::errc::buffer_not_sealed);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("lacks F_SEAL_WRITE"));
    ::close(fw);

    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    r = rpc::sealed_buffer::attach(pipe_fds[0], 1 << 20);
    REQUIRE_FALSE(r);
    CHECK(r.error() == rpc::errc::not_a_memfd);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);

    auto big = rpc::sealed_buffer::make(3 * page, [](std::span<std::byte>) {});
    REQUIRE(big);
    r = rpc::sealed_buffer::attach(big->fd(), 2 * page);
    REQUIRE_FALSE(r);
    CHECK(r.error() == rpc::errc::payload_too_large);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("12288 bytes, more than the 8192"));
}

TEST_CASE("sealed_buffer: sealing while another writable mapping exists is seal_busy, and can be retried",
          "[rpc][safety][sealed][buffer]") {
    auto w = rpc::sealed_buffer::create(2 * page);
    REQUIRE(w);
    std::memset(w->data().data(), 7, w->size());
    void* extra = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd(), 0);
    REQUIRE(extra != MAP_FAILED);
    auto s = w->seal();
    REQUIRE_FALSE(s);
    CHECK(s.error() == rpc::errc::seal_busy);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("writable shared mapping"));
    CHECK(w->data().empty());  // its own mapping is gone
    CHECK(w->fd() >= 0);
    ::munmap(extra, page);
    s = w->seal();
    REQUIRE(s);
    CHECK(w->fd() == -1);
    auto v = rpc::sealed_buffer::attach(s->fd(), 2 * page);
    REQUIRE(v);
    CHECK(v->bytes()[page + 1] == std::byte{7});
}

// ---- sandboxed: refusal where MPK is missing ------------------------------------------------

TEST_CASE("sandbox: the probe says whether protection keys work here, and create never runs unsandboxed",
          "[rpc][safety][sandbox]") {
    const auto status = rpc::sandbox::probe();
    CHECK(status.kind == "protection");
    CHECK(status.name == "mpk_sandbox");
    CHECK_FALSE(status.reason.empty());
    auto s = rpc::sandbox::create();
    if (status.available) {
        CHECK(s);
        return;
    }
    INFO("probe: " << status.reason);
    CHECK_THAT(status.reason, Catch::StartsWith("no MPK sandbox: "));
    if (!kp::detail::cpu_has_pku()) CHECK_THAT(status.reason, Catch::Contains("cpuid flag pku missing"));
    REQUIRE_FALSE(s);
    CHECK(s.error() == rpc::errc::sandbox_unavailable);
    CHECK(rpc::error_detail() == status.reason);
}

TEST_CASE("sandbox: KEEL_DISABLE_BACKENDS=pkey (or mpk_sandbox) refuses it, naming the variable",
          "[rpc][safety][sandbox]") {
    for (const char* value : {"pkey", "io_uring, mpk_sandbox", "all"}) {
        const ending e = in_child([value] {
            ::setenv("KEEL_DISABLE_BACKENDS", value, 1);
            const auto status = rpc::sandbox::probe();
            if (status.available || status.reason.find("KEEL_DISABLE_BACKENDS") == std::string::npos) return 1;
            auto s = rpc::sandbox::create();
            if (s || s.error() != rpc::errc::sandbox_unavailable) return 2;
            if (rpc::error_detail().find("KEEL_DISABLE_BACKENDS") == std::string::npos) return 3;
            return 0;
        });
        INFO("KEEL_DISABLE_BACKENDS=" << value);
        CHECK(e.exited);
        CHECK(e.code == 0);
    }
}

TEST_CASE("sandbox: options that would not sandbox are refused", "[rpc][safety][sandbox]") {
    CHECK_THROWS_AS(rpc::sandbox::create({.private_memory = kp::access::read_write}), std::invalid_argument);
    CHECK_THROWS_WITH(rpc::sandbox::create({.stack_bytes = 4096}), Catch::Contains("16 KiB"));
}

// ---- sandboxed: the fault-to-error mechanism (white-box, no MPK needed) ---------------------

namespace {

struct probe_ctx {
    std::byte* target = nullptr;
    const void* local_address = nullptr;
    int divisor = 0;
    int result = 0;
};

void note_stack(void* p) noexcept {
    auto* c = static_cast<probe_ctx*>(p);
    int local = 42;
    c->local_address = &local;
    c->result = local + 1;
}

void write_target(void* p) noexcept {
    auto* c = static_cast<probe_ctx*>(p);
    *static_cast<volatile std::byte*>(c->target) = std::byte{1};
    c->result = 1;  // not reached
}

void divide(void* p) noexcept {
    auto* c = static_cast<probe_ctx*>(p);
#if defined(__x86_64__)
    // The CPU's division, not C++'s (where dividing by zero is undefined, and UBSan stops first).
    int quotient = 0;
    asm volatile("cltd\n\tidivl %2" : "=a"(quotient) : "a"(100), "r"(c->divisor) : "edx", "cc");
    c->result = quotient;
#else
    c->result = 100 / c->divisor;
#endif
}

int deep(int n, volatile std::byte* target) {
    volatile char pad[256];
    pad[0] = static_cast<char>(n);
    if (n == 0) *target = std::byte{1};
    return n == 0 ? pad[0] : deep(n - 1, target) + pad[0];
}

void deep_write(void* p) noexcept {
    auto* c = static_cast<probe_ctx*>(p);
    c->result = deep(20, c->target);
}

bool sigsegv_blocked() {
    sigset_t now;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &now);
    return sigismember(&now, SIGSEGV) == 1;
}

/// A read-only page: writing it faults with SEGV_ACCERR.
struct read_only_page {
    std::byte* p;
    read_only_page() {
        void* m = ::mmap(nullptr, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) throw std::runtime_error("mmap");
        p = static_cast<std::byte*>(m);
    }
    read_only_page(const read_only_page&) = delete;
    read_only_page& operator=(const read_only_page&) = delete;
    ~read_only_page() { ::munmap(p, page); }
};

#if defined(__x86_64__)
// Calls fn(arg) with known values in every callee-saved register and checks they are
// still there afterwards: 1 when they are. (The fault path of a guarded run restores
// them from the caller's stack; a mistake there corrupts the caller's variables.)
extern "C" int keel_test_callee_saved_intact(void (*fn)(void*), void* arg);
asm(R"(
    .pushsection .text
    .p2align 4
    .globl keel_test_callee_saved_intact
    .type keel_test_callee_saved_intact, @function
keel_test_callee_saved_intact:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    movq %rdi, %rax
    movq %rsi, %rdi
    movabsq $0x1111111111111111, %rbx
    movabsq $0x2222222222222222, %r12
    movabsq $0x3333333333333333, %r13
    movabsq $0x4444444444444444, %r14
    movabsq $0x5555555555555555, %r15
    movabsq $0x6666666666666666, %rbp
    callq *%rax
    xorl %eax, %eax
    movabsq $0x1111111111111111, %rcx
    cmpq %rcx, %rbx
    jne 1f
    movabsq $0x2222222222222222, %rcx
    cmpq %rcx, %r12
    jne 1f
    movabsq $0x3333333333333333, %rcx
    cmpq %rcx, %r13
    jne 1f
    movabsq $0x4444444444444444, %rcx
    cmpq %rcx, %r14
    jne 1f
    movabsq $0x5555555555555555, %rcx
    cmpq %rcx, %r15
    jne 1f
    movabsq $0x6666666666666666, %rcx
    cmpq %rcx, %rbp
    jne 1f
    movl $1, %eax
1:
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    retq
    .size keel_test_callee_saved_intact, .-keel_test_callee_saved_intact
    .popsection
)");
#endif

}  // namespace

TEST_CASE("guarded run (white-box): the function runs on the guarded stack and returns normally",
          "[rpc][safety][sandbox][whitebox]") {
#if !defined(__x86_64__)
    WARN("skipped: guarded runs are x86-64 only");
    return;
#else
    rpc::detail::guarded_stack stack(64 * 1024);
    probe_ctx c;
    const auto o = rpc::detail::guarded_run(stack, stack.high(), &note_stack, &c, nullptr);
    CHECK_FALSE(o.faulted);
    CHECK(c.result == 43);
    CHECK(c.local_address >= static_cast<const void*>(stack.low()));
    CHECK(c.local_address < static_cast<const void*>(stack.high()));
    // No room below `top`, and nesting, are refused without running anything.
    const auto cramped = rpc::detail::guarded_run(stack, stack.low() + 100, &note_stack, &c, nullptr);
    CHECK(cramped.faulted);
    CHECK(cramped.signal == 0);
#endif
}

TEST_CASE("guarded run (white-box): a fault on the guarded stack becomes a value, the process goes on",
          "[rpc][safety][sandbox][whitebox]") {
#if !defined(__x86_64__)
    WARN("skipped: guarded runs are x86-64 only");
    return;
#else
    // The test runner installs its own fatal-signal handlers around each test case,
    // over keel's: put keel's back (the runner's becomes the one keel chains to).
    rpc::detail::install_fault_handler();
    rpc::detail::guarded_stack stack(64 * 1024);
    read_only_page ro;
    probe_ctx c;
    c.target = ro.p + 8;

    const auto o = rpc::detail::guarded_run(stack, stack.high(), &write_target, &c, nullptr);
    CHECK(o.faulted);
    CHECK(o.signal == SIGSEGV);
    CHECK(o.code == SEGV_ACCERR);
    CHECK(o.address == c.target);
    CHECK(c.result == 0);
    CHECK_FALSE(sigsegv_blocked());  // sigreturn gave the mask back
    CHECK_THAT(rpc::detail::describe_fault(o), Catch::StartsWith("SIGSEGV (SEGV_ACCERR"));

    // Unmapped memory, deep in a call chain.
    void* hole = ::mmap(nullptr, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(hole != MAP_FAILED);
    ::munmap(hole, page);
    c.target = static_cast<std::byte*>(hole);
    const auto unmapped = rpc::detail::guarded_run(stack, stack.high(), &deep_write, &c, nullptr);
    CHECK(unmapped.faulted);
    CHECK(unmapped.signal == SIGSEGV);
    CHECK(unmapped.code == SEGV_MAPERR);
    CHECK(unmapped.address == hole);

    // Integer division by zero.
    c.divisor = 0;
    const auto fpe = rpc::detail::guarded_run(stack, stack.high(), &divide, &c, nullptr);
    CHECK(fpe.faulted);
    CHECK(fpe.signal == SIGFPE);
    c.divisor = 4;
    CHECK_FALSE(rpc::detail::guarded_run(stack, stack.high(), &divide, &c, nullptr).faulted);
    CHECK(c.result == 25);

    // Many faults in a row: nothing accumulates (mask, stack, handler state).
    c.target = ro.p;
    int faults = 0;
    for (int i = 0; i < 2000; ++i) faults += rpc::detail::guarded_run(stack, stack.high(), &write_target, &c, nullptr).faulted;
    CHECK(faults == 2000);
    CHECK_FALSE(sigsegv_blocked());
    CHECK_FALSE(rpc::detail::guarded_run(stack, stack.high(), &note_stack, &c, nullptr).faulted);
#endif
}

#if defined(__x86_64__)
namespace {
struct nested_ctx {
    rpc::detail::guarded_stack* stack;
    read_only_page* ro;
    rpc::detail::guard_outcome inner;
    bool ok = false;
};
void fault_then_check(void* p) {
    auto* c = static_cast<nested_ctx*>(p);
    probe_ctx w;
    w.target = c->ro->p;
    c->inner = rpc::detail::guarded_run(*c->stack, c->stack->high(), &write_target, &w, nullptr);
}
}  // namespace
#endif

TEST_CASE("guarded run (white-box): the fault path restores the caller's callee-saved registers",
          "[rpc][safety][sandbox][whitebox]") {
#if !defined(__x86_64__)
    WARN("skipped: guarded runs are x86-64 only");
    return;
#else
    rpc::detail::install_fault_handler();  // over the test runner's (see above)
    rpc::detail::guarded_stack stack(64 * 1024);
    read_only_page ro;
    nested_ctx c{&stack, &ro, {}, false};
    CHECK(keel_test_callee_saved_intact(&fault_then_check, &c) == 1);
    CHECK(c.inner.faulted);
    CHECK(c.inner.signal == SIGSEGV);
#endif
}

// The chaining checks need a process where keel has not installed its handlers yet:
// the test re-executes this binary with KEEL_SAFETY_CHAIN_SCENARIO set, and this
// initializer runs the scenario before Catch's main.
namespace {
void chain_user_handler(int, siginfo_t* info, void*) { ::_exit(info != nullptr && info->si_code > 0 ? 42 : 43); }

const bool chain_scenario_ran = [] {
    const char* scenario = std::getenv("KEEL_SAFETY_CHAIN_SCENARIO");
    if (scenario == nullptr) return false;
    const std::string s(scenario);
    if (s == "user") {  // a handler installed before keel's gets the faults keel does not own
        struct sigaction sa {};
        sa.sa_sigaction = &chain_user_handler;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGSEGV, &sa, nullptr);
    }
    rpc::detail::install_fault_handler();
    if (s == "raise") ::raise(SIGSEGV);  // sent, not a fault: the default action still applies
    // A fault outside any guarded run (an unmapped page rather than null: UBSan would
    // stop at a null store before the CPU faults).
    void* gone = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ::munmap(gone, page);
    *static_cast<volatile int*>(gone) = 1;
    ::_exit(7);                                // not reached
}();

ending run_chain_scenario(const char* scenario) {
    return in_child([scenario] {
        ::setenv("KEEL_SAFETY_CHAIN_SCENARIO", scenario, 1);
        char self[] = "/proc/self/exe";
        char* argv[] = {self, nullptr};
        ::execv(self, argv);
        return 97;
    });
}
}  // namespace

TEST_CASE("guarded run (white-box): faults outside guarded runs still reach the previous handler",
          "[rpc][safety][sandbox][whitebox]") {
    (void)chain_scenario_ran;
#if !defined(__x86_64__)
    WARN("skipped: guarded runs are x86-64 only");
    return;
#else
    const ending user = run_chain_scenario("user");
    CHECK(user.exited);
    CHECK(user.code == 42);
#ifndef KEEL_TEST_SANITIZED  // a sanitizer's own handler reports the fault instead of SIG_DFL
    const ending dfl = run_chain_scenario("default");
    CHECK(dfl.signal == SIGSEGV);
    const ending raised = run_chain_scenario("raise");
    CHECK(raised.signal == SIGSEGV);
#endif
#endif
}

// ---- sandboxed: MPK (where protection keys exist) ---------------------------------------------

namespace {

int private_counter = 5;  // private memory (key 0)

/// Skips the calling test (with a printed reason) where MPK sandboxes are unavailable.
bool mpk_missing() {
    const auto status = rpc::sandbox::probe();
    if (!status.available) {
        WARN("skipped, MPK sandbox unavailable here: " << status.reason);
        return true;
    }
#ifdef KEEL_TEST_SANITIZED
    // Instrumented code writes shadow memory (private memory) from inside the sandbox.
    WARN("skipped: sanitizer instrumentation cannot run inside an MPK sandbox");
    return true;
#else
    return false;
#endif
}

std::uint32_t current_pkru() {
#if defined(__x86_64__)
    std::uint32_t eax = 0;
    std::uint32_t edx = 0;
    asm volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
    return eax;
#else
    return 0;
#endif
}

struct arenas {
    shared_pages own{4};  // this side's arena: read-write
    std::byte* peer = nullptr;  // the peer's arena: a read-only mapping of the same memfd here
    arenas() {
        void* p = ::mmap(nullptr, own.size, PROT_READ, MAP_SHARED, own.fd, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap");
        peer = static_cast<std::byte*>(p);
    }
    arenas(const arenas&) = delete;
    arenas& operator=(const arenas&) = delete;
    ~arenas() { ::munmap(peer, own.size); }
};

}  // namespace

TEST_CASE("sandbox: a handler reaches its connection's memory, a stray access is an error, the process stays up",
          "[rpc][safety][sandbox][mpk]") {
    if (mpk_missing()) return;
    arenas mem;  // before the sandbox: tagged ranges must outlive it (or be removed)
    auto sb = rpc::sandbox::create();
    REQUIRE(sb);
    sb->add(mem.own.data, mem.own.size, kp::access::read_write);
    sb->add(mem.peer, mem.own.size, kp::access::read);
    *mem.own.at(1) = std::byte{7};
    const std::uint32_t pkru_before = current_pkru();
    sigset_t mask_before;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask_before);

    std::byte* own = mem.own.data;
    const std::byte* peer = mem.peer;
    auto r = sb->run([own, peer] {
        own[0] = static_cast<std::byte>(static_cast<int>(peer[page]) + 1);  // reads the peer's, writes its own
        return static_cast<int>(own[0]);
    });
    REQUIRE(r);
    CHECK(*r == 8);
    CHECK(current_pkru() == pkru_before);

    // Private memory is readable, not writable.
    auto read_private = sb->run([] { return private_counter; });
    REQUIRE(read_private);
    CHECK(*read_private == 5);
    auto write_private = sb->run([] { private_counter = 6; });
    REQUIRE_FALSE(write_private);
    CHECK(write_private.error() == rpc::errc::sandbox_fault);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("SEGV_PKUERR") && Catch::Contains("protection key 0"));
    CHECK(private_counter == 5);
    CHECK(current_pkru() == pkru_before);
    sigset_t mask_after;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask_after);
    for (int sig = 1; sig < 32; ++sig) CHECK(sigismember(&mask_after, sig) == sigismember(&mask_before, sig));

    // The peer's arena is read-only even inside.
    auto write_peer = sb->run([peer] { *const_cast<volatile std::byte*>(peer) = std::byte{1}; });
    REQUIRE_FALSE(write_peer);
    CHECK(write_peer.error() == rpc::errc::sandbox_fault);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("SEGV_ACCERR"));

    // Another connection's sandbox: no access at all.
    shared_pages other_arena(1);
    auto other = rpc::sandbox::create();
    REQUIRE(other);
    other->add(other_arena.data, other_arena.size, kp::access::read_write);
    const std::byte* theirs = other_arena.data;
    auto snoop = sb->run([theirs] { return static_cast<int>(*static_cast<const volatile std::byte*>(theirs)); });
    REQUIRE_FALSE(snoop);
    CHECK(snoop.error() == rpc::errc::sandbox_fault);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("protection key " + std::to_string(other->key())));

    // Still serving.
    auto again = sb->run([own] { return static_cast<int>(own[0]); });
    REQUIRE(again);
    CHECK(*again == 8);
    CHECK(current_pkru() == pkru_before);
    // Outside runs this thread still reaches the arenas.
    CHECK(*mem.own.at(0) == std::byte{8});
}

TEST_CASE("sandbox: private_memory none denies even reads of private memory", "[rpc][safety][sandbox][mpk]") {
    if (mpk_missing()) return;
    shared_pages arena(1);
    auto sb = rpc::sandbox::create({.private_memory = kp::access::none});
    REQUIRE(sb);
    sb->add(arena.data, arena.size, kp::access::read_write);
    // Code that touches only sandbox memory (its captures are copied onto the sandbox stack).
    std::byte* mine = arena.data;
    auto ok = sb->run([mine] {
        mine[0] = std::byte{3};
        return 4;
    });
    REQUIRE(ok);
    CHECK(*ok == 4);
    CHECK(*arena.data == std::byte{3});
    auto r = sb->run([] { return private_counter; });
    REQUIRE_FALSE(r);
    CHECK(r.error() == rpc::errc::sandbox_fault);
    CHECK_THAT(rpc::error_detail(), Catch::Contains("protection key 0"));
}

TEST_CASE("sandbox: runs from a thread started before the sandbox existed", "[rpc][safety][sandbox][mpk]") {
    if (mpk_missing()) return;
    std::atomic<int> stage{0};
    rpc::sandbox* shared = nullptr;
    int value = 0;
    bool faulted = false;
    std::thread worker([&] {
        while (stage.load() != 1) std::this_thread::yield();
        auto r = shared->run([] { return 11; });
        value = r ? *r : -1;
        auto w = shared->run([] { private_counter = 1; });
        faulted = !w && w.error() == rpc::errc::sandbox_fault;
        stage.store(2);
    });
    auto sb = rpc::sandbox::create();
    REQUIRE(sb);
    shared = &*sb;
    stage.store(1);
    worker.join();
    CHECK(value == 11);
    CHECK(faulted);
    CHECK(private_counter == 5);
}
