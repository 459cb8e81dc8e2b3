#pragma once
// The cp loop of the iospec examples: the program (pread a block, pwrite it to the copy,
// until a short read) and its foreaction graph. Shared by examples/iospec/cp.cpp and
// bench_iospec.

#include "calls.hpp"

#include <keel/iospec.hpp>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace example::cp {

namespace is = keel::iospec;

// The program: copy `src` to `dst` block by block. Returns bytes copied, or -1.
template <class Calls>
long long copy(Calls& io, int src, int dst, std::size_t block) {
    std::vector<std::byte> buf(block);
    long long total = 0;
    for (std::uint64_t i = 0;; ++i) {
        const auto offset = static_cast<off_t>(i * block);
        const ssize_t n = io.pread(src, buf.data(), block, offset);
        if (n < 0) return -1;
        if (n > 0 && io.pwrite(dst, buf.data(), static_cast<std::size_t>(n), offset) != n) return -1;
        total += n;
        if (static_cast<std::size_t>(n) != block) return total;
    }
}

// Its graph: read --> data? (0: write --> more?, 1: more?); more? repeats read or ends.
inline is::graph copy_graph(int src, int dst, std::size_t block) {
    is::graph_builder b("cp");
    auto more = b.loop("more", {.max_iterations = 1ULL << 40});
    auto data = b.branch("data?");
    auto read = b.pread("read", [=](const is::context& c) -> std::optional<is::pread_args> {
        return is::pread_args{src, block, c.iteration(more) * block};
    });
    auto write = b.pwrite("write", [=](const is::context& c) -> std::optional<is::pwrite_args> {
        auto r = c.result(read);  // this epoch's read: its bytes are the write's data
        if (!r || r->value <= 0) return std::nullopt;
        return is::pwrite_args{dst, r->data.first(static_cast<std::size_t>(r->value)), c.iteration(more) * block};
    });
    b.decide(data, [=](const is::context& c) -> std::optional<std::size_t> {
        auto r = c.result(read);
        if (!r) return std::nullopt;
        return r->value > 0 ? 0 : 1;
    });
    b.decide(more, [=](const is::context& c) -> std::optional<bool> {
        auto r = c.result(read);
        if (!r) return std::nullopt;
        return r->value == static_cast<std::int64_t>(block);
    });
    b.start(read);
    b.edge(read, data);
    b.edge(data, write);  // target 0
    b.edge(data, more);   // target 1
    b.edge(write, more);
    b.repeat(more, read);
    b.edge(more, b.end());
    return b.build();
}

}  // namespace example::cp
