// An on-disk B+-tree with keel::iospec (format, programs and graphs: btree_file.hpp).
// Builds a tree in a scratch directory (leaves at shuffled pages, as in a tree grown by
// splits), then runs batches of random lookups and a range scan, each serially (raw
// preads) and through a scope of its foreaction graph, with a cold cache (the file's pages
// dropped with posix_fadvise(DONTNEED), readahead off) and a warm one. The results must be
// identical; prints the times and each graph's counters.
//
//   example_iospec_btree [--keys N] [--lookups N] [--batch N] [--scan-leaves N] [--depth N]
//   (--depth: a fixed pre-issue depth; default adaptive)
#include "btree_file.hpp"
#include "common.hpp"

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace example;
namespace bt = example::btree;

namespace {

void prepare(const std::string& path, int fd, bool cold) {
    if (cold) drop_cache(path);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t keys = 200000;
    std::size_t lookups = 2000;
    std::size_t batch = 64;
    std::size_t scan_leaves = 200;
    std::optional<unsigned> depth;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--keys") == 0) keys = std::strtoull(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--lookups") == 0) lookups = std::strtoull(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--batch") == 0) batch = std::strtoull(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--scan-leaves") == 0) scan_leaves = std::strtoull(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--depth") == 0) depth = static_cast<unsigned>(std::atoi(argv[i + 1]));
    }
    if (keys == 0) keys = 1;
    if (batch == 0) batch = 1;
    scratch_dir dir;
    const std::string path = dir.path() + "/tree.bpt";
    bt::build(path, {.keys = keys, .shuffle_leaves = true});
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    const bt::tree t = bt::open_tree(fd);
    is::engine e;
    std::printf("B+-tree of %llu keys: %u pages of %zu bytes, height %u (%s), engine %s\n",
                static_cast<unsigned long long>(t.key_count), t.page_count, bt::page_size, t.height, path.c_str(),
                std::string(e.backend()).c_str());

    // Lookups: present and absent keys, in batches (one scope per batch).
    std::mt19937_64 rng(3);
    std::vector<std::uint64_t> wanted(lookups);
    for (auto& k : wanted) k = bt::key_at(rng() % keys) + (rng() % 4 == 0 ? 1 : 0);  // 1 in 4 absent
    bt::lookup_query lq;
    auto lookup_g = bt::lookup_graph(t, &lq, {.depth = depth});
    // The scan: `scan_leaves` leaves' worth of keys from a random start.
    const std::uint64_t lo = bt::key_at(rng() % keys);
    const std::uint64_t hi = lo + 3 * bt::max_records * scan_leaves;
    bt::scan_query sq{lo, hi};
    auto scan_g = bt::scan_graph(t, &sq, {.depth = depth});

    int status = 0;
    for (const bool cold : {true, false}) {
        std::printf("%s cache:\n", cold ? "cold" : "warm");
        std::vector<bt::lookup_result> serial, spec;
        raw_calls raw;
        prepare(path, fd, cold);
        if (!cold) {  // warm: the pages the lookups need are read once, untimed
            for (std::size_t i = 0; i < wanted.size(); i += batch) {
                bt::lookup_many(raw, t, std::span(wanted).subspan(i, std::min(batch, wanted.size() - i)), spec);
            }
            spec.clear();
        }
        auto t0 = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < wanted.size(); i += batch) {
            bt::lookup_many(raw, t, std::span(wanted).subspan(i, std::min(batch, wanted.size() - i)), serial);
        }
        const double serial_s = seconds_since(t0);
        prepare(path, fd, cold);
        lookup_g.reset_counters();
        t0 = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < wanted.size(); i += batch) {
            lq.keys = std::span(wanted).subspan(i, std::min(batch, wanted.size() - i));
            is::scope s(lookup_g, e, {fd});
            scope_calls io{s};
            bt::lookup_many(io, t, lq.keys, spec);
        }
        const double spec_s = seconds_since(t0);
        std::size_t found = 0;
        for (const auto& r : serial) found += r.st == bt::status::found;
        const bool same = serial == spec;
        std::printf("  %zu lookups (%zu found), batches of %zu: serial %.4f s, speculative %.4f s (%.2fx)%s\n",
                    wanted.size(), found, batch, serial_s, spec_s, spec_s > 0 ? serial_s / spec_s : 0.0,
                    same ? ", same results" : "  RESULTS DIFFER");
        print_counters("lookup graph", lookup_g.counters());
        if (!same) status = 1;

        prepare(path, fd, cold);
        if (!cold) (void)bt::scan(raw, t, lo, hi);  // warm: read once, untimed
        t0 = std::chrono::steady_clock::now();
        const auto serial_scan = bt::scan(raw, t, lo, hi);
        const double scan_serial_s = seconds_since(t0);
        prepare(path, fd, cold);
        scan_g.reset_counters();
        t0 = std::chrono::steady_clock::now();
        bt::scan_result spec_scan;
        {
            is::scope s(scan_g, e, {fd});
            scope_calls io{s};
            spec_scan = bt::scan(io, t, lo, hi);
        }
        const double scan_spec_s = seconds_since(t0);
        const bool same_scan = serial_scan == spec_scan;
        std::printf("  scan [%llu, %llu]: %zu records (%s): serial %.4f s, speculative %.4f s (%.2fx)%s\n",
                    static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi), serial_scan.records.size(),
                    bt::to_string(serial_scan.st), scan_serial_s, scan_spec_s,
                    scan_spec_s > 0 ? scan_serial_s / scan_spec_s : 0.0, same_scan ? ", same records" : "  RESULTS DIFFER");
        print_counters("scan graph", scan_g.counters());
        if (!same_scan) status = 1;
    }
    ::close(fd);
    return status;
}
