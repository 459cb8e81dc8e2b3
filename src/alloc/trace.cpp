#include <keel/alloc/trace.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <istream>
#include <limits>
#include <ostream>
#include <string_view>
#include <system_error>
#include <utility>

namespace keel::alloc {
namespace {

// Live address -> block id. Open addressing with linear probing and
// backward-shift deletion (no tombstones: traces free as often as they
// allocate). Address 0 marks an empty slot; traces never hold null.
class address_map {
public:
    address_map() { _slots.resize(std::size_t{1} << (64 - _shift)); }

    [[nodiscard]] const std::uint32_t* find(std::uint64_t key) const noexcept {
        for (std::size_t i = slot_of(key);; i = (i + 1) & mask()) {
            if (_slots[i].key == key) return &_slots[i].value;
            if (_slots[i].key == 0) return nullptr;
        }
    }
    // Inserts; false when the key is present already.
    bool insert(std::uint64_t key, std::uint32_t value) {
        if ((_size + 1) * 4 > _slots.size() * 3) grow();
        return place(key, value);
    }
    // Removes; false when absent.
    bool erase(std::uint64_t key) noexcept {
        std::size_t i = slot_of(key);
        for (;; i = (i + 1) & mask()) {
            if (_slots[i].key == key) break;
            if (_slots[i].key == 0) return false;
        }
        // Shift back later entries of the cluster that may sit past their home.
        std::size_t hole = i;
        for (std::size_t j = (i + 1) & mask(); _slots[j].key != 0; j = (j + 1) & mask()) {
            const std::size_t home = slot_of(_slots[j].key);
            const bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
            if (movable) {
                _slots[hole] = _slots[j];
                hole = j;
            }
        }
        _slots[hole] = {};
        --_size;
        return true;
    }

private:
    struct slot {
        std::uint64_t key = 0;
        std::uint32_t value = 0;
    };
    [[nodiscard]] std::size_t mask() const noexcept { return _slots.size() - 1; }
    [[nodiscard]] std::size_t slot_of(std::uint64_t key) const noexcept {
        // Fibonacci hashing (the top bits of the product: addresses share
        // their low zero bits and their high bits).
        return static_cast<std::size_t>((key * 0x9e3779b97f4a7c15ULL) >> _shift);
    }
    bool place(std::uint64_t key, std::uint32_t value) {
        for (std::size_t i = slot_of(key);; i = (i + 1) & mask()) {
            if (_slots[i].key == key) return false;
            if (_slots[i].key == 0) {
                _slots[i] = {key, value};
                ++_size;
                return true;
            }
        }
    }
    void grow() {
        std::vector<slot> old(_slots.size() * 2);
        old.swap(_slots);
        --_shift;
        _size = 0;
        for (const auto& s : old) {
            if (s.key != 0) place(s.key, s.value);
        }
    }
    unsigned _shift = 64 - 6;  // 64 slots to start
    std::vector<slot> _slots;
    std::size_t _size = 0;
};

constexpr std::string_view header_word = "keel-alloc-trace";
constexpr std::uint32_t max_trace_align = std::uint32_t{1} << 31;

[[noreturn]] void fail(std::size_t line, const std::string& what) {
    throw trace_error("line " + std::to_string(line) + ": " + what, line);
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r'; }

// Splits a line into at most `max` fields; returns how many there were
// (max + 1 means "more than max").
std::size_t split(std::string_view line, std::array<std::string_view, 5>& fields) noexcept {
    std::size_t n = 0;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_space(line[i])) ++i;
        if (i == line.size()) break;
        std::size_t j = i;
        while (j < line.size() && !is_space(line[j])) ++j;
        if (n == fields.size()) return n + 1;
        fields[n++] = line.substr(i, j - i);
        i = j;
    }
    return n;
}

std::uint64_t parse_decimal(std::string_view s, std::size_t line, const char* what) {
    std::uint64_t v = 0;
    const auto* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, v, 10);
    if (ec == std::errc::result_out_of_range) fail(line, std::string(what) + " out of range: '" + std::string(s) + "'");
    if (ec != std::errc{} || p != end) fail(line, std::string("bad ") + what + ": '" + std::string(s) + "' (want a decimal number)");
    return v;
}

std::uint64_t parse_address(std::string_view s, std::size_t line, const char* what) {
    if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
        fail(line, std::string("bad ") + what + ": '" + std::string(s) + "' (want hex with 0x)");
    }
    std::uint64_t v = 0;
    const auto* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data() + 2, end, v, 16);
    if (ec == std::errc::result_out_of_range) fail(line, std::string(what) + " out of range: '" + std::string(s) + "'");
    if (ec != std::errc{} || p != end) fail(line, std::string("bad ") + what + ": '" + std::string(s) + "' (want hex with 0x)");
    return v;
}

class parser {
public:
    void line(std::string_view text) {
        ++_line;
        if (_line == 1) {
            header(text);
            return;
        }
        std::array<std::string_view, 5> f;
        const std::size_t n = split(text, f);
        if (n == 0 || f[0][0] == '#') return;
        if (f[0].size() != 1) fail(_line, "unknown record '" + std::string(f[0]) + "' (want m, a, r or f)");
        switch (f[0][0]) {
            case 'm': {
                want(n, 3, "m SIZE ADDR");
                const auto size = parse_decimal(f[1], _line, "size");
                const auto addr = nonnull(parse_address(f[2], _line, "address"));
                create(addr, trace_op::allocate(0, size, 16));
                ++_t.counts.allocations;
                break;
            }
            case 'a': {
                want(n, 4, "a ALIGN SIZE ADDR");
                const auto align = parse_decimal(f[1], _line, "alignment");
                if (align == 0 || (align & (align - 1)) != 0) {
                    fail(_line, "alignment " + std::string(f[1]) + " is not a power of two");
                }
                if (align > max_trace_align) fail(_line, "alignment " + std::string(f[1]) + " is too large (at most 2^31)");
                const auto size = parse_decimal(f[2], _line, "size");
                const auto addr = nonnull(parse_address(f[3], _line, "address"));
                create(addr, trace_op::allocate(0, size, static_cast<std::uint32_t>(align)));
                ++_t.counts.allocations;
                ++_t.counts.aligned_allocations;
                break;
            }
            case 'r': {
                want(n, 4, "r OLD SIZE NEW");
                const auto old = parse_address(f[1], _line, "old address");
                const auto size = parse_decimal(f[2], _line, "size");
                const auto addr = parse_address(f[3], _line, "new address");
                if (addr == 0) fail(_line, "realloc to a null address (a realloc that frees is written as f)");
                if (old == 0) {
                    create(addr, trace_op::allocate(0, size, 16));
                    ++_t.counts.allocations;
                    break;
                }
                const std::uint32_t* old_id = _live.find(old);
                if (old_id == nullptr) {
                    // Reallocating a block from before recording: its end is
                    // an unmatched free, its result a new allocation.
                    ++_t.counts.unmatched_frees;
                    create(addr, trace_op::allocate(0, size, 16));
                    ++_t.counts.allocations;
                    break;
                }
                const std::uint32_t from = *old_id;
                _live.erase(old);
                create(addr, trace_op::reallocate(from, 0, size));
                ++_t.counts.reallocations;
                break;
            }
            case 'f': {
                want(n, 2, "f ADDR");
                const auto addr = nonnull(parse_address(f[1], _line, "address"));
                const std::uint32_t* id = _live.find(addr);
                if (id == nullptr) {
                    ++_t.counts.unmatched_frees;
                    break;
                }
                _t.ops.push_back(trace_op::free(*id));
                _live.erase(addr);
                ++_t.counts.frees;
                break;
            }
            default:
                fail(_line, "unknown record '" + std::string(f[0]) + "' (want m, a, r or f)");
        }
    }

    trace finish() {
        if (_line == 0) fail(1, "empty input: missing the header 'keel-alloc-trace 1'");
        _t.counts.lines = _line;
        return std::move(_t);
    }

private:
    void header(std::string_view text) {
        std::array<std::string_view, 5> f;
        const std::size_t n = split(text, f);
        if (n == 0 || f[0] != header_word) {
            fail(1, "missing the header 'keel-alloc-trace 1' (got '" + std::string(text.substr(0, 40)) + "')");
        }
        if (n != 2) fail(1, "bad header: want 'keel-alloc-trace 1'");
        if (f[1] != "1") fail(1, "unsupported trace version '" + std::string(f[1]) + "' (this reader reads version 1)");
    }
    void want(std::size_t n, std::size_t expected, const char* form) const {
        if (n < expected) fail(_line, std::string("missing fields: want '") + form + "'");
        if (n > expected) fail(_line, std::string("extra fields: want '") + form + "'");
    }
    std::uint64_t nonnull(std::uint64_t addr) const {
        if (addr == 0) fail(_line, "null address");
        return addr;
    }
    void create(std::uint64_t addr, trace_op op) {
        if (_t.blocks == std::numeric_limits<std::uint32_t>::max()) fail(_line, "too many blocks (at most 2^32 - 1)");
        op.id = _t.blocks;
        if (!_live.insert(addr, op.id)) {
            char buf[24];
            auto r = std::to_chars(buf, buf + sizeof buf, addr, 16);
            fail(_line, "allocation at 0x" + std::string(buf, r.ptr) + ", which is still live");
        }
        ++_t.blocks;
        _t.ops.push_back(op);
    }

    trace _t;
    address_map _live;
    std::size_t _line = 0;
};

std::uint64_t synthetic_address(std::uint32_t id) noexcept {
    // Distinct per block, page-aligned so that any alignment looks honoured.
    return (std::uint64_t{id} + 1) << 12;
}

}  // namespace

trace parse_trace(std::istream& in) {
    parser p;
    // Starts small (short inputs stay cheap) and doubles up to 1 MiB chunks.
    std::vector<char> buf(std::size_t{1} << 12);
    std::size_t kept = 0;  // bytes of an unfinished line at the start of buf
    while (true) {
        if (kept == buf.size()) buf.resize(buf.size() * 2);  // a very long line
        in.read(buf.data() + kept, static_cast<std::streamsize>(buf.size() - kept));
        const auto got = static_cast<std::size_t>(in.gcount());
        const std::size_t end = kept + got;
        std::size_t start = 0;
        for (std::size_t i = kept; i < end; ++i) {
            if (buf[i] == '\n') {
                p.line(std::string_view(buf.data() + start, i - start));
                start = i + 1;
            }
        }
        if (got == 0) {
            if (start < end) p.line(std::string_view(buf.data() + start, end - start));
            break;
        }
        std::copy(buf.begin() + static_cast<std::ptrdiff_t>(start),
                  buf.begin() + static_cast<std::ptrdiff_t>(end), buf.begin());
        kept = end - start;
        if (end == buf.size() && buf.size() < (std::size_t{1} << 20)) buf.resize(buf.size() * 2);
    }
    if (in.bad()) throw trace_error("read error", 0);
    return p.finish();
}

trace load_trace(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw trace_error(path.string() + ": cannot open", 0);
    try {
        return parse_trace(in);
    } catch (const trace_error& e) {
        throw trace_error(path.string() + ": " + e.what(), e.line());
    }
}

std::string check_trace(const trace& t) {
    std::vector<bool> live(t.blocks, false);
    std::uint32_t next = 0;
    auto bad = [](std::size_t i, const std::string& what) {
        return "op " + std::to_string(i) + ": " + what;
    };
    for (std::size_t i = 0; i < t.ops.size(); ++i) {
        const auto& op = t.ops[i];
        if (op.what == trace_op::kind::free || op.what == trace_op::kind::reallocate) {
            const std::uint32_t gone = op.what == trace_op::kind::free ? op.id : op.old_id;
            if (gone >= next || !live[gone]) return bad(i, "block " + std::to_string(gone) + " is not live");
            live[gone] = false;
        }
        if (op.what == trace_op::kind::allocate || op.what == trace_op::kind::reallocate) {
            if (op.id != next) return bad(i, "creates block " + std::to_string(op.id) + ", expected " + std::to_string(next));
            if (next >= t.blocks) return bad(i, "more blocks than trace::blocks");
            if (op.align == 0 || (op.align & (op.align - 1)) != 0) return bad(i, "alignment is not a power of two");
            live[next++] = true;
        }
    }
    if (next != t.blocks) return "trace::blocks is " + std::to_string(t.blocks) + " but ops create " + std::to_string(next);
    return {};
}

trace_summary summarize(const trace& t) {
    if (auto e = check_trace(t); !e.empty()) throw std::invalid_argument("summarize: " + e);
    std::vector<std::uint64_t> size(t.blocks, 0);
    std::vector<bool> live(t.blocks, false);
    trace_summary s;
    std::uint64_t bytes = 0;
    std::uint64_t blocks = 0;
    s.ops = t.ops.size();
    for (std::size_t i = 0; i < t.ops.size(); ++i) {
        const auto& op = t.ops[i];
        switch (op.what) {
            case trace_op::kind::allocate:
                ++s.allocations;
                break;
            case trace_op::kind::reallocate:
                ++s.reallocations;
                bytes -= size[op.old_id];
                live[op.old_id] = false;
                --blocks;
                break;
            case trace_op::kind::free:
                ++s.frees;
                bytes -= size[op.id];
                live[op.id] = false;
                --blocks;
                break;
        }
        if (op.what != trace_op::kind::free) {
            size[op.id] = op.size;
            live[op.id] = true;
            bytes += op.size;
            ++blocks;
            s.bytes_allocated += op.size;
            s.max_size = std::max(s.max_size, op.size);
            s.max_align = std::max(s.max_align, op.align);
        }
        if (bytes > s.peak_live_bytes) {
            s.peak_live_bytes = bytes;
            s.peak_live_op = i;
        }
        s.peak_live_blocks = std::max(s.peak_live_blocks, blocks);
    }
    s.leaked_blocks = blocks;
    s.leaked_bytes = bytes;
    return s;
}

void write_trace(std::ostream& out, const trace& t) {
    if (auto e = check_trace(t); !e.empty()) throw std::invalid_argument("write_trace: " + e);
    std::string buf;
    buf.reserve(std::size_t{1} << 16);
    buf += "keel-alloc-trace 1\n";
    char num[24];
    auto dec = [&](std::uint64_t v) {
        auto r = std::to_chars(num, num + sizeof num, v);
        buf.append(num, r.ptr);
    };
    auto hex = [&](std::uint64_t v) {
        buf += "0x";
        auto r = std::to_chars(num, num + sizeof num, v, 16);
        buf.append(num, r.ptr);
    };
    for (const auto& op : t.ops) {
        switch (op.what) {
            case trace_op::kind::allocate:
                if (op.align == 16) {
                    buf += "m ";
                } else {
                    buf += "a ";
                    dec(op.align);
                    buf += ' ';
                }
                dec(op.size);
                buf += ' ';
                hex(synthetic_address(op.id));
                break;
            case trace_op::kind::reallocate:
                buf += "r ";
                hex(synthetic_address(op.old_id));
                buf += ' ';
                dec(op.size);
                buf += ' ';
                hex(synthetic_address(op.id));
                break;
            case trace_op::kind::free:
                buf += "f ";
                hex(synthetic_address(op.id));
                break;
        }
        buf += '\n';
        if (buf.size() > (std::size_t{1} << 16) - 64) {
            out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
            buf.clear();
        }
    }
    out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    out.flush();
}

void save_trace(const std::filesystem::path& path, const trace& t) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::system_error(errno, std::generic_category(), "cannot write " + path.string());
    write_trace(out, t);
    if (!out) throw std::system_error(errno, std::generic_category(), "cannot write " + path.string());
}

}  // namespace keel::alloc
