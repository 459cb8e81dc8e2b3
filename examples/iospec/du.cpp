// A du-like tree walk with keel::iospec: for each directory, open it, list it with
// getdents64 and fstatat every entry, summing sizes and queueing subdirectories. One
// foreaction graph describes one directory; each directory is a scope of that graph (so
// the adaptive depth learned carries from one directory to the next), and the fstatat
// calls of a batch are pre-issued while the program handles the earlier ones.
// The walk runs with the raw system calls and through scopes, warm, and with
// --drop-caches also cold (the whole machine's clean dentries and inodes dropped with
// `echo 2 > /proc/sys/vm/drop_caches`, root only); the totals must agree.
//
//   example_iospec_du [--dirs N] [--files N] [--path DIR] [--drop-caches 1]
//   (--path walks an existing tree)
#include "common.hpp"
#include "du_walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace example;
using namespace example::du;

int main(int argc, char** argv) {
    int dirs = 40;
    int files = 50;
    std::string path;
    bool drop = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--dirs") == 0) dirs = std::atoi(argv[i + 1]);
        if (std::strcmp(argv[i], "--files") == 0) files = std::atoi(argv[i + 1]);
        if (std::strcmp(argv[i], "--path") == 0) path = argv[i + 1];
        if (std::strcmp(argv[i], "--drop-caches") == 0) drop = std::atoi(argv[i + 1]) != 0;
    }
    scratch_dir scratch;
    if (path.empty()) {
        path = scratch.path() + "/tree";
        if (::mkdir(path.c_str(), 0755) != 0) return 1;
        make_tree(path, dirs, files);
    }
    is::engine e;
    std::string current;
    auto g = du_graph(&current);
    std::printf("du of %s on engine %s\n", path.c_str(), std::string(e.backend()).c_str());
    int status = 0;
    const bool can_drop = drop && drop_caches('2');
    for (const bool cold : {true, false}) {
        if (cold && !can_drop) {
            std::printf("cold cache: %s\n", drop ? "skipped (cannot write /proc/sys/vm/drop_caches)"
                                                 : "skipped (--drop-caches 1 to run it)");
            continue;
        }
        std::printf("%s cache:\n", cold ? "cold" : "warm");
        if (cold) drop_caches('2');
        auto t0 = std::chrono::steady_clock::now();
        const totals serial = walk(path, nullptr, nullptr, nullptr);
        const double serial_s = seconds_since(t0);
        if (cold) drop_caches('2');
        g.reset_counters();
        t0 = std::chrono::steady_clock::now();
        const totals spec = walk(path, &e, &g, &current);
        const double spec_s = seconds_since(t0);
        std::printf("  serial:      %.4f s  %llu entries, %llu bytes, %llu errors\n", serial_s,
                    static_cast<unsigned long long>(serial.entries), static_cast<unsigned long long>(serial.bytes),
                    static_cast<unsigned long long>(serial.errors));
        std::printf("  speculative: %.4f s (%.2fx serial)%s\n", spec_s, spec_s > 0 ? serial_s / spec_s : 0.0,
                    spec == serial ? ", same totals as serial" : "  TOTALS DIFFER");
        print_counters("counters", g.counters());
        if (!(spec == serial)) status = 1;
    }
    return status;
}
