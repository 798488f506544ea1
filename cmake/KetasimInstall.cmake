# Installation and the exported CMake package, following Ceres Solver: headers under
# <prefix>/include/ketasim, the library, <prefix>/lib/cmake/ketasim/{ketasimConfig.cmake,
# ketasimConfigVersion.cmake, ketasimTargets.cmake}, and the model library under
# <prefix>/share/ketasim/models (found by an installed program at run time, relative to itself).
include(CMakePackageConfigHelpers)

set(KETASIM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/ketasim"
    CACHE STRING "Where ketasimConfig.cmake is installed, relative to the prefix")

install(TARGETS ketasim EXPORT ketasimTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/ketasim DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp")
install(DIRECTORY models/ DESTINATION ${CMAKE_INSTALL_DATADIR}/ketasim/models)

install(EXPORT ketasimTargets NAMESPACE ketasim:: FILE ketasimTargets.cmake
  DESTINATION ${KETASIM_INSTALL_CMAKEDIR})
configure_package_config_file(cmake/ketasimConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/ketasimConfig.cmake"
  INSTALL_DESTINATION ${KETASIM_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_DATADIR)
# 0.x releases make no compatibility promise between minor versions.
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/ketasimConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/ketasimConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/ketasimConfigVersion.cmake"
  DESTINATION ${KETASIM_INSTALL_CMAKEDIR})
