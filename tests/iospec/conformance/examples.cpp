// Differential tests of the iospec examples' programs (examples/iospec/btree_file.hpp,
// sst_file.hpp): B+-tree lookups and range scans and SST Gets give exactly the same results
// and make exactly the same calls with and without speculation, on every engine, at fixed
// depths and the adaptive one, on well-formed files and corrupted ones.
#include <catch2/catch.hpp>

#include "btree_file.hpp"
#include "iospec_workloads.hpp"
#include "sst_file.hpp"

#include <keel/iospec.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <utility>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace is = keel::iospec;
namespace bt = example::btree;
namespace sst = example::sst;
using namespace keel::iospec::test;

namespace {

/// Wraps an io and logs each pread: its arguments, what it returned and a hash of the bytes.
template <class IO>
struct logged_io {
    IO& io;
    std::vector<std::string>& log;
    ssize_t pread(int fd, void* b, std::size_t n, off_t o) {
        const ssize_t r = io.pread(fd, b, n, o);
        const int err = errno;
        std::string line = "pread " + std::to_string(o) + "+" + std::to_string(n) + " = " + std::to_string(r);
        if (r < 0) line += " errno " + std::to_string(err);
        if (r > 0) line += " data " + std::to_string(fnv(b, static_cast<std::size_t>(r)));
        log.push_back(std::move(line));
        errno = err;
        return r;
    }
};

/// The depths each differential case runs at: nothing pre-issued, shallow, deep, adaptive.
const std::vector<std::optional<unsigned>>& depths() {
    static const std::vector<std::optional<unsigned>> d{0u, 1u, 4u, 16u, std::nullopt};
    return d;
}

std::string depth_label(std::optional<unsigned> d) { return d ? std::to_string(*d) : std::string("adaptive"); }

/// What a program returned and the calls it made.
template <class R>
struct run {
    R result;
    std::vector<std::string> log;
};

/// `program(io)` on the raw system calls.
template <class Program>
auto run_raw(Program program) {
    run<decltype(program(std::declval<logged_io<raw_io>&>()))> r;
    raw_io raw;
    logged_io<raw_io> io{raw, r.log};
    r.result = program(io);
    return r;
}

/// `program(io)` through a scope of `g` on `e`, pinning `fd`.
template <class Program>
auto run_spec(const is::graph& g, int fd, is::engine& e, Program program) {
    run<decltype(program(std::declval<logged_io<scope_io>&>()))> r;
    is::scope s(g, e, {fd});
    scope_io sio{s};
    logged_io<scope_io> io{sio, r.log};
    r.result = program(io);
    return r;
}

/// The program raw and through a scope of `make_graph(options)`, on every engine and at
/// every depth: the same result and the same calls. `well_formed`: no call may mismatch,
/// and a fixed depth must pre-issue something. Returns the hits.
template <class Program, class MakeGraph>
std::uint64_t differential(int fd, Program program, MakeGraph make_graph, bool well_formed) {
    const auto raw = run_raw(program);
    std::uint64_t hits = 0;
    for (const auto& choice : engines()) {
        auto e = choice.make();
        for (const auto depth : depths()) {
            INFO("engine " << choice.label << " (" << e->backend() << "), depth " << depth_label(depth));
            auto g = make_graph(is::graph_options{.depth = depth});
            const auto spec = run_spec(g, fd, *e, program);
            CHECK(spec.result == raw.result);
            CHECK(spec.log == raw.log);
            const auto c = g.counters();
            if (well_formed) CHECK(c.mismatches == 0);
            if (well_formed && depth && *depth > 0 && !raw.log.empty()) CHECK(c.hits > 0);
            hits += c.hits;
            CHECK(e->budget().used() == 0);
        }
    }
    return hits;
}

// ---- B+-tree ---------------------------------------------------------------------------------

struct tree_file {
    keel::test::temp_dir dir;
    std::string path;
    int fd = -1;
    bt::tree t;

    explicit tree_file(const bt::build_options& o) : path(dir.file("tree.bpt")) {
        bt::build(path, o);
        fd = open_or_throw(path, O_RDWR);
        t = bt::open_tree(fd);
    }
    ~tree_file() { ::close(fd); }
    tree_file(const tree_file&) = delete;
    tree_file& operator=(const tree_file&) = delete;

    // Reads, edits and writes back page `n`.
    template <class F>
    void edit(std::uint32_t n, F&& f) {
        std::vector<std::byte> page(bt::page_size);
        REQUIRE(::pread(fd, page.data(), bt::page_size, static_cast<off_t>(n) * bt::page_size) ==
                static_cast<ssize_t>(bt::page_size));
        f(std::span<std::byte>(page));
        REQUIRE(::pwrite(fd, page.data(), bt::page_size, static_cast<off_t>(n) * bt::page_size) ==
                static_cast<ssize_t>(bt::page_size));
    }
    [[nodiscard]] bt::page_view page(std::uint32_t n, std::vector<std::byte>& buf) const {
        buf.resize(bt::page_size);
        REQUIRE(::pread(fd, buf.data(), bt::page_size, static_cast<off_t>(n) * bt::page_size) ==
                static_cast<ssize_t>(bt::page_size));
        return bt::page_view(buf);
    }
};

// The programs, as differential() runs them.
auto lookups(const bt::tree& t, const std::vector<std::uint64_t>& keys) {
    return [&t, &keys](auto& io) {
        std::vector<bt::lookup_result> out;
        bt::lookup_many(io, t, keys, out);
        return out;
    };
}
auto scan(const bt::tree& t, std::uint64_t lo, std::uint64_t hi) {
    return [&t, lo, hi](auto& io) { return bt::scan(io, t, lo, hi); };
}

// The records [lo, hi] of a well-formed tree of `n` keys.
std::vector<bt::record> expected_records(std::uint64_t n, std::uint64_t lo, std::uint64_t hi) {
    std::vector<bt::record> out;
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto k = bt::key_at(i);
        if (k >= lo && k <= hi) out.push_back({k, bt::value_of(k)});
    }
    return out;
}

struct range {
    const char* what;
    std::uint64_t lo, hi;
};

// The lookups of `keys` and every scan of `ranges`, raw and speculative, on every engine
// and depth. `well_formed`: also checks the scans against the expected records and that
// no call mismatched. Returns the total hits (speculation happened).
std::uint64_t check_tree(const bt::tree& t, const std::vector<std::uint64_t>& keys, const std::vector<range>& ranges,
                         bool well_formed) {
    bt::lookup_query lq{keys};
    std::uint64_t hits = differential(t.fd, lookups(t, keys),
                                      [&](is::graph_options o) { return bt::lookup_graph(t, &lq, o); }, well_formed);
    for (const auto& r : ranges) {
        INFO("range " << r.what << " [" << r.lo << ", " << r.hi << "]");
        if (well_formed) {
            const auto raw = run_raw(scan(t, r.lo, r.hi)).result;
            CHECK(raw.st == bt::status::ok);
            CHECK(raw.records == expected_records(t.key_count, r.lo, r.hi));
        }
        bt::scan_query sq{r.lo, r.hi};
        hits += differential(t.fd, scan(t, r.lo, r.hi), [&](is::graph_options o) { return bt::scan_graph(t, &sq, o); },
                             well_formed);
    }
    return hits;
}

std::vector<range> ranges_of(std::uint64_t n, std::size_t leaf_fill) {
    const std::uint64_t last = bt::key_at(n - 1);
    return {
        {"lo > hi (no call)", bt::key_at(10), bt::key_at(9)},
        {"empty: inside a gap", bt::key_at(5) + 1, bt::key_at(5) + 2},
        {"one key", bt::key_at(7), bt::key_at(7)},
        {"one leaf", bt::key_at(leaf_fill), bt::key_at(2 * leaf_fill - 1)},
        {"ends on a leaf's high key", bt::key_at(1), bt::key_at(leaf_fill)},
        {"many leaves", bt::key_at(3), bt::key_at(n / 2 + 5)},
        {"past the end", bt::key_at(n - 20), UINT64_MAX},
        {"starts past the last key", last + 1, UINT64_MAX},
        {"everything", 0, UINT64_MAX},
        {"below the first key", 0, 0},
    };
}

std::vector<std::uint64_t> keys_of(std::uint64_t n, std::uint64_t seed) {
    std::vector<std::uint64_t> keys{bt::key_at(0), bt::key_at(n - 1), 0, bt::key_at(n - 1) + 1, UINT64_MAX,
                                    bt::key_at(n / 2) + 2};
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 40; ++i) keys.push_back(bt::key_at(rng() % n) + (i % 3 == 0 ? 1 : 0));
    return keys;
}

// ---- SST ------------------------------------------------------------------------------------

auto gets(const sst::table& t, const std::vector<std::uint64_t>& keys) {
    return [&t, &keys](auto& io) {
        std::vector<sst::get_result> out;
        std::vector<std::byte> scratch;
        sst::get_many(io, t, keys, out, scratch);
        return out;
    };
}

std::uint64_t check_table(const sst::table& t, const std::vector<std::uint64_t>& keys, bool well_formed) {
    sst::get_query q{keys};
    return differential(t.fd, gets(t, keys), [&](is::graph_options o) { return sst::get_graph(t, &q, o); }, well_formed);
}

}  // namespace

TEST_CASE("B+-tree lookups and range scans: same results and calls with and without speculation, on every engine",
          "[iospec][examples][differential]") {
    SECTION("a deep tree (small pages' worth of keys per page, leaves shuffled)") {
        constexpr std::uint64_t n = 3000;
        tree_file f({.keys = n, .leaf_fill = 8, .inner_fill = 4, .shuffle_leaves = true, .seed = 9});
        REQUIRE(f.t.height >= 5);
        const auto keys = keys_of(n, 1);
        const auto raw = run_raw(lookups(f.t, keys)).result;
        REQUIRE(raw.size() == keys.size());
        for (std::size_t i = 0; i < keys.size(); ++i) {
            const bool present = keys[i] % 3 == 1 && keys[i] <= bt::key_at(n - 1);
            CHECK(raw[i].st == (present ? bt::status::found : bt::status::not_found));
            if (present) CHECK(raw[i].value == bt::value_of(keys[i]));
        }
        CHECK(check_tree(f.t, keys, ranges_of(n, 8), true) > 0);
    }
    SECTION("full pages, height 3") {
        constexpr std::uint64_t n = 100000;
        tree_file f({.keys = n});
        REQUIRE(f.t.height == 3);
        CHECK(check_tree(f.t, keys_of(n, 2), ranges_of(n, bt::max_records), true) > 0);
    }
    SECTION("one leaf under the root") {
        constexpr std::uint64_t n = 100;
        tree_file f({.keys = n});
        REQUIRE(f.t.height == 2);
        CHECK(check_tree(f.t, keys_of(n, 3), ranges_of(n, 40), true) > 0);
    }
}

TEST_CASE("a corrupted B+-tree gives the same error with and without speculation", "[iospec][examples][differential]") {
    constexpr std::uint64_t n = 3000;
    const auto keys = keys_of(n, 4);
    const auto ranges = ranges_of(n, 8);
    const bt::build_options o{.keys = n, .leaf_fill = 8, .inner_fill = 4, .shuffle_leaves = true, .seed = 5};
    std::vector<std::byte> buf;

    SECTION("a child number past the end of the file") {
        tree_file f(o);
        f.edit(f.t.root, [](std::span<std::byte> p) { bt::store<std::uint32_t>(p, bt::page_header, 0x7fffffffU); });
        CHECK(run_raw(lookups(f.t, keys)).result.at(0).st == bt::status::bad_child);  // key_at(0) is under child 0
        check_tree(f.t, keys, ranges, false);
    }
    SECTION("a child that is a leaf where an internal page belongs") {
        tree_file f(o);
        const std::size_t last = f.page(f.t.root, buf).count() - 1;  // the child holding the largest keys
        REQUIRE(last >= 1);
        // Find a leaf: descend the leftmost path.
        std::uint32_t p = f.t.root;
        for (std::uint32_t level = 0; level + 1 < f.t.height; ++level) p = f.page(p, buf).child(0);
        f.edit(f.t.root, [p, last](std::span<std::byte> page) {
            bt::store<std::uint32_t>(page, bt::page_header + 4 * last, p);
        });
        const std::vector<std::uint64_t> last_key{bt::key_at(n - 1)};
        CHECK(run_raw(lookups(f.t, last_key)).result.at(0).st == bt::status::bad_page);
        check_tree(f.t, keys, ranges, false);
    }
    // The scan walks the leaf level through the leaves' parents and their next links.
    const auto first_parent = [&](tree_file& f) {
        std::uint32_t p = f.t.root;
        for (std::uint32_t level = 0; level + 2 < f.t.height; ++level) p = f.page(p, buf).child(0);
        return p;
    };
    SECTION("a parent's next link past the end of the file") {
        tree_file f(o);
        f.edit(first_parent(f), [](std::span<std::byte> page) { bt::store<std::uint32_t>(page, 4, 0x7fffffffU); });
        CHECK(run_raw(scan(f.t, 0, UINT64_MAX)).result.st == bt::status::bad_child);
        check_tree(f.t, keys, ranges, false);
    }
    SECTION("a parent's next link to a leaf") {
        tree_file f(o);
        const std::uint32_t p = first_parent(f);
        const std::uint32_t leaf = f.page(p, buf).child(0);
        f.edit(p, [leaf](std::span<std::byte> page) { bt::store<std::uint32_t>(page, 4, leaf); });
        CHECK(run_raw(scan(f.t, 0, UINT64_MAX)).result.st == bt::status::bad_page);
        check_tree(f.t, keys, ranges, false);
    }
    SECTION("separators that disagree with the leaves' high keys") {
        tree_file f(o);
        // Separator 0 says the first leaf ends far beyond where it does: the graph's
        // decisions (from the parent) and the program's (from the leaf) differ.
        f.edit(first_parent(f), [](std::span<std::byte> page) {
            bt::store<std::uint64_t>(page, bt::separators_at, UINT64_MAX - 1);
        });
        CHECK(run_raw(scan(f.t, 0, UINT64_MAX)).result.st == bt::status::ok);
        check_tree(f.t, keys, ranges, false);
    }
    SECTION("a leaf's own next link is not followed by the scan") {
        tree_file f(o);
        std::uint32_t p = f.t.root;
        for (std::uint32_t level = 0; level + 1 < f.t.height; ++level) p = f.page(p, buf).child(0);
        f.edit(p, [](std::span<std::byte> page) { bt::store<std::uint32_t>(page, 4, 0x7fffffffU); });
        const auto raw = run_raw(scan(f.t, 0, UINT64_MAX)).result;
        CHECK(raw.st == bt::status::ok);
        CHECK(raw.records.size() == n);
        CHECK(check_tree(f.t, keys, ranges, true) > 0);
    }
    SECTION("a file cut short: reads past the end of the file") {
        tree_file f(o);
        // Leaves are at pages 1..leaves (shuffled): cut the file in the middle of them.
        REQUIRE(::ftruncate(f.fd, static_cast<off_t>(f.t.page_count / 3) * bt::page_size) == 0);
        const auto raw = run_raw(lookups(f.t, keys)).result;
        bool short_read = false;
        for (const auto& r : raw) short_read = short_read || r.st == bt::status::short_read;
        CHECK(short_read);
        check_tree(f.t, keys, ranges, false);
    }
}

TEST_CASE("SST Gets: same results and calls with and without speculation, on every engine",
          "[iospec][examples][differential]") {
    keel::test::temp_dir dir;
    const std::string path = dir.file("t.sst");
    constexpr std::uint64_t n = 2000;
    sst::build(path, {.keys = n, .records_per_block = 8});
    const int fd = open_or_throw(path, O_RDWR);
    const sst::table t = sst::open_table(fd);
    std::vector<std::uint64_t> keys{sst::key_at(0), sst::key_at(n - 1), 0, 1, sst::key_at(n - 1) + 1, UINT64_MAX,
                                    sst::key_at(8), sst::key_at(7), sst::key_at(100) + 3};
    std::mt19937_64 rng(6);
    for (int i = 0; i < 40; ++i) keys.push_back(sst::key_at(rng() % n) + (i % 4 == 0 ? 2 : 0));
    const auto raw = run_raw(gets(t, keys)).result;
    REQUIRE(raw.size() == keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const bool present = keys[i] % 5 == 2 && keys[i] <= sst::key_at(n - 1);
        CHECK(raw[i].st == (present ? sst::status::found : sst::status::not_found));
        if (present) CHECK(raw[i].value == sst::value_of(keys[i]));
    }
    CHECK(check_table(t, keys, true) > 0);
    const std::vector<std::uint64_t> first_key{sst::key_at(0)};

    SECTION("an index entry pointing past the end of the file") {
        std::vector<std::byte> footer(sst::footer_size);
        REQUIRE(::pread(fd, footer.data(), sst::footer_size, static_cast<off_t>(t.file_size - sst::footer_size)) ==
                static_cast<ssize_t>(sst::footer_size));
        const auto f = sst::footer::parse(footer, t.file_size);
        REQUIRE(f);
        const std::uint64_t huge = 1ULL << 40;
        REQUIRE(::pwrite(fd, &huge, 8, static_cast<off_t>(f->index_offset + 8 + 8)) == 8);  // entry 0's offset
        CHECK(run_raw(gets(t, first_key)).result.at(0).st == sst::status::bad_index);
        check_table(t, keys, false);
    }
    SECTION("a data block whose record count is too large") {
        const std::uint32_t bad = 1000;
        REQUIRE(::pwrite(fd, &bad, 4, 0) == 4);  // block 0's count
        CHECK(run_raw(gets(t, first_key)).result.at(0).st == sst::status::bad_block);
        check_table(t, keys, false);
    }
    SECTION("a file cut short: no footer") {
        REQUIRE(::ftruncate(fd, static_cast<off_t>(t.file_size / 2)) == 0);
        // The table was opened at its full size: the footer read comes back short.
        CHECK(run_raw(gets(t, keys)).result.at(0).st == sst::status::short_read);
        check_table(t, keys, false);
    }
    ::close(fd);
}
