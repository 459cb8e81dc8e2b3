#pragma once

// keel-sched: JSON input for the analysis families (cli.hpp, analysis_family). Kept out
// of cli.hpp so that only the sources that read JSON parse Boost.JSON's headers.

#include "cli.hpp"

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace keel::sched::cli {

/// The JSON document in `path` ("-" for standard input). input_error when it cannot be
/// read ("cannot open 'x': ...") or parsed ("x:3:14: malformed JSON: ...").
[[nodiscard]] boost::json::value read_json_file(const std::string& path);

/// An integer field; input_error "<where>: field \"<field>\": ..." otherwise (a real
/// number, a number past 2^63 - 1, a string).
[[nodiscard]] std::int64_t integer_field(const boost::json::value& v, const std::string& where,
                                         const char* field);

/// What a family adds to the task-set schema: top-level fields and task fields that the
/// reader accepts (and leaves to the family, which reads them from json_system::document);
/// multicore: "cores" may be above 1.
struct schema_extension {
    std::vector<std::string> top_fields;
    std::vector<std::string> task_fields;
    bool multicore = false;
};

/// A task set read with a schema extension. source_index[k] is the index in
/// document["tasks"] of the task at priority k (tasks are sorted by "priority" when
/// given), so a family finds the extra fields of each task.
struct json_system {
    system sys;
    boost::json::object document;
    std::vector<std::size_t> source_index;
};

/// The task-set schema of docs/sched.md plus `extension`'s fields. input_error naming
/// the task and the field for anything else.
[[nodiscard]] json_system read_json_system(const std::string& path,
                                           const schema_extension& extension);

}  // namespace keel::sched::cli
