// Spin-lock throughput and latency: keel's locks and their baselines in one run.
//
// Names (so a script can pair keel with its Concurrency Kit equivalent):
//   throughput/<family>/<impl>/cs_ns:<c>/out_ns:<o>/real_time/threads:<n>
//   latency/<family>/<impl>
// family: tas, ttas, ticket, mcs, clh, mutex; impl: keel (Lockable form), keel_node
// (mcs explicit-node form), ck, tbb, pthread, std. The keel/ck pairs are
// ttas (ck = ck_spinlock_fas_lock_eb, fetch-and-store with exponential backoff),
// ticket, mcs and clh. pair_ratios.py prints keel / ck for each pair.
// Counter acq_per_s: acquisitions per second, all threads together (wall time).
// Each run checks its work: the counter incremented inside the critical section
// must equal the acquisitions made, else the run is reported as an error.

#include <keel/platform/cpu.hpp>
#include <keel/sync.hpp>

#include <benchmark/benchmark.h>

#include "busy_work.hpp"
#include <ck_pr.h>
#include <pthread.h>
#include <tbb/queuing_mutex.h>
#include <tbb/spin_mutex.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

// CK's MCS and CLH headers are C: they assign ck_pr_fas_ptr's void* result to a node
// pointer, which C++ rejects. This typed overload is an exact match, so those headers
// pick it and compile as C++ unchanged.
template <class T>
inline T* ck_pr_fas_ptr(T** target, T* value) {
    return static_cast<T*>(ck_pr_fas_ptr(static_cast<void*>(target), static_cast<void*>(value)));
}
#include <spinlock/clh.h>
#include <spinlock/fas.h>
#include <spinlock/mcs.h>
#include <spinlock/ticket.h>

namespace {

namespace ks = keel::sync;

using keel::bench::burn;
using keel::bench::rounds_for;

// ---- one interface over every lock ------------------------------------------
// Each adaptor has a per-acquisition context (a queue node where the lock needs one).

template <class Lock>
struct lockable_adaptor {  // keel locks, std::mutex, tbb::spin_mutex
    Lock lock;
    struct context {};
    void acquire(context&) { lock.lock(); }
    void release(context&) { lock.unlock(); }
};

struct keel_mcs_node_adaptor {
    ks::mcs_lock<> lock;
    using context = ks::mcs_lock<>::node;
    void acquire(context& n) { lock.lock(n); }
    void release(context& n) { lock.unlock(n); }
};

struct pthread_spin_adaptor {
    pthread_spinlock_t lock;
    pthread_spin_adaptor() { pthread_spin_init(&lock, PTHREAD_PROCESS_PRIVATE); }
    ~pthread_spin_adaptor() { pthread_spin_destroy(&lock); }
    struct context {};
    void acquire(context&) { pthread_spin_lock(&lock); }
    void release(context&) { pthread_spin_unlock(&lock); }
};

struct tbb_queuing_adaptor {
    tbb::queuing_mutex lock;
    using context = tbb::queuing_mutex::scoped_lock;
    void acquire(context& c) { c.acquire(lock); }
    void release(context& c) { c.release(); }
};

struct ck_fas_eb_adaptor {
    ck_spinlock_fas_t lock = CK_SPINLOCK_FAS_INITIALIZER;
    struct context {};
    void acquire(context&) { ck_spinlock_fas_lock_eb(&lock); }
    void release(context&) { ck_spinlock_fas_unlock(&lock); }
};

struct ck_ticket_adaptor {
    ck_spinlock_ticket_t lock = CK_SPINLOCK_TICKET_INITIALIZER;
    struct context {};
    void acquire(context&) { ck_spinlock_ticket_lock(&lock); }
    void release(context&) { ck_spinlock_ticket_unlock(&lock); }
};

struct ck_mcs_adaptor {
    ck_spinlock_mcs_t lock = CK_SPINLOCK_MCS_INITIALIZER;
    using context = ck_spinlock_mcs_context_t;
    void acquire(context& n) { ck_spinlock_mcs_lock(&lock, &n); }
    void release(context& n) { ck_spinlock_mcs_unlock(&lock, &n); }
};

struct ck_clh_adaptor {
    ck_spinlock_clh_t* lock = nullptr;
    // CK's CLH nodes migrate like keel's: a thread leaves its node in the queue and
    // takes its predecessor's, so the lock's initial node may end up owned by a
    // thread after the lock is gone. Hence heap nodes, never freed (a few per run).
    ck_clh_adaptor() { ck_spinlock_clh_init(&lock, new ck_spinlock_clh_t{}); }
    struct context {
        context() {
            static thread_local ck_spinlock_clh_t* mine = new ck_spinlock_clh_t{};
            node = &mine;
        }
        ck_spinlock_clh_t** node;
    };
    void acquire(context& c) { ck_spinlock_clh_lock(&lock, *c.node); }
    void release(context& c) { ck_spinlock_clh_unlock(c.node); }
};

// ---- the benchmark bodies -----------------------------------------------------

template <class Adaptor>
struct shared_state {
    Adaptor lock;
    alignas(64) std::uint64_t counter = 0;  // incremented inside the critical section
    alignas(64) std::atomic<std::uint64_t> acquisitions{0};
    std::atomic<int> finished{0};
};

template <class Adaptor>
shared_state<Adaptor>& state_for() {
    static shared_state<Adaptor> s;  // one per lock kind; reused run after run
    return s;
}

template <class Adaptor>
void throughput(benchmark::State& state) {
    auto& shared = state_for<Adaptor>();
    const std::uint64_t cs = rounds_for(state.range(0));
    const std::uint64_t out = rounds_for(state.range(1));
    if (state.thread_index() == 0) {
        shared.counter = 0;
        shared.acquisitions.store(0);
        shared.finished.store(0);
    }
    std::uint64_t x = static_cast<std::uint64_t>(state.thread_index()) + 1;
    std::uint64_t mine = 0;
    for (auto _ : state) {
        typename Adaptor::context ctx;
        shared.lock.acquire(ctx);
        ++shared.counter;
        x = burn(cs, x);
        shared.lock.release(ctx);
        x = burn(out, x);
        ++mine;
    }
    benchmark::DoNotOptimize(x);
    state.counters["acq_per_s"] = benchmark::Counter(static_cast<double>(mine), benchmark::Counter::kIsRate);
    // The loop's end is a barrier, so the last thread to get here sees all the work.
    shared.acquisitions.fetch_add(mine);
    if (shared.finished.fetch_add(1) + 1 == state.threads()) {
        typename Adaptor::context ctx;
        shared.lock.acquire(ctx);
        const bool ok = shared.counter == shared.acquisitions.load();
        shared.lock.release(ctx);
        if (!ok) state.SkipWithError("counter != acquisitions: the lock let two threads in");
    }
}

template <class Adaptor>
void latency(benchmark::State& state) {
    Adaptor lock;  // private: uncontended
    std::uint64_t counter = 0;
    for (auto _ : state) {
        typename Adaptor::context ctx;
        lock.acquire(ctx);
        ++counter;
        benchmark::ClobberMemory();
        lock.release(ctx);
    }
    if (counter != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("lost acquisitions");
}

template <class Adaptor>
void add(const std::string& family, const std::string& impl) {
    for (std::int64_t cs : {0, 100}) {
        auto* b = benchmark::RegisterBenchmark(("throughput/" + family + "/" + impl).c_str(),
                                               throughput<Adaptor>);
        b->ArgNames({"cs_ns", "out_ns"})->Args({cs, 200})->UseRealTime();
        for (int t : {1, 2, 4, 8, 16}) b->Threads(t);
    }
    benchmark::RegisterBenchmark(("latency/" + family + "/" + impl).c_str(), latency<Adaptor>);
}

// keel in Release: no stats, no checks (the defaults with NDEBUG); named explicitly
// so a Debug build of the benchmark measures the same thing.
template <template <template <class> class, class, class> class L>
using keel_lock = lockable_adaptor<L<std::atomic, ks::no_lock_stats, ks::no_lock_checks>>;

template <ks::backoff_policy Backoff>
using keel_ttas =
    lockable_adaptor<ks::ttas_lock<std::atomic, ks::no_lock_stats, ks::no_lock_checks, Backoff>>;

const bool registered = [] {
    add<keel_lock<ks::tas_lock>>("tas", "keel");
    add<pthread_spin_adaptor>("tas", "pthread");
    add<lockable_adaptor<tbb::spin_mutex>>("tas", "tbb");
    add<keel_lock<ks::ttas_lock>>("ttas", "keel");
    // Other backoff policies, so one run shows how the default compares.
    add<keel_ttas<ks::backoff_policy{2, 8192, 1024}>>("ttas", "keel_b2");
    add<keel_ttas<ks::backoff_policy{2, 8192, 1u << 30}>>("ttas", "keel_noyield");
    add<ck_fas_eb_adaptor>("ttas", "ck");
    add<keel_lock<ks::ticket_lock>>("ticket", "keel");
    add<ck_ticket_adaptor>("ticket", "ck");
    add<keel_lock<ks::mcs_lock>>("mcs", "keel");
    add<keel_mcs_node_adaptor>("mcs", "keel_node");
    add<ck_mcs_adaptor>("mcs", "ck");
    add<tbb_queuing_adaptor>("mcs", "tbb");
    add<keel_lock<ks::clh_lock>>("clh", "keel");
    add<ck_clh_adaptor>("clh", "ck");
    add<lockable_adaptor<std::mutex>>("mutex", "std");
    return true;
}();

}  // namespace
