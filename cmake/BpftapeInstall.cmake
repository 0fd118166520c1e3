# What `cmake --install build --prefix P` puts in P, and the CMake package that lets another
# project `find_package(bpftape CONFIG REQUIRED)` (docs/harness.md):
#
#   bpftape::core       events, intern table, EventProcessor, pipeline, aggregators, tape
#                       reader/writer, report, OTLP conversion (an INTERFACE target over the
#                       component libraries below)
#   bpftape::replay     replayer: a tape as an EventSource
#   bpftape::simulator  seeded simulation as an EventSource, ground truth
#   bpftape::testing    GoogleTest/RapidCheck helpers (testing/), when tests are built
#
# Headers keep the spelling the code uses ("core/event.h"): they are installed under
# include/bpftape/ and that directory is the interface include directory. Libraries are static.
# The BPF parts (bpf/, recorder/) and the CLI are not installed: the harness replays and
# simulates without root.

include(CMakePackageConfigHelpers)

set(BPFTAPE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/bpftape)
set(BPFTAPE_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/bpftape)
set(BPFTAPE_INSTALL_TRACESDIR ${CMAKE_INSTALL_DATADIR}/bpftape/traces)

# One name per public target, in-tree as after find_package: tests and tools can use either.
add_library(bpftape_core_all INTERFACE)
target_link_libraries(bpftape_core_all INTERFACE
  bpftape_core bpftape_tape bpftape_report bpftape_otlp)
set_target_properties(bpftape_core_all PROPERTIES EXPORT_NAME core)
add_library(bpftape::core ALIAS bpftape_core_all)
set_target_properties(bpftape_replayer PROPERTIES EXPORT_NAME replay)
add_library(bpftape::replay ALIAS bpftape_replayer)
set_target_properties(bpftape_simulator PROPERTIES EXPORT_NAME simulator)
add_library(bpftape::simulator ALIAS bpftape_simulator)

# The component libraries behind bpftape::core keep their own names (bpftape::bpftape_tape,
# ...): the public targets link them, users need not name them.
set(BPFTAPE_INSTALLED_TARGETS
  bpftape_core_all bpftape_core bpftape_tape bpftape_report bpftape_otlp bpftape_otlp_proto
  bpftape_replayer bpftape_simulator)
if(TARGET bpftape_testing)
  list(APPEND BPFTAPE_INSTALLED_TARGETS bpftape_testing)
endif()
install(TARGETS ${BPFTAPE_INSTALLED_TARGETS}
  EXPORT bpftapeTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

# Every header of the installed folders (new headers are picked up without a list to keep);
# generated headers are installed by core/tape and core/otlp, where they are generated.
install(DIRECTORY core/ DESTINATION ${BPFTAPE_INSTALL_INCLUDEDIR}/core
  FILES_MATCHING PATTERN "*.h" PATTERN "proto" EXCLUDE)
foreach(folder replayer simulator)
  install(DIRECTORY ${folder}/ DESTINATION ${BPFTAPE_INSTALL_INCLUDEDIR}/${folder}
    FILES_MATCHING PATTERN "*.h")
endforeach()
if(TARGET bpftape_testing)
  install(DIRECTORY testing/ DESTINATION ${BPFTAPE_INSTALL_INCLUDEDIR}/testing
    FILES_MATCHING PATTERN "*.h")
endif()

# The real recordings in traces/ (with their README): tapes another project can replay in its
# tests; the package sets bpftape_TRACES_DIR to where they are.
install(FILES traces/README.md DESTINATION ${BPFTAPE_INSTALL_TRACESDIR})
install(DIRECTORY traces/ DESTINATION ${BPFTAPE_INSTALL_TRACESDIR} FILES_MATCHING PATTERN "*.bpftape")

install(EXPORT bpftapeTargets NAMESPACE bpftape:: DESTINATION ${BPFTAPE_INSTALL_CMAKEDIR})
configure_package_config_file(cmake/bpftapeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/bpftapeConfig.cmake
  INSTALL_DESTINATION ${BPFTAPE_INSTALL_CMAKEDIR}
  PATH_VARS BPFTAPE_INSTALL_TRACESDIR)
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/bpftapeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/bpftapeConfig.cmake
  ${PROJECT_BINARY_DIR}/bpftapeConfigVersion.cmake
  DESTINATION ${BPFTAPE_INSTALL_CMAKEDIR})
