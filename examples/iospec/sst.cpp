// An SST-style Get with keel::iospec (format, program and graph: sst_file.hpp). Builds a
// table in a scratch directory, then runs batches of random Gets (footer -> index block
// -> data block per key) serially (raw preads) and through a scope of the Get graph, with
// a cold cache (the file's pages dropped with posix_fadvise(DONTNEED), readahead off) and a
// warm one. The results must be identical; prints the times and the graph's counters.
//
//   example_iospec_sst [--keys N] [--gets N] [--batch N] [--depth N]
#include "common.hpp"
#include "sst_file.hpp"

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace example;

int main(int argc, char** argv) {
    std::uint64_t keys = 500000;
    std::size_t gets = 2000;
    std::size_t batch = 64;
    std::optional<unsigned> depth;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--keys") == 0) keys = std::strtoull(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--gets") == 0) gets = std::strtoull(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--batch") == 0) batch = std::strtoull(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--depth") == 0) depth = static_cast<unsigned>(std::atoi(argv[i + 1]));
    }
    if (keys == 0) keys = 1;
    if (batch == 0) batch = 1;
    scratch_dir dir;
    const std::string path = dir.path() + "/table.sst";
    sst::build(path, {.keys = keys});
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    const sst::table t = sst::open_table(fd);
    is::engine e;
    std::printf("table of %llu keys, %llu bytes (%s), engine %s\n", static_cast<unsigned long long>(keys),
                static_cast<unsigned long long>(t.file_size), path.c_str(), std::string(e.backend()).c_str());

    std::mt19937_64 rng(4);
    std::vector<std::uint64_t> wanted(gets);
    for (auto& k : wanted) k = sst::key_at(rng() % (keys + keys / 8));  // some above the last key
    sst::get_query q;
    auto g = sst::get_graph(t, &q, {.depth = depth});
    std::vector<std::byte> scratch;
    int status = 0;
    for (const bool cold : {true, false}) {
        std::printf("%s cache:\n", cold ? "cold" : "warm");
        std::vector<sst::get_result> serial, spec;
        raw_calls raw;
        if (cold) drop_cache(path);
        (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
        if (!cold) {  // warm: the blocks the Gets need are read once, untimed
            for (std::size_t i = 0; i < wanted.size(); i += batch) {
                sst::get_many(raw, t, std::span(wanted).subspan(i, std::min(batch, wanted.size() - i)), spec, scratch);
            }
            spec.clear();
        }
        auto t0 = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < wanted.size(); i += batch) {
            sst::get_many(raw, t, std::span(wanted).subspan(i, std::min(batch, wanted.size() - i)), serial, scratch);
        }
        const double serial_s = seconds_since(t0);
        if (cold) drop_cache(path);
        g.reset_counters();
        t0 = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < wanted.size(); i += batch) {
            q.keys = std::span(wanted).subspan(i, std::min(batch, wanted.size() - i));
            is::scope s(g, e, {fd});
            scope_calls io{s};
            sst::get_many(io, t, q.keys, spec, scratch);
        }
        const double spec_s = seconds_since(t0);
        std::size_t found = 0;
        for (const auto& r : serial) found += r.st == sst::status::found;
        const bool same = serial == spec;
        std::printf("  %zu Gets (%zu found), batches of %zu: serial %.4f s, speculative %.4f s (%.2fx)%s\n",
                    wanted.size(), found, batch, serial_s, spec_s, spec_s > 0 ? serial_s / spec_s : 0.0,
                    same ? ", same results" : "  RESULTS DIFFER");
        print_counters("get graph", g.counters());
        if (!same) status = 1;
    }
    ::close(fd);
    return status;
}
