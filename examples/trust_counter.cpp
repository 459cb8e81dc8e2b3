// A counter entrusted to a trustee thread: several threads increment it by sending it
// functions instead of taking a lock, half with apply (wait for the result) and half
// with apply_then (send, go on, run a continuation later). Prints the exact total and
// what the trustee did (runtime::stats()).
#include <keel/trust.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace kt = keel::trust;

int main() {
    // Clients spin while they wait, and so does the trustee: leave it a core.
    const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 3u, 9u) - 1;
    constexpr std::uint64_t per_thread = 50'000;  // of each kind

    kt::runtime rt({.trustees = 1});
    const kt::trust<std::uint64_t> counter = rt.entrust<std::uint64_t>(0);

    std::vector<std::uint64_t> continuations(threads, 0);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            std::uint64_t done = 0;
            for (std::uint64_t i = 0; i < per_thread; ++i) {
                // Synchronous: returns the counter's new value.
                const std::uint64_t now = counter.apply([](std::uint64_t& c) { return ++c; });
                (void)now;
                // Asynchronous: the continuation runs on this thread, in a later
                // apply, poll or drain; requests are published in batches.
                counter.apply_then([](std::uint64_t& c) { return ++c; }, [&done](std::uint64_t) { ++done; });
            }
            kt::drain();  // publish the rest and run every continuation
            continuations[t] = done;
        });
    }
    for (auto& th : pool) th.join();

    const std::uint64_t total = counter.apply([](const std::uint64_t& c) { return c; });
    std::uint64_t continued = 0;
    for (auto c : continuations) continued += c;
    const std::uint64_t expected = 2 * per_thread * threads;
    std::printf("%u threads x (%llu apply + %llu apply_then): counter = %llu (expected %llu), %llu continuations\n",
                threads, static_cast<unsigned long long>(per_thread), static_cast<unsigned long long>(per_thread),
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(expected),
                static_cast<unsigned long long>(continued));

    for (const auto& s : rt.stats()) {
        std::printf("trustee %u%s: %llu requests served in %llu batches (%.2f per batch), %llu parks, "
                    "%.0f%% busy\n  batch sizes (1, 2-3, 4-7, ..., 128+):",
                    s.index, s.cpu ? (" on CPU " + std::to_string(*s.cpu)).c_str() : "",
                    static_cast<unsigned long long>(s.served), static_cast<unsigned long long>(s.batches),
                    s.mean_batch(), static_cast<unsigned long long>(s.parks), 100.0 * s.utilisation());
        for (auto n : s.batch_sizes) std::printf(" %llu", static_cast<unsigned long long>(n));
        std::printf("\n");
    }
    return total == expected && continued == per_thread * threads ? 0 : 1;
}
