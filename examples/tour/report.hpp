#pragma once
// keel-tour's HTML report: one self-contained page (tables, gnuplot SVG plots as data
// URIs, no external resources) plus tour.json, which declares what the page holds so a
// test can check that a browser renders all of it.

#include "tour.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace keel_tour {

/// A section as it ran: what it is, what it found, how long it took.
struct section_outcome {
    int order = 0;
    std::string component;
    std::string title;
    section_result result;
    double seconds = 0;
};

/// The summary table (component | what | keel | baseline | ratio) over every section.
[[nodiscard]] table summary_table(const std::vector<section_outcome>& outcomes);

/// What the page says about the run itself.
struct run_facts {
    double scale = 1;
    double seconds = 0;
    std::string machine;  // "2 CPUs, Linux 6.1.0 x86_64"
};

/// Writes `dir`/index.html and `dir`/tour.json (creating `dir`). Throws on I/O errors.
void write_report(const std::filesystem::path& dir, const std::vector<section_outcome>& outcomes,
                  const table& summary, const run_facts& facts);

}  // namespace keel_tour
