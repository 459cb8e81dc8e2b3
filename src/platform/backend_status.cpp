#include <keel/platform/anonymous_memory.hpp>
#include <keel/platform/backend_status.hpp>
#include <keel/platform/file_memory.hpp>
#include <keel/platform/huge_page_memory.hpp>
#include <keel/platform/io_engine.hpp>
#include <keel/platform/numa_memory.hpp>
#include <keel/platform/protection.hpp>
#include <keel/platform/shared_memory.hpp>
#include <keel/platform/topology.hpp>
#include <keel/platform/wait_policy.hpp>
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

std::vector<backend_status> probe_memory_sources() {
    return {anonymous_memory::probe(),    transparent_huge_page_memory::probe(),
            hugetlb_memory::probe(),      memfd_memory::probe(),
            posix_shm_memory::probe(),    numa_memory::probe(),
            file_memory::probe()};
}

std::vector<backend_status> probe_backends() {
    std::vector<backend_status> all = probe_memory_sources();
    for (auto&& group : {probe_wait_policies(), probe_io_engines(), probe_protection_domains()}) {
        all.insert(all.end(), group.begin(), group.end());
    }
    return all;
}

std::string probe_report_json() {
    std::string out = "{\n  \"keel_version\": ";
    append_json_string(out, version_string);
    const topology& t = this_machine();
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  ",\n  \"topology\": {\"logical_cpus\": %zu, \"physical_cores\": %zu, "
                  "\"packages\": %zu, \"numa_nodes\": %zu, \"cache_line_size\": %zu, "
                  "\"page_size\": %zu, \"huge_page_size\": %zu, \"allowed_cpus\": [",
                  t.logical_cpu_count, t.physical_core_count, t.package_count,
                  t.numa_nodes.size(), t.cache_line_size, t.page_size, t.huge_page_size);
    out += buf;
    for (std::size_t i = 0; i < t.allowed_cpus.size(); ++i) {
        if (i != 0) out += ", ";
        out += std::to_string(t.allowed_cpus[i]);
    }
    out += "]}";
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
    const topology& t = this_machine();
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "\ntopology:\n  %zu logical CPUs (%zu allowed), %zu cores, %zu packages, "
                  "%zu NUMA nodes\n  cache line %zu B, page %zu B, huge page %zu B\n",
                  t.logical_cpu_count, t.allowed_cpus.size(), t.physical_core_count,
                  t.package_count, t.numa_nodes.size(), t.cache_line_size, t.page_size,
                  t.huge_page_size);
    out += buf;
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
