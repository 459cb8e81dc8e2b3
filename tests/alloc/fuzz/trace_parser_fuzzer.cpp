// Fuzz target for parse_trace: any input either parses into a trace that
// keeps the trace invariants and survives a write/parse roundtrip, or throws
// trace_error. Anything else (another exception, a crash, a sanitizer report)
// is a bug.
//
// With Clang this is a libFuzzer target. Elsewhere (g++) a small main runs it
// over inputs made by mutating a few valid traces, so CI exercises it:
//   alloc_fuzz_trace_parser [iterations] [seed]

#include <keel/alloc/trace.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace {

[[noreturn]] void bug(const char* what) {
    std::fprintf(stderr, "trace_parser_fuzzer: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace keel::alloc;
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    trace t;
    try {
        t = parse_trace(in);
    } catch (const trace_error& e) {
        if (e.line() == 0 || std::string(e.what()).find("line ") != 0) bug("trace_error without a line");
        return 0;
    }
    if (!check_trace(t).empty()) bug("parsed trace breaks the invariants");
    std::stringstream text;
    write_trace(text, t);
    const trace back = parse_trace(text);
    if (back.ops != t.ops || back.blocks != t.blocks) bug("write/parse roundtrip differs");
    (void)summarize(t);
    return 0;
}

#if defined(KEEL_FUZZ_STANDALONE_MAIN)

#include <random>
#include <vector>

namespace {

const char* const seeds[] = {
    "keel-alloc-trace 1\nm 16 0x1000\na 64 100 0x2000\nr 0x1000 32 0x3000\nf 0x2000\nf 0x3000\n",
    "keel-alloc-trace 1\n# comment\n\nm 0 0x10\nr 0x10 0 0x10\nr 0x0 7 0x20\nf 0x99\nf 0x10\n",
    "keel-alloc-trace 1\r\nm\t8 0xabc\r\n a 4096 1 0xdef \r\nf 0xabc",
    "keel-alloc-trace 1\nm 18446744073709551615 0xffffffffffffffff\nf 0xffffffffffffffff\n",
};

const char* const tokens[] = {"m ", "a ", "r ", "f ", "0x", "0x0", "\n", " ", "#", "keel-alloc-trace 1\n",
                              "4096", "3", "0", "-1", "18446744073709551616", "0x10", "\r", "\t", "\0",
                              "a 24 ", "r 0x10 5 0x10\n", "m 1 0x10\n", "f 0x10\n"};

std::string mutate(std::string s, std::mt19937_64& rng) {
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits; ++e) {
        const std::size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
        switch (rng() % 6) {
            case 0:  // flip a byte
                if (!s.empty()) s[at % s.size()] = static_cast<char>(rng());
                break;
            case 1:  // insert a token
                s.insert(at, tokens[rng() % (sizeof tokens / sizeof tokens[0])]);
                break;
            case 2:  // delete a range
                if (!s.empty()) s.erase(at % s.size(), 1 + rng() % 8);
                break;
            case 3: {  // duplicate a range (repeats lines: live-address clashes)
                if (s.empty()) break;
                const std::size_t from = rng() % s.size();
                s.insert(at, s.substr(from, 1 + rng() % 40));
                break;
            }
            case 4:  // change a digit
                if (!s.empty()) s[at % s.size()] = static_cast<char>('0' + rng() % 10);
                break;
            default:  // truncate
                s.resize(at);
                break;
        }
    }
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 5000;
    std::mt19937_64 rng(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1);
    std::vector<std::string> pool(std::begin(seeds), std::end(seeds));
    long parsed = 0;
    for (long i = 0; i < iterations; ++i) {
        std::string input = mutate(pool[rng() % pool.size()], rng);
        std::istringstream probe(input);
        try {
            (void)keel::alloc::parse_trace(probe);
            ++parsed;
            if (pool.size() < 64) pool.push_back(input);  // valid inputs breed further
        } catch (const keel::alloc::trace_error&) {
        }
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
    }
    std::printf("trace_parser_fuzzer: %ld inputs, %ld parsed\n", iterations, parsed);
    return 0;
}

#endif
