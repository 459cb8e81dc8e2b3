// Experiments (experiment.hpp): the utilisation points, the counts, errors, progress,
// CSV, and results that do not depend on the thread count.
#include <keel/sched/edf.hpp>
#include <keel/sched/experiment.hpp>
#include <keel/sched/fp.hpp>
#include <keel/sched/priority_assignment.hpp>

#include <catch2/catch.hpp>

#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace keel::sched;

namespace {

sweep_options small() {
    sweep_options o;
    o.generator.n = 5;
    o.u_min = 0.6;
    o.u_max = 1.0;
    o.u_step = 0.1;
    o.sets_per_point = 40;
    o.seed = 3;
    return o;
}

bool fp_dm(std::span<const task> s) {
    return fp_schedulable(apply_priority_order(s, deadline_monotonic(s)));
}

}  // namespace

TEST_CASE("sweep_utilizations: u_min + k u_step up to u_max, without drift") {
    sweep_options o = small();
    const std::vector<double> us = sweep_utilizations(o);
    REQUIRE(us.size() == 5);
    CHECK(us[0] == Approx(0.6));
    CHECK(us[4] == Approx(1.0));
    o.u_step = 0;
    CHECK_THROWS_AS(sweep_utilizations(o), std::invalid_argument);
    o = small();
    o.u_min = 1.1;
    CHECK_THROWS_AS(sweep_utilizations(o), std::invalid_argument);
}

TEST_CASE("sweep counts acceptances and errors per test and point") {
    const std::vector<named_test> tests{
        {"yes", [](std::span<const task>) { return true; }},
        {"no", [](std::span<const task>) { return false; }},
        {"throws", [](std::span<const task>) -> bool { throw std::runtime_error("x"); }},
        {"fp", fp_dm},
        {"edf", [](std::span<const task> s) { return edf_qpa(s).schedulable; }},
    };
    const sweep_result r = sweep(tests, small());
    CHECK(r.tests == std::vector<std::string>{"yes", "no", "throws", "fp", "edf"});
    REQUIRE(r.points.size() == 5);
    for (const sweep_point& p : r.points) {
        CHECK(p.sets == 40);
        CHECK(p.accepted[0] == 40);
        CHECK(p.accepted[1] == 0);
        CHECK(p.accepted[2] == 0);
        CHECK(p.errors[2] == 40);
        CHECK(p.errors[0] + p.errors[1] + p.errors[3] + p.errors[4] == 0);
        CHECK(p.accepted[3] <= p.accepted[4]);  // EDF is optimal on one processor
    }
    CHECK(r.points.front().accepted[4] >= r.points.back().accepted[4]);
}

TEST_CASE("sweep gives the same result for any thread count") {
    const std::vector<named_test> tests{{"fp", fp_dm}};
    sweep_options o = small();
    o.threads = 1;
    const sweep_result one = sweep(tests, o);
    o.threads = 2;
    const sweep_result two = sweep(tests, o);
    o.threads = 0;
    const sweep_result all = sweep(tests, o);
    for (std::size_t k = 0; k < one.points.size(); ++k) {
        CHECK(one.points[k].accepted == two.points[k].accepted);
        CHECK(one.points[k].accepted == all.points[k].accepted);
    }
    // Another seed draws other sets.
    o.seed = 4;
    const sweep_result other = sweep(tests, o);
    bool differs = false;
    for (std::size_t k = 0; k < one.points.size(); ++k)
        differs = differs || one.points[k].accepted != other.points[k].accepted;
    CHECK(differs);
}

TEST_CASE("sweep reports progress in order and once at the end") {
    const std::vector<named_test> tests{{"fp", fp_dm}};
    std::vector<std::size_t> seen;
    std::size_t total_seen = 0;
    sweep_options o = small();
    o.threads = 2;
    const sweep_result r = sweep(tests, o, [&](std::size_t done, std::size_t total) {
        seen.push_back(done);  // never called concurrently: no lock needed
        total_seen = total;
    });
    CHECK(total_seen == 200);
    REQUIRE_FALSE(seen.empty());
    CHECK(seen.back() == 200);
    for (std::size_t k = 1; k < seen.size(); ++k)
        CHECK(seen[k - 1] < seen[k]);
}

TEST_CASE("sweep refuses bad requests - CSV format") {
    const std::vector<named_test> none;
    CHECK_THROWS_AS(sweep(none, small()), std::invalid_argument);
    const std::vector<named_test> twice{{"a", fp_dm}, {"a", fp_dm}};
    CHECK_THROWS_AS(sweep(twice, small()), std::invalid_argument);
    const std::vector<named_test> empty{{"a", {}}};
    CHECK_THROWS_AS(sweep(empty, small()), std::invalid_argument);
    sweep_options o = small();
    o.sets_per_point = 0;
    const std::vector<named_test> one{{"fp", fp_dm}};
    CHECK_THROWS_AS(sweep(one, o), std::invalid_argument);

    sweep_result r;
    r.tests = {"a", "b"};
    r.points.push_back({0.5, 4, {4, 1}, {0, 2}});
    std::ostringstream csv;
    write_csv(r, csv);
    CHECK(csv.str() ==
          "utilization,sets,a,b,a_errors,b_errors\n0.500000,4,1.000000,0.250000,0,2\n");
}

TEST_CASE("run_experiment: any axis, outcomes per test, errors from a throwing trial") {
    experiment_options o;
    o.axis = "cs_length";
    o.points = {1.0, 2.0, 3.0};
    o.sets_per_point = 30;
    const std::vector<std::string> tests{"even", "at_least_two"};
    // A trial that accepts "even" for even seeds and "at_least_two" for points >= 2, and
    // throws on every seed divisible by 7 at point 3.
    const experiment_trial trial = [](double x, std::uint64_t seed,
                                      std::span<trial_outcome> out) {
        if (x == 3.0 && seed % 7 == 0) throw std::runtime_error("trial failed");
        out[0] = seed % 2 == 0 ? trial_outcome::accepted : trial_outcome::rejected;
        out[1] = x >= 2.0 ? trial_outcome::accepted : trial_outcome::rejected;
    };
    const sweep_result r = run_experiment(tests, trial, o);
    CHECK(r.axis == "cs_length");
    CHECK(r.tests == tests);
    REQUIRE(r.points.size() == 3);
    CHECK(r.points[0].value == 1.0);
    CHECK(r.points[0].accepted[1] == 0);
    CHECK(r.points[1].accepted[1] == 30);
    CHECK(r.points[0].errors == std::vector<std::size_t>{0, 0});
    // Seeds are a deterministic mix: recount what the trial saw at point 3.
    std::size_t thrown = r.points[2].errors[0];
    CHECK(r.points[2].errors[1] == thrown);
    CHECK(r.points[2].accepted[1] + thrown == 30);
    // Same seed, other thread count: same table.
    o.threads = 1;
    const sweep_result again = run_experiment(tests, trial, o);
    for (std::size_t k = 0; k < 3; ++k) {
        CHECK(again.points[k].accepted == r.points[k].accepted);
        CHECK(again.points[k].errors == r.points[k].errors);
    }
    std::ostringstream csv;
    write_csv(r, csv);
    CHECK(csv.str().rfind("cs_length,sets,even,at_least_two,", 0) == 0);

    const std::vector<std::string> twice{"a", "a"};
    CHECK_THROWS_AS(run_experiment(twice, trial, o), std::invalid_argument);
    CHECK_THROWS_AS(run_experiment(tests, experiment_trial{}, o), std::invalid_argument);
    experiment_options none = o;
    none.points.clear();
    CHECK_THROWS_AS(run_experiment(tests, trial, none), std::invalid_argument);
}
