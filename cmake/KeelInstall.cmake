# Install rules and the CMake package: find_package(keel CONFIG COMPONENTS ...).
include(CMakePackageConfigHelpers)

set(KEEL_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/keel"
    CACHE STRING "Where keel's CMake package files are installed")

# Every installed library target, in dependency order.
set(KEEL_COMPONENTS platform sync alloc trust iospec rpc sched)
set(_keel_installed_targets keel_platform keel_sync keel_alloc keel_trust keel_iospec keel_rpc keel_sched)
if(KEEL_WITH_UCX)
    list(APPEND KEEL_COMPONENTS rpc_net)
    list(APPEND _keel_installed_targets keel_rpc_net)
endif()

install(TARGETS ${_keel_installed_targets} keel
    EXPORT keelTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS keel_info keel_alloc_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET keel_sched_tool)
    install(TARGETS keel_sched_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
# The LD_PRELOAD recorder is a plugin, not a library to link: no export.
install(TARGETS keel_alloc_trace LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

install(EXPORT keelTargets
    NAMESPACE keel::
    DESTINATION "${KEEL_INSTALL_CMAKEDIR}")
# The build tree is a package too (no install needed for a sibling project).
export(EXPORT keelTargets NAMESPACE keel:: FILE "${PROJECT_BINARY_DIR}/keelTargets.cmake")

configure_package_config_file(
    "${PROJECT_SOURCE_DIR}/cmake/keelConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/keelConfig.cmake"
    INSTALL_DESTINATION "${KEEL_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
    "${PROJECT_BINARY_DIR}/keelConfigVersion.cmake"
    COMPATIBILITY SameMinorVersion)
install(FILES
        "${PROJECT_BINARY_DIR}/keelConfig.cmake"
        "${PROJECT_BINARY_DIR}/keelConfigVersion.cmake"
        "${PROJECT_SOURCE_DIR}/cmake/keelDependencies.cmake"
        "${PROJECT_SOURCE_DIR}/cmake/FindLibUring.cmake"
    DESTINATION "${KEEL_INSTALL_CMAKEDIR}")
install(FILES LICENSE README.md DESTINATION "${CMAKE_INSTALL_DOCDIR}")
