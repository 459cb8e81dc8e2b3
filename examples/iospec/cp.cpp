// A cp-like copy loop with keel::iospec: pread a block, pwrite it to the copy, until a
// short read. The foreaction graph chains each write to its read's result, so the reads
// ahead are pre-issued while the program writes. The copy is made twice per cache state
// (cold: pages dropped with posix_fadvise(DONTNEED) first; warm: just read), once with the
// raw system calls and once through a scope, and both copies must equal the source.
//
//   example_iospec_cp [--mib N] [--block BYTES]
#include "common.hpp"
#include "cp_loop.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace example;
using namespace example::cp;

namespace {

std::vector<std::byte> slurp(const std::string& path) {
    std::vector<std::byte> out;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    std::byte chunk[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) break;
        out.insert(out.end(), chunk, chunk + n);
    }
    ::close(fd);
    return out;
}

int open_or_die(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) {
        std::perror(path.c_str());
        std::exit(1);
    }
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t mib = 32;
    std::size_t block = 64 * 1024;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--mib") == 0) mib = std::strtoull(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--block") == 0) block = std::strtoull(argv[i + 1], nullptr, 10);
    }
    if (block == 0) block = 4096;
    scratch_dir dir;
    const std::string src_path = dir.path() + "/source";
    {
        // A size that is not a multiple of the block: the last read is short.
        std::vector<std::byte> bytes(mib * 1024 * 1024 + 1234);
        std::mt19937_64 rng(1);
        for (auto& b : bytes) b = static_cast<std::byte>(rng());
        const int fd = open_or_die(src_path, O_WRONLY | O_CREAT | O_TRUNC);
        if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) return 1;
        ::close(fd);
    }
    const auto source = slurp(src_path);

    is::engine e;
    std::printf("copying %zu bytes in %zu-byte blocks on engine %s (%s)\n", source.size(), block,
                std::string(e.backend()).c_str(), dir.path().c_str());
    const int src = open_or_die(src_path, O_RDONLY);
    int status = 0;
    for (const bool cold : {true, false}) {
        std::printf("%s cache:\n", cold ? "cold" : "warm");
        double serial_s = 0;
        {
            const std::string dst_path = dir.path() + "/copy-serial";
            const int dst = open_or_die(dst_path, O_WRONLY | O_CREAT | O_TRUNC);
            if (cold) drop_cache(src_path);
            raw_calls io;
            const auto t0 = std::chrono::steady_clock::now();
            const long long n = copy(io, src, dst, block);
            serial_s = seconds_since(t0);
            ::close(dst);
            const bool same = n == static_cast<long long>(source.size()) && slurp(dst_path) == source;
            std::printf("  serial:      %.3f s%s\n", serial_s, same ? "" : "  COPY DIFFERS");
            if (!same) status = 1;
        }
        {
            const std::string dst_path = dir.path() + "/copy-speculative";
            const int dst = open_or_die(dst_path, O_WRONLY | O_CREAT | O_TRUNC);
            auto g = copy_graph(src, dst, block);
            if (cold) drop_cache(src_path);
            long long n = 0;
            const auto t0 = std::chrono::steady_clock::now();
            {
                is::scope s(g, e, {src, dst});
                scope_calls io{s};
                n = copy(io, src, dst, block);
            }
            const double spec_s = seconds_since(t0);
            ::close(dst);
            const bool same = n == static_cast<long long>(source.size()) && slurp(dst_path) == source;
            std::printf("  speculative: %.3f s (%.2fx serial)%s\n", spec_s, spec_s > 0 ? serial_s / spec_s : 0.0,
                        same ? ", copy equals the serial one" : "  COPY DIFFERS");
            print_counters("counters", g.counters());
            if (!same) status = 1;
        }
    }
    ::close(src);
    return status;
}
