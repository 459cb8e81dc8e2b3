#pragma once
// keel-tour: one section per component, each measuring keel next to the baseline a user
// would otherwise pick, in the same run. Sections register themselves (KEEL_TOUR_SECTION)
// so that each lives in its own file; main.cpp runs them in order, prints them, and
// writes the HTML report.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace keel_tour {

/// What the whole tour was asked for (command line).
struct options {
    /// Multiplies the work of every section (1.0: under a minute on a quiet 2-core machine).
    double scale = 1.0;
    /// A scratch directory on a disk (not tmpfs), created and removed by main.
    std::filesystem::path work_dir;
    /// The shipped inputs (the task set, the recorded allocation trace): examples/data
    /// of the source tree unless --data names another copy.
    std::filesystem::path data_dir = KEEL_TOUR_DATA_DIR;
    /// Where the HTML report goes; empty: no report.
    std::filesystem::path report_dir;
    /// The program itself (argv[0] resolved): sections that need a second process
    /// re-execute it with `--child <section> ...` (see child_main).
    std::filesystem::path self;
};

/// The progress display: sections say what they are doing now. Thread-safe.
class progress {
public:
    virtual ~progress() = default;
    /// Starts a step ("replaying the trace through mimalloc").
    virtual void step(std::string_view what) = 0;
};

/// A table the section prints and the report shows.
struct table {
    std::string title;
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;  // each row as long as header
};

/// A line plot: the console shows it as text (gnuplot's dumb terminal when gnuplot is
/// present), the report as an SVG image.
struct series {
    std::string name;
    std::vector<double> x;
    std::vector<double> y;  // as long as x
};
struct plot {
    std::string title;
    std::string x_label;
    std::string y_label;
    std::vector<series> lines;
    bool log_x = false;
    bool log_y = false;
};

/// One line of the summary: keel's figure next to the baseline's, measured in this run.
struct figure {
    std::string what;           // "contended counter, 2 threads"
    std::string unit;           // "Mops/s", "µs per call", ...
    std::string keel_label;     // "trust<T>"
    double keel = 0;
    std::string baseline_label; // "std::mutex"
    double baseline = 0;
    bool higher_is_better = true;
    /// > 1: keel is better (keel/baseline or baseline/keel, as higher_is_better says).
    [[nodiscard]] double ratio() const noexcept {
        if (keel <= 0 || baseline <= 0) return 0;
        return higher_is_better ? keel / baseline : baseline / keel;
    }
};

/// What a section found. `ok` false: `error` says why (the tour goes on with the next
/// section and the summary says the section failed).
struct section_result {
    std::vector<std::string> lines;  // free text, printed as is
    std::vector<table> tables;
    std::vector<plot> plots;
    std::vector<figure> summary;
    bool ok = true;
    std::string error;
};

using section_fn = std::function<section_result(const options&, progress&)>;
/// A child process's entry point: gets the arguments after `--child <name>`.
using child_fn = std::function<int(const std::vector<std::string>&)>;

struct section {
    int order = 0;            // platform 10, sched 20, alloc 30, sync/trust 40, rpc 50, iospec 60
    std::string component;    // "sched"
    std::string title;        // "Schedulability analysis"
    section_fn run;
    child_fn child;           // optional
};

/// Registers a section (from a static initializer); returns true.
bool register_section(section s);
/// Every registered section, sorted by order.
[[nodiscard]] std::vector<section> sections();

}  // namespace keel_tour

/// At namespace scope in a section's file.
#define KEEL_TOUR_SECTION_CONCAT2(a, b) a##b
#define KEEL_TOUR_SECTION_CONCAT(a, b) KEEL_TOUR_SECTION_CONCAT2(a, b)
#define KEEL_TOUR_SECTION(...)                                                                       \
    [[maybe_unused]] static const bool KEEL_TOUR_SECTION_CONCAT(keel_tour_registered_, __LINE__) = \
        ::keel_tour::register_section(::keel_tour::section{__VA_ARGS__})
