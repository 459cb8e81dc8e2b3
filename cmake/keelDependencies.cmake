# Finds keel's third-party dependencies and wraps each behind a keel-internal
# target name (keel_dep::<name>), so keel's targets never depend on how a
# distribution or package manager spells its targets.
#
# Used by keel's own build and, installed next to keelConfig.cmake, by consumers.
# Input: KEEL_DEPENDENCIES, a list drawn from: boost uring mimalloc ucx coinor tbb.

include(CMakeFindDependencyMacro)

# Inside a package config, find_dependency() reports failure to the consumer's
# find_package(); in keel's own build a missing dependency is a hard error.
macro(_keel_find name)
    if(CMAKE_FIND_PACKAGE_NAME)
        find_dependency(${name} ${ARGN})
    else()
        find_package(${name} ${ARGN} REQUIRED)
    endif()
endmacro()

macro(_keel_dep_alias name real)
    if(NOT TARGET keel_dep::${name})
        add_library(keel_dep::${name} INTERFACE IMPORTED GLOBAL)
        target_link_libraries(keel_dep::${name} INTERFACE ${real})
    endif()
endmacro()

set(THREADS_PREFER_PTHREAD_FLAG ON)
_keel_find(Threads)

if("boost" IN_LIST KEEL_DEPENDENCIES)
    # keel::result is boost::system::result, which Boost >= 1.79 has.
    _keel_find(Boost 1.81 CONFIG)
    _keel_dep_alias(boost Boost::headers)
endif()

if("uring" IN_LIST KEEL_DEPENDENCIES)
    _keel_find(LibUring 2.0)
    _keel_dep_alias(uring LibUring::LibUring)
endif()

if("mimalloc" IN_LIST KEEL_DEPENDENCIES)
    _keel_find(mimalloc 2.0 CONFIG)
    # Debian exports an un-namespaced 'mimalloc'; static-only builds export 'mimalloc-static'.
    if(TARGET mimalloc)
        _keel_dep_alias(mimalloc mimalloc)
    elseif(TARGET mimalloc-static)
        _keel_dep_alias(mimalloc mimalloc-static)
    else()
        message(FATAL_ERROR "mimalloc was found but exports neither 'mimalloc' nor 'mimalloc-static'")
    endif()
endif()

if("ucx" IN_LIST KEEL_DEPENDENCIES)
    # UCX installs a CMake package (Debian's libucx-dev, and UCX's own builds).
    _keel_find(ucx 1.10 CONFIG)
    # keel turns UCX's memory hooks off through libucm, which UCX's package does not
    # export as a target: it sits next to libucs.
    get_target_property(_keel_ucs_location ucx::ucs IMPORTED_LOCATION)
    get_filename_component(_keel_ucx_libdir "${_keel_ucs_location}" DIRECTORY)
    find_library(KEEL_UCM_LIBRARY ucm HINTS "${_keel_ucx_libdir}" NO_DEFAULT_PATH)
    find_library(KEEL_UCM_LIBRARY ucm)
    if(NOT KEEL_UCM_LIBRARY)
        message(FATAL_ERROR "UCX was found but not its libucm (next to ${_keel_ucs_location})")
    endif()
    _keel_dep_alias(ucx "ucx::ucp;ucx::ucs;${KEEL_UCM_LIBRARY}")
endif()

if("coinor" IN_LIST KEEL_DEPENDENCIES)
    # COIN-OR CBC has no CMake package on Debian (coinor-libcbc-dev): pkg-config.
    find_package(PkgConfig REQUIRED)
    pkg_check_modules(KEEL_CBC REQUIRED IMPORTED_TARGET GLOBAL cbc)
    _keel_dep_alias(coinor PkgConfig::KEEL_CBC)
endif()

if("tbb" IN_LIST KEEL_DEPENDENCIES)
    # keel::sched's parallel experiments (experiment.hpp) link oneTBB privately; a
    # static keel_sched needs it at link time.
    _keel_find(TBB CONFIG)
    _keel_dep_alias(tbb TBB::tbb)
endif()
