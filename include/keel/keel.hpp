#pragma once

/// Everything keel offers. Prefer the component headers (keel/platform.hpp, ...)
/// or single-concept headers to keep compile times down.
#include <keel/version.hpp>
#include <keel/result.hpp>
#include <keel/platform.hpp>
#include <keel/sync.hpp>
#include <keel/alloc.hpp>
#include <keel/trust.hpp>
#include <keel/iospec.hpp>
#include <keel/rpc.hpp>
#include <keel/sched.hpp>
