// keel-info: prints which platform backends this machine offers, and why not.
#include <keel/platform/backend_status.hpp>

#include <cstdio>
#include <string_view>

namespace {

constexpr std::string_view usage =
    "usage: keel-info [--json]\n"
    "  Probes this machine's kernel and hardware for every keel platform backend\n"
    "  and prints whether each is available and why (or why not).\n"
    "  --json   machine-readable report\n"
    "  KEEL_DISABLE_BACKENDS=name,... marks backends as refused.\n";

}  // namespace

int main(int argc, char** argv) {
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg(argv[i]);
        if (arg == "--json") {
            json = true;
        } else if (arg == "-h" || arg == "--help") {
            std::fputs(usage.data(), stdout);
            return 0;
        } else {
            std::fprintf(stderr, "keel-info: unknown option '%s'\n%s", argv[i], usage.data());
            return 2;
        }
    }
    auto report = json ? keel::platform::probe_report_json() : keel::platform::probe_report_text();
    std::fputs(report.c_str(), stdout);
    return 0;
}
