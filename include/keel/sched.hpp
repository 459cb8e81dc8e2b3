#pragma once

/// keel::sched: schedulability analysis on integer time (docs/sched.md).
#include <keel/sched/task.hpp>
