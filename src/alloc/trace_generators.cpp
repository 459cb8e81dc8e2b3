#include <keel/alloc/trace_generators.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <queue>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace keel::alloc {
namespace {

using rng_t = std::mt19937_64;

std::uint64_t below(rng_t& rng, std::uint64_t n) { return n == 0 ? 0 : rng() % n; }
double unit(rng_t& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
double exponential(rng_t& rng, double mean) { return -mean * std::log1p(-unit(rng)); }

// Appends ops keeping the trace invariants; the counts match what parse_trace
// gives for write_trace's output.
class builder {
public:
    std::uint32_t alloc(std::uint64_t size, std::uint32_t align = 16) {
        _t.ops.push_back(trace_op::allocate(_t.blocks, size, align));
        ++_t.counts.allocations;
        if (align != 16) ++_t.counts.aligned_allocations;
        return _t.blocks++;
    }
    void free(std::uint32_t id) {
        _t.ops.push_back(trace_op::free(id));
        ++_t.counts.frees;
    }
    std::uint32_t realloc(std::uint32_t old, std::uint64_t size) {
        _t.ops.push_back(trace_op::reallocate(old, _t.blocks, size));
        ++_t.counts.reallocations;
        return _t.blocks++;
    }
    trace take() {
        _t.counts.lines = _t.ops.size() + 1;
        return std::move(_t);
    }

private:
    trace _t;
};

// Live blocks with O(1) insert, erase by id and uniform choice.
class live_set {
public:
    void add(std::uint32_t id) {
        if (id >= _pos.size()) _pos.resize(std::max<std::size_t>(id + 1, _pos.size() * 2), npos);
        _pos[id] = static_cast<std::uint32_t>(_ids.size());
        _ids.push_back(id);
    }
    [[nodiscard]] bool contains(std::uint32_t id) const { return id < _pos.size() && _pos[id] != npos; }
    void erase(std::uint32_t id) {
        const std::uint32_t at = _pos[id];
        _ids[at] = _ids.back();
        _pos[_ids[at]] = at;
        _ids.pop_back();
        _pos[id] = npos;
    }
    [[nodiscard]] std::uint32_t pick(rng_t& rng) const { return _ids[below(rng, _ids.size())]; }
    [[nodiscard]] std::size_t size() const noexcept { return _ids.size(); }
    [[nodiscard]] bool empty() const noexcept { return _ids.empty(); }
    [[nodiscard]] const std::vector<std::uint32_t>& ids() const noexcept { return _ids; }

private:
    static constexpr std::uint32_t npos = std::numeric_limits<std::uint32_t>::max();
    std::vector<std::uint32_t> _ids;
    std::vector<std::uint32_t> _pos;
};

void validate(const synthetic_options& o) {
    if (o.min_size > o.max_size) throw std::invalid_argument("synthetic trace: min_size is above max_size");
    if (o.sizes == size_distribution::exponential && o.mean_size != 0 &&
        (o.mean_size <= o.min_size || o.mean_size > o.max_size)) {
        throw std::invalid_argument("synthetic trace: mean_size must lie in (min_size, max_size]");
    }
    if (o.lifetimes == lifetime_distribution::random && o.live_blocks == 0) {
        throw std::invalid_argument("synthetic trace: live_blocks must be positive");
    }
    if (o.lifetimes == lifetime_distribution::exponential && !(o.mean_lifetime > 0)) {
        throw std::invalid_argument("synthetic trace: mean_lifetime must be positive");
    }
    auto fraction = [](double f) { return f >= 0 && f <= 1; };
    if (!fraction(o.realloc_fraction) || !fraction(o.aligned_fraction)) {
        throw std::invalid_argument("synthetic trace: realloc_fraction and aligned_fraction must lie in [0, 1]");
    }
}

std::uint64_t draw_size(rng_t& rng, const synthetic_options& o) {
    if (o.sizes == size_distribution::uniform) return o.min_size + below(rng, o.max_size - o.min_size + 1);
    const double mean = static_cast<double>(o.mean_size != 0 ? o.mean_size - o.min_size
                                                             : std::max<std::size_t>((o.max_size - o.min_size) / 8, 1));
    for (;;) {
        const double x = static_cast<double>(o.min_size) + std::floor(exponential(rng, mean));
        if (x <= static_cast<double>(o.max_size)) return static_cast<std::uint64_t>(x);
    }
}

// The synthetic engine, shared by generate_synthetic and generate_phased.
class synthetic_run {
public:
    synthetic_run(builder& b, rng_t& rng) : _b(b), _rng(rng) {}

    void phase(const synthetic_options& o) {
        using death = std::pair<double, std::uint32_t>;
        std::priority_queue<death, std::vector<death>, std::greater<>> deaths;
        double clock = 0;
        for (std::size_t made = 0; made < o.allocations;) {
            if (o.lifetimes == lifetime_distribution::random) {
                const double p_free = static_cast<double>(_live.size()) / (2.0 * static_cast<double>(o.live_blocks));
                if (!_live.empty() && unit(_rng) < p_free) {
                    kill(_live.pick(_rng));
                    continue;
                }
            } else {
                clock += 1;
                while (!deaths.empty() && deaths.top().first <= clock) {
                    if (_live.contains(deaths.top().second)) kill(deaths.top().second);
                    deaths.pop();
                }
            }
            std::uint32_t id = 0;
            if (!_live.empty() && unit(_rng) < o.realloc_fraction) {
                const std::uint32_t old = _live.pick(_rng);
                _live.erase(old);
                id = _b.realloc(old, draw_size(_rng, o));
            } else {
                std::uint32_t align = 16;
                if (unit(_rng) < o.aligned_fraction) align = std::uint32_t{32} << below(_rng, 8);
                id = _b.alloc(draw_size(_rng, o), align);
            }
            _live.add(id);
            if (o.lifetimes == lifetime_distribution::exponential) {
                deaths.emplace(clock + exponential(_rng, o.mean_lifetime), id);
            }
            ++made;
        }
    }
    // Every live block survives with probability `keep` (to the end), else dies.
    void cull(double keep) {
        const std::vector<std::uint32_t> ids = _live.ids();
        for (std::uint32_t id : ids) {
            _live.erase(id);
            if (unit(_rng) < keep) {
                _survivors.push_back(id);
            } else {
                _b.free(id);
            }
        }
    }
    void free_all() {
        cull(0);
        for (std::uint32_t id : _survivors) _b.free(id);
        _survivors.clear();
    }

private:
    void kill(std::uint32_t id) {
        _live.erase(id);
        _b.free(id);
    }
    builder& _b;
    rng_t& _rng;
    live_set _live;
    std::vector<std::uint32_t> _survivors;
};

// ---- synthetic presets ----------------------------------------------------

trace preset_uniform(std::uint64_t seed, std::size_t scale) {
    synthetic_options o;
    o.allocations = 10000 * scale;
    return generate_synthetic(o, seed);
}

trace preset_exponential(std::uint64_t seed, std::size_t scale) {
    synthetic_options o;
    o.allocations = 10000 * scale;
    o.min_size = 8;
    o.max_size = 65536;
    o.mean_size = 512;
    o.sizes = size_distribution::exponential;
    o.lifetimes = lifetime_distribution::exponential;
    o.mean_lifetime = 2000;
    o.aligned_fraction = 0.02;
    return generate_synthetic(o, seed);
}

trace preset_realloc_heavy(std::uint64_t seed, std::size_t scale) {
    synthetic_options o;
    o.allocations = 10000 * scale;
    o.max_size = 1024;
    o.sizes = size_distribution::exponential;
    o.live_blocks = 500;
    o.realloc_fraction = 0.3;
    return generate_synthetic(o, seed);
}

trace preset_phased(std::uint64_t seed, std::size_t scale) {
    std::array<synthetic_options, 3> p;
    for (auto& o : p) o.allocations = 4000 * scale;
    // Many small short-lived objects (parsing) ...
    p[0].min_size = 16;
    p[0].max_size = 128;
    p[0].lifetimes = lifetime_distribution::exponential;
    p[0].mean_lifetime = 200;
    // ... then a few big buffers (processing) ...
    p[1].min_size = 1024;
    p[1].max_size = 65536;
    p[1].sizes = size_distribution::exponential;
    p[1].live_blocks = 100;
    // ... then medium objects that mostly live long (output).
    p[2].min_size = 32;
    p[2].max_size = 2048;
    p[2].lifetimes = lifetime_distribution::exponential;
    p[2].mean_lifetime = 5000;
    return generate_phased(p, 0.1, seed);
}

// ---- adversarial suite ----------------------------------------------------
// Sizes are multiples of 64 bytes with margins of at least 64 bytes between
// "fits" and "does not fit", so that headers and rounding of up to 48 bytes
// do not change which holes a request fits. Round-based attacks grow their
// sizes 4x per round, and size their separators above every hole left by
// earlier rounds, so that rounds do not feed each other's holes.

// The layout both hole attacks below share: n holes of each of `hole_sizes`
// (in that order, from low addresses up), each followed by a live separator;
// the holes are freed, then n blocks of each of `requests` are asked, in order.
void holes_then_requests(builder& b, std::size_t n, std::initializer_list<std::uint64_t> hole_sizes,
                         std::uint64_t separator, std::initializer_list<std::uint64_t> requests) {
    std::vector<std::uint32_t> holes;
    for (const std::uint64_t size : hole_sizes) {
        for (std::size_t k = 0; k < n; ++k) {
            holes.push_back(b.alloc(size));
            b.alloc(separator);
        }
    }
    for (auto id : holes) b.free(id);
    for (const std::uint64_t size : requests) {
        for (std::size_t k = 0; k < n; ++k) b.alloc(size);
    }
}

// anti_first_fit: in each round, lay out N big holes (16q) at low addresses and
// N tight holes (10q) above them, separated by live blocks; then ask N
// medium blocks (9q), then N big ones (16q). First fit puts each medium block
// in the first hole that fits - a big hole, whose 7q remainder is then useless
// - so every big request goes to fresh memory, and the tight holes stay empty:
// about 1.5 x live. Best fit puts the medium blocks in the tight holes and the
// big ones in the big holes: about 1.03 x live.
trace adversary_first_fit(std::uint64_t seed, std::size_t scale) {
    rng_t rng(seed);
    builder b;
    const std::uint64_t q0 = 64 + 16 * below(rng, 4);
    const std::size_t n = 32 * scale;
    for (int round = 0; round < 4; ++round) {
        const std::uint64_t q = q0 << (2 * round);
        holes_then_requests(b, n, {16 * q, 10 * q}, 3 * q, {9 * q, 16 * q});
    }
    return b.take();
}

// anti_next_fit: rounds of a burst of K short-lived blocks (the same sizes
// every round), one small long-lived block, then the burst's frees. Next fit
// resumes its search after the long-lived block, at the untouched end of the
// heap, so every burst takes fresh memory and the freed bursts stay as holes
// between the long-lived blocks: the footprint grows by a burst per round.
// First fit and best fit put each burst back into the hole of the previous one.
trace adversary_next_fit(std::uint64_t seed, std::size_t scale) {
    rng_t rng(seed);
    builder b;
    const std::size_t k = 64 * scale;
    std::vector<std::uint64_t> sizes(k);
    for (auto& s : sizes) s = 64 * (4 + below(rng, 13));
    std::vector<std::uint32_t> burst(k);
    for (int round = 0; round < 32; ++round) {
        for (std::size_t i = 0; i < k; ++i) burst[i] = b.alloc(sizes[i]);
        b.alloc(64);
        for (auto id : burst) b.free(id);
    }
    return b.take();
}

// anti_best_fit (Knuth's example of first fit beating best fit, repeated):
// holes of 64u at low addresses and 38u above them; then N requests of 35u,
// N of 38u and N of 28u. Best fit puts 35u in the 38u holes (3u left) and
// 38u in the 64u holes (26u left); no hole is left for 28u, which goes to
// fresh memory, and 29u per group is lost in slivers: about 1.25 x live.
// First fit puts 35u in the 64u holes, 38u in the 38u holes and 28u in the
// 29u remainders: about 1.01 x live.
trace adversary_best_fit(std::uint64_t seed, std::size_t scale) {
    rng_t rng(seed);
    builder b;
    const std::uint64_t u0 = 64 + 16 * below(rng, 2);
    const std::size_t n = 32 * scale;
    for (int round = 0; round < 4; ++round) {
        const std::uint64_t u = u0 << (2 * round);
        holes_then_requests(b, n, {64 * u, 38 * u}, 8 * u, {35 * u, 38 * u, 28 * u});
    }
    return b.take();
}

// anti_worst_fit: rounds that lay out N holes of random sizes (separated by
// small live blocks), then ask exactly those sizes again, long-lived. Best fit
// fills each hole exactly. Worst fit carves every request from the largest
// free block - the untouched end of the region, or the biggest hole, whose
// remainder then no longer fits its own size - so it needs about twice the
// live bytes, and the exact holes stay empty.
trace adversary_worst_fit(std::uint64_t seed, std::size_t scale) {
    rng_t rng(seed);
    builder b;
    const std::size_t n = 32 * scale;
    for (int round = 0; round < 8; ++round) {
        std::vector<std::uint64_t> sizes(n);
        std::vector<std::uint32_t> holes;
        for (auto& s : sizes) {
            s = 64 * (8 + below(rng, 25));
            holes.push_back(b.alloc(s));
            b.alloc(64);
        }
        for (auto id : holes) b.free(id);
        for (auto s : sizes) b.alloc(s);
    }
    return b.take();
}

// anti_buddy: requests just above a power of two (2^j + 1 to 2^j + 2^j/16,
// j = 6..13) under random churn. A binary buddy rounds each to 2^(j+1):
// nearly half of every block is internal fragmentation, about 1.9 x live.
// Best fit and TLSF waste only their headers and rounding.
trace adversary_buddy(std::uint64_t seed, std::size_t scale) {
    rng_t rng(seed);
    builder b;
    live_set live;
    const std::size_t target = 500;
    for (std::size_t made = 0; made < 10000 * scale;) {
        const double p_free = static_cast<double>(live.size()) / (2.0 * target);
        if (!live.empty() && unit(rng) < p_free) {
            const auto id = live.pick(rng);
            live.erase(id);
            b.free(id);
            continue;
        }
        const std::uint64_t base = std::uint64_t{1} << (6 + below(rng, 8));
        live.add(b.alloc(base + 1 + below(rng, base / 16)));
        ++made;
    }
    for (auto id : std::vector<std::uint32_t>(live.ids())) b.free(id);
    return b.take();
}

// robson: the doubling attack behind Robson's log n bound, for any allocator
// that places blocks it cannot fit in a hole one after another in fresh
// memory (all of keel's). Phase i allocates blocks of s_i = 2^i x 1 KiB (less
// 64 bytes) until M bytes are live, then frees every other surviving block of
// every phase so far, in allocation order. A hole then spans 2^k - 1 freed
// blocks of some earlier size, which is always less than s_(i+1): no later
// request fits any hole, each phase takes M/2 of fresh memory, and after P
// phases the footprint is about (P + 1)/2 x the peak live M. No policy does
// fine here; it is the floor for non-moving allocators.
trace adversary_robson(std::uint64_t seed, std::size_t scale) {
    rng_t rng(seed);
    builder b;
    constexpr int phases = 8;
    const std::uint64_t s0 = 1024;
    const std::uint64_t budget = 32 * (s0 << (phases - 1)) * scale;
    std::vector<std::vector<std::uint32_t>> kept(phases);
    std::vector<std::uint64_t> slot(phases);
    std::uint64_t live = 0;
    for (int i = 0; i < phases; ++i) {
        slot[static_cast<std::size_t>(i)] = s0 << i;
        const std::uint64_t s = s0 << i;
        while (live + s <= budget) {
            kept[static_cast<std::size_t>(i)].push_back(b.alloc(s - 64 - 16 * below(rng, 3)));
            live += s;
        }
        for (int j = 0; j <= i; ++j) {
            auto& list = kept[static_cast<std::size_t>(j)];
            std::vector<std::uint32_t> next;
            for (std::size_t k = 0; k < list.size(); ++k) {
                if (k % 2 == 0) {
                    next.push_back(list[k]);
                } else {
                    b.free(list[k]);
                    live -= slot[static_cast<std::size_t>(j)];
                }
            }
            list = std::move(next);
        }
    }
    for (auto& list : kept) {
        for (auto id : list) b.free(id);
    }
    return b.take();
}

constexpr std::array<trace_generator, 4> synthetic_list{{
    {"uniform", "", "", "sizes uniform in 16..4096, random lifetimes, about 1000 live", preset_uniform},
    {"exponential", "", "", "sizes exponential (mean 512, 8..64K), exponential lifetimes, 2% aligned",
     preset_exponential},
    {"realloc_heavy", "", "", "30% reallocations, exponential sizes up to 1 KiB", preset_realloc_heavy},
    {"phased", "", "", "three phases (small objects, big buffers, long-lived output), 10% survive each",
     preset_phased},
}};

constexpr std::array<trace_generator, 6> adversarial_list{{
    {"anti_first_fit", "first_fit", "best_fit", "medium requests splinter the low big holes", adversary_first_fit},
    {"anti_next_fit", "next_fit", "first_fit", "bursts freed behind the roving pointer", adversary_next_fit},
    {"anti_best_fit", "best_fit", "first_fit", "Knuth's slivers: tightest fits leave useless remainders",
     adversary_best_fit},
    {"anti_worst_fit", "worst_fit", "best_fit", "exact-fit holes ignored for the largest block", adversary_worst_fit},
    {"anti_buddy", "buddy", "best_fit", "sizes just above powers of two", adversary_buddy},
    {"robson", "all", "", "Robson's doubling attack: log n x live for every policy", adversary_robson},
}};

}  // namespace

trace generate_synthetic(const synthetic_options& options, std::uint64_t seed) {
    validate(options);
    rng_t rng(seed);
    builder b;
    synthetic_run run(b, rng);
    run.phase(options);
    if (options.free_at_end) run.free_all();
    return b.take();
}

trace generate_phased(std::span<const synthetic_options> phases, double survivor_fraction, std::uint64_t seed) {
    if (phases.empty()) throw std::invalid_argument("phased trace: no phases");
    if (!(survivor_fraction >= 0 && survivor_fraction <= 1)) {
        throw std::invalid_argument("phased trace: survivor_fraction must lie in [0, 1]");
    }
    for (const auto& o : phases) validate(o);
    rng_t rng(seed);
    builder b;
    synthetic_run run(b, rng);
    for (std::size_t i = 0; i < phases.size(); ++i) {
        if (i > 0) run.cull(survivor_fraction);
        run.phase(phases[i]);
    }
    if (phases.back().free_at_end) run.free_all();
    return b.take();
}

std::span<const trace_generator> synthetic_generators() noexcept { return synthetic_list; }
std::span<const trace_generator> adversarial_suite() noexcept { return adversarial_list; }

const trace_generator* find_generator(std::string_view name) noexcept {
    for (const auto& g : synthetic_list) {
        if (g.name == name) return &g;
    }
    for (const auto& g : adversarial_list) {
        if (g.name == name) return &g;
    }
    return nullptr;
}

trace generate(std::string_view name, std::uint64_t seed, std::size_t scale) {
    const trace_generator* g = find_generator(name);
    if (g == nullptr) {
        std::string known;
        for (const auto& x : synthetic_list) known += (known.empty() ? "" : ", ") + std::string(x.name);
        for (const auto& x : adversarial_list) known += ", " + std::string(x.name);
        throw std::invalid_argument("unknown trace generator '" + std::string(name) + "' (known: " + known + ")");
    }
    if (scale == 0) throw std::invalid_argument("trace generator: scale must be at least 1");
    return g->make(seed, scale);
}

}  // namespace keel::alloc
