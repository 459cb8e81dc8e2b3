// keel-sched family "maars": multi-rate schedule randomisation against timing-inference
// attacks (randomize.hpp; after Sain et al., arXiv 2408.00341).
//   analyze --test maars FILE [--json] [--victim NAME] [--window N] [--fraction X]
//           [--horizon N] [--seed N] [--dwell N] [--max-combinations N]
//       tasks carry "periods": [..] (the admissible periods; absent: just "period").
//       Lists the schedulable period combinations with their vulnerability, the
//       attack-aware pool, a randomised run (its switches) and the attacker's success
//       with the fixed schedule and with randomisation.
//   sweep --family maars   attacker success ratio against utilisation: fixed schedule,
//       random switching over every schedulable combination, attack-aware pool.
// docs/sched/randomize.md.
#include "cli.hpp"
#include "json_input.hpp"

#include <keel/sched/randomize.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace keel::sched::cli {

namespace {

namespace json = boost::json;

const std::vector<std::string> family_tests{"fixed", "random", "maars"};

struct maars_input {
    multirate_system system;
    task_set names;  // for messages
};

maars_input read_input(const std::string& path) {
    const json_system in = read_json_system(path, schema_extension{{}, {"periods"}, false});
    const task_set& set = in.sys.tasks;
    const json::array& doc_tasks = in.document.at("tasks").as_array();
    maars_input out;
    out.names = set;
    for (std::size_t k = 0; k < set.size(); ++k) {
        const json::object& o = doc_tasks.at(in.source_index[k]).as_object();
        const std::string where = "task " + std::to_string(in.source_index[k]) + " (\"" + set.name_of(k) + "\")";
        const task& t = set.tasks[k];
        if (t.jitter != 0 || t.blocking != 0)
            throw input_error(where + ": field \"" + (t.jitter != 0 ? "jitter" : "blocking") +
                              "\": must be 0 (the multi-rate model has none)");
        multirate_task m;
        m.wcet = t.wcet;
        if (const auto* p = o.if_contains("periods")) {
            if (!p->is_array() || p->as_array().empty())
                throw input_error(where + ": field \"periods\": must be a non-empty array of periods");
            for (const json::value& v : p->as_array())
                m.periods.push_back(integer_field(v, where, "periods"));
            if (std::find(m.periods.begin(), m.periods.end(), t.period) == m.periods.end())
                throw input_error(where + ": field \"periods\": must list \"period\" (" +
                                  std::to_string(t.period) + ")");
        } else {
            m.periods.push_back(t.period);
        }
        m.deadline = o.contains("deadline") ? t.deadline : 0;
        out.system.tasks.push_back(std::move(m));
        out.system.names.push_back(set.name_of(k));
    }
    try {
        out.system.validate();
    } catch (const std::invalid_argument& e) {
        throw input_error(e.what());
    }
    return out;
}

std::string fixed3(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return buf;
}

int analyze_maars(const std::string&, const arguments& args, std::ostream& out) {
    const maars_input in = read_input(args.positional.at(0));
    const multirate_system& s = in.system;
    const std::size_t n = s.tasks.size();
    if (n == 0) throw input_error("maars: the file lists no task");
    std::size_t victim = n - 1;
    if (const auto f = args.options.find("victim"); f != args.options.end()) {
        const auto it = std::find(s.names.begin(), s.names.end(), f->second);
        if (it == s.names.end()) throw input_error("--victim: no task is named '" + f->second + "'");
        victim = static_cast<std::size_t>(it - s.names.begin());
    }
    const time_value window = integer_option(args, "window", 0);
    if (window < 0) throw input_error("--window must not be negative");
    const double fraction = number_option(args, "fraction", 0.5);
    if (!(fraction > 0 && fraction <= 1)) throw input_error("--fraction must be in (0, 1]");
    const std::int64_t seed = integer_option(args, "seed", 1);
    const time_value dwell = integer_option(args, "dwell", 0);
    if (dwell < 0) throw input_error("--dwell must not be negative");
    const std::int64_t cap = integer_option(args, "max-combinations", 10'000);
    if (cap < 1) throw input_error("--max-combinations must be positive");

    enumeration_options eo;
    eo.max_combinations = static_cast<std::size_t>(cap);
    const enumeration_result r = enumerate_schedulable(s, eo);
    const bool ok = !r.combinations.empty();

    std::vector<double> vuln;
    std::vector<schedule_vulnerability> details;
    std::vector<std::size_t> pool;
    multirate_trace fixed_run, random_run;
    attack_result fixed_attack, random_attack;
    time_value horizon = 0;
    if (ok) {
        try {
            for (const auto& c : r.combinations)
                details.push_back(vulnerability_of(s, c, victim, window));
            pool = attack_aware_pool(s, r.combinations, victim, window, fraction, vuln);
        } catch (const std::invalid_argument& e) {
            throw input_error(e.what());
        }
        time_value longest = 1;
        for (const auto& c : r.combinations)
            longest = std::max(longest, c.periods[victim]);
        horizon = integer_option(args, "horizon", 400 * longest);
        if (horizon <= 0) throw input_error("--horizon must be positive");
        fixed_run = simulate_multirate(s, r.combinations, 0, horizon);
        schedule_randomizer rnd(pool, static_cast<std::uint64_t>(seed), dwell);
        random_run = simulate_multirate(s, r.combinations, pool.front(), horizon, &rnd);
        const auto fs = start_times(fixed_run, victim);
        const auto rs = start_times(random_run, victim);
        fixed_attack = evaluate_attack(fs, fs.size() / 2, window);
        random_attack = evaluate_attack(rs, rs.size() / 2, window);
    }

    if (args.has_flag("json")) {
        json::object doc;
        doc["test"] = "maars";
        doc["schedulable"] = ok;
        json::array names;
        for (const auto& name : s.names) names.push_back(json::value(name));
        doc["tasks"] = std::move(names);
        doc["victim"] = s.names[victim];
        doc["window"] = window;
        doc["combination_count"] = static_cast<std::uint64_t>(r.total);
        doc["schedulable_count"] = static_cast<std::uint64_t>(r.combinations.size());
        doc["truncated"] = r.truncated;
        doc["rejected"] = static_cast<std::uint64_t>(r.rejected);
        doc["rta_calls"] = r.rta_calls;
        json::array combos;
        for (std::size_t k = 0; k < r.combinations.size(); ++k) {
            const auto& c = r.combinations[k];
            json::object o;
            json::array p, rt;
            for (time_value v : c.periods) p.push_back(v);
            for (time_value v : c.response_times) rt.push_back(v);
            o["periods"] = std::move(p);
            o["response_times"] = std::move(rt);
            o["utilization"] = c.utilization;
            o["vulnerability"] = details[k].vulnerability;
            o["likeliest_offset"] = details[k].likeliest_offset;
            o["hyperperiod"] = details[k].hyperperiod;
            o["victim_jobs"] = details[k].victim_jobs;
            combos.push_back(std::move(o));
        }
        doc["combinations"] = std::move(combos);
        json::array pj;
        for (std::size_t i : pool) pj.push_back(static_cast<std::uint64_t>(i));
        doc["pool"] = std::move(pj);
        if (ok) {
            json::object run;
            run["horizon"] = horizon;
            run["seed"] = seed;
            run["dwell"] = dwell;
            run["safe_points"] = random_run.safe_points;
            run["switch_count"] = static_cast<std::int64_t>(random_run.switches.size()) - 1;
            run["misses"] = random_run.misses + fixed_run.misses;
            json::array sw;
            for (std::size_t k = 0; k < random_run.switches.size() && k < 20; ++k)
                sw.push_back(json::array{random_run.switches[k].first,
                                         static_cast<std::uint64_t>(random_run.switches[k].second)});
            run["switches"] = std::move(sw);
            auto attack = [](const attack_result& a) {
                json::object o;
                o["predictions"] = a.predictions;
                o["hits"] = a.hits;
                o["rate"] = a.rate;
                return o;
            };
            run["attack_fixed"] = attack(fixed_attack);
            run["attack_randomized"] = attack(random_attack);
            doc["run"] = std::move(run);
        }
        out << json::serialize(doc) << '\n';
    } else {
        std::vector<std::vector<std::string>> rows{{"#", "periods", "U", "vulnerability", "in pool"}};
        for (std::size_t k = 0; k < r.combinations.size(); ++k) {
            std::string p;
            for (std::size_t i = 0; i < n; ++i)
                p += (i ? "," : "") + std::to_string(r.combinations[k].periods[i]);
            const bool in_pool = std::find(pool.begin(), pool.end(), k) != pool.end();
            rows.push_back({std::to_string(k), p, fixed3(r.combinations[k].utilization),
                            fixed3(details[k].vulnerability), in_pool ? "yes" : "no"});
        }
        print_table(out, rows);
        out << "maars: " << r.combinations.size() << " of " << r.total << " period combinations schedulable"
            << (r.truncated ? " (stopped at --max-combinations; more exist)" : "") << " (victim "
            << s.names[victim] << ")\n";
        if (ok)
            out << "attacker success (exact start within " << window << " ticks): fixed "
                << fixed3(fixed_attack.rate) << " (" << fixed_attack.hits << "/" << fixed_attack.predictions
                << "), randomised " << fixed3(random_attack.rate) << " (" << random_attack.hits << "/"
                << random_attack.predictions << "), " << random_run.switches.size() - 1
                << " switches, misses " << random_run.misses + fixed_run.misses << '\n';
    }
    return ok ? exit_ok : exit_unschedulable;
}

family_sweep_result sweep_maars(const arguments& args, const family_sweep_common& common) {
    const std::int64_t n = integer_option(args, "n", 5);
    if (n < 1 || n > 12) throw input_error("--n must be in [1, 12]");
    const double u_min = number_option(args, "u-min", 0.1);
    const double u_max = number_option(args, "u-max", 0.9);
    const double u_step = number_option(args, "u-step", 0.1);
    if (!(u_step > 0) || !(u_min > 0) || u_min > u_max || u_max > 1.0)
        throw input_error("need 0 < --u-min <= --u-max <= 1 and --u-step > 0");
    const time_value window = integer_option(args, "window", 0);
    if (window < 0) throw input_error("--window must not be negative");
    const std::int64_t jobs = integer_option(args, "jobs", 200);
    if (jobs < 10 || jobs > 100'000) throw input_error("--jobs must be in [10, 100000]");
    const time_value dwell = integer_option(args, "dwell", 0);
    if (dwell < 0) throw input_error("--dwell must not be negative");
    const double fraction = number_option(args, "fraction", 0.5);
    if (!(fraction > 0 && fraction <= 1)) throw input_error("--fraction must be in (0, 1]");

    experiment_options options = family_experiment(common, axis_points(u_min, u_max, u_step));
    const std::vector<std::string> tests = common.tests.empty() ? family_tests : common.tests;
    const auto trial = [&](double point, std::uint64_t seed, std::span<trial_outcome> outcomes) {
        multirate_generator_options g;
        g.n = static_cast<std::size_t>(n);
        g.utilization = point;
        const multirate_system s = generate_multirate_system(g, seed);
        const auto r = enumerate_schedulable(s);
        if (r.combinations.empty()) return;  // every outcome stays `error`: nothing to run
        const std::size_t victim = s.tasks.size() / 2;
        time_value longest = 1;
        for (const auto& c : r.combinations)
            longest = std::max(longest, c.periods[victim]);
        const time_value horizon = (jobs + 2) * longest;
        std::vector<double> vuln;
        rng pick(seed ^ 0x9e3779b97f4a7c15ULL);
        for (std::size_t k = 0; k < tests.size(); ++k) {
            multirate_trace t;
            if (tests[k] == "fixed") {
                t = simulate_multirate(s, r.combinations, 0, horizon);
            } else {
                std::vector<std::size_t> pool(r.combinations.size());
                std::iota(pool.begin(), pool.end(), std::size_t{0});
                if (tests[k] == "maars") pool = attack_aware_pool(s, r.combinations, victim, window, fraction, vuln);
                schedule_randomizer rnd(pool, seed + 1, dwell);
                t = simulate_multirate(s, r.combinations, pool.front(), horizon, &rnd);
            }
            if (t.misses != 0) throw std::logic_error("maars sweep: a deadline was missed");
            const auto starts = start_times(t, victim);
            if (starts.size() < 3) throw std::logic_error("maars sweep: the victim ran fewer than 3 jobs");
            // One prediction per trial: a victim job drawn from the second half of the run.
            const std::size_t training = std::min<std::size_t>(starts.size() - 1, static_cast<std::size_t>(jobs) / 2);
            const std::size_t target =
                training + static_cast<std::size_t>(pick.below(starts.size() - training));
            const auto p = predict_next_start(std::span(starts).first(target));
            const bool hit = p && (*p > starts[target] ? *p - starts[target] : starts[target] - *p) <= window;
            outcomes[k] = hit ? trial_outcome::accepted : trial_outcome::rejected;
        }
    };
    family_sweep_result out;
    out.result = run_experiment(tests, trial, options, common.progress);
    out.title = "maars: attack success ratio (accepted = attacker predicted the victim's start within " +
                std::to_string(window) + " ticks), n=" + std::to_string(n);
    return out;
}

const family_registration registered{analysis_family{
    "maars",
    "multi-rate schedule randomisation against timing inference (after Sain et al. 2024)",
    {"maars"},
    {"victim", "window", "fraction", "horizon", "seed", "dwell", "max-combinations"},
    analyze_maars,
    {"n", "u-min", "u-max", "u-step", "window", "jobs", "dwell", "fraction"},
    sweep_maars}};

}  // namespace

}  // namespace keel::sched::cli
