# Drives keel-sched as a user would: analyses published example sets with every test and
# checks the published numbers (the same ones as tests/sched/conformance/fp.cpp and
# edf.cpp, where their sources are cited), parses --json output, runs sensitivity,
# generate -> analyze and simulate, and checks that every bad input is refused with exit
# status 2 and a message naming the task and the field.
#   cmake -DTOOL=<keel-sched> -DDATA=<tests/sched/cli/data> -DWORK=<scratch dir> -P keel_sched_cli.cmake
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/../../support/cli_helpers.cmake")

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(bw "${DATA}/burns_wellings.json")

# --- usage -----------------------------------------------------------------------------
run(0 "${TOOL}" --help)
expect("${out}" "usage: keel-sched" "--help")
run(2 "${TOOL}")
expect("${err}" "usage: keel-sched" "no command")
run(2 "${TOOL}" frobnicate)
expect("${err}" "unknown command 'frobnicate'" "unknown command")

# --- fp-rta: Burns & Wellings (R = 3, 6, 20; iterates of c: 5, 11, 14, 17, 20) -----------
run(0 "${TOOL}" analyze "${bw}")
expect("${out}" "fp-rta: schedulable" "text verdict")
expect("${out}" "5,11,14,17,20" "text certificate")
run(0 "${TOOL}" analyze "${bw}" --json)
expect_json("${out}" "fp-rta" test)
expect_json("${out}" "ON" schedulable)
expect_json("${out}" "13/14" utilization)
foreach(row "0;a;3" "1;b;6" "2;c;20")
    list(GET row 0 i)
    list(GET row 1 name)
    list(GET row 2 r)
    expect_json("${out}" "${name}" tasks ${i} name)
    expect_json("${out}" "${r}" tasks ${i} response_time)
    expect_json("${out}" "ON" tasks ${i} schedulable)
endforeach()
expect_json("${out}" "[ 5, 11, 14, 17, 20 ]" tasks 2 iterations)
expect_json("${out}" "20" tasks 2 busy_period)
expect_json("${out}" "1" tasks 2 jobs_examined)

# Explicit priorities (lower number first) reorder the file's list: same answers.
run(0 "${TOOL}" analyze "${DATA}/priorities.json" --json)
expect_json("${out}" "high" tasks 0 name)
expect_json("${out}" "mid" tasks 1 name)
expect_json("${out}" "low" tasks 2 name)
expect_json("${out}" "20" tasks 2 response_time)

# Priority assignment: in reversed (anti-rate-monotonic) order a misses (3 + 3 + 5 = 11
# > 7); --assign rm and --assign audsley find orders where the RTA gives 3, 6, 20.
set(reversed "${DATA}/burns_wellings_reversed.json")
run(1 "${TOOL}" analyze "${reversed}" --json)
expect_json("${out}" "a" tasks 2 name)
expect_json("${out}" "11" tasks 2 response_time)
foreach(how rm audsley)
    run(0 "${TOOL}" analyze "${reversed}" --assign ${how} --json)
    expect_json("${out}" "20" tasks 2 response_time)
endforeach()
run(0 "${TOOL}" analyze "${reversed}" --assign rm --json)
expect_json("${out}" "a" tasks 0 name)
run(1 "${TOOL}" analyze "${DATA}/hopeless.json" --assign audsley)
expect("${out}" "no priority order" "audsley without a feasible order")

# Standard input.
file(READ "${bw}" bw_text)
file(WRITE "${WORK}/stdin.json" "${bw_text}")
execute_process(COMMAND "${TOOL}" analyze - --json INPUT_FILE "${WORK}/stdin.json"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "analyze - exited ${rc}")
endif()
expect_json("${out}" "20" tasks 2 response_time)

# Lehoczky 1990 Example 3 (arbitrary deadline): R_2 = 118 at the fifth job, busy period
# 694 with 7 jobs, iterates 466, 492, 518. Tighter deadline 116 (via a copy): exit 1.
run(0 "${TOOL}" analyze "${DATA}/lehoczky_ex3.json" --json)
expect_json("${out}" "26" tasks 0 response_time)
expect_json("${out}" "118" tasks 1 response_time)
expect_json("${out}" "4" tasks 1 worst_job)
expect_json("${out}" "694" tasks 1 busy_period)
expect_json("${out}" "7" tasks 1 jobs_examined)
expect_json("${out}" "[ 466, 492, 518 ]" tasks 1 iterations)
file(READ "${DATA}/lehoczky_ex3.json" lz)
string(REPLACE "\"deadline\": 118" "\"deadline\": 116" lz "${lz}")
file(WRITE "${WORK}/lehoczky_116.json" "${lz}")
run(1 "${TOOL}" analyze "${WORK}/lehoczky_116.json" --json)
expect_json("${out}" "OFF" schedulable)
expect_json("${out}" "118" tasks 1 response_time)
expect_json("${out}" "OFF" tasks 1 schedulable)

# Jitter: the response time is from arrival, so it includes the task's own jitter
# (noisy: J 3 + w 3 = 6); blocking 1 enters slow's iterates (4, 7, 8, 10, 11).
run(0 "${TOOL}" analyze "${DATA}/jitter.json" --json)
expect_json("${out}" "6" tasks 1 response_time)
expect_json("${out}" "11" tasks 2 response_time)
expect_json("${out}" "[ 4, 7, 8, 10, 11 ]" tasks 2 iterations)

# An unbounded busy period: response_time null, exit 1.
run(1 "${TOOL}" analyze "${DATA}/hopeless.json" --json)
expect_null("${out}" tasks 1 response_time)

# --- fp-points: passing points 7, 7, 20 and 6 evaluations -------------------------------
run(0 "${TOOL}" analyze "${bw}" --test fp-points --json)
expect_json("${out}" "fp-points" test)
expect_json("${out}" "6" points_evaluated)
expect_json("${out}" "7" tasks 0 passing_point)
expect_json("${out}" "7" tasks 1 passing_point)
expect_json("${out}" "20" tasks 2 passing_point)
refuse(COMMAND analyze "${DATA}/jitter.json" --test fp-points
       SAYS "task \"noisy\"" "jitter 3" "--test fp-rta")

# --- bounds: U = 13/14 is above both; a sufficient test fails: exit 1 --------------------
run(1 "${TOOL}" analyze "${bw}" --test ll-bound --json)
expect_json("${out}" "OFF" schedulable)
run(1 "${TOOL}" analyze "${bw}" --test hyperbolic)
expect("${out}" "inconclusive" "hyperbolic text")
refuse(COMMAND analyze "${DATA}/lehoczky_ex3.json" --test ll-bound
       SAYS "task \"tau2\"" "deadline 118" "period")
refuse(COMMAND analyze "${bw}" --test no-such-test SAYS "unknown test 'no-such-test'")

# --- EDF: Buttazzo Table 4.4 (QPA steps, 5 evaluations; PDC 5 points, horizon 16) --------
set(bt "${DATA}/buttazzo_4_4.json")
run(0 "${TOOL}" analyze "${bt}" --test edf-qpa --json)
expect_json("${out}" "ON" schedulable)
expect_null("${out}" witness)
expect_json("${out}" "5" evaluations)
expect_json("${out}" "13" steps 0 t)
expect_json("${out}" "11" steps 0 demand)
expect_json("${out}" "5" steps 4 t)
expect_json("${out}" "4" steps 4 demand)
run(0 "${TOOL}" analyze "${bt}" --test edf-pdc --json)
expect_json("${out}" "5" evaluations)
expect_json("${out}" "16" horizon)

# Zhang & Burns 2009 set with (10, 100, 15) added: unschedulable; PDC's witness (18800,
# 19364) after 2003 evaluations, QPA's (19900, 19902) after 15.
set(zb "${DATA}/zhang_burns_fail.json")
run(1 "${TOOL}" analyze "${zb}" --test edf-pdc --json)
expect_json("${out}" "OFF" schedulable)
expect_json("${out}" "18800" witness t)
expect_json("${out}" "19364" witness demand)
expect_json("${out}" "2003" evaluations)
run(1 "${TOOL}" analyze "${zb}" --test edf-qpa --json)
expect_json("${out}" "19900" witness t)
expect_json("${out}" "19902" witness demand)
expect_json("${out}" "15" evaluations)
run(1 "${TOOL}" analyze "${zb}" --test edf-qpa)
expect("${out}" "h(19900) = 19902 > 19900" "QPA text witness")

# 64-bit overflow: exit 3 with the reason.
run(3 "${TOOL}" analyze "${DATA}/overflow.json" --test edf-qpa)
expect("${err}" "overflow" "overflow message")

# --- sensitivity ---------------------------------------------------------------------------
run(0 "${TOOL}" sensitivity "${bw}" --task c --test fp-rta --json)
expect_json("${out}" "c" task)
expect_json("${out}" "5" max_wcet)
run(0 "${TOOL}" sensitivity "${bw}" --task a --test fp-rta --json)
expect_json("${out}" "3" max_wcet)
run(0 "${TOOL}" sensitivity "${bw}" --scaling --test fp-rta --json)
expect_json("${out}" "1000" max_scaling_k)
run(1 "${TOOL}" sensitivity "${DATA}/hopeless.json" --task starved --test fp-rta --json)
expect_null("${out}" max_wcet)
refuse(COMMAND sensitivity "${bw}" --task nobody --test fp-rta SAYS "no task is named \"nobody\"")
refuse(COMMAND sensitivity "${bw}" --task a --test bogus SAYS "unknown test 'bogus'")

# --- refusals of bad input: exit 2, naming the task and the field ---------------------------
refuse(COMMAND analyze "${DATA}/bad_unknown_field.json" SAYS "task \"b\"" "unknown field \"offset\"")
file(WRITE "${WORK}/top_level.json" "{\"tasks\": [{\"name\": \"a\", \"wcet\": 1, \"period\": 2}], \"platform\": 1}")
refuse(COMMAND analyze "${WORK}/top_level.json" SAYS "unknown top-level field \"platform\"")
refuse(COMMAND analyze "${DATA}/bad_zero_period.json" SAYS "task \"b\"" "\"period\"" "must be positive")
refuse(COMMAND analyze "${DATA}/bad_mixed_priorities.json" SAYS "task \"b\"" "\"priority\" is missing")
refuse(COMMAND analyze "${DATA}/bad_equal_priorities.json" SAYS "task \"b\"" "\"priority\"" "distinct")
refuse(COMMAND analyze "${DATA}/bad_malformed.json" SAYS "bad_malformed.json:3:" "malformed JSON")
refuse(COMMAND analyze "${DATA}/bad_cores.json" SAYS "\"cores\"" "uniprocessor tests")
refuse(COMMAND analyze "${DATA}/bad_fractional_wcet.json" SAYS "task \"a\"" "\"wcet\"" "not an integer")
refuse(COMMAND analyze "${DATA}/bad_missing_name.json" SAYS "tasks[1]" "\"name\" is missing")
refuse(COMMAND analyze "${DATA}/bad_duplicate_name.json" SAYS "task \"a\"" "another task has this name")
refuse(COMMAND analyze "${WORK}/does_not_exist.json" SAYS "cannot open" "does_not_exist.json")
refuse(COMMAND analyze "${bw}" --frobnicate 3 SAYS "unknown option --frobnicate")

# --- generate -> analyze round trip -------------------------------------------------------
run(0 "${TOOL}" generate --n 6 --utilization 0.7 --seed 42 --deadlines constrained)
set(generated "${out}")
string(JSON n LENGTH "${generated}" tasks)
if(NOT n EQUAL 6)
    message(FATAL_ERROR "generate --n 6 gave ${n} tasks:\n${generated}")
endif()
file(WRITE "${WORK}/generated.json" "${generated}")
run(0 "${TOOL}" generate --n 6 --utilization 0.7 --seed 42 --deadlines constrained)
if(NOT out STREQUAL generated)
    message(FATAL_ERROR "generate with one seed gave two sets:\n${generated}\n${out}")
endif()
# Exact tests agree on the generated set (exit 0 or 1, the same for both pairs).
execute_process(COMMAND "${TOOL}" analyze "${WORK}/generated.json" --test fp-rta RESULT_VARIABLE rta OUTPUT_QUIET)
execute_process(COMMAND "${TOOL}" analyze "${WORK}/generated.json" --test fp-points RESULT_VARIABLE points OUTPUT_QUIET)
execute_process(COMMAND "${TOOL}" analyze "${WORK}/generated.json" --test edf-pdc RESULT_VARIABLE pdc OUTPUT_QUIET)
execute_process(COMMAND "${TOOL}" analyze "${WORK}/generated.json" --test edf-qpa RESULT_VARIABLE qpa OUTPUT_QUIET)
if(NOT rta EQUAL points OR NOT pdc EQUAL qpa OR rta GREATER 1 OR pdc GREATER 1)
    message(FATAL_ERROR "generated set: fp-rta ${rta}, fp-points ${points}, edf-pdc ${pdc}, edf-qpa ${qpa}")
endif()
# Several sets: one JSON object per line.
run(0 "${TOOL}" generate --n 3 --utilization 0.5 --count 4 --seed 1 --method randfixedsum)
string(STRIP "${out}" lines)
string(REPLACE "\n" ";" lines "${lines}")
list(LENGTH lines count)
if(NOT count EQUAL 4)
    message(FATAL_ERROR "generate --count 4 printed ${count} lines:\n${out}")
endif()
list(GET lines 3 last)
string(JSON n LENGTH "${last}" tasks)
if(NOT n EQUAL 3)
    message(FATAL_ERROR "generate --count: line 4 has ${n} tasks")
endif()
refuse(COMMAND generate --n 3 --utilization 0.5 --method nope SAYS "--method" "'nope'")
refuse(COMMAND generate --utilization 0.5 SAYS "missing option --n")

# --- simulate --------------------------------------------------------------------------------
# Synchronous release: the first jobs' responses equal the RTA's (3, 6, 20), no misses.
run(0 "${TOOL}" simulate "${bw}" --horizon 140 --json)
expect_json("${out}" "0" deadline_misses)
expect_json("${out}" "20" tasks 2 max_response)
expect_json("${out}" "20" tasks 0 jobs_released)
expect_json("${out}" "7" tasks 2 jobs_completed)
# Critical-instant release with jitter: noisy's worst response is the RTA's 6.
run(0 "${TOOL}" simulate "${DATA}/jitter.json" --horizon 200 --release critical-instant --json)
expect_json("${out}" "6" tasks 1 max_response)
# EDF on the failing Zhang & Burns set: the first miss is PDC's first failing deadline.
run(1 "${TOOL}" simulate "${zb}" --horizon 30000 --policy edf --release critical-instant --json)
expect_json("${out}" "18800" first_miss)
run(1 "${TOOL}" simulate "${zb}" --horizon 30000 --policy edf --release critical-instant)
expect("${out}" "first at 18800" "simulate text")
refuse(COMMAND simulate "${bw}" --horizon 0 SAYS "--horizon")
refuse(COMMAND simulate "${bw}" --horizon 10 --policy rr SAYS "--policy" "'rr'")
