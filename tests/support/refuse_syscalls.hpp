#pragma once

#include <functional>
#include <initializer_list>
#include <string>

namespace keel::test {

/// Runs `body` in a forked child process in which every system call in `syscalls`
/// fails with `err` (a seccomp filter, as a container runtime would install), and
/// returns what the body returned: an empty string for success, else a message.
/// A child that crashes or exits abnormally yields a message saying so.
/// This lets tests force the refused path of a backend the kernel does offer.
std::string run_with_refused_syscalls(std::initializer_list<long> syscalls, int err,
                                      const std::function<std::string()>& body);

/// Runs `body` in a forked child (no filter); same contract as above.
std::string run_in_child(const std::function<std::string()>& body);

}  // namespace keel::test
