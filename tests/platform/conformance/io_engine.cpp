#include <catch2/catch.hpp>

#include "temp_dir.hpp"

#include <keel/platform/io_engine.hpp>
#include <keel/platform/io_uring_engine.hpp>
#include <keel/platform/sync_io_engine.hpp>
#include <keel/platform/thread_pool_io_engine.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace keel::platform;
using namespace std::chrono_literals;

namespace {

// make_io_engine(automatic) behind the concept's static shape, so that every
// templated test also runs on what users get by default.
struct automatic_engine {
    static constexpr std::string_view name = "automatic";
    static backend_status probe() { return {"io_engine", "automatic", true, "make_io_engine()"}; }
    explicit automatic_engine(io_engine_options o = {}) : e(make_io_engine(io_engine_kind::automatic, o)) {}
    keel::result<std::size_t> submit(std::span<const io_request> q) { return e.submit(q); }
    keel::result<std::size_t> reap(std::span<io_completion> o, std::size_t m, io_timeout t = {}) {
        return e.reap(o, m, t);
    }
    keel::result<void> cancel(std::uint64_t u) { return e.cancel(u); }
    bool supports(io_op op) const noexcept { return e.supports(op); }
    std::size_t in_flight() const noexcept { return e.in_flight(); }
    any_io_engine e;
};

static_assert(io_engine<io_uring_engine>);
static_assert(io_engine<thread_pool_io_engine>);
static_assert(io_engine<sync_io_engine>);
static_assert(io_engine<automatic_engine>);
static_assert(!io_engine<int>);
static_assert(std::is_trivially_copyable_v<io_request>);

using keel::test::temp_dir;

template <class E>
std::optional<E> make_engine(io_engine_options o = {}) {
    auto s = E::probe();
    if (!s.available) {
        WARN(std::string(E::name) << " unavailable here, not tested: " << s.reason);
        return std::nullopt;
    }
    return std::optional<E>(std::in_place, o);
}

// Reaps until `count` completions have come (failing after 10 s), then checks
// that no further completion turns up.
template <class E>
std::vector<io_completion> reap_exactly(E& e, std::size_t count) {
    std::vector<io_completion> got;
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    io_completion buf[32];
    while (got.size() < count && std::chrono::steady_clock::now() < give_up) {
        auto r = e.reap(buf, 1, io_timeout(100ms));
        REQUIRE(r.has_value());
        got.insert(got.end(), buf, buf + *r);
    }
    REQUIRE(got.size() == count);
    auto extra = e.reap(buf, 1, io_timeout(10ms));
    REQUIRE(extra.has_value());
    CHECK(*extra == 0);
    CHECK(e.in_flight() == 0);
    return got;
}

template <class E>
io_completion run_one(E& e, const io_request& q) {
    auto s = e.submit(std::span(&q, 1));
    REQUIRE(s.has_value());
    REQUIRE(*s == 1);
    auto done = reap_exactly(e, 1);
    CHECK(done[0].user_data == q.user_data);
    return done[0];
}

std::vector<std::string> list_names(const std::vector<char>& buf, std::size_t bytes) {
    // struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[].
    std::vector<std::string> names;
    std::size_t at = 0;
    while (at < bytes) {
        std::uint16_t reclen = 0;
        std::memcpy(&reclen, buf.data() + at + 16, sizeof reclen);
        names.emplace_back(buf.data() + at + 19);
        at += reclen;
    }
    return names;
}

bool is_sync(std::string_view name) { return name == sync_io_engine::name; }

template <class E>
bool uses_io_uring(const E& e) {
    if constexpr (std::is_same_v<E, automatic_engine>) {
        return e.e.name() == io_uring_engine::name;
    } else {
        return E::name == io_uring_engine::name;
    }
}

// An operation that cannot complete until release(). io_uring: a read from an
// empty pipe (it waits without holding a thread; io_uring opens FIFOs without
// blocking). Thread pool: opening a FIFO for reading, which holds its thread
// until a writer comes (pread on a pipe would fail at once with ESPIPE).
struct blocker {
    bool uring;
    int pipe_fds[2] = {-1, -1};
    std::string fifo;
    int writer = -1;
    char byte = 0;

    blocker(bool io_uring, const std::string& fifo_path) : uring(io_uring), fifo(fifo_path) {
        if (uring) {
            REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
        } else {
            REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        }
    }
    ~blocker() {
        for (int fd : {pipe_fds[0], pipe_fds[1], writer}) {
            if (fd >= 0) ::close(fd);
        }
    }
    io_request request(std::uint64_t user_data) {
        return uring ? io_request::pread(pipe_fds[0], &byte, 1, 0, user_data)
                     : io_request::openat(AT_FDCWD, fifo.c_str(), O_RDONLY | O_CLOEXEC, 0, user_data);
    }
    void release() {
        if (uring) {
            REQUIRE(::write(pipe_fds[1], "x", 1) == 1);
        } else {
            writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
            REQUIRE(writer >= 0);
        }
    }
    // The blocked operation's real result: one byte read, or the FIFO's new fd (closed here).
    bool real_result(std::int64_t r) const {
        if (uring) return r == 1;
        if (r >= 0) ::close(static_cast<int>(r));
        return r >= 0;
    }
};

}  // namespace

#define KEEL_IO_ENGINES io_uring_engine, thread_pool_io_engine, sync_io_engine, automatic_engine

TEMPLATE_TEST_CASE("io engine: openat, pwrite, fsync, pread, statx, close round trip", "[platform][io]",
                   KEEL_IO_ENGINES) {
    auto e = make_engine<TestType>();
    if (!e) return;
    temp_dir dir;
    const std::string path = dir.file("data");

    auto opened = run_one(*e, io_request::openat(AT_FDCWD, path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600, 1));
    REQUIRE(opened.ok());
    const int fd = static_cast<int>(opened.result);

    std::vector<unsigned char> out(8192), in(8192, 0);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<unsigned char>(i * 7 + 3);
    auto written = run_one(*e, io_request::pwrite(fd, out.data(), out.size(), 0, 2));
    REQUIRE(written.result == 8192);
    CHECK(run_one(*e, io_request::fsync(fd, 3)).result == 0);
    CHECK(run_one(*e, io_request::fdatasync(fd, 4)).result == 0);

    auto read = run_one(*e, io_request::pread(fd, in.data() + 1, 4000, 100, 5));
    REQUIRE(read.result == 4000);
    CHECK(std::memcmp(in.data() + 1, out.data() + 100, 4000) == 0);
    CHECK(in[0] == 0);
    CHECK(in[4001] == 0);

    struct statx by_fd{};
    struct statx by_path{};
    CHECK(run_one(*e, io_request::fstat(fd, &by_fd, 6)).result == 0);
    CHECK(by_fd.stx_size == 8192);
    CHECK(S_ISREG(by_fd.stx_mode));
    CHECK(run_one(*e, io_request::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &by_path, 7))
              .result == 0);
    CHECK(by_path.stx_ino == by_fd.stx_ino);
    CHECK(by_path.stx_size == 8192);

    CHECK(run_one(*e, io_request::nop(8)).result == 0);
    CHECK(run_one(*e, io_request::close(fd, 9)).result == 0);
    CHECK(::fcntl(fd, F_GETFD) == -1);  // really closed
}

TEMPLATE_TEST_CASE("io engine: failures arrive as -errno in the completion", "[platform][io]", KEEL_IO_ENGINES) {
    auto e = make_engine<TestType>();
    if (!e) return;
    temp_dir dir;
    const std::string missing = dir.file("missing");
    const std::string present = dir.file("present");
    const int closed_fd = ::open(present.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    REQUIRE(closed_fd >= 0);
    REQUIRE(::close(closed_fd) == 0);

    char buf[64];
    struct statx st{};
    const io_request batch[] = {
        io_request::pread(closed_fd, buf, sizeof buf, 0, 10),
        io_request::openat(AT_FDCWD, missing.c_str(), O_RDONLY | O_CLOEXEC, 0, 11),
        io_request::statx(AT_FDCWD, missing.c_str(), 0, STATX_BASIC_STATS, &st, 12),
        io_request::close(closed_fd, 13),
    };
    auto s = e->submit(batch);
    REQUIRE(s.has_value());
    REQUIRE(*s == 4);
    std::map<std::uint64_t, io_completion> by_id;
    for (auto c : reap_exactly(*e, 4)) by_id[c.user_data] = c;
    REQUIRE(by_id.size() == 4);
    CHECK(by_id[10].result == -EBADF);
    CHECK(by_id[10].error() == EBADF);
    CHECK_FALSE(by_id[10].ok());
    CHECK(by_id[10].code() == keel::errno_code(EBADF));
    CHECK(by_id[11].result == -ENOENT);
    CHECK(by_id[12].result == -ENOENT);
    CHECK(by_id[13].result == -EBADF);
}

TEMPLATE_TEST_CASE("io engine: 64 reads at queue depth 16 complete exactly once with their data",
                   "[platform][io]", KEEL_IO_ENGINES) {
    auto e = make_engine<TestType>(io_engine_options{16, 0});
    if (!e) return;
    temp_dir dir;
    const std::string path = dir.file("blocks");
    constexpr std::size_t block = 4096, blocks = 64;
    {
        const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        std::vector<unsigned char> data(block * blocks);
        for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i / block + i % 251);
        REQUIRE(::pwrite(fd, data.data(), data.size(), 0) == static_cast<ssize_t>(data.size()));
        ::close(fd);
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    std::vector<unsigned char> bufs(block * blocks, 0);
    std::vector<io_request> reqs;
    for (std::size_t i = 0; i < blocks; ++i) {
        // Reverse order, so completions cannot match user_data by accident of position.
        const std::size_t b = blocks - 1 - i;
        reqs.push_back(io_request::pread(fd, bufs.data() + b * block, block, b * block, 1000 + b));
    }

    // The queue holds 16: a 64-request batch is accepted only in part, and a full
    // queue is an error, not a silent zero.
    auto first = e->submit(reqs);
    REQUIRE(first.has_value());
    REQUIRE(*first == 16);
    CHECK(e->in_flight() == 16);
    auto full = e->submit(std::span(reqs).subspan(16));
    REQUIRE_FALSE(full.has_value());
    CHECK(full.error() == keel::make_error_code(std::errc::resource_unavailable_try_again));

    std::size_t submitted = 16;
    std::map<std::uint64_t, int> seen;
    io_completion out[16];
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (seen.size() < blocks && std::chrono::steady_clock::now() < give_up) {
        auto r = e->reap(out, 4, io_timeout(1s));
        REQUIRE(r.has_value());
        const std::size_t got = r.value();
        for (std::size_t i = 0; i < got; ++i) {
            REQUIRE(out[i].result == static_cast<std::int64_t>(block));
            ++seen[out[i].user_data];
        }
        if (submitted < blocks) {
            auto s = e->submit(std::span(reqs).subspan(submitted));
            REQUIRE(s.has_value());
            CHECK(s.value() <= 16);
            submitted += s.value();
        }
        CHECK(e->in_flight() <= 16);
    }
    REQUIRE(seen.size() == blocks);
    for (auto [id, times] : seen) {
        CHECK(times == 1);
        CHECK(id >= 1000);
        CHECK(id < 1000 + blocks);
    }
    CHECK(e->in_flight() == 0);
    for (std::size_t b = 0; b < blocks; ++b) {
        for (std::size_t i = 0; i < block; i += 509) {
            const std::size_t at = b * block + i;
            REQUIRE(bufs[at] == static_cast<unsigned char>(at / block + at % 251));
        }
    }
    ::close(fd);
}

TEMPLATE_TEST_CASE("io engine: a cancelled operation completes exactly once", "[platform][io]", KEEL_IO_ENGINES) {
    // One pool thread, so that the pool has a queued operation to remove.
    auto e = make_engine<TestType>(io_engine_options{16, 1});
    if (!e) return;
    temp_dir dir;
    const std::string file = dir.file("file");
    const int fd = ::open(file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    char data[4096] = {1};
    REQUIRE(::pwrite(fd, data, sizeof data, 0) == 4096);

    // The synchronous engine would block inside submit: it gets no blocker.
    const bool async = !is_sync(TestType::name);
    std::optional<blocker> busy;
    if (async) busy.emplace(uses_io_uring(*e), dir.file("fifo"));
    char buf[4096];
    std::vector<io_request> reqs;
    if (async) reqs.push_back(busy->request(1));
    reqs.push_back(io_request::pread(fd, buf, sizeof buf, 0, 2));
    auto s = e->submit(reqs);
    REQUIRE(s.has_value());
    REQUIRE(*s == reqs.size());
    if (async) std::this_thread::sleep_for(20ms);  // the pool's thread is now inside the blocker

    auto c = e->cancel(2);
    REQUIRE(c.has_value());
    CHECK(e->cancel(2).has_value());  // asking twice changes nothing

    if (async) busy->release();
    auto done = reap_exactly(*e, reqs.size());
    std::map<std::uint64_t, std::int64_t> by_id;
    for (auto d : done) by_id[d.user_data] = d.result;
    REQUIRE(by_id.size() == reqs.size());
    CHECK((by_id[2] == -ECANCELED || by_id[2] == 4096));
    if (TestType::name == thread_pool_io_engine::name) CHECK(by_id[2] == -ECANCELED);  // it was queued
    if (is_sync(TestType::name)) CHECK(by_id[2] == 4096);                               // it had run
    if (async) CHECK(busy->real_result(by_id[1]));
    // The cancelled operation is gone: cancelling it again names nothing.
    CHECK_FALSE(e->cancel(2).has_value());
    ::close(fd);
}

TEMPLATE_TEST_CASE("io engine: cancelling a blocked operation in flight", "[platform][io]", io_uring_engine,
                   thread_pool_io_engine, automatic_engine) {
    auto e = make_engine<TestType>(io_engine_options{8, 2});
    if (!e) return;
    temp_dir dir;
    blocker busy(uses_io_uring(*e), dir.file("fifo"));
    const auto q = busy.request(77);
    REQUIRE(e->submit(std::span(&q, 1)).value() == 1);

    // Nothing can complete yet: a timed reap waits out its timeout and returns 0.
    io_completion out[4];
    const auto t0 = std::chrono::steady_clock::now();
    auto r = e->reap(out, 1, io_timeout(50ms));
    const auto waited = std::chrono::steady_clock::now() - t0;
    REQUIRE(r.has_value());
    CHECK(*r == 0);
    CHECK(waited >= 45ms);
    CHECK(waited < 2s);
    CHECK(e->in_flight() == 1);

    REQUIRE(e->cancel(77).has_value());
    r = e->reap(out, 1, io_timeout(500ms));
    REQUIRE(r.has_value());
    if (busy.uring) {
        // io_uring takes a waiting read back: -ECANCELED, promptly.
        REQUIRE(*r == 1);
        CHECK(out[0].user_data == 77);
        CHECK(out[0].result == -ECANCELED);
    } else {
        // The pool cannot stop a running system call: its real result comes later.
        CHECK(*r == 0);
        busy.release();
        r = e->reap(out, 1, io_timeout(5s));
        REQUIRE(r.has_value());
        REQUIRE(*r == 1);
        CHECK(out[0].user_data == 77);
        CHECK(busy.real_result(out[0].result));
    }
    CHECK(e->in_flight() == 0);
    CHECK(e->reap(out, 1, io_timeout(10ms)).value() == 0);
}

TEMPLATE_TEST_CASE("io engine: cancelling an unknown user_data is an error", "[platform][io]", KEEL_IO_ENGINES) {
    auto e = make_engine<TestType>();
    if (!e) return;
    auto r = e->cancel(12345);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == keel::errno_code(ENOENT));
    // Also after a completed and reaped operation with that user_data.
    run_one(*e, io_request::nop(12345));
    CHECK_FALSE(e->cancel(12345).has_value());
}

TEMPLATE_TEST_CASE("io engine: reap with nothing in flight returns at once", "[platform][io]", KEEL_IO_ENGINES) {
    auto e = make_engine<TestType>();
    if (!e) return;
    io_completion out[4];
    const auto t0 = std::chrono::steady_clock::now();
    auto a = e->reap(out, 1, io_timeout(5s));
    auto b = e->reap(out, 4, std::nullopt);  // would wait forever if it waited for the impossible
    auto c = e->reap(std::span<io_completion>(), 1, io_timeout(5s));
    const auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    REQUIRE(c.has_value());
    CHECK(*a == 0);
    CHECK(*b == 0);
    CHECK(*c == 0);
    CHECK(took < 500ms);
    // min_complete beyond what is in flight waits only for what can come.
    const io_request nops[] = {io_request::nop(1), io_request::nop(2)};
    REQUIRE(e->submit(nops).value() == 2);
    auto d = e->reap(out, 4, std::nullopt);
    REQUIRE(d.has_value());
    CHECK(*d == 2);
    CHECK(e->submit(std::span<const io_request>()).value() == 0);
}

TEMPLATE_TEST_CASE("io engine: getdents64 lists a directory", "[platform][io]", thread_pool_io_engine,
                   sync_io_engine, automatic_engine) {
    auto e = make_engine<TestType>();
    if (!e) return;
    REQUIRE(e->supports(io_op::getdents64));
    temp_dir dir;
    for (const char* n : {"alpha", "beta", "gamma"}) {
        const int fd = ::open(dir.file(n).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        ::close(fd);
    }
    const int dfd = ::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(dfd >= 0);
    std::set<std::string> names;
    std::vector<char> buf(96);  // small: several calls are needed
    for (int calls = 0; calls < 100; ++calls) {
        auto c = run_one(*e, io_request::getdents64(dfd, buf.data(), buf.size(), 5));
        REQUIRE(c.ok());
        if (c.result == 0) break;
        for (auto& n : list_names(buf, c.value())) names.insert(n);
    }
    CHECK(names == std::set<std::string>{".", "..", "alpha", "beta", "gamma"});
    ::close(dfd);

    // Mixed with io_uring work in one batch and one reap (automatic routes it).
    const int dfd2 = ::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(dfd2 >= 0);
    std::vector<char> big(4096);
    const io_request mixed[] = {io_request::nop(1), io_request::getdents64(dfd2, big.data(), big.size(), 2),
                                io_request::nop(3)};
    REQUIRE(e->submit(mixed).value() == 3);
    std::map<std::uint64_t, std::int64_t> by_id;
    for (auto c : reap_exactly(*e, 3)) by_id[c.user_data] = c.result;
    CHECK(by_id.size() == 3);
    CHECK(by_id[1] == 0);
    CHECK(by_id[3] == 0);
    REQUIRE(by_id[2] > 0);
    CHECK(list_names(big, static_cast<std::size_t>(by_id[2])).size() == 5);
    ::close(dfd2);
}

TEST_CASE("io_uring engine: getdents64 is not supported and rejected whole", "[platform][io]") {
    auto e = make_engine<io_uring_engine>();
    if (!e) return;
    CHECK_FALSE(e->supports(io_op::getdents64));
    CHECK(e->supports(io_op::statx));
    char buf[256];
    const io_request batch[] = {io_request::nop(1), io_request::getdents64(0, buf, sizeof buf, 2)};
    auto r = e->submit(batch);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == keel::make_error_code(std::errc::operation_not_supported));
    CHECK(e->in_flight() == 0);
}

TEST_CASE("io engine: make_io_engine chooses, honours explicit kinds and validates options", "[platform][io]") {
    auto probes = probe_io_engines();
    REQUIRE(probes.size() == 3);
    CHECK(probes[0].name == "io_uring");
    CHECK(probes[1].name == "thread_pool");
    CHECK(probes[2].name == "synchronous");
    for (auto& p : probes) {
        CHECK(p.kind == "io_engine");
        CHECK_FALSE(p.reason.empty());
    }
    CHECK(probes[1].available);
    CHECK(probes[2].available);

    auto automatic = make_io_engine();
    CHECK(automatic.name() == (probes[0].available ? "io_uring" : "thread_pool"));
    CHECK_FALSE(automatic.reason().empty());
    CHECK(automatic.supports(io_op::getdents64));

    CHECK(make_io_engine(io_engine_kind::thread_pool).name() == "thread_pool");
    CHECK(make_io_engine(io_engine_kind::synchronous).name() == "synchronous");
    if (probes[0].available) {
        auto u = make_io_engine(io_engine_kind::io_uring);
        CHECK(u.name() == "io_uring");
        CHECK_FALSE(u.supports(io_op::getdents64));  // exactly the engine asked for
    } else {
        CHECK_THROWS_AS(make_io_engine(io_engine_kind::io_uring), std::system_error);
    }
    CHECK_THROWS_AS(make_io_engine(io_engine_kind::automatic, {0, 0}), std::invalid_argument);
    CHECK_THROWS_AS(make_io_engine(io_engine_kind::automatic, {40000, 0}), std::invalid_argument);
    CHECK_THROWS_AS(thread_pool_io_engine(io_engine_options{16, 5000}), std::invalid_argument);
    CHECK_THROWS_AS(sync_io_engine(io_engine_options{0, 0}), std::invalid_argument);
    if (probes[0].available) CHECK_THROWS_AS(io_uring_engine(io_engine_options{0, 0}), std::invalid_argument);

    CHECK(to_string(io_op::statx) == "statx");
    CHECK(to_string(io_op::getdents64) == "getdents64");
}

TEST_CASE("thread pool engine: destruction cancels queued work and waits for running work", "[platform][io]") {
    temp_dir dir;
    const std::string fifo = dir.file("fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::atomic<bool> destroyed{false};
    std::thread releaser;
    {
        thread_pool_io_engine e(io_engine_options{8, 1});
        const io_request reqs[] = {io_request::openat(AT_FDCWD, fifo.c_str(), O_RDONLY | O_CLOEXEC, 0, 1),
                                   io_request::nop(2), io_request::nop(3)};
        REQUIRE(e.submit(reqs).value() == 3);
        std::this_thread::sleep_for(20ms);  // let the worker block in open
        releaser = std::thread([&] {
            std::this_thread::sleep_for(100ms);
            CHECK_FALSE(destroyed.load());  // the destructor is still waiting for the open
            const int w = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
            std::this_thread::sleep_for(50ms);
            ::close(w);
        });
    }
    destroyed = true;
    releaser.join();
}

TEST_CASE("thread pool engine: concurrent submitters and reapers lose nothing", "[platform][io]") {
    thread_pool_io_engine e(io_engine_options{32, 4});
    constexpr int per_thread = 400, submitters = 3;
    std::atomic<int> reaped{0};
    std::vector<std::atomic<int>> seen(per_thread * submitters);
    std::vector<std::thread> threads;
    for (int t = 0; t < submitters; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < per_thread;) {
                const io_request q = io_request::nop(static_cast<std::uint64_t>(t * per_thread + i));
                auto r = e.submit(std::span(&q, 1));
                if (r) {
                    i += static_cast<int>(*r);
                } else {
                    std::this_thread::yield();
                }
            }
        });
    }
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
            io_completion out[8];
            const auto give_up = std::chrono::steady_clock::now() + 20s;
            while (reaped.load() < per_thread * submitters && std::chrono::steady_clock::now() < give_up) {
                auto r = e.reap(out, 1, io_timeout(10ms));
                const std::size_t got = r ? r.value() : 0;
                for (std::size_t i = 0; i < got; ++i) {
                    ++seen[out[i].user_data];
                    ++reaped;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(reaped.load() == per_thread * submitters);
    for (auto& s : seen) REQUIRE(s.load() == 1);
    CHECK(e.in_flight() == 0);
}

TEST_CASE("automatic engine: one reap waits on io_uring and its thread pool at once", "[platform][io]") {
    automatic_engine e;
    if (!uses_io_uring(e)) {
        WARN("automatic did not choose io_uring here: " << e.e.reason());
        return;
    }
    temp_dir dir;
    blocker busy(true, dir.file("fifo"));
    const int dfd = ::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(dfd >= 0);
    std::vector<char> buf(4096);
    // The ring holds a read that cannot complete; the pool gets the listing.
    const io_request first[] = {busy.request(1)};
    REQUIRE(e.submit(first).value() == 1);
    const io_request second[] = {io_request::getdents64(dfd, buf.data(), buf.size(), 2)};
    REQUIRE(e.submit(second).value() == 1);
    CHECK(e.in_flight() == 2);

    io_completion out[4];
    const auto t0 = std::chrono::steady_clock::now();
    auto r = e.reap(out, 1, io_timeout(10s));  // must wake for the pool's completion
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    REQUIRE(r.has_value());
    REQUIRE(*r == 1);
    CHECK(out[0].user_data == 2);
    CHECK(out[0].result > 0);

    // And the other way round: a pool completion must not be needed to see the ring's.
    const io_request third[] = {io_request::getdents64(dfd, buf.data(), buf.size(), 3)};
    REQUIRE(e.submit(third).value() == 1);
    busy.release();
    auto rest = reap_exactly(e, 2);
    std::set<std::uint64_t> ids;
    for (auto c : rest) ids.insert(c.user_data);
    CHECK(ids == std::set<std::uint64_t>{1, 3});
    ::close(dfd);
}
