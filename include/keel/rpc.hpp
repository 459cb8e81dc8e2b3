#pragma once

/// keel::rpc: RPC over shared memory between processes on one host. This first
/// slice has the connection layer: sealed memfd segments with a validated header,
/// shm_ptr offset pointers, connection set-up over a Unix socket (handshake on
/// version, layout fingerprint and schema hash; the segment passed with SCM_RIGHTS),
/// and peer-death detection. Calls (channels, server/client API) come later.
#include <keel/rpc/connection.hpp>
#include <keel/rpc/error.hpp>
#include <keel/rpc/segment.hpp>
#include <keel/rpc/shm_ptr.hpp>
