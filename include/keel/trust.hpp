#pragma once

/// keel::trust: delegation. An object is entrusted to a trustee thread and used by
/// sending it functions (apply, apply_then) instead of taking a lock.
/// The Asio completion-token form, async_apply, is in <keel/trust/async_apply.hpp>.
#include <keel/trust/runtime.hpp>
#include <keel/trust/trust.hpp>
