# keel-sched family "maars" end to end: example A of tests/sched/conformance/randomize.cpp
# (worked by hand there: 4 of 8 period combinations schedulable, t2's response 15 or 9;
# victim t1 starts at offsets 2 and 0 under periods (4, 10, 20): vulnerability 1/2), a
# randomised run without misses, the sweep's CSV, and refusals naming task and field.
#   cmake -DTOOL=<keel-sched> -DDATA=<tests/sched/cli/data> -DWORK=<scratch dir> -P family_maars.cmake
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/../../support/cli_helpers.cmake")

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(a "${DATA}/maars_example_a.json")

run(0 "${TOOL}" analyze --test maars "${a}" --victim t1 --json)
expect_json("${out}" "maars" test)
expect_json("${out}" "ON" schedulable)
expect_json("${out}" "t1" victim)
expect_json("${out}" "8" combination_count)
expect_json("${out}" "4" schedulable_count)
expect_json("${out}" "4" rejected)
expect_json("${out}" "14" rta_calls)
expect_json("${out}" "OFF" truncated)
expect_json("${out}" "[ 4, 10, 20 ]" combinations 0 periods)
expect_json("${out}" "[ 2, 4, 15 ]" combinations 0 response_times)
expect_json("${out}" "0.5" combinations 0 vulnerability)
expect_json("${out}" "20" combinations 0 hyperperiod)
expect_json("${out}" "[ 5, 10, 10 ]" combinations 2 periods)
expect_json("${out}" "[ 2, 4, 9 ]" combinations 2 response_times)
expect_json("${out}" "1.0" combinations 2 vulnerability)
expect_json("${out}" "0" run misses)
expect_json("${out}" "1.0" run attack_fixed rate)

# A quarter of the combinations: only the least vulnerable one, (4, 10, 20), stays.
run(0 "${TOOL}" analyze --test maars "${a}" --victim t1 --fraction 0.25 --json)
expect_json("${out}" "[ 0 ]" pool)

# The cap is reported.
run(0 "${TOOL}" analyze --test maars "${a}" --max-combinations 2 --json)
expect_json("${out}" "ON" truncated)
expect_json("${out}" "2" schedulable_count)

run(0 "${TOOL}" analyze --test maars "${a}")
expect("${out}" "4 of 8 period combinations schedulable" "text verdict")

run(1 "${TOOL}" analyze --test maars "${DATA}/maars_unschedulable.json" --json)
expect_json("${out}" "OFF" schedulable)

# Sweep: CSV with one column per strategy, ratios are attack successes.
run(0 "${TOOL}" sweep --family maars --n 4 --u-min 0.3 --u-max 0.6 --u-step 0.3 --jobs 60
    --sets 10 --seed 3 --csv "${WORK}/maars.csv" --quiet)
file(READ "${WORK}/maars.csv" csv)
expect("${csv}" "utilization,sets,fixed,random,maars" "CSV header")
expect("${csv}" "0.300000,10," "first point")
expect("${csv}" "0.600000,10," "last point")

# Refusals name the task and the field.
refuse(SAYS "t0" "periods[1]" COMMAND analyze --test maars "${DATA}/maars_bad_period.json")
refuse(SAYS "t0" "\"periods\"" "must list \"period\"" COMMAND analyze --test maars "${DATA}/maars_missing_nominal.json")
refuse(SAYS "--victim" COMMAND analyze --test maars "${a}" --victim nobody)
refuse(SAYS "--fraction" COMMAND analyze --test maars "${a}" --fraction 0)
refuse(SAYS "--u-max" COMMAND sweep --family maars --u-max 1.5 --csv "${WORK}/x.csv")
