// The section registry: each section_*.cpp registers itself from a static initializer.
#include "tour.hpp"

#include <algorithm>
#include <utility>

namespace keel_tour {

namespace {

// A function-local static: registration runs during static initialization of other
// translation units, whose order relative to this one is unspecified.
std::vector<section>& registry() {
    static std::vector<section> all;
    return all;
}

}  // namespace

bool register_section(section s) {
    registry().push_back(std::move(s));
    return true;
}

std::vector<section> sections() {
    auto all = registry();
    std::stable_sort(all.begin(), all.end(),
                     [](const section& a, const section& b) { return a.order < b.order; });
    return all;
}

}  // namespace keel_tour
