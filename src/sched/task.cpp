#include <keel/sched/task.hpp>

#include <stdexcept>
#include <unordered_set>

namespace keel::sched {

std::string task_set::name_of(std::size_t i) const {
    if (i < names.size()) return names[i];
    return "t" + std::to_string(i + 1);
}

void task_set::validate() const {
    if (!names.empty() && names.size() != tasks.size())
        throw std::invalid_argument("task set: " + std::to_string(names.size()) + " names for " +
                                    std::to_string(tasks.size()) + " tasks");
    std::unordered_set<std::string_view> seen;
    for (const auto& n : names)
        if (!seen.insert(n).second)
            throw std::invalid_argument("task set: two tasks are named \"" + n + "\"");
    auto fail = [&](std::size_t i, const char* field, const char* rule, time_value v) {
        throw std::invalid_argument("task \"" + name_of(i) + "\": " + field + " " +
                                    std::to_string(v) + " " + rule);
    };
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const task& t = tasks[i];
        if (t.wcet <= 0) fail(i, "wcet", "must be positive", t.wcet);
        if (t.period <= 0) fail(i, "period", "must be positive", t.period);
        if (t.deadline <= 0) fail(i, "deadline", "must be positive", t.deadline);
        if (t.jitter < 0) fail(i, "jitter", "must not be negative", t.jitter);
        if (t.blocking < 0) fail(i, "blocking", "must not be negative", t.blocking);
    }
}

}  // namespace keel::sched
