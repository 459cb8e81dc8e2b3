// Delegation (keel::trust) against locks, in one run. Names, so ratios.py can pair them:
//
//   counter/<impl>/real_time/threads:<n>        one hot counter, every op increments it
//   map/<impl>/real_time/threads:<n>            a shared unordered_map<int,int> of 1000
//                                                keys, every op increments a random key
//   ffwd/<impl>/g:<g>/real_time/threads:<n>     g independent padded counters, every op
//                                                increments a random one (after ffwd)
//   kv/<impl>/shards:<s>[/trustees:<t>]/real_time/threads:<n>
//                                                examples/kvstore under a zipf(0.99) load
//                                                over 100k keys, 10% sets; kv/trust
//                                                waits for each op (apply), kv/trust_then
//                                                pipelines them (apply_then)
//   single/<impl>/real_time                     one client, nothing else running
//
// impl: trust_apply (apply: one round trip per op), trust_then (apply_then: requests
// published in batches of 16; each thread drains in its last timed iteration, so
// every request it sent counts), std_mutex, ttas / mcs / futex (keel::sync, no stats,
// no checks), tbb_queuing (oneTBB's MCS-style lock), atomic (fetch_add: the floor).
// ffwd's trust impls name their trustee count (trust_apply_t2: two trustees, objects
// spread round-robin). Trustees are pinned only if KEEL_BENCH_TRUSTEE_CPUS lists CPUs.
//
// Every benchmark reports items_per_second (ops of all threads over wall time) and
// checks its work at the end: the counts it finds must equal the ops it made, else
// the run is reported as an error. Each run (every Threads(n) and each of Google
// Benchmark's trial runs) gets a fresh runtime and fresh objects from the Setup hook,
// which runs before the run's threads start and whose Teardown runs after they joined.

#include "kvstore.hpp"

#include <keel/sync.hpp>
#include <keel/trust.hpp>

#include <benchmark/benchmark.h>
#include <tbb/queuing_mutex.h>

#include <atomic>
#include <cstdlib>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

namespace kt = keel::trust;
namespace ks = keel::sync;

// 15: on a 16-core machine, 15 clients and the trustee have a core each.
const std::vector<int> thread_counts = {1, 2, 4, 8, 15, 16};

// KEEL_BENCH_TRUSTEE_CPUS=15,14 pins trustee i to the i-th CPU listed (so the
// scheduler cannot move the server while it runs); unset: trustees are not pinned.
std::vector<unsigned> trustee_cpus() {
    std::vector<unsigned> cpus;
    if (const char* list = std::getenv("KEEL_BENCH_TRUSTEE_CPUS")) {
        std::string text(list);
        std::size_t at = 0;
        while (at < text.size()) {
            const std::size_t comma = text.find(',', at);
            cpus.push_back(static_cast<unsigned>(std::stoul(text.substr(at, comma - at))));
            if (comma == std::string::npos) break;
            at = comma + 1;
        }
    }
    return cpus;
}

std::unique_ptr<kt::runtime> make_runtime(unsigned trustees) {
    kt::runtime_options options;
    options.trustees = trustees;
    options.cpus = trustee_cpus();
    return std::make_unique<kt::runtime>(options);
}

// ---- the locks ------------------------------------------------------------------

template <class Lock>
struct lockable {  // std::mutex and keel's locks
    Lock lock;
    struct context {};
    void acquire(context&) { lock.lock(); }
    void release(context&) { lock.unlock(); }
};

struct tbb_queuing {
    tbb::queuing_mutex lock;
    using context = tbb::queuing_mutex::scoped_lock;
    void acquire(context& c) { c.acquire(lock); }
    void release(context& c) { c.release(); }
};

using std_mutex = lockable<std::mutex>;
// No stats, no checks: what Release builds get by default, named so Debug measures the same.
using keel_ttas = lockable<ks::ttas_lock<std::atomic, ks::no_lock_stats, ks::no_lock_checks>>;
using keel_mcs = lockable<ks::mcs_lock<std::atomic, ks::no_lock_stats, ks::no_lock_checks>>;
using keel_futex =
    lockable<ks::futex_mutex<std::atomic, keel::platform::futex_wait, ks::no_lock_stats, ks::no_lock_checks>>;

template <class Lock, class F>
void locked(Lock& lock, F&& f) {
    typename Lock::context ctx;
    lock.acquire(ctx);
    f();
    lock.release(ctx);
}

// ---- shared pieces --------------------------------------------------------------

struct alignas(64) padded_counter {
    std::uint64_t value = 0;
};

struct alignas(64) padded_atomic {
    std::atomic<std::uint64_t> value{0};
};

/// Ops made by all threads of a run; the last thread to finish checks the result.
struct run_tally {
    std::atomic<std::uint64_t> ops{0};
    std::atomic<int> finished{0};

    void reset() {
        ops.store(0);
        finished.store(0);
    }
    /// Adds this thread's ops; true for the last thread of the run (it sees all ops).
    bool last(benchmark::State& state, std::uint64_t mine) {
        ops.fetch_add(mine);
        return finished.fetch_add(1) + 1 == state.threads();
    }
};

/// The per-thread generator: a different stream for each thread of each run.
kvstore::rng thread_rng(const benchmark::State& state) {
    return kvstore::rng(0x5eed + 7919 * static_cast<std::uint64_t>(state.thread_index()));
}

/// apply_then, then drain in the last timed iteration so that every request counts.
/// `done` counts the continuations run.
class then_loop {
public:
    explicit then_loop(const benchmark::State& state) : _left(state.max_iterations) {}
    void after_send() {
        if (--_left == 0) kt::drain();
    }
    std::uint64_t done = 0;

private:
    benchmark::IterationCount _left;
};

void report_items(benchmark::State& state) { state.SetItemsProcessed(state.iterations()); }

// ---- 1. one hot counter -----------------------------------------------------------

/// One object entrusted to a fresh one-trustee runtime per run, and the run's tally.
template <class T>
struct trusted_fixture {
    std::unique_ptr<kt::runtime> rt;
    kt::trust<T> trusted;
    run_tally tally;

    void setup() {
        rt = make_runtime(1);
        trusted = rt->entrust<T>();
        tally.reset();
    }
    void teardown() {
        trusted.reset();
        rt.reset();
    }
};

trusted_fixture<padded_counter> g_counter;

void counter_trust_setup(const benchmark::State&) { g_counter.setup(); }
void counter_trust_teardown(const benchmark::State&) { g_counter.teardown(); }

void check_trusted_counter(benchmark::State& state, const kt::trust<padded_counter>& c, std::uint64_t mine) {
    if (g_counter.tally.last(state, mine) &&
        c.apply([](padded_counter& x) { return x.value; }) != g_counter.tally.ops.load())
        state.SkipWithError("counter != ops: an increment was lost");
}

void counter_trust_apply(benchmark::State& state) {
    const auto& c = g_counter.trusted;
    for (auto _ : state) c.apply([](padded_counter& x) { ++x.value; });
    report_items(state);
    check_trusted_counter(state, c, static_cast<std::uint64_t>(state.iterations()));
}

void counter_trust_then(benchmark::State& state) {
    const auto& c = g_counter.trusted;
    then_loop loop(state);
    for (auto _ : state) {
        c.apply_then([](padded_counter& x) { ++x.value; }, [&loop] { ++loop.done; });
        loop.after_send();
    }
    report_items(state);
    if (loop.done != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("continuations lost");
    check_trusted_counter(state, c, static_cast<std::uint64_t>(state.iterations()));
}

template <class Lock>
struct locked_counter {
    Lock lock;
    alignas(64) std::uint64_t value = 0;
    run_tally tally;
};

template <class Lock>
locked_counter<Lock>& counter_for() {
    static locked_counter<Lock> c;
    return c;
}

template <class Lock>
void counter_lock_setup(const benchmark::State&) {
    counter_for<Lock>().value = 0;
    counter_for<Lock>().tally.reset();
}

template <class Lock>
void counter_lock(benchmark::State& state) {
    auto& c = counter_for<Lock>();
    for (auto _ : state) locked(c.lock, [&c] { ++c.value; });
    report_items(state);
    if (c.tally.last(state, static_cast<std::uint64_t>(state.iterations())) && c.value != c.tally.ops.load())
        state.SkipWithError("counter != ops: the lock let two threads in");
}

struct {
    padded_atomic value;
    run_tally tally;
} g_atomic_counter;

void counter_atomic_setup(const benchmark::State&) {
    g_atomic_counter.value.value.store(0);
    g_atomic_counter.tally.reset();
}

void counter_atomic(benchmark::State& state) {
    auto& v = g_atomic_counter.value.value;
    for (auto _ : state) v.fetch_add(1, std::memory_order_relaxed);
    report_items(state);
    if (g_atomic_counter.tally.last(state, static_cast<std::uint64_t>(state.iterations())) &&
        v.load() != g_atomic_counter.tally.ops.load())
        state.SkipWithError("counter != ops");
}

// ---- 1b. a small shared map ----------------------------------------------------------

constexpr int map_keys = 1000;

struct small_map {
    small_map() {
        for (int k = 0; k < map_keys; ++k) counts[k] = 0;
    }
    [[nodiscard]] std::uint64_t total() const {
        std::uint64_t sum = 0;
        for (const auto& [k, v] : counts) sum += static_cast<std::uint64_t>(v);
        return sum;
    }
    std::unordered_map<int, int> counts;
};

int random_key(kvstore::rng& g) { return static_cast<int>(g.next() % map_keys); }

trusted_fixture<small_map> g_map;

void map_trust_setup(const benchmark::State&) { g_map.setup(); }
void map_trust_teardown(const benchmark::State&) { g_map.teardown(); }

void check_trusted_map(benchmark::State& state, std::uint64_t mine) {
    if (g_map.tally.last(state, mine) &&
        g_map.trusted.apply([](small_map& m) { return m.total(); }) != g_map.tally.ops.load())
        state.SkipWithError("map total != ops: an increment was lost");
}

void map_trust_apply(benchmark::State& state) {
    const auto& m = g_map.trusted;
    auto g = thread_rng(state);
    for (auto _ : state) {
        const int k = random_key(g);
        m.apply([k](small_map& x) { ++x.counts[k]; });
    }
    report_items(state);
    check_trusted_map(state, static_cast<std::uint64_t>(state.iterations()));
}

void map_trust_then(benchmark::State& state) {
    const auto& m = g_map.trusted;
    auto g = thread_rng(state);
    then_loop loop(state);
    for (auto _ : state) {
        const int k = random_key(g);
        m.apply_then([k](small_map& x) { ++x.counts[k]; }, [&loop] { ++loop.done; });
        loop.after_send();
    }
    report_items(state);
    if (loop.done != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("continuations lost");
    check_trusted_map(state, static_cast<std::uint64_t>(state.iterations()));
}

template <class Lock>
struct locked_map {
    Lock lock;
    std::unique_ptr<small_map> map;
    run_tally tally;
};

template <class Lock>
locked_map<Lock>& map_for() {
    static locked_map<Lock> m;
    return m;
}

template <class Lock>
void map_lock_setup(const benchmark::State&) {
    map_for<Lock>().map = std::make_unique<small_map>();
    map_for<Lock>().tally.reset();
}

template <class Lock>
void map_lock_teardown(const benchmark::State&) {
    map_for<Lock>().map.reset();
}

template <class Lock>
void map_lock(benchmark::State& state) {
    auto& m = map_for<Lock>();
    auto g = thread_rng(state);
    for (auto _ : state) {
        const int k = random_key(g);
        locked(m.lock, [&m, k] { ++m.map->counts[k]; });
    }
    report_items(state);
    if (m.tally.last(state, static_cast<std::uint64_t>(state.iterations())) && m.map->total() != m.tally.ops.load())
        state.SkipWithError("map total != ops: the lock let two threads in");
}

// ---- 2. ffwd: g independent counters --------------------------------------------------
// g is a power of two, so a random index is a mask.

struct alignas(64) mutex_counter {
    std::mutex lock;
    std::uint64_t value = 0;
};

struct {
    std::unique_ptr<kt::runtime> rt;
    std::vector<kt::trust<padded_counter>> trusted;
    std::unique_ptr<mutex_counter[]> locked;
    std::unique_ptr<padded_atomic[]> atomics;
    run_tally tally;
} g_ffwd;

template <unsigned Trustees>
void ffwd_trust_setup(const benchmark::State& state) {
    g_ffwd.rt = make_runtime(Trustees);
    for (std::int64_t i = 0; i < state.range(0); ++i) g_ffwd.trusted.push_back(g_ffwd.rt->entrust<padded_counter>());
    g_ffwd.tally.reset();
}

void ffwd_lock_setup(const benchmark::State& state) {
    g_ffwd.locked = std::make_unique<mutex_counter[]>(static_cast<std::size_t>(state.range(0)));
    g_ffwd.tally.reset();
}

void ffwd_atomic_setup(const benchmark::State& state) {
    g_ffwd.atomics = std::make_unique<padded_atomic[]>(static_cast<std::size_t>(state.range(0)));
    g_ffwd.tally.reset();
}

void ffwd_teardown(const benchmark::State&) {
    g_ffwd.trusted.clear();
    g_ffwd.rt.reset();
    g_ffwd.locked.reset();
    g_ffwd.atomics.reset();
}

void check_ffwd(benchmark::State& state, auto&& total_of) {
    if (!g_ffwd.tally.last(state, static_cast<std::uint64_t>(state.iterations()))) return;
    std::uint64_t total = 0;
    for (std::int64_t i = 0; i < state.range(0); ++i) total += total_of(static_cast<std::size_t>(i));
    if (total != g_ffwd.tally.ops.load()) state.SkipWithError("sum of counters != ops: an increment was lost");
}

void ffwd_trust_apply(benchmark::State& state) {
    const auto& objs = g_ffwd.trusted;
    const std::uint64_t mask = static_cast<std::uint64_t>(state.range(0)) - 1;
    auto g = thread_rng(state);
    for (auto _ : state) objs[g.next() & mask].apply([](padded_counter& x) { ++x.value; });
    report_items(state);
    check_ffwd(state, [&](std::size_t i) { return objs[i].apply([](padded_counter& x) { return x.value; }); });
}

void ffwd_trust_then(benchmark::State& state) {
    const auto& objs = g_ffwd.trusted;
    const std::uint64_t mask = static_cast<std::uint64_t>(state.range(0)) - 1;
    auto g = thread_rng(state);
    then_loop loop(state);
    for (auto _ : state) {
        objs[g.next() & mask].apply_then([](padded_counter& x) { ++x.value; }, [&loop] { ++loop.done; });
        loop.after_send();
    }
    report_items(state);
    if (loop.done != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("continuations lost");
    check_ffwd(state, [&](std::size_t i) { return objs[i].apply([](padded_counter& x) { return x.value; }); });
}

void ffwd_mutex(benchmark::State& state) {
    mutex_counter* counters = g_ffwd.locked.get();
    const std::uint64_t mask = static_cast<std::uint64_t>(state.range(0)) - 1;
    auto g = thread_rng(state);
    for (auto _ : state) {
        auto& c = counters[g.next() & mask];
        std::lock_guard guard(c.lock);
        ++c.value;
    }
    report_items(state);
    check_ffwd(state, [&](std::size_t i) {
        std::lock_guard guard(counters[i].lock);
        return counters[i].value;
    });
}

void ffwd_atomic(benchmark::State& state) {
    padded_atomic* counters = g_ffwd.atomics.get();
    const std::uint64_t mask = static_cast<std::uint64_t>(state.range(0)) - 1;
    auto g = thread_rng(state);
    for (auto _ : state) counters[g.next() & mask].value.fetch_add(1, std::memory_order_relaxed);
    report_items(state);
    check_ffwd(state, [&](std::size_t i) { return counters[i].value.load(); });
}

// ---- 3. hot-key KV store (examples/kvstore) -------------------------------------------

constexpr std::size_t kv_keys = 100'000;
constexpr double kv_zipf = 0.99;
constexpr double kv_set_ratio = 0.1;

const kvstore::keyspace& kv_keyspace() {
    static const kvstore::keyspace ks(kv_keys, kv_zipf);
    return ks;
}

struct {
    std::unique_ptr<kt::runtime> rt;
    std::unique_ptr<kvstore::trust_store> trusted;
    std::unique_ptr<kvstore::mutex_store> locked;
} g_kv;

// range(0): shards; range(1): trustees.
void kv_trust_setup(const benchmark::State& state) {
    g_kv.rt = make_runtime(static_cast<unsigned>(state.range(1)));
    g_kv.trusted = std::make_unique<kvstore::trust_store>(*g_kv.rt, static_cast<std::size_t>(state.range(0)));
    kvstore::prefill(*g_kv.trusted, kv_keyspace());
}

void kv_mutex_setup(const benchmark::State& state) {
    g_kv.locked = std::make_unique<kvstore::mutex_store>(static_cast<std::size_t>(state.range(0)));
    kvstore::prefill(*g_kv.locked, kv_keyspace());
}

void kv_teardown(const benchmark::State&) {
    g_kv.trusted.reset();
    g_kv.rt.reset();
    g_kv.locked.reset();
}

template <class Store>
void kv_load(benchmark::State& state, const Store& store) {
    kvstore::client<Store> c(store, kv_keyspace(), kv_set_ratio, static_cast<unsigned>(state.thread_index()) + 1,
                             0x5eed + static_cast<std::uint64_t>(state.thread_index()));
    for (auto _ : state) c.step();
    report_items(state);
    if (c.counts.wrong != 0 || c.counts.hits != c.counts.gets)
        state.SkipWithError("a get missed or returned another key's value");
}

void kv_trust(benchmark::State& state) { kv_load(state, *g_kv.trusted); }

// Pipelined: apply_then for every get and set; the last timed iteration drains, so every
// request sent counts, and every get's continuation has checked its value.
void kv_trust_then(benchmark::State& state) {
    kvstore::client<kvstore::trust_store, kvstore::pipelined> c(*g_kv.trusted, kv_keyspace(), kv_set_ratio,
                                static_cast<unsigned>(state.thread_index()) + 1,
                                0x5eed + static_cast<std::uint64_t>(state.thread_index()));
    then_loop loop(state);
    for (auto _ : state) {
        c.step();
        loop.after_send();
    }
    report_items(state);
    if (c.counts.wrong != 0 || c.counts.hits != c.counts.gets)
        state.SkipWithError("a get missed or returned another key's value");
}
void kv_mutex(benchmark::State& state) { kv_load(state, *g_kv.locked); }

// ---- 4. one client, no contention ---------------------------------------------------
// single/trust_apply's time per iteration is apply's round trip.

void single_trust_apply(benchmark::State& state) {
    const auto& c = g_counter.trusted;
    std::uint64_t last = 0;
    for (auto _ : state) last = c.apply([](padded_counter& x) { return ++x.value; });
    report_items(state);
    if (last != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("lost increments");
}

void single_trust_then(benchmark::State& state) {
    const auto& c = g_counter.trusted;
    then_loop loop(state);
    for (auto _ : state) {
        c.apply_then([](padded_counter& x) { ++x.value; }, [&loop] { ++loop.done; });
        loop.after_send();
    }
    report_items(state);
    if (loop.done != static_cast<std::uint64_t>(state.iterations()) ||
        c.apply([](padded_counter& x) { return x.value; }) != loop.done)
        state.SkipWithError("lost increments");
}

void single_std_mutex(benchmark::State& state) {
    std::mutex lock;  // private: uncontended
    std::uint64_t value = 0;
    for (auto _ : state) {
        lock.lock();
        ++value;
        benchmark::ClobberMemory();
        lock.unlock();
    }
    report_items(state);
    if (value != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("lost increments");
}

void single_atomic(benchmark::State& state) {
    std::atomic<std::uint64_t> value{0};
    for (auto _ : state) value.fetch_add(1, std::memory_order_relaxed);
    report_items(state);
    if (value.load() != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("lost increments");
}

// ---- registration ------------------------------------------------------------------

using setup_fn = void (*)(const benchmark::State&);

benchmark::internal::Benchmark* threaded(benchmark::internal::Benchmark* b) {
    b->UseRealTime();
    for (int t : thread_counts) b->Threads(t);
    return b;
}

benchmark::internal::Benchmark* add(const std::string& name, void (*fn)(benchmark::State&), setup_fn setup,
                                    setup_fn teardown) {
    auto* b = benchmark::RegisterBenchmark(name.c_str(), fn);
    if (setup != nullptr) b->Setup(setup);
    if (teardown != nullptr) b->Teardown(teardown);
    return b;
}

template <class Lock>
void add_lock(const std::string& impl) {
    threaded(add("counter/" + impl, counter_lock<Lock>, counter_lock_setup<Lock>, nullptr));
}

template <class Lock>
void add_map_lock(const std::string& impl) {
    threaded(add("map/" + impl, map_lock<Lock>, map_lock_setup<Lock>, map_lock_teardown<Lock>));
}

const bool registered = [] {
    threaded(add("counter/trust_apply", counter_trust_apply, counter_trust_setup, counter_trust_teardown));
    threaded(add("counter/trust_then", counter_trust_then, counter_trust_setup, counter_trust_teardown));
    add_lock<std_mutex>("std_mutex");
    add_lock<keel_ttas>("ttas");
    add_lock<keel_mcs>("mcs");
    add_lock<keel_futex>("futex");
    add_lock<tbb_queuing>("tbb_queuing");
    threaded(add("counter/atomic", counter_atomic, counter_atomic_setup, nullptr));

    threaded(add("map/trust_apply", map_trust_apply, map_trust_setup, map_trust_teardown));
    threaded(add("map/trust_then", map_trust_then, map_trust_setup, map_trust_teardown));
    add_map_lock<std_mutex>("std_mutex");
    add_map_lock<keel_ttas>("ttas");
    add_map_lock<keel_mcs>("mcs");
    add_map_lock<keel_futex>("futex");

    const auto ffwd = [](const std::string& impl, void (*fn)(benchmark::State&), setup_fn setup) {
        auto* b = add("ffwd/" + impl, fn, setup, ffwd_teardown)->ArgName("g");
        for (std::int64_t g : {1, 4, 16, 64, 256, 1024}) b->Arg(g);
        threaded(b);
    };
    ffwd("trust_apply_t1", ffwd_trust_apply, ffwd_trust_setup<1>);
    ffwd("trust_apply_t2", ffwd_trust_apply, ffwd_trust_setup<2>);
    ffwd("trust_then_t2", ffwd_trust_then, ffwd_trust_setup<2>);
    ffwd("mutex", ffwd_mutex, ffwd_lock_setup);
    ffwd("atomic", ffwd_atomic, ffwd_atomic_setup);

    threaded(add("kv/trust", kv_trust, kv_trust_setup, kv_teardown)
                 ->ArgNames({"shards", "trustees"})
                 ->Args({8, 1})
                 ->Args({8, 2}));
    threaded(add("kv/trust_then", kv_trust_then, kv_trust_setup, kv_teardown)
                 ->ArgNames({"shards", "trustees"})
                 ->Args({8, 1})
                 ->Args({8, 2}));
    threaded(add("kv/mutex", kv_mutex, kv_mutex_setup, kv_teardown)->ArgName("shards")->Arg(8));

    add("single/trust_apply", single_trust_apply, counter_trust_setup, counter_trust_teardown)->UseRealTime();
    add("single/trust_then", single_trust_then, counter_trust_setup, counter_trust_teardown)->UseRealTime();
    add("single/std_mutex", single_std_mutex, nullptr, nullptr)->UseRealTime();
    add("single/atomic", single_atomic, nullptr, nullptr)->UseRealTime();
    return true;
}();

}  // namespace
