# Helpers shared by the tools' end-to-end scripts (include() it; refuse() expects TOOL set
# to the binary under test).
#   run(<rc> <command...>): runs it, fails unless it exits <rc>; sets out and err.
#   expect(<haystack> <needle> <what>): fails unless the needle is in the haystack.
#   expect_json(<json> <expected> <path...>), expect_null(<json> <path...>): one field.
#   refuse(SAYS <needles...> COMMAND <args...>): keel-sched exits 2, stderr names each.

function(run expected_rc)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL expected_rc)
        message(FATAL_ERROR "${ARGN}\nexited ${rc}, expected ${expected_rc}\nstdout: ${out}\nstderr: ${err}")
    endif()
    set(out "${out}" PARENT_SCOPE)
    set(err "${err}" PARENT_SCOPE)
endfunction()

function(expect haystack needle what)
    string(FIND "${haystack}" "${needle}" at)
    if(at EQUAL -1)
        message(FATAL_ERROR "${what}: '${needle}' not found in:\n${haystack}")
    endif()
endfunction()

# expect_json(<json> <expected> <member/index path...>): one field of a JSON document.
function(expect_json doc expected)
    string(JSON got ERROR_VARIABLE json_error GET "${doc}" ${ARGN})
    if(json_error)
        message(FATAL_ERROR "JSON path '${ARGN}': ${json_error}\nin: ${doc}")
    endif()
    if(NOT "${got}" STREQUAL "${expected}")
        message(FATAL_ERROR "JSON path '${ARGN}': got '${got}', expected '${expected}'\nin: ${doc}")
    endif()
endfunction()

# expect_null(<json> <member/index path...>): the field is there and is null.
function(expect_null doc)
    string(JSON type ERROR_VARIABLE json_error TYPE "${doc}" ${ARGN})
    if(NOT type STREQUAL "NULL")
        message(FATAL_ERROR "JSON path '${ARGN}': type '${type}' ${json_error}, expected null\nin: ${doc}")
    endif()
endfunction()

# refuse(SAYS <stderr needles...> COMMAND <args...>): exit 2, and stderr names each needle.
function(refuse)
    cmake_parse_arguments(PARSE_ARGV 0 arg "" "" "SAYS;COMMAND")
    run(2 "${TOOL}" ${arg_COMMAND})
    expect("${err}" "keel-sched: " "refusal prefix of '${arg_COMMAND}'")
    foreach(needle IN LISTS arg_SAYS)
        expect("${err}" "${needle}" "refusal of '${arg_COMMAND}'")
    endforeach()
endfunction()
