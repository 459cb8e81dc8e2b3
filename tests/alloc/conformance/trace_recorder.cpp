// libkeel-alloc-trace.so, preloaded into a plain helper program
// (tests/alloc/support/trace_recorder_child.cpp): the trace it writes parses
// and holds exactly the calls the helper made; fork, threads, and the
// variable unset or pointing nowhere.

#include <keel/alloc/trace.hpp>

#include <catch2/catch.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#if !defined(KEEL_TRACE_RECORDER) || !defined(KEEL_TRACE_RECORDER_CHILD)
#error "tests/alloc/CMakeLists.txt defines the recorder and helper paths"
#endif

extern char** environ;

using namespace keel::alloc;
namespace fs = std::filesystem;

namespace {

struct scratch_dir {
    scratch_dir() {
        path = fs::temp_directory_path() / ("keel_recorder_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~scratch_dir() { fs::remove_all(path); }
    [[nodiscard]] std::vector<fs::path> files() const {
        std::vector<fs::path> v;
        for (const auto& e : fs::directory_iterator(path)) v.push_back(e.path());
        std::sort(v.begin(), v.end());
        return v;
    }
    fs::path path;
    static inline int counter = 0;
};

struct child_result {
    pid_t pid = -1;
    int status = -1;
};

// Runs the helper with `mode`, LD_PRELOAD set to the recorder and
// KEEL_ALLOC_TRACE to `trace_path` (unset when empty). The rest of the
// environment is dropped but PATH (no ASAN_OPTIONS for a plain program).
child_result run_child(const char* mode, const std::string& trace_path) {
    std::vector<std::string> env = {std::string("LD_PRELOAD=") + KEEL_TRACE_RECORDER};
    if (!trace_path.empty()) env.push_back("KEEL_ALLOC_TRACE=" + trace_path);
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::string(*e).rfind("PATH=", 0) == 0) env.emplace_back(*e);
    }
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string exe = KEEL_TRACE_RECORDER_CHILD;
    std::string arg = mode;
    char* argv[] = {exe.data(), arg.data(), nullptr};
    child_result r;
    REQUIRE(::posix_spawn(&r.pid, exe.c_str(), nullptr, nullptr, argv, envp.data()) == 0);
    REQUIRE(::waitpid(r.pid, &r.status, 0) == r.pid);
    return r;
}

bool exited_ok(const child_result& r) { return WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0; }

// Index of the only op matching `pred`; fails when there is not exactly one.
template <class Pred>
std::size_t only(const trace& t, Pred pred, const char* what) {
    std::optional<std::size_t> found;
    std::size_t count = 0;
    for (std::size_t i = 0; i < t.ops.size(); ++i) {
        if (pred(t.ops[i])) {
            found = i;
            ++count;
        }
    }
    INFO(what);
    REQUIRE(count == 1);
    return *found;
}

std::size_t only_allocation(const trace& t, std::uint64_t size, std::uint32_t align) {
    return only(
        t, [&](const trace_op& op) { return op.what == trace_op::kind::allocate && op.size == size && op.align == align; },
        ("allocate " + std::to_string(size) + " align " + std::to_string(align)).c_str());
}

// The free of block `id`, after op index `after`.
void freed_after(const trace& t, std::uint32_t id, std::size_t after) {
    const std::size_t i =
        only(t, [&](const trace_op& op) { return op.what == trace_op::kind::free && op.id == id; }, "free");
    CHECK(i > after);
}

bool has_allocation_of(const trace& t, std::uint64_t size) {
    return std::any_of(t.ops.begin(), t.ops.end(),
                       [&](const trace_op& op) { return op.what != trace_op::kind::free && op.size == size; });
}

}  // namespace

TEST_CASE("the recorder writes every interposed call of a program") {
    scratch_dir dir;
    const auto r = run_child("basic", (dir.path / "t.%p").string());
    REQUIRE(exited_ok(r));
    const auto files = dir.files();
    REQUIRE(files.size() == 1);
    CHECK(files[0].filename() == "t." + std::to_string(r.pid));
    const trace t = load_trace(files[0]);

    const std::size_t m = only_allocation(t, 12345, 16);
    const std::uint32_t m_id = t.ops[m].id;
    const std::size_t re = only(
        t, [&](const trace_op& op) { return op.what == trace_op::kind::reallocate && op.old_id == m_id; }, "realloc");
    CHECK(re > m);
    CHECK(t.ops[re].size == 50000);
    freed_after(t, t.ops[re].id, re);

    const std::size_t pm = only_allocation(t, 1000, 64);
    CHECK(pm > m);
    CHECK(pm < re);
    freed_after(t, t.ops[pm].id, pm);
    for (auto [size, align] : {std::pair<std::uint64_t, std::uint32_t>{300, 16},  // calloc(3, 100)
                               {256, 128},                                        // aligned_alloc
                               {100, 256},                                        // memalign
                               {10, 4096},                                        // valloc
                               {8192, 4096},                                      // pvalloc(5000)
                               {200, 16}}) {                                      // reallocarray(NULL, 10, 20)
        INFO("size " << size << " align " << align);
        const std::size_t i = only_allocation(t, size, align);
        CHECK(i > re);
        freed_after(t, t.ops[i].id, i);
    }
    CHECK(t.counts.unmatched_frees == 0);
}

TEST_CASE("a forked child records into its own file, from the fork on") {
    scratch_dir dir;
    const auto r = run_child("fork", (dir.path / "t.%p").string());
    REQUIRE(exited_ok(r));
    const auto files = dir.files();
    REQUIRE(files.size() == 2);
    const fs::path parent_file = dir.path / ("t." + std::to_string(r.pid));
    const fs::path child_file = files[0] == parent_file ? files[1] : files[0];
    REQUIRE(fs::exists(parent_file));
    const trace parent = load_trace(parent_file);
    const trace child = load_trace(child_file);
    CHECK(has_allocation_of(parent, 1111));
    CHECK(has_allocation_of(parent, 3333));
    CHECK_FALSE(has_allocation_of(parent, 2222));
    CHECK(has_allocation_of(child, 2222));
    CHECK_FALSE(has_allocation_of(child, 1111));
    CHECK_FALSE(has_allocation_of(child, 3333));
    // The child freed the parent's 1111-byte block: unknown to its trace.
    CHECK(child.counts.unmatched_frees >= 1);
}

TEST_CASE("records from several threads form one valid order") {
    scratch_dir dir;
    const auto r = run_child("threads", (dir.path / "t").string());
    REQUIRE(exited_ok(r));
    const trace t = load_trace(dir.path / "t");  // throws if an address were reused out of order
    std::vector<bool> ours(t.blocks, false);
    std::size_t allocs = 0, frees = 0;
    for (const auto& op : t.ops) {
        if (op.what == trace_op::kind::allocate && op.size >= 7000 && op.size < 7004) {
            ours[op.id] = true;
            ++allocs;
        } else if (op.what == trace_op::kind::free && ours[op.id]) {
            ++frees;
        }
    }
    CHECK(allocs == 4 * 20000);
    CHECK(frees == 4 * 20000);
}

TEST_CASE("without KEEL_ALLOC_TRACE the recorder writes nothing") {
    scratch_dir dir;
    // The helper checks its own results; run from the empty directory's view:
    // nothing may appear in it, and the program still works.
    const auto r = run_child("basic", "");
    CHECK(exited_ok(r));
    CHECK(dir.files().empty());
    // An unwritable path: the program still runs, unrecorded.
    const auto bad = run_child("basic", (dir.path / "no" / "such" / "dir" / "t").string());
    CHECK(exited_ok(bad));
    CHECK(dir.files().empty());
}
