#pragma once

// Runs a body that is expected to die (a debug-check abort, a harness failure) in a
// forked child and returns what it printed on stderr plus run_in_child's verdict,
// e.g. "keel::sync: unlock by ... [child killed by signal 6]".

#include "refuse_syscalls.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <string>

namespace keel::test {

inline std::string run_in_child_capturing_stderr(const std::function<void()>& body) {
    std::FILE* capture = std::tmpfile();
    if (capture == nullptr) return "tmpfile failed";
    std::string verdict = run_in_child([&]() -> std::string {
        ::dup2(::fileno(capture), STDERR_FILENO);
        std::signal(SIGABRT, SIG_DFL);  // not Catch's handler: it would report a failure
        body();
        return "";
    });
    std::string text;
    std::rewind(capture);
    char buf[512];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, capture)) > 0) text.append(buf, n);
    std::fclose(capture);
    return text + verdict;
}

}  // namespace keel::test
