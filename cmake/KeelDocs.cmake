# `docs`: the API reference, built by Doxygen from the public headers (include/keel
# without detail/) into <build>/docs/html. The target exists only where Doxygen is
# installed. Any Doxygen warning fails it (WARN_AS_ERROR); `docs_types_check` also
# fails on a public class, struct, union or enum without a comment. Undocumented
# members are not reported: many are self-explanatory fields and accessors.

find_package(Doxygen QUIET)
if(NOT DOXYGEN_FOUND)
    message(STATUS "Doxygen not found: no `docs` target")
    return()
endif()

set(KEEL_DOCS_OUTPUT_DIR "${PROJECT_BINARY_DIR}/docs")
set(KEEL_DOCS_WARN_IF_UNDOCUMENTED NO)
configure_file("${PROJECT_SOURCE_DIR}/docs/Doxyfile.in" "${KEEL_DOCS_OUTPUT_DIR}/Doxyfile" @ONLY)

add_custom_target(docs
    COMMAND Doxygen::doxygen "${KEEL_DOCS_OUTPUT_DIR}/Doxyfile"
    WORKING_DIRECTORY "${KEEL_DOCS_OUTPUT_DIR}"
    COMMENT "Doxygen: API reference in ${KEEL_DOCS_OUTPUT_DIR}/html"
    VERBATIM)

# The same input with undocumented entities reported and nothing generated; the
# script keeps the reports about types and fails on them.
file(CONFIGURE OUTPUT "${KEEL_DOCS_OUTPUT_DIR}/Doxyfile.types" CONTENT [[
@INCLUDE               = Doxyfile
WARN_IF_UNDOCUMENTED   = YES
WARN_AS_ERROR          = NO
WARN_LOGFILE           = types-warnings.log
GENERATE_HTML          = NO
OUTPUT_DIRECTORY       = types-check
]])
add_custom_target(docs_types_check
    COMMAND ${CMAKE_COMMAND} -DDOXYGEN=$<TARGET_FILE:Doxygen::doxygen>
        -DDOXYFILE=Doxyfile.types -DLOG=types-warnings.log
        -P "${PROJECT_SOURCE_DIR}/cmake/KeelDocsTypesCheck.cmake"
    WORKING_DIRECTORY "${KEEL_DOCS_OUTPUT_DIR}"
    COMMENT "Doxygen: every public type has a comment"
    VERBATIM)
