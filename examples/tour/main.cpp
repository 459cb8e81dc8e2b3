// keel-tour: runs every registered section (or those --only names), prints what each
// found, then one summary table of keel's figures next to the baselines', all measured
// in this run; --report DIR also writes them as an HTML page.
#include "console.hpp"
#include "report.hpp"
#include "tour.hpp"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr std::string_view usage =
    "usage: keel-tour [--scale X] [--only COMPONENT[,...]] [--report DIR] [--work-dir DIR]\n"
    "                [--data DIR]\n"
    "       keel-tour --list\n"
    "  Shows, component by component, what keel does and what it buys: each section\n"
    "  measures keel next to the baseline a program would otherwise use, on data it\n"
    "  generates or ships, and the run ends with one summary table.\n"
    "  --scale X        multiplies the work (default 1: under a minute on 2 cores)\n"
    "  --only LIST      runs only these components (comma-separated; see --list)\n"
    "  --report DIR     also writes DIR/index.html (self-contained) and DIR/tour.json\n"
    "  --work-dir DIR   scratch files go under DIR (default: /var/tmp or the current\n"
    "                   directory, whichever is not a tmpfs)\n"
    "  --data DIR       the shipped inputs (task set, allocation trace); default: the\n"
    "                   source tree's examples/data\n"
    "  --list           prints the components and exits\n"
    "  Exit status: 0 when every section ran, 1 when one failed, 2 on bad usage.\n";

struct command_line {
    keel_tour::options options;
    std::set<std::string> only;
    std::filesystem::path work_parent;
    bool list = false;
};

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "keel-tour: %s\n%s", message.c_str(), usage.data());
    std::exit(2);
}

double parse_scale(const std::string& text) {
    std::size_t used = 0;
    double value = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || !std::isfinite(value) || value <= 0 || value > 100) {
        usage_error("--scale wants a number in (0, 100], not '" + text + "'");
    }
    return value;
}

command_line parse(int argc, char** argv) {
    command_line cl;
    auto value_of = [&](int& i) -> std::string {
        if (i + 1 >= argc) usage_error(std::string(argv[i]) + " needs a value");
        return argv[++i];
    };
    for (int i = 1; i < argc; ++i) {
        std::string_view arg(argv[i]);
        if (arg == "-h" || arg == "--help") {
            std::fputs(usage.data(), stdout);
            std::exit(0);
        } else if (arg == "--scale") {
            cl.options.scale = parse_scale(value_of(i));
        } else if (arg == "--report") {
            cl.options.report_dir = value_of(i);
        } else if (arg == "--work-dir") {
            cl.work_parent = value_of(i);
        } else if (arg == "--data") {
            cl.options.data_dir = value_of(i);
        } else if (arg == "--only") {
            std::string list = value_of(i);
            std::size_t start = 0;
            while (start <= list.size()) {
                auto comma = std::min(list.find(',', start), list.size());
                if (comma > start) cl.only.insert(list.substr(start, comma - start));
                start = comma + 1;
            }
        } else if (arg == "--list") {
            cl.list = true;
        } else {
            usage_error("unknown option '" + std::string(arg) + "'");
        }
    }
    return cl;
}

std::filesystem::path own_executable(const char* argv0) {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) return self;
    return std::filesystem::absolute(argv0);
}

bool on_tmpfs(const std::filesystem::path& dir) {
    struct statfs info {};
    return ::statfs(dir.c_str(), &info) == 0 && info.f_type == TMPFS_MAGIC;
}

// Sections measure real I/O there, so a disk-backed directory is preferred over tmpfs.
std::filesystem::path make_work_dir(const std::filesystem::path& requested) {
    std::vector<std::filesystem::path> candidates;
    if (!requested.empty()) {
        candidates.push_back(requested);
    } else {
        candidates = {"/var/tmp", std::filesystem::current_path(),
                      std::filesystem::temp_directory_path()};
    }
    for (const auto& parent : candidates) {
        if (requested.empty() && on_tmpfs(parent) && parent != candidates.back()) continue;
        auto pattern = (parent / "keel-tour.XXXXXX").string();
        if (::mkdtemp(pattern.data()) != nullptr) return pattern;
        if (!requested.empty()) {
            throw std::runtime_error("cannot create a directory under " + parent.string());
        }
    }
    throw std::runtime_error("no writable scratch directory (tried /var/tmp, ., $TMPDIR)");
}

std::string machine_facts() {
    std::string facts = std::to_string(std::thread::hardware_concurrency()) + " CPUs";
    utsname name{};
    if (::uname(&name) == 0) {
        facts += std::string(", ") + name.sysname + " " + name.release + " " + name.machine;
    }
    return facts;
}

// Everything a section prints, in order, as one block of text.
std::string format_outcome(const keel_tour::section_outcome& outcome) {
    char heading[256];
    std::snprintf(heading, sizeof heading, "\n== %s: %s (%.1f s) ==\n", outcome.component.c_str(),
                  outcome.title.c_str(), outcome.seconds);
    std::string text = heading;
    const auto& r = outcome.result;
    for (const auto& line : r.lines)
        text += line + "\n";
    for (const auto& t : r.tables)
        text += "\n" + keel_tour::format_table(t);
    for (const auto& p : r.plots)
        text += "\n" + keel_tour::format_plot(p);
    if (!r.ok) text += "\nsection failed: " + r.error + "\n";
    return text;
}

int run_tour(command_line cl) {
    auto all = keel_tour::sections();
    std::set<std::string> known;
    for (const auto& s : all)
        known.insert(s.component);
    if (cl.list) {
        for (const auto& s : all)
            std::printf("%-10s %s\n", s.component.c_str(), s.title.c_str());
        return 0;
    }
    for (const auto& name : cl.only) {
        if (known.count(name) == 0) {
            std::string names;
            for (const auto& k : known)
                names += " " + k;
            usage_error("--only: no component '" + name + "' (there are:" + names + ")");
        }
    }
    std::vector<keel_tour::section> chosen;
    for (auto& s : all) {
        if (cl.only.empty() || cl.only.count(s.component) != 0) chosen.push_back(std::move(s));
    }

    if (std::error_code ec; !std::filesystem::is_directory(cl.options.data_dir, ec))
        usage_error("the data directory '" + cl.options.data_dir.string() +
                    "' is missing (give the shipped examples/data with --data DIR)");
    cl.options.work_dir = make_work_dir(cl.work_parent);
    keel_tour::console_progress progress;
    progress.print("keel-tour: scale " + keel_tour::format_number(cl.options.scale) + ", " +
                   machine_facts() + ", scratch files in " + cl.options.work_dir.string() + "\n");

    std::vector<keel_tour::section_outcome> outcomes;
    bool all_ok = true;
    int index = 0;
    for (const auto& s : chosen) {
        progress.begin_section(++index, static_cast<int>(chosen.size()), s.component);
        keel_tour::section_outcome outcome{s.order, s.component, s.title, {}, 0};
        double started = progress.elapsed_seconds();
        try {
            outcome.result = s.run(cl.options, progress);
        } catch (const std::exception& e) {
            outcome.result.ok = false;
            outcome.result.error = e.what();
        }
        if (!outcome.result.ok && outcome.result.error.empty()) {
            outcome.result.error = "the section reported failure without saying why";
        }
        outcome.seconds = progress.elapsed_seconds() - started;
        all_ok = all_ok && outcome.result.ok;
        progress.print(format_outcome(outcome));
        outcomes.push_back(std::move(outcome));
    }

    auto summary = keel_tour::summary_table(outcomes);
    double total = progress.elapsed_seconds();
    char heading[128];
    std::snprintf(heading, sizeof heading,
                  "\n== Summary: keel next to the baseline, measured in this run (%.1f s) ==\n",
                  total);
    progress.print(heading + keel_tour::format_table(summary));

    if (!cl.options.report_dir.empty()) {
        progress.begin_phase("report");
        progress.step("writing the HTML report and its plots");
        try {
            keel_tour::write_report(cl.options.report_dir, outcomes, summary,
                                    {cl.options.scale, total, machine_facts()});
            progress.print("\nreport: " + (cl.options.report_dir / "index.html").string() + "\n");
        } catch (const std::exception& e) {
            progress.finish();
            std::fprintf(stderr, "keel-tour: writing the report failed: %s\n", e.what());
            all_ok = false;
        }
    }
    progress.finish();
    std::error_code ignored;
    std::filesystem::remove_all(cl.options.work_dir, ignored);
    return all_ok ? 0 : 1;
}

// `keel-tour --child <component> args...`: a section's second process.
int run_child(int argc, char** argv) {
    if (argc < 3) usage_error("--child needs a component");
    std::string component = argv[2];
    for (const auto& s : keel_tour::sections()) {
        if (s.component == component && s.child) {
            return s.child(std::vector<std::string>(argv + 3, argv + argc));
        }
    }
    std::fprintf(stderr, "keel-tour: no child process for component '%s'\n", component.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc >= 2 && std::string_view(argv[1]) == "--child") return run_child(argc, argv);
        auto cl = parse(argc, argv);
        cl.options.self = own_executable(argv[0]);
        return run_tour(std::move(cl));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "keel-tour: %s\n", e.what());
        return 1;
    }
}
