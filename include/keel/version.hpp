#pragma once

/// keel's version. The top-level CMakeLists.txt refuses to configure when these
/// disagree with project(VERSION), so the two cannot drift apart.
#define KEEL_VERSION_MAJOR 0
#define KEEL_VERSION_MINOR 1
#define KEEL_VERSION_PATCH 0
#define KEEL_VERSION (KEEL_VERSION_MAJOR * 10000 + KEEL_VERSION_MINOR * 100 + KEEL_VERSION_PATCH)

namespace keel {

/// The version as "major.minor.patch".
inline constexpr const char* version_string = "0.1.0";

}  // namespace keel
