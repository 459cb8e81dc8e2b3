#pragma once

/// keel::iospec: explicit I/O speculation. A foreaction graph declares the system calls
/// a function will make and how their arguments are computed; a scope pre-issues the
/// calls whose arguments are known through the platform io engines and hands each of the
/// program's real calls the result of its pre-issued twin (docs/iospec.md).
#include <keel/iospec/engine.hpp>
#include <keel/iospec/graph.hpp>
#include <keel/iospec/ops.hpp>
#include <keel/iospec/scope.hpp>
