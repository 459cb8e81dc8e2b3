// The heaps by name, for keel-alloc and anyone choosing a heap at run time.

#include <keel/alloc/adaptive_heap.hpp>
#include <keel/alloc/best_fit_heap.hpp>
#include <keel/alloc/buddy_heap.hpp>
#include <keel/alloc/first_fit_heap.hpp>
#include <keel/alloc/head_first_best_fit_heap.hpp>
#include <keel/alloc/heap_registry.hpp>
#include <keel/alloc/next_fit_heap.hpp>
#include <keel/alloc/tlsf_heap.hpp>
#include <keel/alloc/worst_fit_heap.hpp>

#include <array>
#include <stdexcept>
#include <string>

namespace keel::alloc {
namespace {

constexpr std::array<std::string_view, 8> names = {
    tlsf_heap::name,     buddy_heap::name,    best_fit_heap::name, head_first_best_fit_heap::name,
    first_fit_heap::name, next_fit_heap::name, worst_fit_heap::name, adaptive_heap::name,
};

template <class Heap>
any_heap make_fit(platform::memory_region region, const heap_parameters& p) {
    return any_heap(std::in_place_type<Heap>, region, fit_heap_options{.split_threshold = p.split_threshold});
}

}  // namespace

std::span<const std::string_view> heap_names() noexcept { return names; }

any_heap make_heap(std::string_view name, platform::memory_region region, const heap_parameters& p) {
    if (name == tlsf_heap::name) {
        tlsf_heap_options o;
        if (p.tlsf_second_level_log2 != 0) o.second_level_log2 = p.tlsf_second_level_log2;
        o.split_threshold = p.split_threshold;
        return any_heap(std::in_place_type<tlsf_heap>, region, o);
    }
    if (name == buddy_heap::name) {
        buddy_heap_options o;
        if (p.buddy_min_block != 0) o.min_block = p.buddy_min_block;
        return any_heap(std::in_place_type<buddy_heap>, region, o);
    }
    if (name == adaptive_heap::name) {
        adaptive_heap_options o;
        o.size_classes = p.adaptive_size_classes;
        o.split_threshold = p.split_threshold;
        return any_heap(std::in_place_type<adaptive_heap>, region, o);
    }
    if (name == best_fit_heap::name) return make_fit<best_fit_heap>(region, p);
    if (name == head_first_best_fit_heap::name) return make_fit<head_first_best_fit_heap>(region, p);
    if (name == first_fit_heap::name) return make_fit<first_fit_heap>(region, p);
    if (name == next_fit_heap::name) return make_fit<next_fit_heap>(region, p);
    if (name == worst_fit_heap::name) return make_fit<worst_fit_heap>(region, p);

    std::string known;
    for (auto n : names) known += (known.empty() ? "" : ", ") + std::string(n);
    throw std::invalid_argument("keel::alloc::make_heap: no heap called '" + std::string(name) +
                                "' (known: " + known + ")");
}

}  // namespace keel::alloc
