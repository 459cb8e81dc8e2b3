// keel-tour, iospec: the iospec examples' programs (examples/iospec) run serially with
// plain system calls and speculatively through keel::iospec scopes, on files this
// section writes: a B+-tree file (batches of lookups and a range scan, cold and warm
// cache) and a directory tree (a du walk). Speculative results must equal serial ones.
#include "../iospec/btree_file.hpp"
#include "../iospec/common.hpp"
#include "../iospec/du_walk.hpp"
#include "console.hpp"
#include "tour.hpp"

#include <keel/iospec.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace keel_tour {
namespace {

namespace is = keel::iospec;
namespace bt = example::btree;
namespace fs = std::filesystem;

// About 64 MiB of tree: 16,314 full leaves of 255 records, 49 internal pages, a header.
constexpr std::uint64_t tree_keys = 4'160'000;
constexpr std::size_t lookup_batch = 64;
constexpr int rounds = 3;

/// The section's files, removed at the end.
class work_area {
public:
    explicit work_area(const options& o) {
        if (o.work_dir.empty()) {
            _fallback.emplace();
            _path = _fallback->path();
        } else {
            _path = o.work_dir / "iospec";
            fs::create_directories(_path);
            _owned = true;
        }
    }
    work_area(const work_area&) = delete;
    work_area& operator=(const work_area&) = delete;
    ~work_area() {
        if (!_owned) return;
        std::error_code ignored;
        fs::remove_all(_path, ignored);
    }
    [[nodiscard]] const fs::path& path() const noexcept { return _path; }

private:
    std::optional<example::scratch_dir> _fallback;
    fs::path _path;
    bool _owned = false;
};

/// A file descriptor closed on scope exit.
struct open_file {
    int fd;
    explicit open_file(const std::string& path) : fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
        if (fd < 0) throw std::system_error(errno, std::system_category(), "iospec: open " + path);
    }
    open_file(const open_file&) = delete;
    open_file& operator=(const open_file&) = delete;
    ~open_file() { ::close(fd); }
};

/// One workload's median run of each kind, and the speculative run's counters.
struct comparison {
    double serial_ms = 0;
    double spec_ms = 0;
    is::graph_counters counters{};
};

double ms_of(const std::function<void()>& run) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    return 1e3 * example::seconds_since(t0);
}

/// `rounds` rounds of prepare, serial run, prepare, speculative run (alternating, so
/// drift in the disk hits both); the median time of each, with the counters of the
/// median speculative run. `same()` checks after each round that the two runs agreed.
comparison compare(is::graph& g, const std::function<void()>& prepare,
                   const std::function<void()>& serial, const std::function<void()>& speculative,
                   const std::function<bool()>& same, const std::string& what) {
    std::vector<comparison> runs;
    for (int r = 0; r < rounds; ++r) {
        comparison c;
        prepare();
        c.serial_ms = ms_of(serial);
        prepare();
        g.reset_counters();
        c.spec_ms = ms_of(speculative);
        c.counters = g.counters();
        if (!same())
            throw std::runtime_error("iospec: " + what +
                                     ": speculative results differ from serial ones");
        runs.push_back(c);
    }
    std::vector<double> serial_times;
    for (const auto& c : runs)
        serial_times.push_back(c.serial_ms);
    std::sort(serial_times.begin(), serial_times.end());
    std::sort(runs.begin(), runs.end(),
              [](const comparison& a, const comparison& b) { return a.spec_ms < b.spec_ms; });
    comparison median = runs[runs.size() / 2];
    median.serial_ms = serial_times[serial_times.size() / 2];
    return median;
}

std::vector<std::string> row(const std::string& workload, const std::string& cache,
                             const comparison& c) {
    return {workload,
            cache,
            format_number(c.serial_ms),
            format_number(c.spec_ms),
            format_number(c.serial_ms / c.spec_ms) + "x",
            std::to_string(c.counters.hits) + " / " + std::to_string(c.counters.misses)};
}

/// Drops the file's cached pages and turns readahead off: every page read goes to disk.
void make_cold(const std::string& path, int fd) {
    example::drop_cache(path);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
}

/// Random 4 KiB preads of the cold file, one at a time: what the disk gives at queue depth 1.
double disk_reads_per_second(const std::string& path, int fd, std::uint32_t pages) {
    make_cold(path, fd);
    std::mt19937_64 rng(11);
    alignas(64) std::byte buf[bt::page_size];
    constexpr int reads = 300;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reads; ++i) {
        const auto page = 1 + rng() % (pages - 1);
        if (::pread(fd, buf, bt::page_size, static_cast<off_t>(page * bt::page_size)) !=
            static_cast<ssize_t>(bt::page_size)) {
            throw std::runtime_error("iospec: short read from " + path);
        }
    }
    return reads / example::seconds_since(t0);
}

/// Every lookup of a present key found its value, every absent one was not found.
void check_lookups(std::span<const std::uint64_t> keys, const std::vector<bt::lookup_result>& got) {
    if (got.size() != keys.size()) throw std::runtime_error("iospec: a lookup batch stopped early");
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const bool present = (keys[i] - 1) % 3 == 0 && (keys[i] - 1) / 3 < tree_keys;
        const bool right =
            present ? got[i].st == bt::status::found && got[i].value == bt::value_of(keys[i])
                    : got[i].st == bt::status::not_found;
        if (!right)
            throw std::runtime_error("iospec: lookup of key " + std::to_string(keys[i]) +
                                     " went wrong");
    }
}

section_result run_iospec(const options& o, progress& p) {
    section_result out;
    work_area area(o);
    is::engine e;
    out.tables.push_back(
        {"Serial system calls vs keel::iospec speculation (median of " + std::to_string(rounds) +
             " alternating runs each)",
         {"workload", "cache", "serial ms", "speculative ms", "speedup", "hits / misses"},
         {}});
    auto& rows = out.tables.back().rows;

    // ---- the B+-tree ----
    const std::string tree_path = (area.path() / "tree.bpt").string();
    p.step("iospec: writing a 64 MiB B+-tree file");
    bt::build(tree_path, {.keys = tree_keys, .shuffle_leaves = true});
    const open_file file(tree_path);
    const bt::tree t = bt::open_tree(file.fd);
    p.step("iospec: timing the disk (random 4 KiB reads, one at a time)");
    const double disk_iops = disk_reads_per_second(tree_path, file.fd, t.page_count);

    std::mt19937_64 rng(3);
    const auto lookups = static_cast<std::size_t>(std::max(64.0, 2000 * o.scale));
    std::vector<std::uint64_t> wanted(lookups);
    for (auto& k : wanted)
        k = bt::key_at(rng() % tree_keys) + (rng() % 4 == 0 ? 1 : 0);  // 1 in 4 absent
    bt::lookup_query lq;
    auto lookup_g = bt::lookup_graph(t, &lq);
    std::vector<bt::lookup_result> serial_found, spec_found;
    example::raw_calls raw;
    const auto serial_lookups = [&] {
        serial_found.clear();
        for (std::size_t i = 0; i < wanted.size(); i += lookup_batch) {
            bt::lookup_many(raw, t,
                            std::span(wanted).subspan(i, std::min(lookup_batch, wanted.size() - i)),
                            serial_found);
        }
    };
    const auto spec_lookups = [&] {
        spec_found.clear();
        for (std::size_t i = 0; i < wanted.size(); i += lookup_batch) {
            lq.keys = std::span(wanted).subspan(i, std::min(lookup_batch, wanted.size() - i));
            is::scope s(lookup_g, e, {file.fd});
            example::scope_calls io{s};
            bt::lookup_many(io, t, lq.keys, spec_found);
        }
    };
    const auto lookups_agree = [&] {
        check_lookups(wanted, serial_found);
        return spec_found == serial_found;
    };
    const auto cold = [&] { make_cold(tree_path, file.fd); };
    const std::string lookup_name =
        std::to_string(lookups) + " lookups (batches of " + std::to_string(lookup_batch) + ")";
    p.step("iospec: B+-tree lookups, cold cache");
    const comparison cold_lookups =
        compare(lookup_g, cold, serial_lookups, spec_lookups, lookups_agree, "lookups");
    rows.push_back(row("B+-tree, " + lookup_name, "cold", cold_lookups));

    const auto scan_leaves = static_cast<std::uint64_t>(std::max(10.0, 1500 * o.scale));
    const std::uint64_t lo = bt::key_at(rng() % (tree_keys / 2));
    const std::uint64_t hi = lo + 3 * bt::max_records * scan_leaves;
    bt::scan_query sq{lo, hi};
    auto scan_g = bt::scan_graph(t, &sq);
    bt::scan_result serial_scan, spec_scan;
    p.step("iospec: B+-tree range scan, cold cache");
    const comparison cold_scan = compare(
        scan_g, cold, [&] { bt::scan(raw, t, lo, hi, serial_scan); },
        [&] {
            is::scope s(scan_g, e, {file.fd});
            example::scope_calls io{s};
            bt::scan(io, t, lo, hi, spec_scan);
        },
        [&] {
            const std::uint64_t expected = std::min(tree_keys - 1, (hi - 1) / 3) - (lo - 1) / 3 + 1;
            return serial_scan.st == bt::status::ok && serial_scan.records.size() == expected &&
                   spec_scan == serial_scan;
        },
        "scan");
    rows.push_back(
        row("B+-tree, range scan of " + std::to_string(serial_scan.records.size()) + " records",
            "cold", cold_scan));

    p.step("iospec: B+-tree lookups, warm cache");
    serial_lookups();  // reads every page the lookups need, untimed
    const comparison warm_lookups = compare(
        lookup_g, [] {}, serial_lookups, spec_lookups, lookups_agree, "lookups");
    rows.push_back(row("B+-tree, " + lookup_name, "warm", warm_lookups));

    // ---- the directory tree ----
    const int dirs = std::max(4, static_cast<int>(80 * o.scale));
    constexpr int files_per_dir = 50;
    const std::string root = (area.path() / "tree").string();
    p.step("iospec: creating a directory tree of " + std::to_string(dirs * files_per_dir) +
           " files");
    if (::mkdir(root.c_str(), 0755) != 0)
        throw std::system_error(errno, std::system_category(), "mkdir " + root);
    example::du::make_tree(root, dirs, files_per_dir);
    std::string current;
    auto du_g = example::du::du_graph(&current);
    const bool can_drop = example::drop_caches('2');
    example::du::totals serial_totals, spec_totals;
    p.step(std::string("iospec: du walk, ") +
           (can_drop ? "cold dentries and inodes" : "warm cache"));
    if (!can_drop)
        (void)example::du::walk(root, nullptr, nullptr, nullptr);  // warm: read once, untimed
    const comparison du = compare(
        du_g,
        [&] {
            if (can_drop) example::drop_caches('2');
        },
        [&] { serial_totals = example::du::walk(root, nullptr, nullptr, nullptr); },
        [&] { spec_totals = example::du::walk(root, &e, &du_g, &current); },
        [&] { return serial_totals.errors == 0 && spec_totals == serial_totals; }, "du");
    rows.push_back(row("du of " + std::to_string(serial_totals.entries) + " entries",
                       can_drop ? "cold" : "warm", du));

    out.lines.push_back(
        "Engine: " + std::string(e.backend()) + ". Files in " + area.path().string() +
        "; the disk gave " + format_number(disk_iops) +
        " random 4 KiB reads per second one at a time (300 cold reads of the tree file, now).");
    out.lines.push_back(
        "B+-tree: " + std::to_string(t.page_count) + " pages of 4 KiB (" +
        format_number(static_cast<double>(t.page_count) * bt::page_size / (1 << 20)) +
        " MiB), height " + std::to_string(t.height) +
        ", leaves at shuffled pages; cold = the file's pages dropped (posix_fadvise DONTNEED) "
        "and readahead off before every run. A quarter of the looked-up keys are absent.");
    out.lines.push_back(can_drop ? "du: cold = the machine's dentries and inodes dropped (echo 2 "
                                   "> /proc/sys/vm/drop_caches) before every run; the page "
                                   "cache is kept."
                                 : "du: run warm: dropping dentries needs root "
                                   "(/proc/sys/vm/drop_caches), which this run lacks.");
    out.lines.push_back(
        "Speculation overlaps reads the program will make; how much it gains depends on the "
        "disk's queue depth and on free CPUs: on a 2-core VM the gains vary from run to run "
        "(docs/iospec.md). Every speculative run returned exactly what the serial run did.");

    out.summary.push_back({"B+-tree, " + lookup_name + ", cold", "ms", "iospec speculative",
                           cold_lookups.spec_ms, "serial pread", cold_lookups.serial_ms, false});
    out.summary.push_back({"B+-tree range scan, cold", "ms", "iospec speculative",
                           cold_scan.spec_ms, "serial pread", cold_scan.serial_ms, false});
    return out;
}

}  // namespace
}  // namespace keel_tour

KEEL_TOUR_SECTION(60, "iospec", "Speculative I/O", keel_tour::run_iospec, nullptr);
