# keel-sched family "ros2" end to end: the systems worked by hand in
# tests/sched/conformance/ros2.cpp and docs/sched/ros2.md (single chain: 5 under
# both executors; two chains in one mutually exclusive group on two threads: 8 and 11
# under both executors), an overloaded system (no bound), the sweep's CSV, and refusals.
#   cmake -DTOOL=<keel-sched> -DDATA=<tests/sched/cli/data> -DWORK=<scratch dir> -P family_ros2.cmake
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/../../support/cli_helpers.cmake")

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(one "${DATA}/ros2_single_chain.json")
set(two "${DATA}/ros2_two_chains.json")

run(0 "${TOOL}" analyze --test ros2-default "${one}" --json)
expect_json("${out}" "ros2-default" test)
expect_json("${out}" "ON" schedulable)
expect_json("${out}" "1" threads)
expect_json("${out}" "5" chains 0 end_to_end)
expect_json("${out}" "2" callbacks 0 completion)
expect_json("${out}" "2" callbacks 1 release_jitter)
expect_json("${out}" "0" callbacks 1 waiting)

run(0 "${TOOL}" analyze --test ros2-priority "${one}" --json)
expect_json("${out}" "ros2-priority" test)
expect_json("${out}" "5" chains 0 end_to_end)
expect_json("${out}" "0" callbacks 1 waiting)

run(0 "${TOOL}" analyze --test ros2-default "${two}" --json)
expect_json("${out}" "8" chains 0 end_to_end)
expect_json("${out}" "11" chains 1 end_to_end)
expect_json("${out}" "6" callbacks 0 completion)
expect_json("${out}" "10" callbacks 2 completion)
expect_json("${out}" "OFF" chains 1 arbitrary_deadline)
run(0 "${TOOL}" analyze --test ros2-priority "${two}")
expect("${out}" "ros2-priority on 2 threads: schedulable" "text verdict")
expect("${out}" "t0@6>s1@8" "per-callback bounds in the text table")

run(1 "${TOOL}" analyze --test ros2-default "${DATA}/ros2_overloaded.json" --json)
expect_json("${out}" "OFF" schedulable)
expect_json("${out}" "OFF" converged)
expect_json("${out}" "ON" chains 0 arbitrary_deadline)
expect_null("${out}" chains 0 end_to_end)
expect_null("${out}" callbacks 0 completion)

run(0 "${TOOL}" sweep --family ros2 --executor-threads 2 --chains 3 --u-min 0.2 --u-max 0.6 --u-step 0.4
    --sets 10 --seed 3 --csv "${WORK}/ros2.csv" --quiet)
file(READ "${WORK}/ros2.csv" csv)
expect("${csv}" "utilization,sets,ros2-default,ros2-priority" "CSV header")
expect("${csv}" "0.200000,10," "first point")
expect("${csv}" "0.600000,10," "last point")

# Refusals name the chain or callback and the field.
refuse(SAYS "chain 0 'a'" "must start with a timer" COMMAND analyze --test ros2-default "${DATA}/ros2_bad_chain.json")
refuse(SAYS "callback 0 't0'" "\"group\"" "'h'" COMMAND analyze --test ros2-priority "${DATA}/ros2_bad_group.json")
refuse(SAYS "--deadlines" COMMAND sweep --family ros2 --deadlines sometimes --csv "${WORK}/x.csv")
refuse(SAYS "--executor-threads" COMMAND sweep --family ros2 --executor-threads 0 --csv "${WORK}/x.csv")
refuse(SAYS "--u-max" COMMAND sweep --family ros2 --chains 2 --u-max 3 --csv "${WORK}/x.csv")
