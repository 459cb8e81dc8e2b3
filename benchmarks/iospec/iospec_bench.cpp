// keel::iospec on a read loop whose offsets are known in advance (a leaf scan, a list
// of records): 512 random 4 KiB preads per batch, made by a serial program, raw or
// through a scope, against the bounds a plain io_uring reader reaches at queue depth 1
// and 16 in the same run.
//
// Cold: before each batch the file's pages are dropped (POSIX_FADV_DONTNEED) and
// readahead is off (POSIX_FADV_RANDOM), so every read goes to the device. Warm: the
// batch's blocks are read once first and stay cached. Buffered I/O. The file is
// KEEL_BENCH_IO_FILE (default /var/tmp/keel-io-bench.dat) of KEEL_BENCH_IO_MIB MiB
// (default 256), shared with bench_io_engine. Only the batch is timed (manual time).
// Counters: IOPS; vs_serial = IOPS / the serial pread loop's (same cache state);
// of_qd16 = IOPS / the io_uring queue-depth-16 bound's (cold); hits, depth at the end.
#include <benchmark/benchmark.h>

#include <keel/iospec.hpp>
#include <keel/platform/io_engine.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace is = keel::iospec;
namespace kp = keel::platform;

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
    const std::size_t size = std::stoul(env_or("KEEL_BENCH_IO_MIB", "256")) << 20;
    f.blocks = size / block;
    struct stat st {};
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
            if (::pwrite(w, chunk.data(), chunk.size(), static_cast<off_t>(off)) != static_cast<ssize_t>(chunk.size())) {
                ::close(w);
                return f.error = "cannot write " + path, f;
            }
        }
        ::fsync(w);
        ::close(w);
    }
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) return f.error = "cannot open " + path, f;
    ::posix_fadvise(f.fd, 0, 0, POSIX_FADV_RANDOM);
    return f;
}

const bench_file& file() {
    static const bench_file f = open_file();
    return f;
}

// The batch's offsets: new random blocks each batch.
void next_offsets(std::mt19937_64& rng, std::size_t blocks, std::vector<std::uint64_t>& out) {
    out.resize(reads_per_batch);
    for (auto& o : out) o = (rng() % blocks) * block;
}

void prepare(int fd, bool cold, const std::vector<std::uint64_t>& offsets, std::vector<char>& buf) {
    if (cold) {
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    } else {
        for (auto o : offsets) (void)!::pread(fd, buf.data(), block, static_cast<off_t>(o));
    }
}

double g_serial[2] = {0, 0};  // [cold]
double g_qd16 = 0;

void report(benchmark::State& state, std::size_t reads, double seconds, bool cold) {
    const double iops = seconds > 0 ? static_cast<double>(reads) / seconds : 0;
    state.counters["IOPS"] = iops;
    if (g_serial[cold ? 1 : 0] > 0) state.counters["vs_serial"] = iops / g_serial[cold ? 1 : 0];
    if (cold && g_qd16 > 0) state.counters["of_qd16"] = iops / g_qd16;
}

void serial_loop(benchmark::State& state, bool cold) {
    const auto& f = file();
    if (f.fd < 0) return state.SkipWithError(f.error.c_str());
    std::vector<char> buf(block);
    std::vector<std::uint64_t> offsets;
    std::mt19937_64 rng(1);
    std::size_t reads = 0;
    double seconds = 0;
    for (auto _ : state) {
        next_offsets(rng, f.blocks, offsets);
        prepare(f.fd, cold, offsets, buf);
        const auto t0 = std::chrono::steady_clock::now();
        for (auto o : offsets) {
            if (::pread(f.fd, buf.data(), block, static_cast<off_t>(o)) != static_cast<ssize_t>(block)) {
                state.SkipWithError("short read");
                return;
            }
        }
        const std::chrono::duration<double> t = std::chrono::steady_clock::now() - t0;
        state.SetIterationTime(t.count());
        seconds += t.count();
        reads += reads_per_batch;
    }
    g_serial[cold ? 1 : 0] = seconds > 0 ? static_cast<double>(reads) / seconds : 0;
    report(state, reads, seconds, cold);
}

// The bound: a plain io_uring reader keeping `depth` reads in flight.
void uring_bound(benchmark::State& state) {
    const auto& f = file();
    if (f.fd < 0) return state.SkipWithError(f.error.c_str());
    const auto depth = static_cast<unsigned>(state.range(0));
    std::optional<kp::any_io_engine> e;
    try {
        e.emplace(kp::make_io_engine(kp::io_engine_kind::io_uring, {depth, 0}));
    } catch (const std::exception&) {
        return state.SkipWithError("io_uring unavailable");
    }
    std::vector<char> buffers(depth * block);
    std::vector<kp::io_request> batch;
    std::vector<kp::io_completion> done(depth);
    std::vector<std::uint64_t> offsets;
    std::mt19937_64 rng(1);
    std::size_t reads = 0;
    double seconds = 0;
    for (auto _ : state) {
        next_offsets(rng, f.blocks, offsets);
        prepare(f.fd, true, offsets, buffers);
        std::vector<unsigned> free_buffers(depth);
        for (unsigned i = 0; i < depth; ++i) free_buffers[i] = i;
        const auto t0 = std::chrono::steady_clock::now();
        std::size_t issued = 0, completed = 0;
        while (completed < reads_per_batch) {
            batch.clear();
            while (!free_buffers.empty() && issued + batch.size() < reads_per_batch) {
                const unsigned b = free_buffers.back();
                free_buffers.pop_back();
                batch.push_back(kp::io_request::pread(f.fd, &buffers[b * block], block, offsets[issued + batch.size()], b));
            }
            if (!batch.empty()) {
                auto s = e->submit(batch);
                if (!s || *s != batch.size()) return state.SkipWithError("submit failed");
                issued += batch.size();
            }
            auto n = e->reap(done, 1);
            if (!n) return state.SkipWithError("reap failed");
            for (std::size_t i = 0; i < *n; ++i) {
                if (done[i].result != static_cast<std::int64_t>(block)) return state.SkipWithError("short read");
                free_buffers.push_back(static_cast<unsigned>(done[i].user_data));
            }
            completed += *n;
        }
        const std::chrono::duration<double> t = std::chrono::steady_clock::now() - t0;
        state.SetIterationTime(t.count());
        seconds += t.count();
        reads += reads_per_batch;
    }
    const double iops = seconds > 0 ? static_cast<double>(reads) / seconds : 0;
    if (depth == 16) g_qd16 = iops;
    report(state, reads, seconds, true);
}

// The serial program through a scope: depth < 0 = adaptive, else fixed.
void speculative_loop(benchmark::State& state, bool cold) {
    const auto& f = file();
    if (f.fd < 0) return state.SkipWithError(f.error.c_str());
    const auto depth = state.range(0);
    std::vector<std::uint64_t> offsets;
    is::graph_options options;
    if (depth >= 0) options.depth = static_cast<unsigned>(depth);
    is::graph_builder b("random_reads", options);
    auto more = b.loop("more", {.max_iterations = reads_per_batch});
    const int fd = f.fd;
    const auto* offs = &offsets;
    auto read = b.pread("read", [fd, offs, more](const is::context& c) -> std::optional<is::pread_args> {
        const auto i = c.iteration(more);
        if (i >= offs->size()) return std::nullopt;
        return is::pread_args{fd, block, (*offs)[i]};
    });
    b.decide(more, [more](const is::context& c) -> std::optional<bool> { return c.iteration(more) + 1 < reads_per_batch; });
    b.start(read);
    b.edge(read, more);
    b.repeat(more, read);
    b.edge(more, b.end());
    auto g = b.build();
    is::engine e;
    std::vector<char> buf(block);
    std::mt19937_64 rng(1);
    std::size_t reads = 0;
    double seconds = 0;
    for (auto _ : state) {
        next_offsets(rng, f.blocks, offsets);
        prepare(f.fd, cold, offsets, buf);
        const auto t0 = std::chrono::steady_clock::now();
        {
            is::scope s(g, e, {fd});
            for (auto o : offsets) {
                if (s.pread(fd, buf.data(), block, static_cast<off_t>(o)) != static_cast<ssize_t>(block)) {
                    state.SkipWithError("short read");
                    return;
                }
            }
        }
        const std::chrono::duration<double> t = std::chrono::steady_clock::now() - t0;
        state.SetIterationTime(t.count());
        seconds += t.count();
        reads += reads_per_batch;
    }
    report(state, reads, seconds, cold);
    const auto c = g.counters();
    state.counters["hits"] = static_cast<double>(c.hits) / static_cast<double>(state.iterations());
    state.counters["depth"] = static_cast<double>(c.depth);
    state.counters["mismatches"] = static_cast<double>(c.mismatches);
}

}  // namespace

// Baselines and bounds first, so that later cases can report their ratios.
BENCHMARK_CAPTURE(serial_loop, cold, true)->Name("iospec/cold_4k_random/serial")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(uring_bound)->Name("iospec/cold_4k_random/io_uring_bound")->ArgName("qd")->Arg(1)->Arg(16)
    ->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(speculative_loop, cold, true)->Name("iospec/cold_4k_random/speculative")->ArgName("depth")
    ->Arg(-1)->Arg(16)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(serial_loop, warm, false)->Name("iospec/warm_4k_random/serial")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(speculative_loop, warm, false)->Name("iospec/warm_4k_random/speculative")->ArgName("depth")
    ->Arg(-1)->Arg(16)->UseManualTime()->Unit(benchmark::kMillisecond);
