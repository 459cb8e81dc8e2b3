# keel-sched family "weakly-hard" end to end: the two-core case worked by hand in
# tests/sched/conformance/weakly_hard.cpp (t1 = t2 = (2, 4) tolerating one miss in a row,
# t3 = (4, 6) hard: wh-jlfp bounds t3's urgent jobs at 6 through iterates 4, 5, 6, where
# the hard Bertogna-Cirinei RTA reaches 7 > 6), the sweep's CSV, and refusals.
#   cmake -DTOOL=<keel-sched> -DDATA=<tests/sched/cli/data> -DWORK=<scratch dir> -P family_weakly_hard.cmake
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/../../support/cli_helpers.cmake")

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(two "${DATA}/weakly_hard_two_core.json")

run(0 "${TOOL}" analyze --test wh-jlfp "${two}" --json)
expect_json("${out}" "wh-jlfp" test)
expect_json("${out}" "ON" schedulable)
expect_json("${out}" "2" cores)
expect_json("${out}" "1" tasks 0 tolerable_consecutive_misses)
expect_json("${out}" "8" tasks 0 urgent_period)
expect_json("${out}" "2" tasks 0 urgent_response)
expect_json("${out}" "c" tasks 2 name)
expect_json("${out}" "0" tasks 2 m)
expect_json("${out}" "1" tasks 2 K)
expect_json("${out}" "6" tasks 2 urgent_response)
expect_json("${out}" "[ 4, 5, 6 ]" tasks 2 iterations)

run(0 "${TOOL}" analyze --test wh-jlfp "${two}")
expect("${out}" "every (m, K) constraint holds" "text verdict")

# The hard baselines do not accept the set (every job must meet its deadline there).
run(1 "${TOOL}" analyze --test hard-g-rm-bc "${two}" --json)
expect_json("${out}" "hard-g-rm-bc" test)
expect_json("${out}" "OFF" schedulable)

# Sweep: CSV with one column per test, ratios in [0, 1].
run(0 "${TOOL}" sweep --family weakly-hard --cores 2 --n 6 --m 1 --K 2 --u-min 1.0 --u-max 1.6
    --u-step 0.3 --sets 20 --seed 3 --csv "${WORK}/wh.csv" --quiet)
file(READ "${WORK}/wh.csv" csv)
expect("${csv}" "utilization,sets,wh-jlfp,hard-g-rm-bc,hard-g-rm-guan,hard-g-edf" "CSV header")
expect("${csv}" "1.000000,20," "first point")
expect("${csv}" "1.600000,20," "last point")

# Refusals name the task and the field.
refuse(SAYS "\"m\" and \"K\"" "task 0" COMMAND analyze --test wh-jlfp "${DATA}/weakly_hard_bad_missing_K.json")
refuse(SAYS "field \"m\"" COMMAND analyze --test wh-jlfp "${DATA}/weakly_hard_bad_m.json")
refuse(SAYS "deadline" COMMAND analyze --test wh-jlfp "${DATA}/weakly_hard_bad_deadline.json")
refuse(SAYS "--K" COMMAND sweep --family weakly-hard --m 3 --K 2 --csv "${WORK}/bad.csv")
