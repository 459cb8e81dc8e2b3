# Drives keel-alloc as a user would: lists heaps, generates a trace, replays it over
# chosen heaps as a table and as JSON, and checks that bad command lines are refused
# with exit status 2 and a message naming the problem.
#   cmake -DTOOL=<keel-alloc> -DWORK=<scratch dir> -P keel_alloc_cli.cmake
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/../../support/cli_helpers.cmake")

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

run(0 "${TOOL}" heaps)
foreach(heap tlsf buddy best_fit head_first_best_fit first_fit next_fit worst_fit adaptive)
    expect("${out}" "${heap}\n" "keel-alloc heaps")
endforeach()

run(0 "${TOOL}" generate list)
expect("${out}" "anti_best_fit" "generate list")
run(0 "${TOOL}" generate anti_best_fit --seed 3 --scale 1 -o "${WORK}/attack.trace")
file(STRINGS "${WORK}/attack.trace" first_line LIMIT_COUNT 1)
if(NOT first_line STREQUAL "keel-alloc-trace 1")
    message(FATAL_ERROR "generated trace starts with '${first_line}'")
endif()

# Two heaps, by a repeated flag and a comma list: exactly those rows, in that order.
run(0 "${TOOL}" replay "${WORK}/attack.trace" --heap first_fit --heap best_fit,first_fit --no-timing)
expect("${out}" "first_fit" "replay table")
expect("${out}" "best_fit" "replay table")
string(FIND "${out}" "tlsf" tlsf_at)
if(NOT tlsf_at EQUAL -1)
    message(FATAL_ERROR "replay of two heaps printed tlsf:\n${out}")
endif()

run(0 "${TOOL}" replay "${WORK}/attack.trace" --heap best_fit,first_fit --no-timing --json)
string(JSON rows LENGTH "${out}")
if(NOT rows EQUAL 2)
    message(FATAL_ERROR "replay --json gave ${rows} rows for two heaps:\n${out}")
endif()
foreach(i 0 1)
    string(JSON heap GET "${out}" ${i} heap)
    string(JSON jw4 GET "${out}" ${i} jw4)
    string(JSON failed GET "${out}" ${i} failed_allocations)
    if(jw4 LESS 1 OR NOT failed EQUAL 0)
        message(FATAL_ERROR "${heap}: jw4 ${jw4} below 1 or ${failed} failed allocations")
    endif()
endforeach()

# Bad command lines: exit 2 and say what is wrong. A missing trace file: exit 1.
run(2 "${TOOL}" frobnicate)
expect("${err}" "unknown command 'frobnicate'" "bad command")
run(2 "${TOOL}" replay "${WORK}/attack.trace" --heap no_such_heap)
expect("${err}" "unknown heap 'no_such_heap'" "bad heap")
run(2 "${TOOL}" replay "${WORK}/attack.trace" --param nonsense=3)
expect("${err}" "unknown parameter 'nonsense'" "bad parameter")
run(2 "${TOOL}" tune "${WORK}/attack.trace" --heap tlsf --heap buddy)
expect("${err}" "tune takes one --heap" "tune with two heaps")
run(1 "${TOOL}" replay "${WORK}/does_not_exist.trace" --heap tlsf)
expect("${err}" "does_not_exist.trace" "missing trace")

file(WRITE "${WORK}/broken.trace" "keel-alloc-trace 1\nm 16 0x1000\nq 1 2\n")
run(1 "${TOOL}" replay "${WORK}/broken.trace" --heap tlsf)
expect("${err}" "line 3" "malformed trace names its line")
