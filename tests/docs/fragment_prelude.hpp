#pragma once

// What a documentation fragment may use without including it: the standard
// headers that prose around a sample takes for granted. keel's own headers come
// from <keel/keel.hpp>, included before this one.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory_resource>
#include <mutex>
#include <numeric>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>
