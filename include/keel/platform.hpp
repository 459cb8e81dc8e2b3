#pragma once

/// keel::platform: where hardware and kernel backends plug in.
/// Each backend kind is a concept (static choice) plus a probe and a type-erased
/// wrapper (run-time choice).
#include <keel/platform/backend_status.hpp>
#include <keel/platform/cpu.hpp>
#include <keel/platform/topology.hpp>
#include <keel/platform/memory_source.hpp>
#include <keel/platform/anonymous_memory.hpp>
#include <keel/platform/huge_page_memory.hpp>
#include <keel/platform/shared_memory.hpp>
#include <keel/platform/numa_memory.hpp>
#include <keel/platform/file_memory.hpp>
#include <keel/platform/wait_policy.hpp>
#include <keel/platform/protection.hpp>
#include <keel/platform/io_engine.hpp>
#include <keel/platform/io_uring_engine.hpp>
#include <keel/platform/thread_pool_io_engine.hpp>
#include <keel/platform/sync_io_engine.hpp>
