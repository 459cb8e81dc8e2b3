# cmake -DDOXYGEN=<doxygen> -DDOXYFILE=<file> -DLOG=<warning log> -P KeelDocsTypesCheck.cmake
# Runs Doxygen with undocumented entities reported and fails if a class, struct,
# union or enum is among them (an undocumented member function or field is allowed).
file(REMOVE "${LOG}")
execute_process(COMMAND "${DOXYGEN}" "${DOXYFILE}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "doxygen ${DOXYFILE} failed (${rc})")
endif()
file(STRINGS "${LOG}" undocumented REGEX "(Compound .* is not documented|\\(enumeration\\) .* is not documented)")
list(LENGTH undocumented n)
if(n GREATER 0)
    list(JOIN undocumented "\n" text)
    message(FATAL_ERROR "${n} public type(s) without a comment:\n${text}")
endif()
message(STATUS "Every public type has a comment")
