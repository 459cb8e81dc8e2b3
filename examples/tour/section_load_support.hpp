#pragma once
// The machine's load when a section starts: its timings depend on it, since other
// programs' threads compete for the same CPUs (shared by the sync/trust and rpc sections).

#include <cstdio>
#include <string>

namespace keel_tour {

/// "load average 5.61 (1 min)", or "" when /proc/loadavg cannot be read.
inline std::string load_average_now() {
    std::FILE* f = std::fopen("/proc/loadavg", "r");
    if (f == nullptr) return {};
    double one_minute = 0;
    const bool read = std::fscanf(f, "%lf", &one_minute) == 1;
    std::fclose(f);
    if (!read) return {};
    char text[64];
    std::snprintf(text, sizeof text, "load average %.2f (1 min)", one_minute);
    return text;
}

}  // namespace keel_tour
