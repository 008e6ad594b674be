# Helpers in the style of absl_cc_library: every target of the project is declared through
# them, so warnings, include roots and test labels are the same everywhere.

set(WEIR_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 reports false positives on coroutine frames and std::optional in -O2/-O3 builds,
  # and -Wrestrict ones on std::string concatenation at -O3 (GCC bug 105329).
  list(APPEND WEIR_WARNINGS -Wno-maybe-uninitialized -Wno-mismatched-new-delete -Wno-restrict)
endif()

# weir_library(NAME core SOURCES a.cpp ... DEPS weir::x ...)
#   -> target weir_core, alias weir::core; the repository root is the include root.
function(weir_library)
  cmake_parse_arguments(W "" "NAME" "SOURCES;DEPS" ${ARGN})
  set(target weir_${W_NAME})
  if(W_SOURCES)
    add_library(${target} STATIC ${W_SOURCES})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
    target_compile_options(${target} PRIVATE ${WEIR_WARNINGS})
    target_link_libraries(${target} PUBLIC ${W_DEPS})
  else()  # header-only
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} INTERFACE ${W_DEPS})
  endif()
  add_library(weir::${W_NAME} ALIAS ${target})
endfunction()

# weir_test(NAME core_task SOURCES task_test.cpp DEPS weir::core LABELS unit threads [SERIAL])
#   -> executable test_core_task, registered with ctest under its labels (unit when none).
#   SERIAL: runs alone (tests that assert a latency bound must not share the CPUs).
function(weir_test)
  if(NOT WEIR_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(W "SERIAL" "NAME;TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  set(target test_${W_NAME})
  add_executable(${target} ${W_SOURCES})
  target_compile_options(${target} PRIVATE ${WEIR_WARNINGS})
  target_link_libraries(${target} PRIVATE ${W_DEPS} GTest::gtest GTest::gtest_main)
  add_test(NAME ${W_NAME} COMMAND ${target})
  if(NOT W_LABELS)
    set(W_LABELS unit)
  endif()
  if(NOT W_TIMEOUT)
    set(W_TIMEOUT 300)
  endif()
  # No false positives (D7): outside the tests that ask for a policy, any lost wake-up aborts.
  set_tests_properties(${W_NAME} PROPERTIES LABELS "${W_LABELS}" TIMEOUT ${W_TIMEOUT}
                       ENVIRONMENT "WEIR_LOST_WAKEUP=abort")
  if(W_SERIAL)
    set_tests_properties(${W_NAME} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()

# weir_executable(NAME x SOURCES ... DEPS ...)
function(weir_executable)
  cmake_parse_arguments(W "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${W_NAME} ${W_SOURCES})
  target_compile_options(${W_NAME} PRIVATE ${WEIR_WARNINGS})
  target_link_libraries(${W_NAME} PRIVATE ${W_DEPS})
endfunction()
