#pragma once

/// keel::rpc: RPC over shared memory between processes on one host: sealed memfd
/// segments with a validated header, shm_ptr offset pointers, connection set-up over
/// a Unix socket (handshake on version, layout fingerprint and schema hash; the
/// segment passed with SCM_RIGHTS), peer-death detection, request/response rings in
/// the segment, and typed calls (rpc::method, rpc::service, rpc::server,
/// rpc::client).
#include <keel/rpc/channel.hpp>
#include <keel/rpc/client.hpp>
#include <keel/rpc/connection.hpp>
#include <keel/rpc/error.hpp>
#include <keel/rpc/method.hpp>
#include <keel/rpc/segment.hpp>
#include <keel/rpc/server.hpp>
#include <keel/rpc/shm_ptr.hpp>
