# Runs keel-tour with ARGS and checks that it exits with status 2 (bad usage) and that
# stderr holds EXPECT.
execute_process(COMMAND "${TOUR}" ${ARGS}
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT status EQUAL 2)
    message(FATAL_ERROR "keel-tour ${ARGS}: exit status ${status}, wanted 2\n${out}${err}")
endif()
string(FIND "${err}" "${EXPECT}" at)
if(at EQUAL -1)
    message(FATAL_ERROR "keel-tour ${ARGS}: stderr lacks '${EXPECT}':\n${err}")
endif()
