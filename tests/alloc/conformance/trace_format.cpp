// The trace text format: parsing, errors with line numbers, unmatched frees,
// realloc chains, and write/parse roundtrips.

#include <keel/alloc/trace.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace keel::alloc;

namespace {

trace parse(const std::string& text) {
    std::istringstream in(text);
    return parse_trace(in);
}

// The message of the trace_error that parsing `text` throws, checking that it
// names `line`.
std::string error_of(const std::string& text, std::size_t line) {
    try {
        (void)parse(text);
    } catch (const trace_error& e) {
        CHECK(e.line() == line);
        const std::string msg = e.what();
        CHECK(msg.find("line " + std::to_string(line) + ":") != std::string::npos);
        return msg;
    }
    FAIL("no trace_error for:\n" << text);
    return {};
}

const std::string header = "keel-alloc-trace 1\n";

}  // namespace

TEST_CASE("every record kind parses into ops on dense block ids") {
    const trace t = parse(header +
                          "# a comment\n"
                          "\n"
                          "m 100 0x1000\n"
                          "a 64 200 0x2000\n"
                          "r 0x1000 300 0x3000\n"
                          "   # an indented comment\n"
                          "r 0x0 50 0x4000\n"
                          "f 0x2000\n"
                          "f 0x3000\n");
    REQUIRE(t.ops.size() == 6);
    CHECK(t.blocks == 4);
    CHECK(t.ops[0] == trace_op::allocate(0, 100, 16));
    CHECK(t.ops[1] == trace_op::allocate(1, 200, 64));
    CHECK(t.ops[2] == trace_op::reallocate(0, 2, 300));
    CHECK(t.ops[3] == trace_op::allocate(3, 50, 16));
    CHECK(t.ops[4] == trace_op::free(1));
    CHECK(t.ops[5] == trace_op::free(2));
    CHECK(t.counts.lines == 10);
    CHECK(t.counts.allocations == 3);
    CHECK(t.counts.aligned_allocations == 1);
    CHECK(t.counts.reallocations == 1);
    CHECK(t.counts.frees == 2);
    CHECK(t.counts.unmatched_frees == 0);
    CHECK(check_trace(t).empty());
}

TEST_CASE("whitespace, tabs, CRLF and uppercase hex are accepted") {
    const trace t = parse("keel-alloc-trace 1\r\nm\t10   0xABCdef\r\n  f 0xabcdef  \r\nm 1 0X10");
    REQUIRE(t.ops.size() == 3);
    CHECK(t.ops[0] == trace_op::allocate(0, 10));
    CHECK(t.ops[1] == trace_op::free(0));
    CHECK(t.ops[2] == trace_op::allocate(1, 1));
}

TEST_CASE("frees of blocks from before recording are counted and dropped") {
    const trace t = parse(header +
                          "f 0x9000\n"
                          "m 8 0x1000\n"
                          "f 0x1000\n"
                          "f 0x1000\n"             // a second free: the block is gone
                          "r 0x7000 40 0x5000\n"   // realloc of an unknown block: an allocation
                          "f 0x5000\n");
    CHECK(t.counts.unmatched_frees == 3);
    CHECK(t.counts.frees == 2);
    REQUIRE(t.ops.size() == 4);
    CHECK(t.ops[2] == trace_op::allocate(1, 40));
    CHECK(t.ops[3] == trace_op::free(1));
}

TEST_CASE("realloc chains, in place and moving, keep one live block") {
    const trace t = parse(header +
                          "m 10 0x100\n"
                          "r 0x100 20 0x100\n"   // in place: same address
                          "r 0x100 4000 0x800\n"
                          "r 0x800 8 0x100\n"    // back to an address freed by the chain
                          "m 5 0x800\n"          // 0x800 is free again
                          "f 0x100\n"
                          "f 0x800\n");
    REQUIRE(t.ops.size() == 7);
    CHECK(t.ops[1] == trace_op::reallocate(0, 1, 20));
    CHECK(t.ops[2] == trace_op::reallocate(1, 2, 4000));
    CHECK(t.ops[3] == trace_op::reallocate(2, 3, 8));
    CHECK(t.ops[4] == trace_op::allocate(4, 5));
    CHECK(t.ops[5] == trace_op::free(3));
    CHECK(t.ops[6] == trace_op::free(4));
    const auto s = summarize(t);
    CHECK(s.peak_live_bytes == 4000);
    CHECK(s.peak_live_op == 2);
    CHECK(s.leaked_blocks == 0);
    CHECK(s.reallocations == 3);
}

TEST_CASE("malformed traces throw trace_error naming the line") {
    SECTION("header") {
        CHECK(error_of("", 1).find("missing the header") != std::string::npos);
        CHECK(error_of("m 1 0x10\n", 1).find("missing the header") != std::string::npos);
        CHECK(error_of("keel-alloc-trace 2\nm 1 0x10\n", 1).find("unsupported trace version '2'") != std::string::npos);
        CHECK(error_of("keel-alloc-trace\n", 1).find("bad header") != std::string::npos);
        CHECK(error_of("keel-alloc-trace 1 x\n", 1).find("bad header") != std::string::npos);
        CHECK(error_of("# comment first\nkeel-alloc-trace 1\n", 1).find("missing the header") != std::string::npos);
    }
    SECTION("keywords") {
        CHECK(error_of(header + "m 1 0x10\nx 1 0x20\n", 3).find("unknown record 'x'") != std::string::npos);
        CHECK(error_of(header + "\n\nmalloc 1 0x20\n", 4).find("unknown record 'malloc'") != std::string::npos);
    }
    SECTION("field counts") {
        CHECK(error_of(header + "m 1\n", 2).find("missing fields") != std::string::npos);
        CHECK(error_of(header + "m 1 0x10 0x20\n", 2).find("extra fields") != std::string::npos);
        CHECK(error_of(header + "a 16 1\n", 2).find("missing fields") != std::string::npos);
        CHECK(error_of(header + "r 0x10 1\n", 2).find("missing fields") != std::string::npos);
        CHECK(error_of(header + "f\n", 2).find("missing fields") != std::string::npos);
        CHECK(error_of(header + "f 0x1 0x2 0x3 0x4 0x5\n", 2).find("extra fields") != std::string::npos);
    }
    SECTION("numbers") {
        CHECK(error_of(header + "m -1 0x10\n", 2).find("bad size") != std::string::npos);
        CHECK(error_of(header + "m 12k 0x10\n", 2).find("bad size") != std::string::npos);
        CHECK(error_of(header + "m 99999999999999999999 0x10\n", 2).find("out of range") != std::string::npos);
        CHECK(error_of(header + "m 1 1000\n", 2).find("bad address") != std::string::npos);
        CHECK(error_of(header + "m 1 0x\n", 2).find("bad address") != std::string::npos);
        CHECK(error_of(header + "m 1 0xg1\n", 2).find("bad address") != std::string::npos);
        CHECK(error_of(header + "m 1 0x11111111111111111\n", 2).find("out of range") != std::string::npos);
        CHECK(error_of(header + "m 1 0x0\n", 2).find("null address") != std::string::npos);
        CHECK(error_of(header + "f 0x0\n", 2).find("null address") != std::string::npos);
        CHECK(error_of(header + "r 0x0 5 0x0\n", 2).find("null address") != std::string::npos);
    }
    SECTION("alignment") {
        CHECK(error_of(header + "a 24 100 0x1000\n", 2).find("not a power of two") != std::string::npos);
        CHECK(error_of(header + "a 0 100 0x1000\n", 2).find("not a power of two") != std::string::npos);
        CHECK(error_of(header + "a 4294967296 1 0x1000\n", 2).find("too large") != std::string::npos);
    }
    SECTION("allocation at a live address") {
        CHECK(error_of(header + "m 1 0x10\nm 2 0x20\nm 3 0x10\n", 4).find("0x10, which is still live") != std::string::npos);
        CHECK(error_of(header + "m 1 0x10\nm 2 0x20\nr 0x20 3 0x10\n", 4).find("still live") != std::string::npos);
        CHECK(error_of(header + "m 1 0x10\na 64 2 0x10\n", 3).find("still live") != std::string::npos);
    }
}

TEST_CASE("write_trace output parses back to the same trace") {
    trace t;
    t.ops = {trace_op::allocate(0, 100),         trace_op::allocate(1, 0, 4096),
             trace_op::reallocate(0, 2, 12345),  trace_op::allocate(3, 7, 8),
             trace_op::free(1),                  trace_op::reallocate(2, 4, 1),
             trace_op::allocate(5, 1u << 30, 64), trace_op::free(3)};
    t.blocks = 6;
    REQUIRE(check_trace(t).empty());
    std::ostringstream out;
    write_trace(out, t);
    const std::string text = out.str();
    CHECK(text.rfind("keel-alloc-trace 1\n", 0) == 0);
    const trace back = parse(text);
    CHECK(back.ops == t.ops);
    CHECK(back.blocks == t.blocks);
    CHECK(back.counts.allocations == 4);
    CHECK(back.counts.aligned_allocations == 3);
    CHECK(back.counts.reallocations == 2);
    CHECK(back.counts.frees == 2);
    // And a second roundtrip is byte-identical.
    std::ostringstream again;
    write_trace(again, back);
    CHECK(again.str() == text);
}

TEST_CASE("write_trace and summarize reject traces that break the invariants") {
    trace t;
    t.ops = {trace_op::allocate(0, 10), trace_op::free(0), trace_op::free(0)};
    t.blocks = 1;
    CHECK(check_trace(t).find("op 2") != std::string::npos);
    std::ostringstream out;
    CHECK_THROWS_AS(write_trace(out, t), std::invalid_argument);
    CHECK_THROWS_AS(summarize(t), std::invalid_argument);
    t.ops = {trace_op::allocate(1, 10)};
    t.blocks = 2;
    CHECK(check_trace(t).find("expected 0") != std::string::npos);
}

TEST_CASE("a long trace parses across read chunks") {
    std::string text = header;
    const int n = 200000;  // several 1 MiB chunks
    for (int i = 0; i < n; ++i) {
        text += "m " + std::to_string(i % 1000) + " 0x" + std::to_string(1000 + i) + "\n";
        if (i % 2 == 1) text += "f 0x" + std::to_string(1000 + i - 1) + "\n";
    }
    const trace t = parse(text);
    CHECK(t.blocks == static_cast<std::uint32_t>(n));
    CHECK(t.counts.frees == static_cast<std::uint64_t>(n / 2));
    CHECK(t.ops.size() == static_cast<std::size_t>(n + n / 2));
    const auto s = summarize(t);
    CHECK(s.leaked_blocks == static_cast<std::uint64_t>(n / 2));
    CHECK(s.peak_live_blocks == static_cast<std::uint64_t>(n / 2 + 1));
}

TEST_CASE("load_trace names the file in its errors") {
    const auto dir = std::filesystem::temp_directory_path();
    const auto good = dir / ("keel_trace_good_" + std::to_string(::getpid()) + ".trace");
    const auto bad = dir / ("keel_trace_bad_" + std::to_string(::getpid()) + ".trace");
    {
        std::ofstream(good) << header << "m 1 0x10\nf 0x10\n";
        std::ofstream(bad) << header << "m 1 0x10\nm 1 0x10\n";
    }
    CHECK(load_trace(good).ops.size() == 2);
    try {
        (void)load_trace(bad);
        FAIL("no error");
    } catch (const trace_error& e) {
        const std::string msg = e.what();
        CHECK(msg.find(bad.string()) == 0);
        CHECK(msg.find("line 3:") != std::string::npos);
        CHECK(e.line() == 3);
    }
    try {
        (void)load_trace(dir / "keel_no_such_trace_file");
        FAIL("no error");
    } catch (const trace_error& e) {
        CHECK(std::string(e.what()).find("keel_no_such_trace_file: cannot open") != std::string::npos);
    }
    std::filesystem::remove(good);
    std::filesystem::remove(bad);
}
