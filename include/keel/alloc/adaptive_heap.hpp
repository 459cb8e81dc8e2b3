#pragma once

#include <keel/alloc/detail/boundary_tag.hpp>
#include <keel/alloc/detail/fit_heap.hpp>
#include <keel/alloc/detail/fit_heap_indexes.hpp>
#include <keel/platform/memory_source.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

namespace keel::alloc {

/// The placement policies adaptive_heap chooses among.
enum class fit_policy : std::uint8_t { best_fit, first_fit, worst_fit };
inline constexpr unsigned fit_policy_count = 3;

[[nodiscard]] constexpr std::string_view to_string(fit_policy p) noexcept {
    switch (p) {
        case fit_policy::best_fit: return "best_fit";
        case fit_policy::first_fit: return "first_fit";
        case fit_policy::worst_fit: return "worst_fit";
    }
    return "?";
}

/// Options of adaptive_heap. Plain data; 0 means the default everywhere.
struct adaptive_heap_options {
    /// Size classes a policy is learnt for: class k holds blocks of
    /// [64 * 2^k, 64 * 2^(k+1)) bytes, the last class everything above. 0 = 12; at most 32.
    unsigned size_classes = 0;
    /// As fit_heap_options::split_threshold (0 = the minimum block, 64 bytes here).
    std::size_t split_threshold = 0;
    /// Allocations of one class per learning window (0 = 256; at most 2^20).
    unsigned window = 0;
    /// A window starts exploring another policy with probability
    /// 1 / explore_one_in (0 = 8; otherwise at least 2).
    unsigned explore_one_in = 0;
    /// Seed of the exploration's random stream (0 = a fixed default), so runs repeat.
    std::uint64_t seed = 0;
    /// A class explores only while its incumbent's cost (see adaptive_heap) is
    /// above this: by default only a policy that clearly strands memory is
    /// challenged. 0 explores always; must be finite and not negative.
    double explore_above = 0.1;
};

}  // namespace keel::alloc

namespace keel::alloc::detail {

/// A free block's node in both of adaptive_heap's orders.
struct dual_node {
    fit_hook by_address;
    fit_hook by_size;
};

/// One free set indexed by address and by (size, address), a placement policy
/// per size class, and the learner that picks it (see adaptive_heap).
class adaptive_index {
public:
    static constexpr std::size_t node_bytes = sizeof(dual_node);
    static constexpr unsigned max_size_classes = 32;
    static constexpr std::size_t min_block = boundary_tag::min_block_for(node_bytes);

    explicit adaptive_index(const adaptive_heap_options& o) {
        if (o.size_classes > max_size_classes) {
            throw std::invalid_argument("adaptive: size_classes " + std::to_string(o.size_classes) +
                                        " exceeds the maximum " + std::to_string(max_size_classes));
        }
        if (o.window > (1u << 20)) {
            throw std::invalid_argument("adaptive: window " + std::to_string(o.window) + " exceeds 2^20 allocations");
        }
        if (!(o.explore_above >= 0.0 && o.explore_above < 1e300)) {
            throw std::invalid_argument("adaptive: explore_above must be finite and not negative");
        }
        _explore_above = o.explore_above;
        if (o.explore_one_in == 1) {
            throw std::invalid_argument("adaptive: explore_one_in must be 0 (default) or at least 2");
        }
        _classes = o.size_classes == 0 ? 12 : o.size_classes;
        _window = o.window == 0 ? 256 : o.window;
        _explore_one_in = o.explore_one_in == 0 ? 8 : o.explore_one_in;
        _rng = o.seed == 0 ? 0x9e3779b97f4a7c15ULL : o.seed;
        for (auto& c : _state) c.left = _window;
    }

    void insert(std::byte* block) noexcept {
        auto* n = ::new (boundary_tag::node_storage(block)) dual_node;
        _by_address.insert(*n);
        _by_size.insert(*n);
    }
    void erase(std::byte* block) noexcept {
        auto* n = node_at<dual_node>(block);
        _by_address.erase(_by_address.iterator_to(*n));
        _by_size.erase(_by_size.iterator_to(*n));
    }

    template <class Fits>
    [[nodiscard]] std::byte* find(std::size_t need, const Fits& fits) noexcept {
        _last_class = class_of(need);
        switch (_state[_last_class].playing) {
            case fit_policy::first_fit:
                for (const auto& n : _by_address) {
                    auto* b = boundary_tag::block_of_node(&n);
                    if (fits(b)) return b;
                }
                return nullptr;
            case fit_policy::worst_fit:
                for (auto it = _by_size.rbegin(); it != _by_size.rend(); ++it) {
                    auto* b = boundary_tag::block_of_node(&*it);
                    if (boundary_tag::size_of(b) < need) break;
                    if (fits(b)) return b;
                }
                return nullptr;
            case fit_policy::best_fit:
                break;
        }
        for (auto it = _by_size.lower_bound(size_key{need, nullptr}, size_less{}); it != _by_size.end(); ++it) {
            auto* b = boundary_tag::block_of_node(&*it);
            if (fits(b)) return b;
        }
        return nullptr;
    }

    void placed(std::byte*, std::size_t granted, std::size_t footprint, std::size_t live) noexcept {
        auto& c = _state[_last_class];
        ++c.choices[index_of(c.playing)];
        _peak_footprint = std::max(_peak_footprint, footprint);
        _peak_live = std::max(_peak_live, live);
        account(c, granted);
    }
    /// A block was resized in place: no placement to learn from, but the peaks move.
    void resized(std::size_t footprint, std::size_t live) noexcept {
        _peak_footprint = std::max(_peak_footprint, footprint);
        _peak_live = std::max(_peak_live, live);
    }
    void failed(std::size_t need) noexcept {
        if (need == 0) return;  // a rejected request (bad alignment, oversize), not a placement
        // A request nothing fits costs as if the heap had to grow by all of it.
        _failed_bytes += need;
        account(_state[class_of(need)], need);
    }

    [[nodiscard]] std::size_t count() const noexcept { return _by_size.size(); }
    [[nodiscard]] std::size_t largest() const noexcept {
        return _by_size.empty() ? 0 : block_size_of_node(&*_by_size.rbegin());
    }
    [[nodiscard]] bool contains(std::byte* block) const noexcept {
        return _by_address.find(static_cast<const std::byte*>(block), address_less{}) != _by_address.end() &&
               _by_size.find(size_key{boundary_tag::size_of(block), block}, size_less{}) != _by_size.end();
    }
    [[nodiscard]] std::string check(const std::byte*, const std::byte*) const {
        if (_by_address.size() != _by_size.size()) return "adaptive: the address and size indexes disagree";
        return {};
    }

    [[nodiscard]] unsigned size_classes() const noexcept { return _classes; }
    [[nodiscard]] unsigned class_of(std::size_t need) const noexcept {
        const auto k = static_cast<unsigned>(std::bit_width(need)) - min_block_bits;
        return k < _classes ? k : _classes - 1;
    }
    [[nodiscard]] fit_policy incumbent(unsigned c) const noexcept { return _state[c].incumbent; }
    [[nodiscard]] fit_policy playing(unsigned c) const noexcept { return _state[c].playing; }
    [[nodiscard]] std::uint64_t choices(unsigned c, fit_policy p) const noexcept {
        return _state[c].choices[index_of(p)];
    }
    [[nodiscard]] double cost(unsigned c, fit_policy p) const noexcept { return _state[c].cost[index_of(p)]; }
    [[nodiscard]] std::uint32_t windows(unsigned c, fit_policy p) const noexcept {
        return _state[c].windows[index_of(p)];
    }

private:
    using address_less = by_address_less<dual_node>;
    using size_less = by_size_less<dual_node>;
    using address_tree = bi::set<dual_node, bi::member_hook<dual_node, fit_hook, &dual_node::by_address>,
                                 bi::compare<address_less>, bi::constant_time_size<true>>;
    using size_tree = bi::set<dual_node, bi::member_hook<dual_node, fit_hook, &dual_node::by_size>,
                              bi::compare<size_less>, bi::constant_time_size<true>>;

    static constexpr unsigned min_block_bits = static_cast<unsigned>(std::bit_width(min_block));
    // A challenger replaces the incumbent when its cost is lower by this much
    // (absolute, in growth bytes per allocated byte) and by this fraction.
    static constexpr double switch_margin = 0.02;
    static constexpr double switch_fraction = 0.25;
    static constexpr std::uint32_t trial_windows = 4;   // an exploration plays this many windows
    static constexpr std::uint32_t judged_windows = 2;  // of which the last ones are judged
    static constexpr std::uint32_t min_judged = 3;      // before a challenger may take over
    static constexpr double ema_weight = 0.25;

    struct class_state {
        fit_policy incumbent = fit_policy::best_fit;
        fit_policy playing = fit_policy::best_fit;
        std::uint32_t left = 0;
        std::int64_t excess_at_start = 0;
        std::uint64_t bytes_at_start = 0;
        std::array<double, fit_policy_count> cost{};
        std::array<std::uint32_t, fit_policy_count> windows{};
        std::array<std::uint64_t, fit_policy_count> choices{};
        std::uint32_t trial_left = 0;  // windows left in the current exploration
        std::array<double, fit_policy_count> gain{};  // challenger - incumbent, per window pair
        std::array<std::uint32_t, fit_policy_count> gain_samples{};
    };

    static constexpr unsigned index_of(fit_policy p) noexcept { return static_cast<unsigned>(p); }

    static void record(class_state& c, unsigned a, double cost) noexcept {
        c.cost[a] = c.windows[a] == 0 ? cost : c.cost[a] + ema_weight * (cost - c.cost[a]);
        ++c.windows[a];
    }

    // Fragmentation so far: how far the peak footprint exceeds the peak of live
    // (granted) bytes, plus every byte of a request that found no room.
    [[nodiscard]] std::int64_t excess() const noexcept {
        return static_cast<std::int64_t>(_peak_footprint + _failed_bytes) - static_cast<std::int64_t>(_peak_live);
    }

    void account(class_state& c, std::size_t bytes) noexcept {
        _bytes += bytes;
        if (--c.left == 0) end_window(c);
    }

    // The window's cost: the growth of excess() per byte allocated (in all
    // classes) while this class played its policy. A growing live set raises both
    // peaks alike and costs nothing; a policy that strands free memory makes the
    // footprint outrun the live bytes.
    void end_window(class_state& c) noexcept {
        const auto bytes = _bytes - c.bytes_at_start;
        const double cost = bytes == 0 ? 0.0
                                       : static_cast<double>(excess() - c.excess_at_start) / static_cast<double>(bytes);
        const unsigned a = index_of(c.playing);
        const unsigned inc = index_of(c.incumbent);
        if (a == inc) {
            record(c, a, cost);
        } else {
            // An exploration is a trial of several windows; only its last ones are
            // judged, once the challenger lives with the free blocks it shaped itself.
            // Each is paired with the incumbent's recent cost, so that both are
            // judged in the same phase of the program.
            --c.trial_left;
            if (c.trial_left < judged_windows) {
                record(c, a, cost);
                const double d = cost - c.cost[inc];
                c.gain[a] = c.gain_samples[a] == 0 ? d : c.gain[a] + ema_weight * (d - c.gain[a]);
                ++c.gain_samples[a];
                if (c.gain_samples[a] >= min_judged &&
                    c.gain[a] < -std::max(switch_margin, switch_fraction * c.cost[inc])) {
                    c.incumbent = c.playing;
                    c.gain = {};
                    c.gain_samples = {};
                    c.trial_left = 0;
                }
            }
        }
        if (c.trial_left == 0) {
            c.playing = c.incumbent;
            // Explore only while the incumbent is costing something: on a workload
            // it handles well, the heap behaves exactly as that policy.
            if (c.cost[index_of(c.incumbent)] >= _explore_above && next_random() % _explore_one_in == 0) {
                const auto other = 1 + next_random() % (fit_policy_count - 1);
                c.playing = static_cast<fit_policy>((index_of(c.incumbent) + other) % fit_policy_count);
                c.trial_left = trial_windows;
            }
        }
        c.left = _window;
        c.excess_at_start = excess();
        c.bytes_at_start = _bytes;
    }

    std::uint64_t next_random() noexcept {  // xorshift64*
        _rng ^= _rng >> 12;
        _rng ^= _rng << 25;
        _rng ^= _rng >> 27;
        return (_rng * 0x2545f4914f6cdd1dULL) >> 32;
    }

    address_tree _by_address;
    size_tree _by_size;
    std::array<class_state, max_size_classes> _state{};
    unsigned _classes = 12;
    std::uint32_t _window = 256;
    unsigned _explore_one_in = 8;
    double _explore_above = 0.1;
    unsigned _last_class = 0;
    std::uint64_t _rng = 1;
    std::size_t _peak_footprint = 0;
    std::size_t _peak_live = 0;
    std::size_t _failed_bytes = 0;  // bytes of requests nothing fitted
    std::uint64_t _bytes = 0;       // bytes granted, plus failed requests
};

}  // namespace keel::alloc::detail

namespace keel::alloc {

/// A fit heap that learns, per size class, which placement policy (best, first
/// or worst fit) to use: the defensible form of the RL-allocator result (Lim &
/// Maddukuri, arXiv 2410.15492), which is that choosing among fits pays on
/// adversarial patterns while learning raw addresses does not.
///
/// One free set, indexed both by address (first fit walks it) and by (size,
/// address) (best and worst fit search it). Each size class learns by itself:
///  - Signal: excess = peak footprint - peak granted bytes (+ bytes of failed
///    requests), the memory the heap has stranded. A window (`window`
///    allocations of the class) costs the growth of excess per byte allocated
///    meanwhile (all classes): a growing live set raises both peaks and costs
///    nothing; a policy that strands free memory does.
///  - Learner: every class starts on best fit (usually the best on real
///    programs). While the incumbent's moving-average cost is at least
///    explore_above, a window starts an exploration with probability
///    1/explore_one_in: a trial of 4 windows of another policy (first or worst
///    fit), of which the last 2 are judged, each against the incumbent's recent
///    cost. A challenger takes over when, after 3 judged windows, its average
///    gain exceeds 0.02 and a quarter of the incumbent's cost.
///  - Cost per operation: the policy in play's index work (O(log n) for best
///    and worst fit, a walk of the free blocks for first fit; every free-block
///    change updates two trees) plus O(1) for the learner. stats() is O(1).
/// Introspection: current_policy(c), playing_policy(c), choices(c, p),
/// estimated_cost(c, p), windows_played(c, p).
/// Blocks as in the other fit heaps, but a free block holds two tree nodes, so
/// the minimum block is 64 bytes (48 in the single-index fit heaps).
/// Not thread-safe.
class adaptive_heap : public detail::fit_heap<detail::adaptive_index> {
public:
    static constexpr std::string_view name = "adaptive";

    /// Manages `region` (which must outlive the heap). Throws
    /// std::invalid_argument for a null or too small region or bad options.
    explicit adaptive_heap(platform::memory_region region, adaptive_heap_options options = {})
        : fit_heap(region, options.split_threshold, name, options) {}

    /// How many size classes learn a policy.
    [[nodiscard]] unsigned size_classes() const noexcept { return index().size_classes(); }
    /// The size class a request of n bytes (default alignment) falls in.
    [[nodiscard]] unsigned size_class_of(std::size_t n) const noexcept {
        const std::size_t need = detail::align_up(n + detail::boundary_tag::header_bytes, detail::boundary_tag::granule);
        return index().class_of(need < min_block ? min_block : need);
    }
    /// The policy the class exploits (its incumbent); size_class < size_classes().
    [[nodiscard]] fit_policy current_policy(unsigned size_class) const noexcept {
        return index().incumbent(size_class);
    }
    /// The policy the class's current window plays (the incumbent or an exploration).
    [[nodiscard]] fit_policy playing_policy(unsigned size_class) const noexcept {
        return index().playing(size_class);
    }
    /// Allocations of the class that policy p placed.
    [[nodiscard]] std::uint64_t choices(unsigned size_class, fit_policy p) const noexcept {
        return index().choices(size_class, p);
    }
    /// The learner's cost estimate for p in the class (growth per allocated byte),
    /// and how many windows it rests on (0: never tried).
    [[nodiscard]] double estimated_cost(unsigned size_class, fit_policy p) const noexcept {
        return index().cost(size_class, p);
    }
    [[nodiscard]] std::uint32_t windows_played(unsigned size_class, fit_policy p) const noexcept {
        return index().windows(size_class, p);
    }
};

}  // namespace keel::alloc
