# Compiler settings applied to keel's own targets only (never to consumers).

if(PROJECT_IS_TOP_LEVEL AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
    find_program(KEEL_CCACHE_PROGRAM ccache)
    if(KEEL_CCACHE_PROGRAM)
        set(CMAKE_CXX_COMPILER_LAUNCHER "${KEEL_CCACHE_PROGRAM}")
    endif()
endif()

set(CMAKE_CXX_EXTENSIONS OFF)

if(KEEL_SANITIZE)
    string(REPLACE ";" "," _keel_sanitizers "${KEEL_SANITIZE}")
    if(_keel_sanitizers MATCHES "thread" AND _keel_sanitizers MATCHES "address")
        message(FATAL_ERROR "KEEL_SANITIZE: ThreadSanitizer cannot be combined with AddressSanitizer")
    endif()
    set(KEEL_SANITIZER_FLAGS -fsanitize=${_keel_sanitizers} -fno-omit-frame-pointer)
    if(_keel_sanitizers MATCHES "undefined")
        list(APPEND KEEL_SANITIZER_FLAGS -fno-sanitize-recover=undefined)
    endif()
    # Sanitized builds instrument everything built here, tests and tools included.
    add_compile_options(${KEEL_SANITIZER_FLAGS})
    add_link_options(${KEEL_SANITIZER_FLAGS})
endif()

# keel_target_defaults(<target>): standard, warnings, visibility for a keel target.
function(keel_target_defaults target)
    get_target_property(_type ${target} TYPE)
    if(_type STREQUAL "INTERFACE_LIBRARY")
        target_compile_features(${target} INTERFACE cxx_std_20)
        return()
    endif()
    target_compile_features(${target} PUBLIC cxx_std_20)
    if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
        target_compile_options(${target} PRIVATE
            -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
            -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
            -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
        # Not -Wnull-dereference: at -O2 GCC 12 reports false positives inside libstdc++
        # (streambuf, std::move of optionals), which would break optimised -Werror builds.
        if(KEEL_WARNINGS_AS_ERRORS)
            target_compile_options(${target} PRIVATE -Werror)
        endif()
    endif()
endfunction()
