# Dependency discovery for keel's own build; consumers run the same file
# (keelDependencies.cmake) from keelConfig.cmake.
# tbb: keel::sched runs its experiments on oneTBB.
set(KEEL_DEPENDENCIES boost tbb)
if(KEEL_WITH_LIBURING)
    list(APPEND KEEL_DEPENDENCIES uring)
endif()
if(KEEL_WITH_UCX)
    list(APPEND KEEL_DEPENDENCIES ucx)
endif()
if(KEEL_WITH_COINOR)
    list(APPEND KEEL_DEPENDENCIES coinor)
endif()
if(KEEL_WITH_MIMALLOC)
    list(APPEND KEEL_DEPENDENCIES mimalloc)
endif()
include("${CMAKE_CURRENT_LIST_DIR}/keelDependencies.cmake")
