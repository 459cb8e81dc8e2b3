#include <keel/platform/backend_status.hpp>
#include <keel/version.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace keel::platform {
namespace {

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

}  // namespace

bool disabled_by_environment(std::string_view backend) {
    const char* env = std::getenv("KEEL_DISABLE_BACKENDS");
    if (env == nullptr) return false;
    std::string_view list(env);
    while (!list.empty()) {
        auto comma = list.find(',');
        auto item = list.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item == backend || item == "all") return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

std::vector<backend_status> probe_backends() {
    std::vector<backend_status> all;
    return all;
}

std::string probe_report_json() {
    std::string out = "{\n  \"keel_version\": ";
    append_json_string(out, version_string);
    out += ",\n  \"backends\": [";
    bool first = true;
    for (const auto& b : probe_backends()) {
        out += first ? "\n    {" : ",\n    {";
        first = false;
        out += "\"kind\": ";
        append_json_string(out, b.kind);
        out += ", \"name\": ";
        append_json_string(out, b.name);
        out += ", \"available\": ";
        out += b.available ? "true" : "false";
        out += ", \"reason\": ";
        append_json_string(out, b.reason);
        out += '}';
    }
    out += "\n  ]\n}\n";
    return out;
}

std::string probe_report_text() {
    std::string out = "keel ";
    out += version_string;
    out += " platform probe\n";
    std::string_view kind;
    for (const auto& b : probe_backends()) {
        if (b.kind != kind) {
            kind = b.kind;
            out += "\n";
            out += b.kind;
            out += ":\n";
        }
        char line[64];
        std::snprintf(line, sizeof line, "  %-24s %-4s ", b.name.c_str(), b.available ? "yes" : "no");
        out += line;
        out += b.reason;
        out += '\n';
    }
    return out;
}

}  // namespace keel::platform
