# Dependency discovery for keel's own build; consumers run the same file
# (keelDependencies.cmake) from keelConfig.cmake.
set(KEEL_DEPENDENCIES boost)
if(KEEL_WITH_LIBURING)
    list(APPEND KEEL_DEPENDENCIES uring)
endif()
if(KEEL_WITH_UCX)
    list(APPEND KEEL_DEPENDENCIES ucx)
endif()
if(KEEL_WITH_MIMALLOC)
    list(APPEND KEEL_DEPENDENCIES mimalloc)
endif()
include("${CMAKE_CURRENT_LIST_DIR}/keelDependencies.cmake")
