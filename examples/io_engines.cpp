// Which io engine does this machine give keel, and how fast is each one?
// Reads a generated 32 MiB file in 4 KiB blocks at random offsets, at queue
// depth 1 and 16, with every engine the probes allow. The file is in the page
// cache after the first pass, so this shows engine overhead, not the disk
// (benchmarks/platform/io_engine_bench.cpp measures cold reads).
#include <keel/platform/io_engine.hpp>
#include <keel/platform/io_uring_engine.hpp>
#include <keel/platform/sync_io_engine.hpp>
#include <keel/platform/thread_pool_io_engine.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

using namespace keel::platform;

namespace {

constexpr std::size_t block = 4096;
constexpr std::size_t file_blocks = 8192;  // 32 MiB
constexpr std::size_t reads = 20000;

// Reads `reads` random blocks keeping `depth` in flight; returns reads per second, or -1.
double measure(any_io_engine& e, int fd, unsigned depth) {
    std::vector<char> buffers(depth * block);
    std::vector<io_request> batch;
    std::vector<io_completion> done(depth);
    std::vector<unsigned> free_buffers(depth);
    for (unsigned i = 0; i < depth; ++i) free_buffers[i] = i;
    std::mt19937_64 rng(42);
    std::size_t issued = 0, completed = 0;
    const auto t0 = std::chrono::steady_clock::now();
    while (completed < reads) {
        batch.clear();
        while (!free_buffers.empty() && issued + batch.size() < reads) {
            const unsigned b = free_buffers.back();
            free_buffers.pop_back();
            batch.push_back(io_request::pread(fd, &buffers[b * block], block, (rng() % file_blocks) * block, b));
        }
        if (!batch.empty() && e.submit(batch).value() != batch.size()) return -1;
        issued += batch.size();
        const auto n = e.reap(done, 1).value();
        for (std::size_t i = 0; i < n; ++i) {
            if (done[i].result != static_cast<std::int64_t>(block)) return -1;
            free_buffers.push_back(static_cast<unsigned>(done[i].user_data));
        }
        completed += n;
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    return static_cast<double>(reads) / took.count();
}

}  // namespace

int main() {
    std::printf("io engine probes:\n");
    for (const auto& s : probe_io_engines()) {
        std::printf("  %-12s %-4s %s\n", s.name.c_str(), s.available ? "yes" : "no", s.reason.c_str());
    }
    auto chosen = make_io_engine();
    std::printf("\nautomatic chose %s: %s\n\n", std::string(chosen.name()).c_str(), chosen.reason().c_str());

    char path[] = "/tmp/keel-io-example-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) return std::perror("mkstemp"), 1;
    ::unlink(path);
    std::vector<char> chunk(1 << 20);
    for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 31);
    for (std::size_t off = 0; off < file_blocks * block; off += chunk.size()) {
        if (::pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(off)) != static_cast<ssize_t>(chunk.size())) {
            return std::perror("pwrite"), 1;
        }
    }

    std::printf("%-12s %12s %12s   (4 KiB random reads/s, page cache)\n", "engine", "QD 1", "QD 16");
    const io_engine_kind kinds[] = {io_engine_kind::io_uring, io_engine_kind::thread_pool,
                                    io_engine_kind::synchronous};
    const char* names[] = {"io_uring", "thread_pool", "synchronous"};
    for (int k = 0; k < 3; ++k) {
        double rate[2] = {0, 0};
        const unsigned depths[2] = {1, 16};
        const char* name = names[k];
        try {
            for (int d = 0; d < 2; ++d) {
                auto e = make_io_engine(kinds[k], {depths[d], 0});
                rate[d] = measure(e, fd, depths[d]);
            }
        } catch (const std::exception& ex) {
            std::printf("%-12s unavailable: %s\n", name, ex.what());
            continue;
        }
        if (rate[0] < 0 || rate[1] < 0) return std::fprintf(stderr, "a read came back short\n"), 1;
        std::printf("%-12s %12.0f %12.0f\n", name, rate[0], rate[1]);
    }
    ::close(fd);
    return 0;
}
