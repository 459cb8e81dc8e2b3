#include <keel/sched/detail/checked.hpp>
#include <keel/sched/task.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

using namespace keel::sched;

TEST_CASE("task_set names tasks by their given name or by position") {
    task_set s{{{1, 4, 4}, {2, 6, 6}}, {}};
    CHECK(s.name_of(0) == "t1");
    CHECK(s.name_of(1) == "t2");
    s.names = {"sensor", "control"};
    CHECK(s.name_of(1) == "control");
}

TEST_CASE("task_set::validate names the task and the field at fault") {
    auto message_of = [](const task_set& s) {
        try {
            s.validate();
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(message_of({{{1, 4, 4}}, {"a"}}) == "no error");
    CHECK(message_of({{{1, 4, 4}, {0, 5, 5}}, {"a", "b"}}) == "task \"b\": wcet 0 must be positive");
    CHECK(message_of({{{1, -4, 4}}, {}}) == "task \"t1\": period -4 must be positive");
    CHECK(message_of({{{1, 4, 0}}, {}}) == "task \"t1\": deadline 0 must be positive");
    CHECK(message_of({{{1, 4, 4, -1}}, {}}) == "task \"t1\": jitter -1 must not be negative");
    CHECK(message_of({{{1, 4, 4, 0, -2}}, {}}) == "task \"t1\": blocking -2 must not be negative");
    CHECK(message_of({{{1, 4, 4}, {1, 4, 4}}, {"x", "x"}}) == "task set: two tasks are named \"x\"");
    CHECK(message_of({{{1, 4, 4}}, {"x", "y"}}) == "task set: 2 names for 1 tasks");
}

TEST_CASE("checked arithmetic refuses to wrap") {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    CHECK(detail::checked_add(max - 1, 1) == max);
    CHECK_THROWS_AS(detail::checked_add(max, 1), analysis_overflow);
    CHECK_THROWS_AS(detail::checked_mul(max / 2 + 1, 2), analysis_overflow);
    CHECK_THROWS_AS(detail::checked_sub(-max - 1, 1), analysis_overflow);
    CHECK(detail::ceil_div(7, 2) == 4);
    CHECK(detail::ceil_div(8, 2) == 4);
    CHECK(detail::ceil_div(0, 3) == 0);
    CHECK(detail::floor_div(-1, 4) == -1);
    CHECK(detail::floor_div(7, 4) == 1);
    static_assert(detail::checked_mul(1 << 20, 1 << 20) == std::int64_t{1} << 40);
}
