// keel-tour, sync/trust: one contended counter and examples/kvstore's hot-key store,
// each under std::mutex, keel's locks and keel::trust delegation, with the same client
// threads in the same run. Every run checks its work: the counter equals the operations
// made, every continuation ran, every get returned a value of its key.
#include "../kvstore/kvstore.hpp"
#include "console.hpp"
#include "section_load_support.hpp"
#include "tour.hpp"

#include <keel/sync.hpp>
#include <keel/trust.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace keel_tour {
namespace {

namespace kt = keel::trust;
namespace ks = keel::sync;

using seconds = std::chrono::duration<double>;

/// What one timed run did, all threads together.
struct throughput {
    std::uint64_t ops = 0;
    double seconds = 0;
    [[nodiscard]] double mops() const {
        return seconds > 0 ? static_cast<double>(ops) / seconds / 1e6 : 0;
    }
};

/// Calls op() in rounds of 64 until `stop`; returns how many calls it made.
template <class Op>
std::uint64_t repeat_until(const std::atomic<bool>& stop, Op&& op) {
    std::uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 64; ++i)
            op();
        n += 64;
    }
    return n;
}

/// Starts `threads` threads running body(thread index, stop) -> operations, lets them
/// run together for `length`, stops them and joins. The time runs from the common start
/// to the last join, so work a body finishes after `stop` (draining) is counted.
template <class Body>
throughput timed(unsigned threads, seconds length, Body body) {
    std::atomic<bool> stop{false};
    std::atomic<unsigned> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::uint64_t> ops(threads, 0);
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            ready.fetch_add(1);
            while (!go.load())
                std::this_thread::yield();
            ops[t] = body(t, stop);
        });
    }
    while (ready.load() < threads)
        std::this_thread::yield();
    const auto start = std::chrono::steady_clock::now();
    go.store(true);
    std::this_thread::sleep_for(length);
    stop.store(true);
    for (auto& th : pool)
        th.join();
    throughput r;
    r.seconds = seconds(std::chrono::steady_clock::now() - start).count();
    for (auto n : ops)
        r.ops += n;
    return r;
}

template <class Lock>
throughput counter_under_lock(unsigned threads, seconds length, const char* name) {
    Lock lock;
    std::uint64_t counter = 0;
    const throughput r = timed(threads, length, [&](unsigned, const std::atomic<bool>& stop) {
        return repeat_until(stop, [&] {
            std::lock_guard guard(lock);
            ++counter;
        });
    });
    if (counter != r.ops) {
        throw std::runtime_error(std::string("counter under ") + name + ": " +
                                 std::to_string(counter) + " after " + std::to_string(r.ops) +
                                 " increments");
    }
    return r;
}

/// The counter entrusted to one trustee; `pipelined`: apply_then (the result comes back
/// in a continuation) instead of apply (a round trip per increment).
throughput counter_under_trust(unsigned threads, seconds length, bool pipelined,
                               std::string& trustee_line) {
    kt::runtime rt({.trustees = 1});
    const kt::trust<std::uint64_t> counter = rt.entrust<std::uint64_t>(0);
    std::atomic<std::uint64_t> continued{0};
    const throughput r = timed(threads, length, [&](unsigned, const std::atomic<bool>& stop) {
        if (!pipelined)
            return repeat_until(stop, [&] { counter.apply([](std::uint64_t& c) { return ++c; }); });
        std::uint64_t done = 0;
        const std::uint64_t n = repeat_until(stop, [&] {
            counter.apply_then([](std::uint64_t& c) { return ++c; },
                               [&done](std::uint64_t) { ++done; });
        });
        kt::drain();  // publishes the rest and runs every continuation
        continued.fetch_add(done);
        return n;
    });
    const std::uint64_t total = counter.apply([](const std::uint64_t& c) { return c; });
    if (total != r.ops || (pipelined && continued.load() != r.ops)) {
        throw std::runtime_error("trust counter: " + std::to_string(total) + " after " +
                                 std::to_string(r.ops) + " increments, " +
                                 std::to_string(continued.load()) + " continuations");
    }
    for (const auto& s : rt.stats()) {
        trustee_line = std::string(pipelined ? "apply_then" : "apply") + ": the trustee served " +
                       std::to_string(s.served) + " requests in " + std::to_string(s.batches) +
                       " batches (" + format_number(s.mean_batch()) + " per batch)";
    }
    return r;
}

struct kv_settings {
    std::size_t keys = 100'000;
    double zipf = 0.99;
    double set_ratio = 0.1;
    std::size_t shards = 8;
};

/// `threads` clients (kvstore::client, in `Mode`) on a prefilled store for `length`.
/// Checks that every get found a value of its own key and that no key went missing.
template <class Mode, class Store>
throughput kv_load(const Store& store, const kvstore::keyspace& keys, unsigned threads,
                   seconds length, const kv_settings& kv) {
    kvstore::prefill(store, keys);
    std::vector<kvstore::client_counts> counts(threads);
    const throughput r = timed(threads, length, [&](unsigned t, const std::atomic<bool>& stop) {
        kvstore::client<Store, Mode> c(store, keys, kv.set_ratio, t + 1, 42 + t);
        const std::uint64_t n = repeat_until(stop, [&] { c.step(); });
        if constexpr (std::is_same_v<Mode, kvstore::pipelined>) kt::drain();
        counts[t] = c.counts;
        return n;
    });
    kvstore::client_counts all;
    for (const auto& c : counts)
        all += c;
    if (all.wrong != 0 || all.hits != all.gets || store.size() != keys.keys().size()) {
        throw std::runtime_error(
            std::string("kvstore (") + Store::name + "): " + std::to_string(all.wrong) +
            " gets returned another key's value, " + std::to_string(all.gets - all.hits) +
            " missed; " + std::to_string(store.size()) + " keys of " +
            std::to_string(keys.keys().size()));
    }
    return r;
}

/// kvstore::verify on a fresh store: concurrent sets and gets, then no set may be lost.
template <class Store>
void kv_check(const Store& store, const kvstore::keyspace& keys, unsigned threads) {
    kvstore::prefill(store, keys);
    if (auto problem = kvstore::verify(store, keys, threads, 2'000, 0.5); !problem.empty()) {
        throw std::runtime_error(std::string("kvstore (") + Store::name +
                                 ") check failed: " + problem);
    }
}

std::vector<std::string> row(const std::string& what, unsigned threads, const throughput& r,
                             double baseline) {
    return {what, std::to_string(threads), format_number(r.mops()),
            format_number(r.mops() / baseline) + "x"};
}

section_result run_sync_trust(const options& o, progress& p) {
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    const seconds counter_length(0.6 * o.scale);
    const seconds kv_length(1.5 * o.scale);
    const std::string n = std::to_string(threads);
    const std::string load = load_average_now();
    section_result out;

    p.step("counter: std::mutex, " + n + " threads");
    const throughput mutex_counter =
        counter_under_lock<std::mutex>(threads, counter_length, "std::mutex");
    p.step("counter: keel ttas_lock, " + n + " threads");
    const throughput ttas_counter =
        counter_under_lock<ks::ttas_lock<>>(threads, counter_length, "ttas_lock");
    p.step("counter: keel futex_mutex, " + n + " threads");
    const throughput futex_counter =
        counter_under_lock<ks::futex_mutex<>>(threads, counter_length, "futex_mutex");
    std::string apply_line, then_line, unused;
    p.step("counter: trust<T> apply, " + n + " threads");
    const throughput apply_counter =
        counter_under_trust(threads, counter_length, false, apply_line);
    p.step("counter: trust<T> apply_then, " + n + " threads");
    const throughput then_counter = counter_under_trust(threads, counter_length, true, then_line);
    // As examples/trust_counter.cpp runs it: one client thread fewer, so the trustee keeps a CPU.
    const unsigned fewer = threads - 1;
    throughput apply_fewer, then_fewer;
    if (fewer >= 1) {
        p.step("counter: trust<T>, " + std::to_string(fewer) + " client threads");
        apply_fewer = counter_under_trust(fewer, counter_length, false, unused);
        then_fewer = counter_under_trust(fewer, counter_length, true, unused);
    }

    const kv_settings kv;
    const kvstore::keyspace keys(kv.keys, kv.zipf);
    p.step("kvstore: checking both stores (no set lost)");
    // A smaller keyspace: the check reads back every key, one round trip each in trust.
    const kvstore::keyspace check_keys(kv.keys / 10, kv.zipf);
    kv_check(kvstore::mutex_store(kv.shards), check_keys, threads);
    {
        kt::runtime rt({.trustees = 1});
        kv_check(kvstore::trust_store(rt, kv.shards), check_keys, threads);
    }
    p.step("kvstore: mutex shards, " + n + " threads");
    const throughput mutex_kv =
        kv_load<kvstore::waiting>(kvstore::mutex_store(kv.shards), keys, threads, kv_length, kv);
    throughput trust_kv, trust_kv_pipelined;
    {
        kt::runtime rt({.trustees = 1});
        p.step("kvstore: trust shards (apply), " + n + " threads");
        trust_kv = kv_load<kvstore::waiting>(kvstore::trust_store(rt, kv.shards), keys, threads,
                                             kv_length, kv);
        p.step("kvstore: trust shards (apply_then), " + n + " threads");
        trust_kv_pipelined = kv_load<kvstore::pipelined>(kvstore::trust_store(rt, kv.shards), keys,
                                                         threads, kv_length, kv);
    }

    const double m = mutex_counter.mops();
    out.tables.push_back(
        {"Contended counter: one shared integer, every operation increments it",
         {"under", "client threads", "Mops/s", "vs std::mutex"},
         {row("std::mutex", threads, mutex_counter, m),
          row("keel ttas_lock", threads, ttas_counter, m),
          row("keel futex_mutex", threads, futex_counter, m),
          row("keel trust<T>, apply (waits for each)", threads, apply_counter, m),
          row("keel trust<T>, apply_then (pipelined)", threads, then_counter, m)}});
    if (fewer >= 1) {
        out.tables.back().rows.push_back(
            row("keel trust<T>, apply, a CPU left for the trustee", fewer, apply_fewer, m));
        out.tables.back().rows.push_back(
            row("keel trust<T>, apply_then, a CPU left for the trustee", fewer, then_fewer, m));
    }
    const double km = mutex_kv.mops();
    out.tables.push_back(
        {"Key-value store (examples/kvstore): " + std::to_string(kv.keys) + " keys, zipf " +
             format_number(kv.zipf) + ", " + format_number(100 * kv.set_ratio) + "% sets, " +
             std::to_string(kv.shards) + " shards",
         {"shards under", "client threads", "Mops/s", "vs std::mutex"},
         {row("std::mutex per shard", threads, mutex_kv, km),
          row("keel trust, apply (waits for each)", threads, trust_kv, km),
          row("keel trust, apply_then (pipelined)", threads, trust_kv_pipelined, km)}});

    out.lines.push_back("Each variant ran " + format_number(counter_length.count()) +
                        " s (counter) or " + format_number(kv_length.count()) + " s (store) with " +
                        n + " client threads (hardware_concurrency)" +
                        (load.empty() ? "" : ", " + load + " when it began") +
                        "; every count was checked, and kvstore::verify (" +
                        std::to_string(kv.keys / 10) +
                        " keys, 50% sets) found no lost set in either store.");
    out.lines.push_back(
        "apply waits for each operation: a round trip to the trustee thread took " +
        format_number(threads / apply_counter.mops()) + " µs on average here (" +
        format_number(threads / trust_kv.mops()) +
        " µs per store operation), where a lock taken by the thread itself costs "
        "nanoseconds; when threads outnumber free CPUs each round trip also waits for the "
        "scheduler.");
    out.lines.push_back("trust<T> adds a trustee thread that polls for requests, so " +
                        std::to_string(threads + 1) + " busy threads share " + n +
                        " CPUs in its rows (the last two rows use one client thread fewer, so "
                        "the trustee has a CPU of its own); " +
                        apply_line + "; " + then_line + ".");
    if (threads <= 4) {
        out.lines.push_back(
            "With " + n +
            " CPUs this cannot show delegation's scaling: its gain grows with the number of "
            "cores fighting over one cache line. benchmarks/RESULTS.md (not this run) has "
            "xeon-16c (16 cores, 2026-11-27, bench_trust): hot counter at 16 threads, apply_then "
            "126.53 M/s vs std::mutex 9.29 M/s; kvstore at 16 threads, 2 trustees 4.44 M/s vs "
            "mutex shards 6.57 M/s (delegation loses there, the store's gets are round trips).");
    }

    out.summary.push_back({"contended counter, " + n + " threads", "Mops/s", "trust<T> apply_then",
                           then_counter.mops(), "std::mutex", m, true});
    out.summary.push_back({"contended counter, " + n + " threads", "Mops/s", "keel ttas_lock",
                           ttas_counter.mops(), "std::mutex", m, true});
    out.summary.push_back({"hot-key KV store, " + n + " threads", "Mops/s", "trust shards (apply)",
                           trust_kv.mops(), "std::mutex shards", km, true});
    return out;
}

}  // namespace
}  // namespace keel_tour

KEEL_TOUR_SECTION(40, "sync/trust", "Locks and delegation", keel_tour::run_sync_trust, nullptr);
