// keel-alloc: lists keel's heaps, replays allocation traces over them,
// generates synthetic and adversarial traces, and tunes heap parameters
// offline by an evolutionary search scored on traces.

#include <keel/alloc/heap_registry.hpp>
#include <keel/alloc/replay.hpp>
#include <keel/alloc/trace.hpp>
#include <keel/alloc/trace_generators.hpp>

#include <boost/json.hpp>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using namespace keel::alloc;

constexpr const char* usage_text =
    "usage:\n"
    "  keel-alloc heaps\n"
    "  keel-alloc replay TRACE... [--heap NAME[,NAME...]|all]... [--region-size BYTES] [--param NAME=VALUE]...\n"
    "                   [--fill none|first_line|all] [--no-timing] [--no-malloc] [--verify] [--json]\n"
    "  keel-alloc generate KIND|list [--seed N] [--scale N] -o FILE\n"
    "  keel-alloc tune TRACE... [--heap tlsf|buddy|best_fit|adaptive] [--generations N]\n"
    "                 [--population N] [--seed N] [--region-size BYTES] [--json]\n"
    "TRACE is a trace file, or gen:KIND[:SCALE] for a generated one (seed 1).\n"
    "--param names: split_threshold, tlsf_second_level_log2, buddy_min_block, adaptive_size_classes.\n"
    "BYTES take a K, M or G suffix.\n";

// A bad command line: main prints the message and the usage, exit 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::uint64_t parse_number(std::string_view s, std::string_view what) {
    std::uint64_t v = 0;
    std::uint64_t mul = 1;
    if (!s.empty()) {
        switch (s.back()) {
            case 'K': case 'k': mul = std::uint64_t{1} << 10; break;
            case 'M': case 'm': mul = std::uint64_t{1} << 20; break;
            case 'G': case 'g': mul = std::uint64_t{1} << 30; break;
            default: break;
        }
        if (mul != 1) s.remove_suffix(1);
    }
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || s.empty() ||
        v > std::numeric_limits<std::uint64_t>::max() / mul) {
        throw usage_error("bad " + std::string(what) + ": '" + std::string(s) + "'");
    }
    return v * mul;
}

void set_parameter(heap_parameters& p, std::string_view assignment) {
    const auto eq = assignment.find('=');
    if (eq == std::string_view::npos) throw usage_error("--param wants NAME=VALUE, got '" + std::string(assignment) + "'");
    const auto name = assignment.substr(0, eq);
    const auto value = parse_number(assignment.substr(eq + 1), "parameter value");
    if (name == "split_threshold") {
        p.split_threshold = static_cast<std::size_t>(value);
    } else if (name == "tlsf_second_level_log2") {
        p.tlsf_second_level_log2 = static_cast<unsigned>(value);
    } else if (name == "buddy_min_block") {
        p.buddy_min_block = static_cast<std::size_t>(value);
    } else if (name == "adaptive_size_classes") {
        p.adaptive_size_classes = static_cast<unsigned>(value);
    } else {
        throw usage_error("unknown parameter '" + std::string(name) + "'");
    }
}

std::string describe(const heap_parameters& p) {
    std::string s;
    auto add = [&](const char* name, std::uint64_t v) {
        if (v == 0) return;
        s += (s.empty() ? "" : " ") + std::string(name) + "=" + std::to_string(v);
    };
    add("split_threshold", p.split_threshold);
    add("tlsf_second_level_log2", p.tlsf_second_level_log2);
    add("buddy_min_block", p.buddy_min_block);
    add("adaptive_size_classes", p.adaptive_size_classes);
    return s.empty() ? "defaults" : s;
}

struct named_trace {
    std::string name;
    trace t;
};

named_trace load(const std::string& spec) {
    if (spec.rfind("gen:", 0) == 0) {
        std::string kind = spec.substr(4);
        std::size_t scale = 1;
        if (auto colon = kind.find(':'); colon != std::string::npos) {
            scale = static_cast<std::size_t>(parse_number(std::string_view(kind).substr(colon + 1), "scale"));
            kind.resize(colon);
        }
        try {
            return {spec, generate(kind, 1, scale)};
        } catch (const std::invalid_argument& e) {
            throw usage_error(e.what());
        }
    }
    return {spec, load_trace(spec)};
}

std::string heap_of(std::string_view name) {
    for (auto n : heap_names()) {
        if (n == name) return std::string(n);
    }
    std::string known;
    for (auto n : heap_names()) known += (known.empty() ? "" : ", ") + std::string(n);
    throw usage_error("unknown heap '" + std::string(name) + "' (known: " + known + ", or all)");
}

// Shared options of replay and tune.
struct arguments {
    std::vector<std::string> traces;
    std::vector<std::string> heaps;
    heap_parameters parameters;
    replay_options replay;
    bool json = false;
    bool with_malloc = true;
    std::uint64_t generations = 8;
    std::uint64_t population = 12;
    std::uint64_t seed = 1;
};

arguments parse_replay_like(int argc, char** argv, bool tune) {
    arguments a;
    std::vector<std::string> heap_args;  // every --heap value, in order
    for (int i = 0; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= argc) throw usage_error(std::string(arg) + " wants a value");
            return argv[++i];
        };
        if (arg == "--heap") {
            heap_args.emplace_back(value());
        } else if (arg == "--region-size") {
            a.replay.region_bytes = static_cast<std::size_t>(parse_number(value(), "region size"));
        } else if (arg == "--json") {
            a.json = true;
        } else if (!tune && arg == "--param") {
            set_parameter(a.parameters, value());
        } else if (!tune && arg == "--fill") {
            const auto f = value();
            if (f == "none") a.replay.fill = replay_fill::none;
            else if (f == "first_line") a.replay.fill = replay_fill::first_line;
            else if (f == "all") a.replay.fill = replay_fill::all;
            else throw usage_error("--fill wants none, first_line or all");
        } else if (!tune && arg == "--no-timing") {
            a.replay.timing = false;
        } else if (!tune && arg == "--no-malloc") {
            a.with_malloc = false;
        } else if (!tune && arg == "--verify") {
            a.replay.verify = true;
        } else if (tune && arg == "--generations") {
            a.generations = parse_number(value(), "generation count");
        } else if (tune && arg == "--population") {
            a.population = parse_number(value(), "population size");
        } else if (tune && arg == "--seed") {
            a.seed = parse_number(value(), "seed");
        } else if (arg.rfind("--", 0) == 0) {
            throw usage_error("unknown option " + std::string(arg));
        } else {
            a.traces.emplace_back(arg);
        }
    }
    if (a.traces.empty()) throw usage_error("no trace given");
    if (tune) {
        if (heap_args.size() > 1) throw usage_error("tune takes one --heap");
        const std::string heap = heap_args.empty() ? "tlsf" : heap_args.front();
        if (heap != "tlsf" && heap != "buddy" && heap != "best_fit" && heap != "adaptive") {
            throw usage_error("tune --heap wants tlsf, buddy, best_fit or adaptive");
        }
        if (a.population < 2 || a.population > 1000) throw usage_error("--population wants 2..1000");
        if (a.generations < 1 || a.generations > 1000) throw usage_error("--generations wants 1..1000");
        a.heaps = {heap};
    } else {
        // --heap may repeat and take comma-separated names; no --heap means all.
        if (heap_args.empty()) heap_args.emplace_back("all");
        auto add = [&](std::string name) {
            if (std::find(a.heaps.begin(), a.heaps.end(), name) == a.heaps.end()) a.heaps.push_back(std::move(name));
        };
        for (const auto& list : heap_args) {
            std::string_view rest = list;
            while (true) {
                const auto comma = rest.find(',');
                const auto name = rest.substr(0, comma);
                if (name == "all") {
                    for (auto n : heap_names()) add(std::string(n));
                } else {
                    add(heap_of(name));
                }
                if (comma == std::string_view::npos) break;
                rest.remove_prefix(comma + 1);
            }
        }
    }
    return a;
}

heap_factory factory_for(const std::string& heap, const heap_parameters& p) {
    return [heap, p](keel::platform::memory_region r) { return make_heap(heap, r, p); };
}

// ---- heaps ---------------------------------------------------------------

int cmd_heaps() {
    for (auto n : heap_names()) std::cout << n << '\n';
    return 0;
}

// ---- replay --------------------------------------------------------------

boost::json::object to_json(const std::string& trace_name, const replay_result& r) {
    boost::json::object o;
    o["trace"] = trace_name;
    o["heap"] = r.heap;
    if (r.has_metrics) {
        o["jw1"] = r.jw1;
        o["jw2"] = r.jw2;
        o["jw3"] = r.jw3;
        o["jw4"] = r.jw4;
        o["external_fragmentation"] = r.external_fragmentation;
        o["internal_fragmentation"] = r.internal_fragmentation;
        o["peak_footprint"] = r.peak_footprint;
        o["peak_live"] = r.peak_live;
        o["resized_in_place"] = r.resized_in_place;  // reallocs the heap grew or shrank in place
        if (!r.verify_error.empty()) o["verify_error"] = r.verify_error;
    }
    if (r.has_timing) {
        o["ops"] = r.ops;
        o["ops_per_second"] = r.ops_per_second;
        o["p50_ns"] = r.latency.p50;
        o["p90_ns"] = r.latency.p90;
        o["p99_ns"] = r.latency.p99;
        o["p999_ns"] = r.latency.p999;
        o["max_ns"] = r.latency.max;
    }
    o["failed_allocations"] = r.failed_allocations;
    return o;
}

void print_row(const std::string& trace_name, const replay_result& r) {
    char line[512];
    // decimals < 0: three significant digits.
    auto num = [](bool has, double v, int decimals) {
        char b[32];
        if (!has) return std::string("n/a");
        if (decimals < 0) {
            std::snprintf(b, sizeof b, "%.3g", v);
        } else {
            std::snprintf(b, sizeof b, "%.*f", decimals, v);
        }
        return std::string(b);
    };
    const bool m = r.has_metrics;
    const bool t = r.has_timing;
    std::snprintf(line, sizeof line, "%-24s %-20s %6s %6s %6s %6s %6s %6s %12s %12s %10s %8s %8s %8s %7llu\n",
                  trace_name.substr(0, 24).c_str(), r.heap.c_str(), num(m, r.jw1, 3).c_str(),
                  num(m, r.jw2, 3).c_str(), num(m, r.jw3, 3).c_str(), num(m, r.jw4, 3).c_str(),
                  num(m, r.external_fragmentation, 3).c_str(), num(m, r.internal_fragmentation, 3).c_str(),
                  num(m, static_cast<double>(r.peak_footprint), 0).c_str(),
                  num(m, static_cast<double>(r.peak_live), 0).c_str(), num(t, r.ops_per_second, -1).c_str(),
                  num(t, r.latency.p50, 0).c_str(), num(t, r.latency.p99, 0).c_str(),
                  num(t, r.latency.p999, 0).c_str(), static_cast<unsigned long long>(r.failed_allocations));
    std::cout << line;
    if (!r.verify_error.empty()) std::cout << "    verify: " << r.verify_error << '\n';
}

int cmd_replay(int argc, char** argv) {
    const arguments a = parse_replay_like(argc, argv, false);
    boost::json::array rows;
    auto header = [] {
        std::printf("%-24s %-20s %6s %6s %6s %6s %6s %6s %12s %12s %10s %8s %8s %8s %7s\n", "trace", "heap", "jw1",
                    "jw2", "jw3", "jw4", "ext", "int", "peak_fp", "peak_live", "ops/s", "p50ns", "p99ns", "p999ns",
                    "failed");
        std::fflush(stdout);
    };
    bool first = true;
    for (const auto& spec : a.traces) {
        const named_trace nt = load(spec);
        if (!a.json && std::exchange(first, false)) header();
        for (const auto& heap : a.heaps) {
            const replay_result r = replay(factory_for(heap, a.parameters), nt.t, a.replay);
            if (a.json) {
                rows.push_back(to_json(nt.name, r));
            } else {
                print_row(nt.name, r);
                std::cout.flush();
            }
        }
        if (a.with_malloc && a.replay.timing) {
            const replay_result r = replay_malloc(nt.t, a.replay);
            if (a.json) {
                rows.push_back(to_json(nt.name, r));
            } else {
                print_row(nt.name, r);
            }
        }
    }
    if (a.json) std::cout << boost::json::serialize(rows) << '\n';
    return 0;
}

// ---- generate ------------------------------------------------------------

int cmd_generate(int argc, char** argv) {
    if (argc < 1) throw usage_error("generate wants a KIND (or list)");
    const std::string kind = argv[0];
    if (kind == "list") {
        for (const auto& g : synthetic_generators()) std::printf("%-16s %s\n", std::string(g.name).c_str(), std::string(g.summary).c_str());
        for (const auto& g : adversarial_suite()) {
            std::printf("%-16s [against %s%s%s] %s\n", std::string(g.name).c_str(), std::string(g.target).c_str(),
                        g.fine.empty() ? "" : "; copes: ", std::string(g.fine).c_str(), std::string(g.summary).c_str());
        }
        return 0;
    }
    std::uint64_t seed = 1;
    std::uint64_t scale = 1;
    std::string out;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= argc) throw usage_error(std::string(arg) + " wants a value");
            return argv[++i];
        };
        if (arg == "--seed") {
            seed = parse_number(value(), "seed");
        } else if (arg == "--scale") {
            scale = parse_number(value(), "scale");
        } else if (arg == "-o") {
            out = value();
        } else {
            throw usage_error("unknown argument '" + std::string(arg) + "'");
        }
    }
    if (out.empty()) throw usage_error("generate wants -o FILE");
    if (find_generator(kind) == nullptr) {
        try {
            (void)generate(kind, seed, 1);
        } catch (const std::invalid_argument& e) {
            throw usage_error(e.what());
        }
    }
    if (scale == 0 || scale > 100000) throw usage_error("--scale wants 1..100000");
    const trace t = generate(kind, seed, static_cast<std::size_t>(scale));
    save_trace(out, t);
    const auto s = summarize(t);
    std::printf("%s: %llu ops, %u blocks, peak live %llu bytes\n", out.c_str(),
                static_cast<unsigned long long>(s.ops), t.blocks, static_cast<unsigned long long>(s.peak_live_bytes));
    return 0;
}

// ---- tune ----------------------------------------------------------------
// An offline evolutionary search over heap parameters, after Risco-Martin et
// al.'s grammatical evolution of dynamic memory managers (here the grammar is
// flat: one gene per parameter, each with a list of values, 0 = the heap's
// default). Fitness: mean J&W #4 over the traces (lower is better); a
// candidate with failed allocations ranks after every one without; ties (within
// 1e-9) go to the higher mean ops/s. Candidates of a generation are replayed
// in parallel (oneTBB), and each distinct genome only once.

struct gene {
    const char* name;
    std::vector<std::uint64_t> values;
};

std::vector<gene> genes_for(const std::string& heap) {
    if (heap == "tlsf") {
        return {{"tlsf_second_level_log2", {0, 1, 2, 3, 4, 5}},
                {"split_threshold", {0, 32, 48, 64, 96, 128, 256, 512}}};
    }
    if (heap == "buddy") return {{"buddy_min_block", {0, 16, 32, 64, 128, 256, 512}}};
    if (heap == "adaptive") {
        return {{"adaptive_size_classes", {0, 1, 2, 4, 6, 8, 12, 16, 24, 32}},
                {"split_threshold", {0, 64, 96, 128, 256, 512}}};
    }
    return {{"split_threshold", {0, 16, 32, 48, 64, 96, 128, 256, 512, 1024}}};
}

using genome = std::vector<std::size_t>;  // an index into each gene's values

heap_parameters decode(const std::vector<gene>& genes, const genome& g) {
    heap_parameters p;
    for (std::size_t i = 0; i < genes.size(); ++i) {
        set_parameter(p, std::string(genes[i].name) + "=" + std::to_string(genes[i].values[g[i]]));
    }
    return p;
}

struct fitness {
    bool valid = false;  // the heap accepted the parameters
    std::uint64_t failed = 0;
    double jw4 = std::numeric_limits<double>::infinity();
    double ops_per_second = 0;
    std::string error;

    [[nodiscard]] bool better_than(const fitness& o) const {
        if (valid != o.valid) return valid;
        if ((failed > 0) != (o.failed > 0)) return failed == 0;
        if (std::abs(jw4 - o.jw4) > 1e-9 * std::max(1.0, std::abs(o.jw4))) return jw4 < o.jw4;
        return ops_per_second > o.ops_per_second;
    }
};

fitness evaluate(const std::string& heap, const heap_parameters& p, const std::vector<named_trace>& traces,
                 std::size_t region_bytes) {
    fitness f;
    replay_options o;
    o.fill = replay_fill::none;
    o.region_bytes = region_bytes;
    try {
        double jw4 = 0;
        double ops = 0;
        for (const auto& nt : traces) {
            const replay_result r = replay(factory_for(heap, p), nt.t, o);
            jw4 += r.jw4;
            ops += r.ops_per_second;
            f.failed += r.failed_allocations;
        }
        f.valid = true;
        f.jw4 = jw4 / static_cast<double>(traces.size());
        f.ops_per_second = ops / static_cast<double>(traces.size());
    } catch (const std::exception& e) {
        f.error = e.what();
    }
    return f;
}

int cmd_tune(int argc, char** argv) {
    const arguments a = parse_replay_like(argc, argv, true);
    const std::string heap = a.heaps.front();
    std::vector<named_trace> traces;
    for (const auto& spec : a.traces) traces.push_back(load(spec));
    const std::vector<gene> genes = genes_for(heap);
    std::mt19937_64 rng(a.seed);
    std::map<genome, fitness> seen;

    auto random_genome = [&] {
        genome g(genes.size());
        for (std::size_t i = 0; i < genes.size(); ++i) g[i] = rng() % genes[i].values.size();
        return g;
    };
    auto score = [&](std::vector<genome>& pop) {
        std::vector<genome> todo;
        for (const auto& g : pop) {
            if (!seen.count(g) && std::find(todo.begin(), todo.end(), g) == todo.end()) todo.push_back(g);
        }
        std::vector<fitness> results(todo.size());
        tbb::parallel_for(std::size_t{0}, todo.size(), [&](std::size_t i) {
            results[i] = evaluate(heap, decode(genes, todo[i]), traces, a.replay.region_bytes);
        });
        for (std::size_t i = 0; i < todo.size(); ++i) seen[todo[i]] = results[i];
        std::sort(pop.begin(), pop.end(), [&](const genome& x, const genome& y) { return seen[x].better_than(seen[y]); });
    };

    const genome defaults(genes.size(), 0);
    std::vector<genome> pop{defaults};
    while (pop.size() < a.population) pop.push_back(random_genome());
    score(pop);
    const fitness base = seen[defaults];
    if (!base.valid) throw std::runtime_error("the default parameters fail: " + base.error);
    if (!a.json) {
        std::printf("tuning %s over %zu trace(s): population %llu, %llu generations\n", heap.c_str(), traces.size(),
                    static_cast<unsigned long long>(a.population), static_cast<unsigned long long>(a.generations));
        std::printf("defaults: jw4 %.4f, %.3g ops/s, %llu failed\n", base.jw4, base.ops_per_second,
                    static_cast<unsigned long long>(base.failed));
    }
    auto tournament = [&]() -> const genome& {
        const genome& x = pop[rng() % pop.size()];
        const genome& y = pop[rng() % pop.size()];
        return seen[x].better_than(seen[y]) ? x : y;
    };
    for (std::uint64_t gen = 0; gen < a.generations; ++gen) {
        std::vector<genome> next(pop.begin(), pop.begin() + 2);  // elitism
        while (next.size() < a.population) {
            const genome& p1 = tournament();
            const genome& p2 = tournament();
            genome child(genes.size());
            for (std::size_t i = 0; i < genes.size(); ++i) child[i] = (rng() & 1) != 0 ? p1[i] : p2[i];
            bool mutated = false;
            for (std::size_t i = 0; i < genes.size(); ++i) {
                if (rng() % genes.size() == 0) {
                    child[i] = rng() % genes[i].values.size();
                    mutated = true;
                }
            }
            if (!mutated) {
                const std::size_t i = rng() % genes.size();
                child[i] = rng() % genes[i].values.size();
            }
            next.push_back(std::move(child));
        }
        pop = std::move(next);
        score(pop);
        if (!a.json) {
            const fitness& b = seen[pop.front()];
            std::printf("generation %llu: best %s: jw4 %.4f, %.3g ops/s (%zu configurations tried)\n",
                        static_cast<unsigned long long>(gen + 1), describe(decode(genes, pop.front())).c_str(), b.jw4,
                        b.ops_per_second, seen.size());
            std::fflush(stdout);
        }
    }
    const fitness& best = seen[pop.front()];
    const heap_parameters best_p = decode(genes, pop.front());
    const double gain = base.jw4 > 0 ? (base.jw4 - best.jw4) / base.jw4 * 100.0 : 0.0;
    const double speed = base.ops_per_second > 0 ? (best.ops_per_second / base.ops_per_second - 1) * 100.0 : 0.0;
    if (a.json) {
        boost::json::object o;
        o["heap"] = heap;
        o["best"] = describe(best_p);
        o["best_jw4"] = best.jw4;
        o["best_ops_per_second"] = best.ops_per_second;
        o["best_failed_allocations"] = best.failed;
        o["default_jw4"] = base.jw4;
        o["default_ops_per_second"] = base.ops_per_second;
        o["jw4_gain_percent"] = gain;
        o["speed_change_percent"] = speed;
        o["configurations_tried"] = seen.size();
        std::cout << boost::json::serialize(o) << '\n';
    } else {
        std::printf("best: %s\n  jw4 %.4f vs %.4f with defaults (%.2f%% less footprint per live byte)\n"
                    "  %.3g vs %.3g ops/s (%+.1f%%), %llu failed allocations\n",
                    describe(best_p).c_str(), best.jw4, base.jw4, gain, best.ops_per_second, base.ops_per_second,
                    speed, static_cast<unsigned long long>(best.failed));
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc < 2) throw usage_error("no command");
        const std::string_view cmd = argv[1];
        if (cmd == "heaps") {
            if (argc != 2) throw usage_error("heaps takes no arguments");
            return cmd_heaps();
        }
        if (cmd == "replay") return cmd_replay(argc - 2, argv + 2);
        if (cmd == "generate") return cmd_generate(argc - 2, argv + 2);
        if (cmd == "tune") return cmd_tune(argc - 2, argv + 2);
        if (cmd == "-h" || cmd == "--help" || cmd == "help") {
            std::cout << usage_text;
            return 0;
        }
        throw usage_error("unknown command '" + std::string(cmd) + "'");
    } catch (const usage_error& e) {
        std::cerr << "keel-alloc: " << e.what() << "\n" << usage_text;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "keel-alloc: " << e.what() << '\n';
        return 1;
    }
}
