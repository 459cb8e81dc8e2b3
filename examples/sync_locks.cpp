// A contended counter under std::mutex and under keel's locks and monitors: two
// threads, each incrementing a shared counter a million times. Prints the time per
// increment and the ratio to std::mutex, and checks the count.
#include <keel/sync.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

namespace ks = keel::sync;

namespace {

constexpr int threads = 2;
constexpr std::uint64_t per_thread = 1'000'000;

// Runs `increment` per_thread times on each thread; returns ns per increment, or -1
// when the count is wrong (a broken lock).
template <class Increment>
double measure(Increment increment, const std::uint64_t& counter) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            for (std::uint64_t i = 0; i < per_thread; ++i) increment();
        });
    }
    for (auto& th : pool) th.join();
    const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    if (counter != threads * per_thread) return -1;
    return took.count() / static_cast<double>(threads * per_thread);
}

template <class Lock>
double with_lock() {
    Lock lock;
    std::uint64_t counter = 0;
    return measure([&] { std::lock_guard guard(lock); ++counter; }, counter);
}

double with_monitor() {
    std::uint64_t counter = 0;  // no lock member: the monitor lives in keel's side table
    return measure([&] { ks::synchronized(counter, [&] { ++counter; }); }, counter);
}

}  // namespace

int main() {
    struct row {
        const char* name;
        double ns;
    };
    const row rows[] = {
        {"std::mutex", with_lock<std::mutex>()},
        {"keel futex_mutex", with_lock<ks::futex_mutex<>>()},
        {"keel ticket_lock", with_lock<ks::ticket_lock<>>()},
        {"keel mcs_lock", with_lock<ks::mcs_lock<>>()},
        {"keel ttas_lock", with_lock<ks::ttas_lock<>>()},
        {"keel synchronized()", with_monitor()},
    };
    std::printf("%d threads x %llu increments of one counter\n", threads,
                static_cast<unsigned long long>(per_thread));
    std::printf("%-22s %12s %14s\n", "lock", "ns/increment", "time vs std");
    int status = 0;
    for (const auto& r : rows) {
        if (r.ns < 0) {
            std::printf("%-22s   WRONG COUNT\n", r.name);
            status = 1;
            continue;
        }
        std::printf("%-22s %12.1f %13.2fx\n", r.name, r.ns, r.ns / rows[0].ns);
    }
    return status;
}
