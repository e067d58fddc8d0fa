# Warnings every Vigie target builds with (a subset of Abseil's copts).
add_library(vigie_warnings INTERFACE)
add_library(vigie::warnings ALIAS vigie_warnings)
target_compile_options(vigie_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wnon-virtual-dtor
  -Wmissing-declarations -Wvla)
if(VIGIE_WERROR)
  target_compile_options(vigie_warnings INTERFACE -Werror)
endif()

if(VIGIE_SANITIZE)
  add_compile_options(-fsanitize=${VIGIE_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${VIGIE_SANITIZE})
endif()

# vigie_test(NAME src... DEPS dep...): a GoogleTest binary registered with
# CTest, one test per TEST() so failures are reported individually.
function(vigie_test name)
  cmake_parse_arguments(ARG "" "" "DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} vigie::testutil
                        GTest::gtest GTest::gmock GTest::gtest_main
                        vigie::warnings)
  target_compile_definitions(${name} PRIVATE
    VIGIE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    VIGIE_BINARY_DIR="${PROJECT_BINARY_DIR}")
  # GoogleTest, GoogleMock and Abseil's status headers are parsed by every
  # test file: precompiling them once per test binary saves about a third of
  # each test file's compile time, which is most of CI's time.
  target_precompile_headers(${name} PRIVATE
    <gmock/gmock.h> <gtest/gtest.h> <absl/status/status.h>
    <absl/status/statusor.h> <absl/strings/str_cat.h> <string> <vector>)
  include(GoogleTest)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${ARG_LABELS}")
endfunction()
