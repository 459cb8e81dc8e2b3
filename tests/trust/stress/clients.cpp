// N clients x M operations on shared objects: the exact final state, with apply,
// apply_then and objects on several trustees.
#include <keel/trust.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <thread>
#include <vector>

namespace kt = keel::trust;

TEST_CASE("N clients x M increments leave the exact count", "[trust][stress]") {
    const unsigned trustees = GENERATE(1u, 2u);
    const std::uint32_t batch = GENERATE(1u, 16u);
    kt::runtime rt(kt::runtime_options{.trustees = trustees, .channel_bytes = 4096, .publish_batch = batch});
    std::vector<kt::trust<std::map<int, long>>> maps;
    for (unsigned i = 0; i < 4; ++i) maps.push_back(rt.entrust<std::map<int, long>>());

    constexpr int clients = 6;
    constexpr int ops = 4000;
    std::vector<std::thread> threads;
    std::vector<long> continuations(clients, 0);
    std::vector<long> bad_results(clients, 0);  // Catch2 assertions are not thread-safe
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            for (int i = 0; i < ops; ++i) {
                auto& m = maps[static_cast<std::size_t>(i) % maps.size()];
                const int key = (i * 7 + c) % 13;
                if (i % 3 == 0) {
                    m.apply([key](std::map<int, long>& map) { ++map[key]; });
                } else {
                    m.apply_then([key](std::map<int, long>& map) { return ++map[key]; },
                                 [&, c](long v) {
                                     if (v < 1) ++bad_results[static_cast<std::size_t>(c)];
                                     ++continuations[static_cast<std::size_t>(c)];
                                 });
                }
            }
            kt::drain();
        });
    }
    for (auto& t : threads) t.join();
    long total = 0;
    for (auto& m : maps)
        total += m.apply([](std::map<int, long>& map) {
            long sum = 0;
            for (auto& [k, v] : map) sum += v;
            return sum;
        });
    CHECK(total == static_cast<long>(clients) * ops);
    for (long n : continuations) CHECK(n == ops - (ops + 2) / 3);
    for (long n : bad_results) CHECK(n == 0);
}
