#pragma once

namespace keel::sync::detail {

/// Reports a misuse found by a debug check (relock by the owner, unlock by a
/// non-owner, destroying a held lock) on stderr and aborts. Out of line so the
/// checks cost one predictable branch at the call site.
[[noreturn]] void lock_misuse(const char* what, const void* lock) noexcept;

}  // namespace keel::sync::detail
