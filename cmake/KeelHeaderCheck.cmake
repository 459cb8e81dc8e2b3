# keel_add_header_check(<target>): one translation unit per public header, each
# including only that header, compiled into an object library. A header that
# forgets an include fails here, not in a user's build.
function(keel_add_header_check target)
    get_property(headers GLOBAL PROPERTY KEEL_PUBLIC_HEADERS)
    list(REMOVE_DUPLICATES headers)
    set(sources)
    foreach(header IN LISTS headers)
        file(RELATIVE_PATH rel "${PROJECT_SOURCE_DIR}/include" "${header}")
        string(MAKE_C_IDENTIFIER "${rel}" id)
        set(tu "${CMAKE_CURRENT_BINARY_DIR}/header_check/${id}.cpp")
        file(CONFIGURE OUTPUT "${tu}" CONTENT "#include <${rel}>\n#include <${rel}>  // twice: include guards work\n")
        list(APPEND sources "${tu}")
    endforeach()
    add_library(${target} OBJECT ${sources})
    keel_target_defaults(${target})
    target_link_libraries(${target} PRIVATE keel::keel)
endfunction()
