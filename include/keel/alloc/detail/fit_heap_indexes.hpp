#pragma once

// Free-block indexes of the fit heaps (see fit_heap.hpp for the Index
// interface). Nodes are Boost.Intrusive red-black tree hooks (3 words, the
// colour packed into the parent pointer) placed right after the header of each
// free block, so the heaps allocate nothing themselves.

#include <keel/alloc/detail/boundary_tag.hpp>

#include <boost/intrusive/set.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <new>
#include <string>

namespace keel::alloc::detail {

namespace bi = boost::intrusive;

using fit_hook = bi::set_member_hook<bi::optimize_size<true>, bi::link_mode<bi::normal_link>>;

/// A free block's node in an address-ordered set.
struct address_node {
    fit_hook by_address;
};
/// A free block's node in a (size, address)-ordered set.
struct size_node {
    fit_hook by_size;
};

template <class Node>
[[nodiscard]] inline Node* node_at(std::byte* block) noexcept {
    return std::launder(reinterpret_cast<Node*>(boundary_tag::node_storage(block)));
}
[[nodiscard]] inline std::size_t block_size_of_node(const void* node) noexcept {
    return boundary_tag::size_of(boundary_tag::block_of_node(node));
}

/// Orders nodes by address; lookups take a block address.
template <class Node>
struct by_address_less {
    static bool less(const void* a, const void* b) noexcept { return std::less<const void*>{}(a, b); }
    bool operator()(const Node& a, const Node& b) const noexcept { return less(&a, &b); }
    bool operator()(const Node& a, const std::byte* block) const noexcept {
        return less(boundary_tag::block_of_node(&a), block);
    }
    bool operator()(const std::byte* block, const Node& a) const noexcept {
        return less(block, boundary_tag::block_of_node(&a));
    }
};

/// A (size, block address) key for size-ordered lookups.
struct size_key {
    std::size_t size;
    const std::byte* block;
};

/// Orders nodes by (block size, address): unique keys, so a set, and ties in
/// size go to the lowest address.
template <class Node>
struct by_size_less {
    static bool less(std::size_t sa, const void* a, std::size_t sb, const void* b) noexcept {
        return sa != sb ? sa < sb : std::less<const void*>{}(a, b);
    }
    bool operator()(const Node& a, const Node& b) const noexcept {
        return less(block_size_of_node(&a), &a, block_size_of_node(&b), &b);
    }
    bool operator()(const Node& a, const size_key& k) const noexcept {
        return less(block_size_of_node(&a), boundary_tag::block_of_node(&a), k.size, k.block);
    }
    bool operator()(const size_key& k, const Node& a) const noexcept {
        return less(k.size, k.block, block_size_of_node(&a), boundary_tag::block_of_node(&a));
    }
};

using address_set = bi::set<address_node, bi::member_hook<address_node, fit_hook, &address_node::by_address>,
                            bi::compare<by_address_less<address_node>>, bi::constant_time_size<true>>;
using size_set = bi::set<size_node, bi::member_hook<size_node, fit_hook, &size_node::by_size>,
                         bi::compare<by_size_less<size_node>>, bi::constant_time_size<true>>;

/// Shared parts of the indexes over an address-ordered set.
class address_index_base {
public:
    static constexpr std::size_t node_bytes = sizeof(address_node);

    void insert(std::byte* block) noexcept { _set.insert(*::new (boundary_tag::node_storage(block)) address_node); }
    void erase(std::byte* block) noexcept { _set.erase(_set.iterator_to(*node_at<address_node>(block))); }
    void failed(std::size_t) noexcept {}
    [[nodiscard]] std::size_t count() const noexcept { return _set.size(); }
    /// A walk over every free block: the set is ordered by address, not size.
    [[nodiscard]] std::size_t largest() const noexcept {
        std::size_t best = 0;
        for (const auto& n : _set) best = std::max(best, block_size_of_node(&n));
        return best;
    }
    [[nodiscard]] bool contains(std::byte* block) const noexcept {
        return _set.find(static_cast<const std::byte*>(block), by_address_less<address_node>{}) != _set.end();
    }
    /// The free blocks in address order (for tests and the adaptive heap).
    [[nodiscard]] const address_set& blocks() const noexcept { return _set; }

protected:
    address_set _set;
};

/// First fit: the lowest-address free block that fits (an in-order walk).
class first_fit_index : public address_index_base {
public:
    template <class Fits>
    [[nodiscard]] std::byte* find(std::size_t /*need*/, const Fits& fits) const noexcept {
        for (const auto& n : _set) {
            auto* b = boundary_tag::block_of_node(&n);
            if (fits(b)) return b;
        }
        return nullptr;
    }
    void placed(std::byte*, std::size_t, std::size_t, std::size_t) noexcept {}
    [[nodiscard]] std::string check(const std::byte*, const std::byte*) const { return {}; }
};

/// Next fit: first fit starting at the rover (the end of the last placement),
/// wrapping round once. The rover is an address, so it stays meaningful when
/// the block it pointed into is merged or split.
class next_fit_index : public address_index_base {
public:
    template <class Fits>
    [[nodiscard]] std::byte* find(std::size_t /*need*/, const Fits& fits) const noexcept {
        const auto start = _set.lower_bound(static_cast<const std::byte*>(_rover), by_address_less<address_node>{});
        for (auto it = start; it != _set.end(); ++it) {
            auto* b = boundary_tag::block_of_node(&*it);
            if (fits(b)) return b;
        }
        for (auto it = _set.begin(); it != start; ++it) {
            auto* b = boundary_tag::block_of_node(&*it);
            if (fits(b)) return b;
        }
        return nullptr;
    }
    void placed(std::byte* block, std::size_t granted, std::size_t, std::size_t) noexcept {
        _rover = block + granted;
    }
    [[nodiscard]] std::string check(const std::byte* first, const std::byte* sentinel) const {
        if (_rover != nullptr && (_rover < first || _rover > sentinel)) return "next fit rover lies outside the heap";
        return {};
    }
    /// Where the next search starts (nullptr: the lowest address).
    [[nodiscard]] const std::byte* rover() const noexcept { return _rover; }

private:
    std::byte* _rover = nullptr;
};

/// Shared parts of the indexes over a (size, address)-ordered set.
class size_index_base {
public:
    static constexpr std::size_t node_bytes = sizeof(size_node);

    void insert(std::byte* block) noexcept { _set.insert(*::new (boundary_tag::node_storage(block)) size_node); }
    void erase(std::byte* block) noexcept { _set.erase(_set.iterator_to(*node_at<size_node>(block))); }
    void failed(std::size_t) noexcept {}
    void placed(std::byte*, std::size_t, std::size_t, std::size_t) noexcept {}
    [[nodiscard]] std::size_t count() const noexcept { return _set.size(); }
    /// O(1): the set's rightmost node.
    [[nodiscard]] std::size_t largest() const noexcept {
        return _set.empty() ? 0 : block_size_of_node(&*_set.rbegin());
    }
    [[nodiscard]] bool contains(std::byte* block) const noexcept {
        return _set.find(size_key{boundary_tag::size_of(block), block}, by_size_less<size_node>{}) != _set.end();
    }
    [[nodiscard]] std::string check(const std::byte*, const std::byte*) const { return {}; }

protected:
    // Best fit: from the smallest block of at least `need` upwards, the first that
    // fits (only aligned requests may have to look past the first).
    template <class Fits>
    [[nodiscard]] std::byte* best(std::size_t need, const Fits& fits) const noexcept {
        for (auto it = _set.lower_bound(size_key{need, nullptr}, by_size_less<size_node>{}); it != _set.end(); ++it) {
            auto* b = boundary_tag::block_of_node(&*it);
            if (fits(b)) return b;
        }
        return nullptr;
    }
    // Worst fit: from the largest block downwards while blocks are big enough.
    template <class Fits>
    [[nodiscard]] std::byte* worst(std::size_t need, const Fits& fits) const noexcept {
        for (auto it = _set.rbegin(); it != _set.rend(); ++it) {
            auto* b = boundary_tag::block_of_node(&*it);
            if (boundary_tag::size_of(b) < need) break;
            if (fits(b)) return b;
        }
        return nullptr;
    }

    size_set _set;
};

/// Best fit: the smallest free block that fits, lowest address among equals. O(log n).
class best_fit_index : public size_index_base {
public:
    template <class Fits>
    [[nodiscard]] std::byte* find(std::size_t need, const Fits& fits) const noexcept {
        return best(need, fits);
    }
};

/// Worst fit: the largest free block. O(log n).
class worst_fit_index : public size_index_base {
public:
    template <class Fits>
    [[nodiscard]] std::byte* find(std::size_t need, const Fits& fits) const noexcept {
        return worst(need, fits);
    }
};

/// Head-first best fit (Hakarsa, arXiv 2409.03488): the free block at the high
/// end of the heap (the "top") is kept out of the size set; requests are served
/// by best fit among the blocks below it, and carved from the top only when none
/// fits. Because the engine splits the low part off, what is left of the top
/// stays at the high end, and a block freed next to it merges into it.
class head_first_index : public size_index_base {
public:
    void insert(std::byte* block) noexcept {
        if (is_last(block)) {
            _top = block;
            ::new (boundary_tag::node_storage(block)) size_node;
        } else {
            size_index_base::insert(block);
        }
    }
    void erase(std::byte* block) noexcept {
        if (block == _top) {
            _top = nullptr;
        } else {
            size_index_base::erase(block);
        }
    }
    template <class Fits>
    [[nodiscard]] std::byte* find(std::size_t need, const Fits& fits) const noexcept {
        if (auto* b = best(need, fits)) return b;
        return _top != nullptr && fits(_top) ? _top : nullptr;
    }
    [[nodiscard]] std::size_t count() const noexcept { return _set.size() + (_top != nullptr ? 1 : 0); }
    [[nodiscard]] std::size_t largest() const noexcept {
        return std::max(size_index_base::largest(), _top != nullptr ? boundary_tag::size_of(_top) : 0);
    }
    [[nodiscard]] bool contains(std::byte* block) const noexcept {
        return block == _top || size_index_base::contains(block);
    }
    [[nodiscard]] std::string check(const std::byte*, const std::byte*) const {
        if (_top != nullptr && !is_last(_top)) return "head-first top block is not the last block";
        if (!_set.empty()) {
            // Only the top may touch the end sentinel; it must never be in the size set.
            for (const auto& n : _set) {
                if (is_last(boundary_tag::block_of_node(&n))) return "the last free block is in the size set, not the top";
            }
        }
        return {};
    }
    /// The free block at the high end, or nullptr when the last block is in use.
    [[nodiscard]] const std::byte* top() const noexcept { return _top; }

private:
    [[nodiscard]] static bool is_last(std::byte* block) noexcept {
        return boundary_tag::size_of(block + boundary_tag::size_of(block)) == 0;
    }
    std::byte* _top = nullptr;
};

}  // namespace keel::alloc::detail
