// keel-sched: schedulability analysis of task sets given as JSON (docs/sched.md,
// "The command-line tool keel-sched"). main parses the command line and maps errors to
// exit statuses; each command lives in its own file.

#include "cli.hpp"

#include <keel/sched/detail/checked.hpp>

#include <exception>
#include <iostream>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

namespace keel::sched::cli {

bool is_switch(const std::string& name) {
    static const std::set<std::string, std::less<>> switches{
        "json", "scaling", "solve", "progress", "no-progress", "quiet", "verbose", "help"};
    return switches.contains(name);
}

}  // namespace keel::sched::cli

namespace {

using namespace keel::sched;
using namespace keel::sched::cli;

constexpr const char* usage_text =
    "usage: keel-sched <command> [arguments]\n"
    "\n"
    "commands (FILE is a task-set JSON file, or - for standard input):\n"
    "  analyze FILE [--test fp-rta|fp-points|edf-pdc|edf-qpa|ll-bound|hyperbolic]\n"
    "               [--assign dm|rm|audsley] [--horizon H] [--json]\n"
    "      is the set schedulable? exit 0 yes, 1 no\n"
    "  sensitivity FILE --task NAME [--test TEST] [--json]\n"
    "  sensitivity FILE --scaling [--test TEST] [--resolution R] [--json]\n"
    "      the largest WCET of a task, or the largest common WCET scaling factor\n"
    "  constraints FILE --free NAME,... --test fp|edf [--lp OUT|-] [--maximize W]\n"
    "              [--u-cap U] [--json]\n"
    "      the exact test as linear constraints on the free WCETs\n"
    "  generate --n N --utilization U [--seed S] [--count K]\n"
    "           [--method uunifast|uunifast-discard|randfixedsum|dirichlet-rescale]\n"
    "           [--period-min T] [--period-max T] [--granularity G]\n"
    "           [--deadlines implicit|constrained|arbitrary] [--order dm|rm|none]\n"
    "      random task sets in the input schema (K > 1: one JSON object per line)\n"
    "  simulate FILE --horizon H [--policy fp|edf]\n"
    "           [--release synchronous|critical-instant|random] [--seed S] [--json]\n"
    "      a preemptive uniprocessor schedule; exit 1 when a deadline is missed\n"
    "  sweep --n N --tests TEST,... [--u-min U] [--u-max U] [--u-step S] [--sets K]\n"
    "        [--threads T] [--seed S] [--csv OUT] [--plot OUT] [--deadlines ...]\n"
    "        [--period-min T] [--period-max T] [--method ...] [--progress|--no-progress|--quiet]\n"
    "      schedulability ratio against utilisation for several tests\n"
    "  sweep --family NAME [--tests TEST,...] [--sets K] [--threads T] [--seed S]\n"
    "        [--csv OUT] [--plot OUT] [family options]\n"
    "      a family's evaluation (options: docs/sched.md, \"Analysis families\")\n"
    "\n"
    "input: {\"cores\": 1, \"tasks\": [{\"name\": \"a\", \"wcet\": 1, \"period\": 4,\n"
    "        \"deadline\": 4, \"jitter\": 0, \"blocking\": 0, \"priority\": 0}, ...]}\n"
    "  deadline defaults to period, jitter and blocking to 0; a lower priority number is a\n"
    "  higher priority; without priorities, list order is priority order.\n"
    "exit status: 0 done/schedulable, 1 unschedulable, 2 bad input or usage, 3 analysis\n"
    "  could not finish (64-bit overflow, solver). See docs/sched.md.\n";

/// The usage text with the registered families' tests (analyze --test NAME).
std::string usage() {
    std::string text = usage_text;
    const std::vector<const analysis_family*> families = families_by_name();
    if (families.empty()) return text;
    text += "\nfamilies (analyze --test TEST; sweep --family NAME):\n";
    for (const analysis_family* f : families) {
        std::string tests;
        for (const std::string& t : f->tests)
            tests += (tests.empty() ? "" : "|") + t;
        text += "  " + f->name + ": " + tests + "\n      " + f->summary + "\n";
    }
    return text;
}

using command_fn = int (*)(const arguments&, std::ostream&);

command_fn find_command(std::string_view name) {
    if (name == "analyze") return run_analyze;
    if (name == "sensitivity") return run_sensitivity;
    if (name == "constraints") return run_constraints;
    if (name == "generate") return run_generate;
    if (name == "simulate") return run_simulate;
    if (name == "sweep") return run_sweep;
    return nullptr;
}

/// Splits argv[first..] into positional arguments, options and switches (see is_switch).
arguments parse_arguments(int argc, char** argv, int first) {
    arguments args;
    bool options_done = false;
    for (int k = first; k < argc; ++k) {
        const std::string a = argv[k];
        if (a == "-h" && !options_done) {
            args.flags.emplace_back("help");
            continue;
        }
        if (options_done || a.size() < 3 || a.rfind("--", 0) != 0) {
            if (a == "--") {
                options_done = true;
                continue;
            }
            args.positional.push_back(a);
            continue;
        }
        std::string name = a.substr(2);
        std::string value;
        bool has_value = false;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
            has_value = true;
        } else if (!is_switch(name) && k + 1 < argc &&
                   std::string_view(argv[k + 1]).rfind("--", 0) != 0) {
            value = argv[++k];
            has_value = true;
        }
        if (has_value) {
            if (!args.options.emplace(name, value).second)
                throw input_error("option --" + name + " given twice");
        } else {
            if (args.has_flag(name)) throw input_error("option --" + name + " given twice");
            args.flags.push_back(name);
        }
    }
    return args;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << usage();
        return exit_bad_input;
    }
    const std::string command = argv[1];
    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << usage();
        return exit_ok;
    }
    const command_fn run = find_command(command);
    if (run == nullptr) {
        std::cerr << "keel-sched: unknown command '" << command << "'\n" << usage();
        return exit_bad_input;
    }
    try {
        const arguments args = parse_arguments(argc, argv, 2);
        if (args.has_flag("help")) {
            std::cout << usage();
            return exit_ok;
        }
        const int rc = run(args, std::cout);
        std::cout.flush();
        if (!std::cout) {
            std::cerr << "keel-sched: cannot write the output\n";
            return exit_failed;
        }
        return rc;
    } catch (const input_error& e) {
        std::cerr << "keel-sched: " << e.what() << '\n';
        return exit_bad_input;
    } catch (const std::invalid_argument& e) {
        // A library precondition the command did not translate: still bad input.
        std::cerr << "keel-sched: " << e.what() << '\n';
        return exit_bad_input;
    } catch (const analysis_overflow& e) {
        std::cerr << "keel-sched: " << command << ": the analysis cannot finish: " << e.what()
                  << '\n';
        return exit_failed;
    } catch (const std::exception& e) {
        std::cerr << "keel-sched: " << command << ": " << e.what() << '\n';
        return exit_failed;
    }
}
