# Drives `keel-sched constraints` and `keel-sched sweep` as a user would: the LP export of a
# hand-derived FP region (tests/sched/conformance/constraints.cpp derives the same one),
# solver optima (or the clear "unavailable" without CBC), refusals with exit status 2
# naming the option or the task, sweep's CSV, its determinism over thread counts, and
# the gnuplot plot (or the refusal when gnuplot is missing).
#   cmake -DTOOL=<keel-sched> -DDATA=<tests/sched/cli/data> -DWORK=<scratch dir>
#         -DCOINOR=<ON|OFF> -P constraints_sweep.cmake
cmake_minimum_required(VERSION 3.25)

# run, expect, expect_json, refuse.
include("${CMAKE_CURRENT_LIST_DIR}/../../support/cli_helpers.cmake")

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(two "${DATA}/constraints_two.json")

# --- constraints: the LP file -----------------------------------------------------------
# t1 (T = D = 4), t2 (T = D = 10), both free: task 2 passes at t = 8 (2 C1 + C2 <= 8) or
# t = 10 (3 C1 + C2 <= 10); big-M rows terms + M y <= rhs + M, M = 10 and 12.
run(0 "${TOOL}" constraints "${two}" --free t1,t2 --test fp --lp "${WORK}/two.lp")
expect("${out}" "2 free WCETs, 1 groups, 2 inequalities" "constraints summary")
expect("${out}" "the file's WCETs satisfy them" "constraints summary")
file(READ "${WORK}/two.lp" lp)
foreach(line
        "Maximize\n obj: 1 C_t1 + 1 C_t2\n"
        " g0_a0: 2 C_t1 + 1 C_t2 + 10 y_0_0 <= 18\n"
        " g0_a1: 3 C_t1 + 1 C_t2 + 12 y_0_1 <= 22\n"
        " g0_any: 1 y_0_0 + 1 y_0_1 >= 1\n"
        "Bounds\n 1 <= C_t1 <= 4\n 1 <= C_t2 <= 10\n"
        "General\n C_t1\n C_t2\n"
        "Binary\n y_0_0\n y_0_1\nEnd\n")
    expect("${lp}" "${line}" "LP file")
endforeach()
# --lp - writes the LP alone on stdout, with the objective's weights.
run(0 "${TOOL}" constraints "${two}" --free t1,t2 --test fp --lp - --maximize "3*t1+t2")
expect("${out}" " obj: 3 C_t1 + 1 C_t2\n" "LP on stdout")

# --- constraints: the solver --------------------------------------------------------------
if(COINOR)
    # max 3 C1 + C2 = 11 at (3, 2); max C1 + C2 = 8 at (1, 7) (see the conformance test).
    run(0 "${TOOL}" constraints "${two}" --free t1,t2 --test fp --maximize "3*t1+t2" --json)
    expect_json("${out}" optimal maximize status)
    expect_json("${out}" 3 maximize wcet t1)
    expect_json("${out}" 2 maximize wcet t2)
    run(0 "${TOOL}" constraints "${two}" --free t1,t2 --test fp --maximize t1,t2 --json)
    expect_json("${out}" 1 maximize wcet t1)
    expect_json("${out}" 7 maximize wcet t2)
    # EDF with U <= 0.9 and t1 fixed at 1/4: C2/10 <= 0.65, C2 <= 6.
    run(0 "${TOOL}" constraints "${two}" --free t2 --test edf --u-cap 0.9 --maximize t2)
    expect("${out}" "(U <= 9/10" "EDF summary")
    expect("${out}" "t2    6" "EDF optimum")
    # A fixed task that fails whatever the free one does: exit 1.
    run(1 "${TOOL}" constraints "${DATA}/constraints_hopeless.json" --free free --test fp
        --maximize free)
    expect("${out}" "infeasible" "hopeless set")
else()
    run(3 "${TOOL}" constraints "${two}" --free t1,t2 --test fp --maximize t1,t2)
    expect("${err}" "KEEL_WITH_COINOR" "no solver")
    # With --lp the LP file is the product: exit 0, the note on stderr.
    run(0 "${TOOL}" constraints "${two}" --free t1,t2 --test fp --maximize t1,t2
        --lp "${WORK}/nosolver.lp")
    expect("${err}" "KEEL_WITH_COINOR" "no solver, LP exported")
endif()

# --- constraints: refusals -------------------------------------------------------------------
refuse(SAYS "--test" "rm" COMMAND constraints "${two}" --free t1 --test rm)
refuse(SAYS "--free" "zz" COMMAND constraints "${two}" --free zz --test fp)
refuse(SAYS "--free" COMMAND constraints "${two}" --test fp)
refuse(SAYS "--u-cap" COMMAND constraints "${two}" --free t1 --test edf --u-cap 1.5)
refuse(SAYS "--u-cap" COMMAND constraints "${two}" --free t1 --test fp --u-cap 0.5)
refuse(SAYS "--maximize" "t2" COMMAND constraints "${two}" --free t1 --test fp --maximize t2)
refuse(SAYS "late" "deadline" COMMAND constraints "${DATA}/constraints_arbitrary.json" --free t1 --test fp)

# --- sweep ---------------------------------------------------------------------------------
set(sweep_args sweep --n 6 --tests fp-rta,fp-points,edf-qpa,edf-pdc --u-min 0.7 --u-max 1.0
    --u-step 0.1 --sets 50 --seed 7 --deadlines constrained)
run(0 "${TOOL}" ${sweep_args} --threads 1 --csv "${WORK}/one.csv")
expect("${out}" "utilization" "sweep summary table")
run(0 "${TOOL}" ${sweep_args} --threads 2 --csv "${WORK}/two.csv")
file(READ "${WORK}/one.csv" one)
file(READ "${WORK}/two.csv" two_csv)
if(NOT one STREQUAL two_csv)
    message(FATAL_ERROR "sweep depends on the thread count:\n${one}\n---\n${two_csv}")
endif()
file(STRINGS "${WORK}/one.csv" rows)
list(LENGTH rows n_rows)
if(NOT n_rows EQUAL 5)
    message(FATAL_ERROR "sweep CSV: ${n_rows} lines, expected a header and 4 points:\n${one}")
endif()
list(GET rows 0 header)
if(NOT header STREQUAL "utilization,sets,fp-rta,fp-points,edf-qpa,edf-pdc,fp-rta_errors,fp-points_errors,edf-qpa_errors,edf-pdc_errors")
    message(FATAL_ERROR "sweep CSV header: ${header}")
endif()
# Equivalent tests agree set by set, so their ratios agree at every point; EDF >= FP.
foreach(row IN LISTS rows)
    if(row STREQUAL header)
        continue()
    endif()
    string(REPLACE "," ";" cells "${row}")
    list(GET cells 1 sets)
    list(GET cells 2 rta)
    list(GET cells 3 points)
    list(GET cells 4 qpa)
    list(GET cells 5 pdc)
    if(NOT sets EQUAL 50 OR NOT rta STREQUAL points OR NOT qpa STREQUAL pdc OR rta GREATER qpa)
        message(FATAL_ERROR "sweep CSV row '${row}': expected 50 sets, fp-rta = fp-points, "
                            "edf-qpa = edf-pdc, fp-rta <= edf-qpa")
    endif()
endforeach()
# CSV on stdout.
run(0 "${TOOL}" sweep --n 3 --tests edf-qpa --u-min 0.5 --u-max 0.5 --sets 3 --csv - --quiet)
expect("${out}" "utilization,sets,edf-qpa,edf-qpa_errors\n0.500000,3,1.000000,0\n" "CSV on stdout")

find_program(GNUPLOT gnuplot)
if(GNUPLOT)
    run(0 "${TOOL}" sweep --n 4 --tests fp-rta,edf-qpa --u-min 0.6 --u-max 1.0 --u-step 0.2
        --sets 10 --csv "${WORK}/plot.csv" --plot "${WORK}/plot.png" --quiet)
    file(SIZE "${WORK}/plot.png" png_size)
    file(READ "${WORK}/plot.png" png_magic LIMIT 4 HEX)
    if(png_size LESS 1000 OR NOT png_magic STREQUAL "89504e47")
        message(FATAL_ERROR "sweep --plot: ${WORK}/plot.png is not a PNG (${png_size} bytes)")
    endif()
endif()
# gnuplot missing: exit 2 with a message that says so.
run(2 "${CMAKE_COMMAND}" -E env PATH=/nonexistent "${TOOL}" sweep --n 3 --tests edf-qpa
    --sets 2 --csv "${WORK}/x.csv" --plot "${WORK}/x.png")
expect("${err}" "gnuplot is not installed" "sweep --plot without gnuplot")

refuse(SAYS "--tests" "nope" COMMAND sweep --n 3 --tests nope --csv "${WORK}/x.csv")
refuse(SAYS "--csv" COMMAND sweep --n 3 --tests edf-qpa)
refuse(SAYS "--n" COMMAND sweep --n 0 --tests edf-qpa --csv "${WORK}/x.csv")
refuse(SAYS "--family" "no-such-family" "is not a family" COMMAND sweep --family no-such-family --csv "${WORK}/x.csv")
refuse(SAYS "--u-step" COMMAND sweep --n 3 --tests edf-qpa --u-step 0 --csv "${WORK}/x.csv")
refuse(SAYS "--deadlines" COMMAND sweep --n 3 --tests edf-qpa --deadlines soon --csv "${WORK}/x.csv")
