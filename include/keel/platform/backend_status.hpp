#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel::platform {

/// What a backend's probe found on the running machine: whether the backend can be
/// used here and, either way, why (the refusing errno, a missing sysfs file, a
/// disabled kernel feature, or what was found when available).
/// Plain data; probing is cheap (a few system calls) and never crashes or leaks.
struct backend_status {
    std::string kind;    ///< "memory_source", "wait_policy", "io_engine" or "protection"
    std::string name;    ///< backend name, e.g. "io_uring", "hugetlb", "pkey"
    bool available = false;
    std::string reason;  ///< why not, or what was found
};

/// Probes every backend keel knows, in a fixed order (by kind, then preference).
/// Thread-safe; each call probes afresh.
[[nodiscard]] std::vector<backend_status> probe_backends();

/// The probe report as a JSON document:
/// {"keel_version": ..., "topology": {...}, "backends": [{"kind", "name", "available", "reason"}]}.
[[nodiscard]] std::string probe_report_json();

/// The probe report as human-readable text, one backend per line.
[[nodiscard]] std::string probe_report_text();

/// True when the environment variable KEEL_DISABLE_BACKENDS (a comma-separated list
/// of backend names, or "all") names `backend`. Every probe honours it, so users
/// can force a fallback in production and tests can force a refusal where the
/// kernel offers the feature.
[[nodiscard]] bool disabled_by_environment(std::string_view backend);

/// The reason a probe gives when disabled_by_environment(backend) is true.
inline constexpr std::string_view disabled_reason = "disabled by KEEL_DISABLE_BACKENDS";

}  // namespace keel::platform
