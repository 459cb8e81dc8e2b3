#pragma once

/// keel::sched: schedulability analysis on integer time (docs/sched.md).
#include <keel/sched/task.hpp>
#include <keel/sched/fp.hpp>
#include <keel/sched/priority_assignment.hpp>
#include <keel/sched/sensitivity.hpp>
#include <keel/sched/utilization.hpp>
#include <keel/sched/edf.hpp>
#include <keel/sched/generate.hpp>
#include <keel/sched/simulate.hpp>
#include <keel/sched/constraints.hpp>
#include <keel/sched/experiment.hpp>
#include <keel/sched/global.hpp>
#include <keel/sched/global_simulate.hpp>
#include <keel/sched/weakly_hard.hpp>
#include <keel/sched/spin_locks.hpp>
#include <keel/sched/ros2.hpp>
#include <keel/sched/ros2_simulate.hpp>
#include <keel/sched/randomize.hpp>
