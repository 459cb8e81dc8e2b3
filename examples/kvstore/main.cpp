// example_kvstore: a memcached-like key-value store under a hot-key (zipf) load, with
// its shards entrusted to keel::trust trustees and, for comparison, guarded by one
// std::mutex each. Prints the throughput of each and their ratio, and checks the
// store: a deterministic run where no set may be lost, and every get during the
// timed run must return a value written for its key.
//
//   example_kvstore [--threads N] [--seconds S] [--shards N] [--trustees N] [--keys N]
//                   [--zipf S] [--set-ratio R] [--mode trust|mutex|both]
#include "kvstore.hpp"

#include <keel/trust.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct options {
    unsigned threads = std::max(2u, std::thread::hardware_concurrency());
    double seconds = 2.0;
    std::size_t shards = 8;
    unsigned trustees = 1;
    std::size_t keys = 100'000;
    double zipf = 0.99;
    double set_ratio = 0.1;
    std::string mode = "both";
};

[[noreturn]] void usage(const std::string& problem) {
    std::fprintf(stderr,
                 "example_kvstore: %s\n"
                 "usage: example_kvstore [--threads N] [--seconds S] [--shards N] [--trustees N]\n"
                 "                       [--keys N] [--zipf S] [--set-ratio R] [--mode trust|mutex|both]\n",
                 problem.c_str());
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") usage("a zipf-skewed get/set load on trust and mutex shards");
        if (i + 1 >= argc) usage("missing value after " + std::string(flag));
        const std::string value = argv[++i];
        try {
            std::size_t used = 0;
            auto whole = [&](auto parsed) {
                if (used != value.size()) throw std::invalid_argument(value);
                return parsed;
            };
            if (flag == "--threads") o.threads = static_cast<unsigned>(whole(std::stoul(value, &used)));
            else if (flag == "--seconds") o.seconds = whole(std::stod(value, &used));
            else if (flag == "--shards") o.shards = whole(std::stoul(value, &used));
            else if (flag == "--trustees") o.trustees = static_cast<unsigned>(whole(std::stoul(value, &used)));
            else if (flag == "--keys") o.keys = whole(std::stoul(value, &used));
            else if (flag == "--zipf") o.zipf = whole(std::stod(value, &used));
            else if (flag == "--set-ratio") o.set_ratio = whole(std::stod(value, &used));
            else if (flag == "--mode") o.mode = value;
            else usage("unknown option " + std::string(flag));
        } catch (const std::logic_error&) {
            usage("bad value '" + value + "' for " + std::string(flag));
        }
    }
    if (o.threads == 0 || o.shards == 0 || o.trustees == 0 || o.keys == 0) usage("counts must be at least 1");
    if (!(o.seconds > 0)) usage("--seconds must be positive");
    if (!(o.set_ratio >= 0 && o.set_ratio <= 1)) usage("--set-ratio must be in [0, 1]");
    if (!(o.zipf >= 0)) usage("--zipf must be >= 0");
    if (o.mode != "trust" && o.mode != "mutex" && o.mode != "both") usage("--mode is trust, mutex or both");
    return o;
}

struct outcome {
    double ops_per_s = 0;
    kvstore::client_counts counts;
};

// o.threads clients run against `store` for o.seconds.
template <class Store>
outcome timed_run(const Store& store, const kvstore::keyspace& ks, const options& o) {
    std::atomic<bool> stop{false};
    std::atomic<unsigned> ready{0};
    std::vector<kvstore::client_counts> counts(o.threads);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < o.threads; ++t) {
        pool.emplace_back([&, t] {
            kvstore::client<Store> c(store, ks, o.set_ratio, t + 1, 42 + t);
            ready.fetch_add(1);
            while (ready.load() < o.threads) std::this_thread::yield();
            while (!stop.load(std::memory_order_relaxed)) {
                for (int i = 0; i < 64; ++i) c.step();
            }
            counts[t] = c.counts;
        });
    }
    while (ready.load() < o.threads) std::this_thread::yield();
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
    stop.store(true);
    for (auto& th : pool) th.join();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    outcome out;
    for (auto& c : counts) out.counts += c;
    out.ops_per_s = static_cast<double>(out.counts.ops) / took.count();
    return out;
}

// Verifies a fresh store, then times another fresh one. Returns ops/s, or -1 on error.
template <class Store, class Make>
double run_mode(Make make, const kvstore::keyspace& ks, const options& o) {
    {
        auto store = make();
        kvstore::prefill(*store, ks);
        const std::uint64_t ops = 10'000;
        if (auto problem = kvstore::verify(*store, ks, o.threads, ops, 0.5); !problem.empty()) {
            std::printf("%-6s check FAILED: %s\n", Store::name, problem.c_str());
            return -1;
        }
        std::printf("%-6s check: %u threads x %llu ops (50%% sets): no set lost, every get its key's value\n",
                    Store::name, o.threads, static_cast<unsigned long long>(ops));
    }
    auto store = make();
    kvstore::prefill(*store, ks);
    const outcome r = timed_run(*store, ks, o);
    std::printf("%-6s %12.0f ops/s  (%llu ops: %llu gets, %.1f%% hits, %llu sets)\n", Store::name, r.ops_per_s,
                static_cast<unsigned long long>(r.counts.ops), static_cast<unsigned long long>(r.counts.gets),
                r.counts.gets ? 100.0 * static_cast<double>(r.counts.hits) / static_cast<double>(r.counts.gets) : 0.0,
                static_cast<unsigned long long>(r.counts.sets));
    if (r.counts.wrong != 0 || r.counts.hits != r.counts.gets || store->size() != ks.keys().size()) {
        std::printf("%-6s FAILED: %llu gets returned another key's value, %llu missed; %zu keys of %zu\n",
                    Store::name, static_cast<unsigned long long>(r.counts.wrong),
                    static_cast<unsigned long long>(r.counts.gets - r.counts.hits), store->size(),
                    ks.keys().size());
        return -1;
    }
    return r.ops_per_s;
}

}  // namespace

int main(int argc, char** argv) try {
    const options o = parse(argc, argv);
    const kvstore::keyspace ks(o.keys, o.zipf);
    std::printf("%zu keys, zipf s=%.2f (hottest key %.2f%% of requests), %.0f%% sets, %zu shards, "
                "%u client threads, %.2f s per mode\n",
                o.keys, o.zipf, 100.0 * ks.zipf().probability(0), 100.0 * o.set_ratio, o.shards, o.threads,
                o.seconds);

    double trust_ops = 0, mutex_ops = 0;
    bool failed = false;
    if (o.mode != "mutex") {
        keel::trust::runtime rt({.trustees = o.trustees});
        trust_ops = run_mode<kvstore::trust_store>(
            [&] { return std::make_unique<kvstore::trust_store>(rt, o.shards); }, ks, o);
        failed |= trust_ops < 0;
        for (const auto& s : rt.stats()) {
            std::printf("  trustee %u: %llu requests in %llu batches (%.1f per batch), %.0f%% busy, %llu parks\n",
                        s.index, static_cast<unsigned long long>(s.served),
                        static_cast<unsigned long long>(s.batches), s.mean_batch(), 100.0 * s.utilisation(),
                        static_cast<unsigned long long>(s.parks));
        }
    }
    if (o.mode != "trust") {
        mutex_ops = run_mode<kvstore::mutex_store>([&] { return std::make_unique<kvstore::mutex_store>(o.shards); },
                                                   ks, o);
        failed |= mutex_ops < 0;
    }
    if (!failed && o.mode == "both") std::printf("trust / mutex: %.2fx\n", trust_ops / mutex_ops);
    return failed ? 1 : 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "example_kvstore: %s\n", e.what());
    return 1;
}
