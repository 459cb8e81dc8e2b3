// Monitors: bytes per object and the cost of synchronized(), side table (0 bytes in
// the object) and monitor_word (8 bytes) against a std::mutex embedded in the object.
//
// Names: monitor/uncontended/<impl>, monitor/uncontended_many/<impl> (round-robin over
// 4096 objects, so the per-thread cache misses), monitor/one_object/<impl>/threads:n,
// monitor/many_objects/<impl>/threads:n (64 objects, random picks). impl: side_table,
// monitor_word, std_mutex. Counters: bytes_per_object (what the object carries for its
// monitor); x_std_mutex (uncontended only: ns per op / ns of an embedded std::mutex
// lock+unlock timed in the same run; both in thread CPU time, as the build machines
// are shared). The process is made multi-threaded first (see become_multithreaded).
// Each run checks its work: the counter
// incremented under the monitor must match, and a busy flag set inside the critical
// section must never be seen set by another thread.

#include <keel/sync/monitor.hpp>
#include <keel/sync/monitor_word.hpp>
#include <keel/sync/synchronized.hpp>

#include <benchmark/benchmark.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

namespace ks = keel::sync;

struct side_object {
    static constexpr std::size_t monitor_bytes = 0;
    std::uint64_t value = 0;
    bool busy = false;
    template <class F>
    void run(F&& f) { ks::synchronized(*this, f); }
};

struct word_object {
    static constexpr std::size_t monitor_bytes = sizeof(ks::monitor_word);
    std::uint64_t value = 0;
    bool busy = false;
    ks::monitor_word monitor;
    template <class F>
    void run(F&& f) { ks::synchronized(*this, f); }
};

struct mutex_object {
    static constexpr std::size_t monitor_bytes = sizeof(std::mutex);
    std::uint64_t value = 0;
    bool busy = false;
    std::mutex mutex;
    template <class F>
    void run(F&& f) {
        std::lock_guard<std::mutex> g(mutex);
        f();
    }
};

// This thread's CPU time in ns: the machine may be shared, so ratios use CPU time.
double cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// glibc's mutex skips its atomic instructions while a process has never started a
// thread; a program that needs monitors has threads, so make sure this one has.
void become_multithreaded() {
    static const bool done = [] {
        std::thread([] {}).join();
        return true;
    }();
    (void)done;
}

// CPU ns per embedded std::mutex lock+unlock, timed now (same run, same machine state).
double mutex_ns() {
    mutex_object o;
    constexpr int n = 2'000'000;
    const double start = cpu_ns();
    for (int i = 0; i < n; ++i) {
        o.run([&] { ++o.value; });
        benchmark::ClobberMemory();
    }
    const double took = cpu_ns() - start;
    benchmark::DoNotOptimize(o.value);
    return took / n;
}

template <class Object>
void uncontended(benchmark::State& state) {
    become_multithreaded();
    Object o;
    const double start = cpu_ns();
    for (auto _ : state) {
        o.run([&] { ++o.value; });
        benchmark::ClobberMemory();
    }
    const double took = cpu_ns() - start;
    if (o.value != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("lost increments");
    const double per_op = took / static_cast<double>(state.iterations());
    state.counters["bytes_per_object"] = static_cast<double>(Object::monitor_bytes);
    state.counters["x_std_mutex"] = per_op / mutex_ns();
}

template <class Object>
void uncontended_many(benchmark::State& state) {
    become_multithreaded();
    constexpr std::size_t n = 4096;
    std::vector<std::unique_ptr<Object>> objs;
    for (std::size_t i = 0; i < n; ++i) objs.push_back(std::make_unique<Object>());
    std::size_t i = 0;
    for (auto _ : state) {
        Object& o = *objs[i];
        i = (i + 1) % n;
        o.run([&] { ++o.value; });
        benchmark::ClobberMemory();
    }
    std::uint64_t total = 0;
    for (auto& o : objs) total += o->value;
    if (total != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("lost increments");
    state.counters["bytes_per_object"] = static_cast<double>(Object::monitor_bytes);
}

template <class Object>
struct shared_objects {
    std::vector<std::unique_ptr<Object>> objs;
    std::atomic<std::uint64_t> violations{0};
};

template <class Object, std::size_t Count>
void contended(benchmark::State& state) {
    static shared_objects<Object> shared;
    if (state.thread_index() == 0) {
        shared.objs.clear();
        for (std::size_t i = 0; i < Count; ++i) shared.objs.push_back(std::make_unique<Object>());
        shared.violations = 0;
    }
    // Google Benchmark starts the timed loop of all threads together, after setup.
    std::uint64_t x = static_cast<std::uint64_t>(state.thread_index()) * 7919 + 1;
    std::uint64_t mine = 0;
    for (auto _ : state) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        Object& o = *shared.objs[Count == 1 ? 0 : (x >> 33) % Count];
        o.run([&] {
            if (o.busy) shared.violations.fetch_add(1, std::memory_order_relaxed);
            o.busy = true;
            ++o.value;
            o.busy = false;
        });
        ++mine;
    }
    if (shared.violations.load() != 0) state.SkipWithError("mutual exclusion violated");
    if (mine != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("lost iterations");
    state.counters["bytes_per_object"] =
        benchmark::Counter(static_cast<double>(Object::monitor_bytes), benchmark::Counter::kAvgThreads);
}

#define KEEL_MONITOR_BENCH(impl, type)                                                          \
    BENCHMARK_TEMPLATE(uncontended, type)->Name("monitor/uncontended/" impl);                   \
    BENCHMARK_TEMPLATE(uncontended_many, type)->Name("monitor/uncontended_many/" impl);         \
    BENCHMARK_TEMPLATE(contended, type, 1)                                                      \
        ->Name("monitor/one_object/" impl)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();  \
    BENCHMARK_TEMPLATE(contended, type, 64)                                                     \
        ->Name("monitor/many_objects/" impl)->Threads(2)->Threads(4)->Threads(8)->UseRealTime()

KEEL_MONITOR_BENCH("side_table", side_object);
KEEL_MONITOR_BENCH("monitor_word", word_object);
KEEL_MONITOR_BENCH("std_mutex", mutex_object);

}  // namespace
