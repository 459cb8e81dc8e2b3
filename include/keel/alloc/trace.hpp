#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

// Allocation traces: what a program asked of its allocator, in order, in the
// text format of docs/alloc-trace-format.md:
//
//   keel-alloc-trace 1            first line: the format and its version
//   # comment                     comments and blank lines anywhere after it
//   m SIZE ADDR                   malloc, calloc (total size), operator new
//   a ALIGN SIZE ADDR             aligned_alloc, posix_memalign, memalign, valloc, pvalloc
//   r OLD SIZE NEW                realloc (OLD 0x0: a malloc); a realloc that frees is an f
//   f ADDR                        free
//
// SIZE and ALIGN are decimal, addresses hex with a 0x prefix. Parsed, a trace
// is a vector of operations on dense block ids (0, 1, 2, ... in the order the
// blocks were created): addresses matter only for matching frees to blocks.

namespace keel::alloc {

/// A malformed trace: the message names the line (and the file, from
/// load_trace) and the problem; line() is that line number (1-based), 0 when
/// the problem is not on one line (a file that cannot be opened).
class trace_error : public std::runtime_error {
public:
    trace_error(const std::string& what, std::size_t line) : std::runtime_error(what), _line(line) {}
    [[nodiscard]] std::size_t line() const noexcept { return _line; }

private:
    std::size_t _line;
};

/// One operation of a trace. Plain data, 24 bytes.
///  - allocate: block `id` of `size` bytes aligned to `align`.
///  - free: block `id` ends.
///  - reallocate: block `old_id` ends and block `id` of `size` bytes begins,
///    holding min(old size, size) bytes of the old block (default alignment).
/// `align` is default_alignment (16) for malloc-like allocations.
struct trace_op {
    /// What the operation does.
    enum class kind : std::uint8_t { allocate, free, reallocate };

    std::uint64_t size = 0;
    std::uint32_t id = 0;
    std::uint32_t old_id = 0;
    std::uint32_t align = 0;
    kind what = kind::allocate;

    [[nodiscard]] static constexpr trace_op allocate(std::uint32_t id, std::uint64_t size,
                                                     std::uint32_t align = 16) noexcept {
        return {size, id, 0, align, kind::allocate};
    }
    [[nodiscard]] static constexpr trace_op free(std::uint32_t id) noexcept {
        return {0, id, 0, 0, kind::free};
    }
    [[nodiscard]] static constexpr trace_op reallocate(std::uint32_t old_id, std::uint32_t id,
                                                       std::uint64_t size) noexcept {
        return {size, id, old_id, 16, kind::reallocate};
    }
    friend bool operator==(const trace_op&, const trace_op&) = default;
};

/// What a parse saw, by record. Plain data.
///  - unmatched_frees: frees (and reallocs) of addresses the trace never
///    allocated (blocks from before recording began); dropped from the ops
///    (an unmatched realloc becomes an allocate).
struct trace_counts {
    std::uint64_t lines = 0;
    std::uint64_t allocations = 0;          ///< m and a records, and r records with OLD 0
    std::uint64_t aligned_allocations = 0;  ///< a records
    std::uint64_t reallocations = 0;        ///< r records with a known OLD
    std::uint64_t frees = 0;                ///< f records of known blocks
    std::uint64_t unmatched_frees = 0;
    friend bool operator==(const trace_counts&, const trace_counts&) = default;
};

/// A parsed (or generated) trace. Invariants, which parse_trace guarantees and
/// generators keep: ops that create a block (allocate, reallocate) use ids
/// 0, 1, 2, ... in order, so `blocks` is the number created; every free and
/// every reallocate's old_id names a block that is live at that point.
/// Blocks still live at the end are leaks (replay frees them, untimed).
/// Not thread-safe to mutate; const access is free to share.
struct trace {
    std::vector<trace_op> ops;
    std::uint32_t blocks = 0;
    trace_counts counts;
};

/// Parses a trace in the text format. Throws trace_error naming the line for a
/// missing or unsupported header, an unknown record, missing or extra fields,
/// a bad number, an alignment that is not a power of two, a null address, or an
/// allocation at an address that is still live. Reads the stream in large
/// chunks (no per-token iostream parsing): millions of lines per second.
[[nodiscard]] trace parse_trace(std::istream& in);

/// parse_trace over a file; every error message starts with the path.
[[nodiscard]] trace load_trace(const std::filesystem::path& path);

/// Writes `t` in the text format, with synthetic addresses (one distinct
/// address per block id). parse_trace gives back an equal trace (ops, blocks;
/// counts are recomputed). Throws std::invalid_argument when `t` breaks its
/// invariants (a free of a block that is not live, ids out of order).
void write_trace(std::ostream& out, const trace& t);

/// Writes `t` to a file (see write_trace); throws std::system_error when the
/// file cannot be written.
void save_trace(const std::filesystem::path& path, const trace& t);

/// Numbers about a trace, from one walk over its ops. Plain data.
struct trace_summary {
    std::uint64_t ops = 0;
    std::uint64_t allocations = 0;      ///< allocate ops
    std::uint64_t reallocations = 0;
    std::uint64_t frees = 0;
    std::uint64_t bytes_allocated = 0;  ///< over allocate and reallocate ops
    std::uint64_t max_size = 0;
    std::uint64_t peak_live_bytes = 0;  ///< the most requested bytes live at once
    std::uint64_t peak_live_blocks = 0;
    std::uint64_t peak_live_op = 0;     ///< index of the first op after which peak_live_bytes is live
    std::uint64_t leaked_blocks = 0;    ///< live at the end
    std::uint64_t leaked_bytes = 0;
    std::uint32_t max_align = 0;
};

/// Summarises `t`: O(ops) time, O(blocks) memory. Throws std::invalid_argument
/// when `t` breaks its invariants.
[[nodiscard]] trace_summary summarize(const trace& t);

/// "" when `t` keeps the trace invariants, else the first op that breaks them.
[[nodiscard]] std::string check_trace(const trace& t);

}  // namespace keel::alloc
