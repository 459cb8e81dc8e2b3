// keel-sched: reading task sets (the JSON schema of docs/sched.md, "The command-line
// tool keel-sched"), the arguments of a command, and numbers on the command line.

#include "json_input.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

namespace keel::sched::cli {

namespace json = boost::json;

bool arguments::has_flag(const std::string& name) const {
    return std::find(flags.begin(), flags.end(), name) != flags.end();
}

const std::string& arguments::required(const std::string& name) const {
    const auto it = options.find(name);
    if (it == options.end()) throw input_error("missing option --" + name);
    return it->second;
}

std::string arguments::value_or(const std::string& name, std::string fallback) const {
    const auto it = options.find(name);
    return it == options.end() ? std::move(fallback) : it->second;
}

void check_arguments(const arguments& args, const std::string& command,
                     const std::vector<std::string>& options,
                     const std::vector<std::string>& switches, std::size_t max_positional) {
    for (const auto& [name, value] : args.options)
        if (std::find(options.begin(), options.end(), name) == options.end()) {
            // A switch given a value by position ("--json FILE") is a usage slip.
            if (std::find(switches.begin(), switches.end(), name) != switches.end())
                throw input_error(command + ": --" + name + " takes no value");
            throw input_error(command + ": unknown option --" + name);
        }
    for (const auto& name : args.flags)
        if (std::find(switches.begin(), switches.end(), name) == switches.end()) {
            if (std::find(options.begin(), options.end(), name) != options.end())
                throw input_error(command + ": option --" + name + " needs a value");
            throw input_error(command + ": unknown option --" + name);
        }
    if (args.positional.size() > max_positional)
        throw input_error(command + ": unexpected argument '" + args.positional[max_positional] +
                          "'");
}

std::int64_t parse_integer(const std::string& text, const std::string& what) {
    std::int64_t v = 0;
    const char* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ec != std::errc{} || p != end)
        throw input_error(what + ": '" + text + "' is not an integer" +
                          (ec == std::errc::result_out_of_range ? " in 64 bits" : ""));
    return v;
}

double parse_number(const std::string& text, const std::string& what) {
    // strtod, not from_chars: libstdc++'s floating from_chars is recent.
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v))
        throw input_error(what + ": '" + text + "' is not a number");
    return v;
}

std::int64_t integer_option(const arguments& args, const std::string& name,
                            std::int64_t fallback) {
    const auto f = args.options.find(name);
    return f == args.options.end() ? fallback : parse_integer(f->second, "--" + name);
}

double number_option(const arguments& args, const std::string& name, double fallback) {
    const auto f = args.options.find(name);
    return f == args.options.end() ? fallback : parse_number(f->second, "--" + name);
}

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width;
    for (const auto& row : rows) {
        if (width.size() < row.size()) width.resize(row.size(), 0);
        for (std::size_t c = 0; c < row.size(); ++c)
            width[c] = std::max(width[c], row[c].size());
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t c = 0; c < row.size(); ++c) {
            line += row[c];
            if (c + 1 < row.size()) line.append(width[c] - row[c].size() + 2, ' ');
        }
        out << line << '\n';
    }
}

std::string with_task_names(const task_set& set, const std::string& message) {
    // The library names tasks by position: "task 3 (priority index 2)" (fp, bounds) or
    // "task \"t3\"" (edf, simulate). Both become the name the user gave.
    std::string out;
    std::size_t i = 0;
    while (i < message.size()) {
        const std::size_t at = message.find("task ", i);
        if (at == std::string::npos) break;
        out.append(message, i, at - i);
        std::size_t p = at + 5;
        const bool quoted = p < message.size() && message[p] == '"' && p + 1 < message.size() &&
                            message[p + 1] == 't';
        if (quoted) p += 2;
        std::size_t number = 0;
        const auto [q, ec] = std::from_chars(message.data() + p, message.data() + message.size(),
                                             number);
        const auto digits_end = static_cast<std::size_t>(q - message.data());
        bool matched = ec == std::errc{} && number >= 1 && number <= set.size();
        std::size_t resume = digits_end;
        if (matched && quoted) {
            matched = digits_end < message.size() && message[digits_end] == '"';
            resume = digits_end + 1;
        } else if (matched) {
            const std::string_view rest(message.data() + digits_end, message.size() - digits_end);
            const std::string_view tail = " (priority index ";
            if (rest.substr(0, tail.size()) == tail) {
                const auto close = message.find(')', digits_end);
                if (close != std::string::npos) resume = close + 1;
            }
        }
        if (matched) {
            out += "task \"" + set.name_of(number - 1) + "\"";
            i = resume;
        } else {
            out += "task ";
            i = at + 5;
        }
    }
    if (i < message.size()) out.append(message, i);
    return out;
}

namespace {

std::string read_text(const std::string& path) {
    if (path == "-") {
        std::ostringstream s;
        s << std::cin.rdbuf();
        return s.str();
    }
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw input_error("cannot read '" + path + "': it is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error("cannot open '" + path + "': " + std::strerror(errno));
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) throw input_error("cannot read '" + path + "'");
    return s.str();
}

/// Line and column (1-based) of byte `offset` in `text`.
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t offset) {
    offset = std::min(offset, text.size());
    std::size_t line = 1, column = 1;
    for (std::size_t k = 0; k < offset; ++k) {
        if (text[k] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return {line, column};
}

json::value parse_json(const std::string& path, const std::string& text) {
    json::stream_parser parser;
    std::error_code ec;
    const std::size_t used = parser.write(text.data(), text.size(), ec);
    if (!ec) parser.finish(ec);
    if (ec) {
        const auto [line, column] = line_column(text, ec ? used : text.size());
        throw input_error((path == "-" ? std::string("<stdin>") : path) + ":" +
                          std::to_string(line) + ":" + std::to_string(column) +
                          ": malformed JSON: " + ec.message());
    }
    return parser.release();
}

/// Where an error is: task "name", or tasks[i] when the task has no usable name.
std::string task_label(const std::optional<std::string>& name, std::size_t index) {
    if (name) return "task \"" + *name + "\"";
    return "tasks[" + std::to_string(index) + "]";
}

}  // namespace

std::int64_t integer_field(const json::value& v, const std::string& where, const char* field) {
    const std::string prefix = where + ": field \"" + field + "\": ";
    if (v.is_int64()) return v.as_int64();
    if (v.is_uint64()) throw input_error(prefix + std::to_string(v.as_uint64()) + " is too large");
    if (v.is_double()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", v.as_double());
        throw input_error(prefix + "the real number " + buf +
                          " is not an integer (times are integer ticks, at most 2^63 - 1)");
    }
    throw input_error(prefix + "must be an integer, not " + json::serialize(v));
}

namespace {

struct parsed_task {
    std::string name;
    task value;
    std::optional<std::int64_t> priority;
};

parsed_task read_task(const json::value& v, std::size_t index,
                      const std::vector<std::string>& extra_fields) {
    const std::string at = "tasks[" + std::to_string(index) + "]";
    if (!v.is_object()) throw input_error(at + ": a task must be a JSON object");
    const json::object& o = v.as_object();

    std::optional<std::string> name;
    if (const auto* n = o.if_contains("name")) {
        if (!n->is_string() || n->as_string().empty())
            throw input_error(at + ": field \"name\": must be a non-empty string");
        name = std::string(n->as_string());
    }
    const std::string where = task_label(name, index);
    static const std::vector<std::string> base{"name",   "wcet",     "period",  "deadline",
                                               "jitter", "blocking", "priority"};
    for (const auto& kv : o) {
        const auto known = [&](const std::vector<std::string>& names) {
            return std::find(names.begin(), names.end(), kv.key()) != names.end();
        };
        if (!known(base) && !known(extra_fields)) {
            std::string list;
            for (const auto* names : {&base, &extra_fields})
                for (const std::string& f : *names)
                    list += (list.empty() ? "" : ", ") + f;
            throw input_error(where + ": unknown field \"" + std::string(kv.key()) +
                              "\" (known: " + list + ")");
        }
    }
    if (!name) throw input_error(where + ": field \"name\" is missing");

    auto required = [&](const char* field) {
        const auto* f = o.if_contains(field);
        if (!f) throw input_error(where + ": field \"" + field + "\" is missing");
        return integer_field(*f, where, field);
    };
    auto optional = [&](const char* field) -> std::optional<std::int64_t> {
        const auto* f = o.if_contains(field);
        if (!f) return std::nullopt;
        return integer_field(*f, where, field);
    };
    auto check = [&](const char* field, std::int64_t value, bool ok, const char* rule) {
        if (!ok)
            throw input_error(where + ": field \"" + field + "\": " + std::to_string(value) + " " +
                              rule);
    };

    parsed_task t;
    t.name = *name;
    t.value.wcet = required("wcet");
    check("wcet", t.value.wcet, t.value.wcet > 0, "must be positive");
    t.value.period = required("period");
    check("period", t.value.period, t.value.period > 0, "must be positive");
    t.value.deadline = optional("deadline").value_or(t.value.period);
    check("deadline", t.value.deadline, t.value.deadline > 0, "must be positive");
    t.value.jitter = optional("jitter").value_or(0);
    check("jitter", t.value.jitter, t.value.jitter >= 0, "must not be negative");
    t.value.blocking = optional("blocking").value_or(0);
    check("blocking", t.value.blocking, t.value.blocking >= 0, "must not be negative");
    t.priority = optional("priority");
    return t;
}

}  // namespace

json::value read_json_file(const std::string& path) {
    return parse_json(path, read_text(path));
}

json_system read_json_system(const std::string& path, const schema_extension& extension) {
    json_system out;
    json::value doc = read_json_file(path);
    if (!doc.is_object())
        throw input_error("the task set must be a JSON object {\"cores\": 1, \"tasks\": [...]}");
    out.document = std::move(doc.as_object());
    const json::object& top = out.document;
    for (const auto& kv : top)
        if (kv.key() != "cores" && kv.key() != "tasks" &&
            std::find(extension.top_fields.begin(), extension.top_fields.end(), kv.key()) ==
                extension.top_fields.end()) {
            std::string known = "cores, tasks";
            for (const std::string& f : extension.top_fields)
                known += ", " + f;
            throw input_error("unknown top-level field \"" + std::string(kv.key()) +
                              "\" (known: " + known + ")");
        }

    system& sys = out.sys;
    if (const auto* c = top.if_contains("cores")) {
        sys.cores = integer_field(*c, "task set", "cores");
        if (sys.cores <= 0)
            throw input_error("task set: field \"cores\": " + std::to_string(sys.cores) +
                              " must be positive");
        if (sys.cores != 1 && !extension.multicore)
            throw input_error("task set: field \"cores\": " + std::to_string(sys.cores) +
                              " is not supported by the uniprocessor tests (cores must be 1; "
                              "the multi-core tests are listed by keel-sched --help)");
    }
    const auto* tasks = top.if_contains("tasks");
    if (!tasks) throw input_error("task set: field \"tasks\" is missing");
    if (!tasks->is_array()) throw input_error("task set: field \"tasks\" must be an array");

    if (tasks->as_array().empty()) throw input_error("task set: field \"tasks\" is empty");
    std::vector<parsed_task> parsed;
    std::set<std::string> names;
    for (std::size_t i = 0; i < tasks->as_array().size(); ++i) {
        parsed.push_back(read_task(tasks->as_array()[i], i, extension.task_fields));
        if (!names.insert(parsed.back().name).second)
            throw input_error("task \"" + parsed.back().name + "\" (tasks[" + std::to_string(i) +
                              "]): field \"name\": another task has this name");
    }

    // Priorities: all or none; a lower number is a higher priority; no ties.
    std::size_t with_priority = 0;
    for (const auto& t : parsed)
        with_priority += t.priority ? 1U : 0U;
    if (with_priority != 0 && with_priority != parsed.size()) {
        for (std::size_t i = 0; i < parsed.size(); ++i)
            if (!parsed[i].priority)
                throw input_error("task \"" + parsed[i].name +
                                  "\": field \"priority\" is missing, but other tasks have one "
                                  "(give every task a priority, or none: then list order is "
                                  "priority order)");
    }
    std::vector<std::size_t> order(parsed.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    if (with_priority != 0) {
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return *parsed[a].priority < *parsed[b].priority;
        });
        for (std::size_t k = 1; k < order.size(); ++k) {
            const auto& a = parsed[order[k - 1]];
            const auto& b = parsed[order[k]];
            if (*a.priority == *b.priority)
                throw input_error("task \"" + b.name + "\": field \"priority\": " +
                                  std::to_string(*b.priority) + " is also task \"" + a.name +
                                  "\"'s priority (priorities must be distinct)");
        }
    }
    for (const std::size_t i : order) {
        sys.tasks.tasks.push_back(parsed[i].value);
        sys.tasks.names.push_back(parsed[i].name);
    }
    out.source_index = std::move(order);
    return out;
}

system read_system(const std::string& path) {
    return read_json_system(path, {}).sys;
}

}  // namespace keel::sched::cli
