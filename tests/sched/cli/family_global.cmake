# keel-sched family "global" end to end: Dhall's set (tests/sched/conformance/global.cpp,
# worked by hand there) through every test, the slack-iteration set that only the G-EDF
# RTA accepts, the sweep's CSV, and refusals.
#   cmake -DTOOL=<keel-sched> -DDATA=<tests/sched/cli/data> -DWORK=<scratch dir> -P family_global.cmake
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/../../support/cli_helpers.cmake")

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(dhall "${DATA}/global_dhall.json")        # heavy task first (priority 1)
set(dhall_rm "${DATA}/global_dhall_rm.json")  # light tasks first (rate monotonic)
set(slack "${DATA}/global_slack.json")

# G-FP, heavy first: R = 10, 2, 4 (light2 through iterates 2, 3, 4).
foreach(test g-fp-bc g-fp-guan)
    run(0 "${TOOL}" analyze --test ${test} "${dhall}" --json)
    expect_json("${out}" "${test}" test)
    expect_json("${out}" "ON" schedulable)
    expect_json("${out}" "2" cores)
    expect_json("${out}" "heavy" tasks 0 name)
    expect_json("${out}" "10" tasks 0 response_bound)
    expect_json("${out}" "1" tasks 0 slack)
    expect_json("${out}" "4" tasks 2 response_bound)
    expect_json("${out}" "3" tasks 2 iterations)
    expect_null("${out}" failed_task)
    # RM order: the heavy task's iteration reaches 12 > 11.
    run(1 "${TOOL}" analyze --test ${test} "${dhall_rm}" --json)
    expect_json("${out}" "OFF" schedulable)
    expect_json("${out}" "heavy" failed_task)
    expect_json("${out}" "12" tasks 2 exceeded_at)
    expect_null("${out}" tasks 2 response_bound)
endforeach()
run(0 "${TOOL}" analyze --test g-fp-guan "${dhall}")
expect("${out}" "g-fp-guan on 2 cores: schedulable" "text verdict")
expect("${out}" "carry-in" "carry-in column")

# G-EDF on Dhall's set: every test rejects it (the heavy job does miss).
run(1 "${TOOL}" analyze --test g-edf-gfb "${dhall}" --json)
expect_json("${out}" "OFF" schedulable)
expect_json("${out}" "heavy" heaviest)
run(1 "${TOOL}" analyze --test g-edf-bcl "${dhall}" --json)
expect_json("${out}" "4" tasks 0 interference)
expect_json("${out}" "4" tasks 0 limit)
expect_json("${out}" "11" tasks 1 interference)
expect_json("${out}" "18" tasks 1 limit)
run(1 "${TOOL}" analyze --test g-edf-rta "${dhall}" --json)
expect_json("${out}" "heavy" failed_task)
expect_json("${out}" "12" tasks 0 exceeded_at)

# Slack iteration: GFB and BCL reject, the RTA settles at (3, 4, 4) in 3 rounds.
run(1 "${TOOL}" analyze --test g-edf-gfb "${slack}")
run(1 "${TOOL}" analyze --test g-edf-bcl "${slack}")
run(0 "${TOOL}" analyze --test g-edf-rta "${slack}" --json)
expect_json("${out}" "ON" schedulable)
expect_json("${out}" "3" rounds)
expect_json("${out}" "3" tasks 0 response_bound)
expect_json("${out}" "4" tasks 1 response_bound)
expect_json("${out}" "4" tasks 2 response_bound)
run(0 "${TOOL}" analyze --test g-edf-rta "${slack}")
expect("${out}" "3 rounds of slack iteration" "text rounds")

# Sweep: CSV with one column per test.
run(0 "${TOOL}" sweep --family global --cores 2 --n 6 --u-min 0.5 --u-max 1.5 --u-step 0.5
    --deadlines constrained --sets 20 --seed 3 --csv "${WORK}/global.csv" --quiet)
file(READ "${WORK}/global.csv" csv)
expect("${csv}" "utilization,sets,g-fp-bc,g-fp-guan,g-edf-gfb,g-edf-bcl,g-edf-rta" "CSV header")
expect("${csv}" "0.500000,20," "first point")
expect("${csv}" "1.500000,20," "last point")

# Refusals name the task and the field, or the option.
refuse(SAYS "task \"b\"" "deadline" COMMAND analyze --test g-edf-bcl "${DATA}/global_bad_deadline.json")
refuse(SAYS "task \"a\"" "jitter" COMMAND analyze --test g-fp-bc "${DATA}/global_bad_jitter.json")
refuse(SAYS "--deadlines" COMMAND sweep --family global --deadlines arbitrary --csv "${WORK}/x.csv")
refuse(SAYS "--priorities" COMMAND sweep --family global --priorities edf --csv "${WORK}/x.csv")
refuse(SAYS "--u-max" COMMAND sweep --family global --n 2 --u-max 3 --csv "${WORK}/x.csv")
