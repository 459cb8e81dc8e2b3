#pragma once

/// keel::rpc: RPC over shared memory between processes on one host: sealed memfd
/// segments with a validated header, per-side arenas each writable only by its owner
/// (rpc::shared_heap), shm_ptr offset pointers resolved with bounds checks,
/// connection set-up over a Unix socket (handshake on version, layout fingerprint
/// and schema hash; segment and arenas passed with SCM_RIGHTS), peer-death
/// detection, request/response rings in the segment, and typed calls (rpc::method,
/// rpc::service, rpc::server, rpc::client). Shared-memory containers
/// (<keel/rpc/containers.hpp>) and async_call (<keel/rpc/async_call.hpp>) are
/// separate headers: they pull in Boost.Container and Asio.
#include <keel/rpc/channel.hpp>
#include <keel/rpc/client.hpp>
#include <keel/rpc/connection.hpp>
#include <keel/rpc/error.hpp>
#include <keel/rpc/method.hpp>
#include <keel/rpc/safety.hpp>
#include <keel/rpc/segment.hpp>
#include <keel/rpc/server.hpp>
#include <keel/rpc/shared_heap.hpp>
#include <keel/rpc/shm_ptr.hpp>
