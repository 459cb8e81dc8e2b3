#pragma once

/// keel::sync: spin locks, blocking locks, semaphores, rw-locks and monitors with one
/// interface (the standard Lockable requirements), opt-in counters (lock_stats) and
/// debug checks (lock_checks), templated on the atomic type so that
/// keel::sync::testing can explore their interleavings.
#include <keel/sync/clh_lock.hpp>
#include <keel/sync/counting_semaphore.hpp>
#include <keel/sync/futex_mutex.hpp>
#include <keel/sync/lock_checks.hpp>
#include <keel/sync/lock_stats.hpp>
#include <keel/sync/lockable.hpp>
#include <keel/sync/mcs_lock.hpp>
#include <keel/sync/monitor.hpp>
#include <keel/sync/monitor_word.hpp>
#include <keel/sync/recursive_mutex.hpp>
#include <keel/sync/shared_mutex.hpp>
#include <keel/sync/synchronized.hpp>
#include <keel/sync/tas_lock.hpp>
#include <keel/sync/ticket_lock.hpp>
#include <keel/sync/ttas_lock.hpp>
#include <keel/sync/wait_policy_for.hpp>
