// keel-sched sweep: schedulability ratio against utilisation for several tests over
// generated task sets (keel::sched::sweep, run on oneTBB), written as CSV and, with
// --plot, drawn by gnuplot. A progress bar goes to stderr when it is a terminal.

#include "cli.hpp"

#include <keel/sched/experiment.hpp>
#include <keel/sched/priority_assignment.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace keel::sched::cli {

namespace {

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> parts;
    std::stringstream in(text);
    std::string part;
    while (std::getline(in, part, ','))
        parts.push_back(part);
    return parts;
}

/// The CLI's tests on a generated set: fixed-priority tests get deadline-monotonic
/// priorities (rate-monotonic for the utilisation bounds, which assume it).
named_test make_test(const std::string& name) {
    check_test_name(name);
    const bool fp = name.rfind("fp-", 0) == 0;
    const bool bound = name == "ll-bound" || name == "hyperbolic";
    return {name, [name, fp, bound](std::span<const task> s) {
                if (fp) return test_accepts(name, apply_priority_order(s, deadline_monotonic(s)));
                if (bound) return test_accepts(name, apply_priority_order(s, rate_monotonic(s)));
                return test_accepts(name, s);
            }};
}

/// The full path of `program` on PATH, or "" when there is none.
std::string find_on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return "";
}

/// A gnuplot single-quoted string ('' stands for ').
std::string gp_quote(const std::string& s) {
    std::string out = "'";
    for (const char c : s) {
        out += c;
        if (c == '\'') out += '\'';
    }
    return out + "'";
}

/// "utilization" -> "Utilization", "cs_length" -> "Cs length": the axis as a label.
std::string axis_label(const std::string& axis) {
    std::string label = axis;
    for (char& c : label)
        if (c == '_') c = ' ';
    if (!label.empty() && label[0] >= 'a' && label[0] <= 'z') label[0] = static_cast<char>(label[0] - 'a' + 'A');
    return label;
}

void plot(const std::string& gnuplot, const std::string& csv, const std::string& png,
          std::size_t tests, const std::string& title, const std::string& axis) {
    const std::string script_path = png + ".gp";
    {
        std::ofstream script(script_path);
        script << "# keel-sched sweep: schedulability ratio against " << axis << " (gnuplot\n"
               << "# " << script_path << " redraws it)\n"
               << "set terminal pngcairo size 900,600\n"
               << "set output " << gp_quote(png) << '\n'
               << "set datafile separator ','\n"
               << "set title " << gp_quote(title) << '\n'
               << "set xlabel " << gp_quote(axis_label(axis)) << "\nset ylabel 'Ratio of task sets'\n"
               << "set yrange [0:1.05]\nset grid\nset key bottom left\n"
               << "plot for [i=3:" << tests + 2 << "] " << gp_quote(csv)
               << " using 1:i with linespoints title columnheader(i)\n";
        if (!script.flush()) throw input_error("sweep: --plot: cannot write '" + script_path + "'");
    }
    pid_t pid = 0;
    std::vector<char*> argv{const_cast<char*>(gnuplot.c_str()),
                            const_cast<char*>(script_path.c_str()), nullptr};
    if (::posix_spawn(&pid, gnuplot.c_str(), nullptr, nullptr, argv.data(), environ) != 0)
        throw std::runtime_error("sweep: --plot: cannot start " + gnuplot);
    int status = 0;
    if (::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("sweep: --plot: gnuplot failed on " + script_path);
}

/// "[#####.....]  42% 420/1000" on stderr, redrawn in place.
class progress_bar {
public:
    void operator()(std::size_t done, std::size_t total) {
        const std::size_t width = 40;
        const std::size_t filled = total ? done * width / total : width;
        const int percent = total ? static_cast<int>(done * 100 / total) : 100;
        if (percent == _last && done != total) return;
        _last = percent;
        std::string bar(filled, '#');
        bar.append(width - filled, '.');
        std::fprintf(stderr, "\r[%s] %3d%% %zu/%zu", bar.c_str(), percent, done, total);
        if (done == total) std::fputc('\n', stderr);
        std::fflush(stderr);
    }

private:
    int _last = -1;
};

/// Where the table goes: --csv (a file or -) and --plot (a PNG drawn by gnuplot).
struct sweep_output {
    std::string csv;
    std::string png;
    std::string gnuplot;
};

sweep_output output_of(const arguments& args) {
    sweep_output o;
    o.csv = args.required("csv");
    const auto plot_it = args.options.find("plot");
    if (plot_it != args.options.end()) {
        if (o.csv == "-") throw input_error("sweep: --plot needs --csv to name a file, not -");
        o.gnuplot = find_on_path("gnuplot");
        if (o.gnuplot.empty())
            throw input_error(
                "sweep: --plot: gnuplot is not installed (Debian: apt-get install "
                "gnuplot-nox); the CSV alone needs no --plot");
        o.png = plot_it->second;
    }
    return o;
}

sweep_progress progress_of(const arguments& args, progress_bar& bar) {
    const bool quiet = args.has_flag("quiet") || args.has_flag("no-progress");
    const bool show = !quiet && (args.has_flag("progress") || ::isatty(STDERR_FILENO) == 1);
    return show ? sweep_progress(std::ref(bar)) : sweep_progress();
}

/// Writes the CSV, draws the plot, and prints the ratios as a table unless the CSV went
/// to standard output or --quiet.
void emit(const sweep_result& result, const sweep_output& o, const std::string& title,
          const arguments& args, std::ostream& out) {
    if (o.csv == "-") {
        write_csv(result, out);
    } else {
        std::ofstream file(o.csv);
        write_csv(result, file);
        if (!file.flush()) throw input_error("sweep: --csv: cannot write '" + o.csv + "'");
    }
    if (!o.gnuplot.empty()) plot(o.gnuplot, o.csv, o.png, result.tests.size(), title, result.axis);

    if (o.csv != "-" && !args.has_flag("quiet")) {
        std::vector<std::vector<std::string>> rows{{result.axis}};
        for (const std::string& t : result.tests)
            rows[0].push_back(t);
        char buf[32];
        for (const sweep_point& p : result.points) {
            std::snprintf(buf, sizeof buf, "%.3f", p.value);
            rows.push_back({buf});
            for (const std::size_t a : p.accepted) {
                std::snprintf(buf, sizeof buf, "%.3f",
                              static_cast<double>(a) / static_cast<double>(p.sets));
                rows.back().push_back(buf);
            }
        }
        print_table(out, rows);
    }
}

std::int64_t count_option(const arguments& args, const char* name, std::int64_t fallback,
                          std::int64_t lo) {
    const auto it = args.options.find(name);
    const std::int64_t v = it == args.options.end()
                               ? fallback
                               : parse_integer(it->second, std::string("sweep: --") + name);
    if (v < lo)
        throw input_error(std::string("sweep: --") + name + ": " + std::to_string(v) +
                          " must be at least " + std::to_string(lo));
    return v;
}

const std::vector<std::string> common_switches{"progress", "no-progress", "quiet"};

int run_family_sweep(const analysis_family& family, const arguments& args, std::ostream& out) {
    std::vector<std::string> options{"family", "tests", "sets", "threads", "seed", "csv", "plot"};
    options.insert(options.end(), family.sweep_options.begin(), family.sweep_options.end());
    check_arguments(args, "sweep --family " + family.name, options, common_switches, 0);
    family_sweep_common common;
    if (const auto t = args.options.find("tests"); t != args.options.end()) {
        for (const std::string& name : split_list(t->second)) {
            if (std::find(family.tests.begin(), family.tests.end(), name) == family.tests.end()) {
                std::string known;
                for (const std::string& k : family.tests)
                    known += (known.empty() ? "" : ", ") + k;
                throw input_error("sweep --family " + family.name + ": --tests: '" + name +
                                  "' is not a test of this family (known: " + known + ")");
            }
            if (std::find(common.tests.begin(), common.tests.end(), name) != common.tests.end())
                throw input_error("sweep: --tests: '" + name + "' listed twice");
            common.tests.push_back(name);
        }
        if (common.tests.empty()) throw input_error("sweep: --tests: no test named");
    }
    common.sets = static_cast<std::size_t>(count_option(args, "sets", 100, 1));
    common.threads = static_cast<std::size_t>(count_option(args, "threads", 0, 0));
    common.seed = static_cast<std::uint64_t>(count_option(args, "seed", 1, 0));
    const sweep_output output = output_of(args);
    progress_bar bar;
    common.progress = progress_of(args, bar);
    family_sweep_result r;
    try {
        r = family.sweep(args, common);
    } catch (const std::invalid_argument& e) {
        throw input_error("sweep --family " + family.name + ": " + e.what());
    }
    emit(r.result, output, r.title, args, out);
    return exit_ok;
}

}  // namespace

experiment_options family_experiment(const family_sweep_common& common, std::vector<double> points,
                                     std::string axis) {
    experiment_options o;
    o.axis = std::move(axis);
    o.points = std::move(points);
    o.sets_per_point = common.sets;
    o.seed = common.seed;
    o.threads = common.threads;
    return o;
}

int run_sweep(const arguments& args, std::ostream& out) {
    if (const auto f = args.options.find("family"); f != args.options.end()) {
        const analysis_family* family = find_family(f->second);
        if (family == nullptr || family->sweep == nullptr) {
            std::string known;
            for (const analysis_family& k : analysis_families())
                if (k.sweep) known += (known.empty() ? "" : ", ") + k.name;
            throw input_error("sweep: --family: '" + f->second + "' is not a family with a sweep (known: " +
                              (known.empty() ? std::string("none") : known) + ")");
        }
        return run_family_sweep(*family, args, out);
    }
    check_arguments(args, "sweep",
                    {"n", "tests", "u-min", "u-max", "u-step", "sets", "threads", "seed", "csv",
                     "plot", "deadlines", "period-min", "period-max", "method"},
                    common_switches, 0);
    sweep_options o;
    const std::int64_t n = parse_integer(args.required("n"), "sweep: --n");
    if (n < 1 || n > 100000)
        throw input_error("sweep: --n: " + std::to_string(n) + " is not in 1..100000");
    o.generator.n = static_cast<std::size_t>(n);
    auto number = [&](const char* name, double fallback) {
        const auto it = args.options.find(name);
        return it == args.options.end() ? fallback
                                        : parse_number(it->second, std::string("sweep: --") + name);
    };
    auto count = [&](const char* name, std::int64_t fallback, std::int64_t lo) {
        return count_option(args, name, fallback, lo);
    };
    o.u_min = number("u-min", 0.5);
    o.u_max = number("u-max", 1.0);
    o.u_step = number("u-step", 0.05);
    if (!(o.u_min > 0)) throw input_error("sweep: --u-min must be positive");
    if (!(o.u_max >= o.u_min)) throw input_error("sweep: --u-max must be at least --u-min");
    if (!(o.u_step > 0)) throw input_error("sweep: --u-step must be positive");
    if (o.u_max > static_cast<double>(n))
        throw input_error("sweep: --u-max: above n (no task can exceed utilisation 1)");
    o.sets_per_point = static_cast<std::size_t>(count("sets", 100, 1));
    o.threads = static_cast<std::size_t>(count("threads", 0, 0));
    o.seed = static_cast<std::uint64_t>(count("seed", 1, 0));
    o.generator.period_min = count("period-min", 10, 1);
    o.generator.period_max = count("period-max", 1000, o.generator.period_min);
    const std::string deadlines = args.value_or("deadlines", "implicit");
    if (deadlines == "implicit")
        o.generator.deadlines = deadline_kind::implicit;
    else if (deadlines == "constrained")
        o.generator.deadlines = deadline_kind::constrained;
    else if (deadlines == "arbitrary")
        o.generator.deadlines = deadline_kind::arbitrary;
    else
        throw input_error("sweep: --deadlines: '" + deadlines +
                          "' is not implicit, constrained or arbitrary");
    const std::string method = args.value_or("method", "uunifast-discard");
    if (method == "uunifast")
        o.generator.method = utilization_method::uunifast;
    else if (method == "uunifast-discard")
        o.generator.method = utilization_method::uunifast_discard;
    else if (method == "randfixedsum")
        o.generator.method = utilization_method::randfixedsum;
    else
        throw input_error("sweep: --method: '" + method +
                          "' is not uunifast, uunifast-discard or randfixedsum");

    std::vector<named_test> tests;
    for (const std::string& name : split_list(args.required("tests"))) {
        try {
            tests.push_back(make_test(name));
        } catch (const input_error& e) {
            throw input_error(std::string("sweep: --tests: ") + e.what());
        }
        for (std::size_t k = 0; k + 1 < tests.size(); ++k)
            if (tests[k].name == name)
                throw input_error("sweep: --tests: '" + name + "' listed twice");
    }
    if (tests.empty()) throw input_error("sweep: --tests: no test named");

    const sweep_output output = output_of(args);
    progress_bar bar;
    const sweep_result result = sweep(tests, o, progress_of(args, bar));
    emit(result, output, "Schedulable task sets, n = " + std::to_string(o.generator.n), args, out);
    return exit_ok;
}

}  // namespace keel::sched::cli
