# keel-sched family "spin" end to end: the two-core system worked by hand in
# tests/sched/conformance/spin_locks.cpp (MSRP: R = 7, 9, 5; PWLP: 4, 17, 5; FRAP takes
# MSRP's levels here: 7, 9, 5; pwlp-flow: t2 at 14), the sweep's CSV on two axes, and
# refusals.
#   cmake -DTOOL=<keel-sched> -DDATA=<tests/sched/cli/data> -DWORK=<scratch dir> -P family_spin.cmake
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/../../support/cli_helpers.cmake")

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(two "${DATA}/spin_two_core.json")

run(0 "${TOOL}" analyze --test msrp "${two}" --json)
expect_json("${out}" "msrp" test)
expect_json("${out}" "ON" schedulable)
expect_json("${out}" "r0" resources 0 name)
expect_json("${out}" "ON" resources 0 global)
expect_json("${out}" "t1" tasks 0 name)
expect_json("${out}" "7" tasks 0 response_time)
expect_json("${out}" "5" tasks 0 arrival_blocking)
expect_json("${out}" "9" tasks 1 response_time)
expect_json("${out}" "3" tasks 1 own_spin)
expect_json("${out}" "t1" tasks 1 spin_levels r0)
expect_json("${out}" "5" tasks 2 response_time)

run(0 "${TOOL}" analyze --test pwlp "${two}" --json)
expect_json("${out}" "4" tasks 0 response_time)
expect_json("${out}" "17" tasks 1 response_time)
expect_json("${out}" "t2" tasks 1 spin_levels r0)

run(0 "${TOOL}" analyze --test frap "${two}" --json)
expect_json("${out}" "frap" test)
expect_json("${out}" "7" tasks 0 response_time)
expect_json("${out}" "9" tasks 1 response_time)

# FRAP's flow bound with PWLP's fixed levels: t2's window meets two of t3's requests -> 14.
run(0 "${TOOL}" analyze --test pwlp-flow "${two}" --json)
expect_json("${out}" "pwlp-flow" test)
expect_json("${out}" "14" tasks 1 response_time)
run(0 "${TOOL}" analyze --test msrp-flow "${two}" --json)
expect_json("${out}" "7" tasks 0 response_time)

run(0 "${TOOL}" analyze --test frap "${two}")
expect("${out}" "frap on 2 cores: schedulable" "text verdict")
expect("${out}" "r0@t1" "spin level column")

# Flexible levels (tests/sched/conformance/spin_locks.cpp): MSRP and PWLP reject, FRAP
# accepts with t3 spinning at t2's level.
set(flex "${DATA}/spin_flexible.json")
run(1 "${TOOL}" analyze --test msrp "${flex}")
run(1 "${TOOL}" analyze --test pwlp "${flex}")
run(0 "${TOOL}" analyze --test frap "${flex}" --json)
expect_json("${out}" "ON" schedulable)
expect_json("${out}" "t2" tasks 2 spin_levels r0)
expect_json("${out}" "16" tasks 2 response_time)
expect_json("${out}" "27" tasks 3 response_time)

# Sweeps: utilisation (default axis) and critical-section length.
run(0 "${TOOL}" sweep --family spin --cores 2 --tasks-per-core 3 --resources 2 --from 0.2 --to 0.6
    --step 0.2 --sets 10 --seed 3 --csv "${WORK}/spin_u.csv" --quiet)
file(READ "${WORK}/spin_u.csv" csv)
expect("${csv}" "utilization,sets,msrp,pwlp,frap,msrp-flow,pwlp-flow" "CSV header")
expect("${csv}" "0.200000,10," "first point")
expect("${csv}" "0.600000,10," "last point")
run(0 "${TOOL}" sweep --family spin --axis cs-max --cores 2 --tasks-per-core 3 --from 20 --to 60 --step 40
    --sets 5 --csv "${WORK}/spin_cs.csv" --quiet)
file(READ "${WORK}/spin_cs.csv" csv)
expect("${csv}" "cs-max,sets,msrp,pwlp,frap" "CSV header (cs-max axis)")

# Refusals name the task and the field.
refuse(SAYS "t1" "core" COMMAND analyze --test msrp "${DATA}/spin_bad_core.json")
refuse(SAYS "critical_sections[0]" "r9" COMMAND analyze --test frap "${DATA}/spin_bad_resource.json")
refuse(SAYS "t1" "exceeds the wcet" COMMAND analyze --test pwlp "${DATA}/spin_bad_sections.json")
refuse(SAYS "--axis" COMMAND sweep --family spin --axis nonsense --csv "${WORK}/x.csv")
refuse(SAYS "cs_min" COMMAND sweep --family spin --cs-min 9 --cs-max 3 --csv "${WORK}/x.csv")
