// Cold 4 KiB random reads through each io engine at queue depth 1 and 16,
// against the baseline a user would write: a plain pread() loop.
//
// The file (KEEL_BENCH_IO_FILE, default /var/tmp/keel-io-bench.dat, of
// KEEL_BENCH_IO_MIB MiB, default 256) is written once and reused. Before each
// measured batch its pages are dropped from the page cache
// (POSIX_FADV_DONTNEED), and readahead is off (POSIX_FADV_RANDOM), so every
// read goes to the device. Buffered I/O, no O_DIRECT. Only the batch is timed
// (manual time). Counters: IOPS, and vs_pread = IOPS / the pread loop's IOPS
// (present when the baseline ran first in the same process, as it does by default).
#include <benchmark/benchmark.h>

#include <keel/platform/io_engine.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using namespace keel::platform;

namespace {

constexpr std::size_t block = 4096;
constexpr std::size_t reads_per_batch = 512;

struct bench_file {
    int fd = -1;
    std::size_t blocks = 0;
    std::string error;
};

std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? v : fallback;
}

bench_file open_file() {
    bench_file f;
    const std::string path = env_or("KEEL_BENCH_IO_FILE", "/var/tmp/keel-io-bench.dat");
    const std::size_t mib = std::stoul(env_or("KEEL_BENCH_IO_MIB", "256"));
    const std::size_t size = mib << 20;
    f.blocks = size / block;
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0 || static_cast<std::size_t>(st.st_size) != size ||
        static_cast<std::size_t>(st.st_blocks) * 512 < size) {
        // Real data, not a sparse file: holes would be read without touching the disk.
        const int w = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
        if (w < 0) return f.error = "cannot create " + path, f;
        std::vector<unsigned char> chunk(1 << 20);
        std::mt19937 rng(7);
        for (auto& c : chunk) c = static_cast<unsigned char>(rng());
        for (std::size_t off = 0; off < size; off += chunk.size()) {
            chunk[0] = static_cast<unsigned char>(off >> 20);
            if (::pwrite(w, chunk.data(), chunk.size(), static_cast<off_t>(off)) !=
                static_cast<ssize_t>(chunk.size())) {
                ::close(w);
                return f.error = "cannot write " + path, f;
            }
        }
        ::fsync(w);
        ::close(w);
    }
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) return f.error = "cannot open " + path, f;
    ::posix_fadvise(f.fd, 0, 0, POSIX_FADV_RANDOM);  // no readahead: one 4 KiB read is one device read
    return f;
}

const bench_file& file() {
    static const bench_file f = open_file();
    return f;
}

void drop_cache(int fd) {
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

double g_pread_iops = 0;

void report(benchmark::State& state, std::size_t reads, double seconds, bool is_baseline) {
    const double iops = seconds > 0 ? static_cast<double>(reads) / seconds : 0;
    state.counters["IOPS"] = iops;
    if (is_baseline) {
        g_pread_iops = iops;
    } else if (g_pread_iops > 0) {
        state.counters["vs_pread"] = iops / g_pread_iops;
    }
}

void pread_loop(benchmark::State& state) {
    const auto& f = file();
    if (f.fd < 0) return state.SkipWithError(f.error.c_str());
    std::vector<char> buf(block);
    std::mt19937_64 rng(1);
    std::size_t reads = 0;
    double seconds = 0;
    for (auto _ : state) {
        drop_cache(f.fd);
        const auto t0 = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < reads_per_batch; ++i) {
            const auto off = static_cast<off_t>((rng() % f.blocks) * block);
            if (::pread(f.fd, buf.data(), block, off) != static_cast<ssize_t>(block)) {
                state.SkipWithError("pread returned fewer than 4096 bytes");
                return;  // leaves the loop; Google Benchmark accepts that after SkipWithError
            }
        }
        const std::chrono::duration<double> t = std::chrono::steady_clock::now() - t0;
        state.SetIterationTime(t.count());
        seconds += t.count();
        reads += reads_per_batch;
    }
    report(state, reads, seconds, true);
}

// Keeps one read in flight per free buffer until the batch is done; false if one came back short.
bool run_batch(any_io_engine& e, int fd, std::size_t blocks, std::mt19937_64& rng,
               std::vector<char>& buffers, std::vector<io_request>& batch, std::vector<io_completion>& done,
               std::vector<unsigned>& free_buffers) {
    std::size_t issued = 0, completed = 0;
    while (completed < reads_per_batch) {
        batch.clear();
        while (!free_buffers.empty() && issued + batch.size() < reads_per_batch) {
            const unsigned b = free_buffers.back();
            free_buffers.pop_back();
            batch.push_back(io_request::pread(fd, &buffers[b * block], block, (rng() % blocks) * block, b));
        }
        if (!batch.empty()) {
            auto s = e.submit(batch);
            if (!s || *s != batch.size()) return false;  // cannot happen: depth buffers, depth queue
            issued += batch.size();
        }
        auto n = e.reap(done, 1);
        if (!n) return false;
        for (std::size_t i = 0; i < *n; ++i) {
            if (done[i].result != static_cast<std::int64_t>(block)) return false;
            free_buffers.push_back(static_cast<unsigned>(done[i].user_data));
        }
        completed += *n;
    }
    return true;
}

void engine_reads(benchmark::State& state, io_engine_kind kind) {
    const auto& f = file();
    if (f.fd < 0) return state.SkipWithError(f.error.c_str());
    const auto depth = static_cast<unsigned>(state.range(0));
    std::optional<any_io_engine> engine;
    try {
        engine.emplace(make_io_engine(kind, {depth, 0}));
    } catch (const std::exception& e) {
        static std::string why;
        why = std::string("engine unavailable: ") + e.what();
        return state.SkipWithError(why.c_str());
    }
    std::vector<char> buffers(depth * block);
    std::vector<io_request> batch;
    std::vector<io_completion> done(depth);
    std::vector<unsigned> free_buffers(depth);
    for (unsigned i = 0; i < depth; ++i) free_buffers[i] = i;
    std::mt19937_64 rng(1);
    std::size_t reads = 0;
    double seconds = 0;
    for (auto _ : state) {
        drop_cache(f.fd);
        const auto t0 = std::chrono::steady_clock::now();
        if (!run_batch(*engine, f.fd, f.blocks, rng, buffers, batch, done, free_buffers)) {
            state.SkipWithError("a read failed or returned fewer than 4096 bytes");
            return;
        }
        const std::chrono::duration<double> t = std::chrono::steady_clock::now() - t0;
        state.SetIterationTime(t.count());
        seconds += t.count();
        reads += reads_per_batch;
    }
    report(state, reads, seconds, false);
}

}  // namespace

// The baseline first, so that the others can report their ratio to it.
BENCHMARK(pread_loop)->Name("cold_4k_random_read/pread_loop/qd:1")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(engine_reads, io_uring, io_engine_kind::io_uring)
    ->Name("cold_4k_random_read/io_uring")->ArgName("qd")->Arg(1)->Arg(16)
    ->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(engine_reads, thread_pool, io_engine_kind::thread_pool)
    ->Name("cold_4k_random_read/thread_pool")->ArgName("qd")->Arg(1)->Arg(16)
    ->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(engine_reads, synchronous, io_engine_kind::synchronous)
    ->Name("cold_4k_random_read/synchronous")->ArgName("qd")->Arg(1)->Arg(16)
    ->UseManualTime()->Unit(benchmark::kMillisecond);
