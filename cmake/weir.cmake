# Helpers in the style of absl_cc_library: every target of the project is declared through
# them, so warnings, include roots and test labels are the same everywhere.

set(WEIR_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 reports false positives on coroutine frames and std::optional in -O2/-O3 builds,
  # and -Wrestrict ones on std::string concatenation at -O3 (GCC bug 105329).
  list(APPEND WEIR_WARNINGS -Wno-maybe-uninitialized -Wno-mismatched-new-delete -Wno-restrict)
endif()
# C sources (a C library an example wraps) take the language-neutral ones.
set(WEIR_C_WARNINGS -Wall -Wextra -Werror)
set(WEIR_ALL_WARNINGS $<$<COMPILE_LANGUAGE:CXX>:${WEIR_WARNINGS}>
                      $<$<COMPILE_LANGUAGE:C>:${WEIR_C_WARNINGS}>)

# weir_library(NAME core SOURCES a.cpp ... DEPS weir::x ... [PRIVATE_DEPS ...] [INCLUDES dir])
#   -> target weir_${NAME}, alias weir::${NAME}; the repository root is the include root (and
#   INCLUDES, for a service's own headers included by file name).
function(weir_library)
  cmake_parse_arguments(W "" "NAME" "SOURCES;DEPS;PRIVATE_DEPS;INCLUDES" ${ARGN})
  set(target weir_${W_NAME})
  if(W_SOURCES)
    add_library(${target} STATIC ${W_SOURCES})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR} ${W_INCLUDES})
    target_compile_options(${target} PRIVATE ${WEIR_ALL_WARNINGS})
    target_link_libraries(${target} PUBLIC ${W_DEPS} PRIVATE ${W_PRIVATE_DEPS})
  else()  # header-only
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR} ${W_INCLUDES})
    target_link_libraries(${target} INTERFACE ${W_DEPS})
  endif()
  add_library(weir::${W_NAME} ALIAS ${target})
endfunction()

# weir_add_test(NAME x COMMAND target [args...] [LABELS ...] [TIMEOUT s] [ENV K=V ...] [SERIAL])
#   registers an existing executable with ctest (labels `unit` when none, 300 s). Every test
#   runs with WEIR_LOST_WAKEUP=abort (no false positives, docs/architecture.md D7) unless ENV
#   sets it.
function(weir_add_test)
  if(NOT WEIR_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(W "SERIAL" "NAME;TIMEOUT" "COMMAND;LABELS;ENV" ${ARGN})
  add_test(NAME ${W_NAME} COMMAND ${W_COMMAND})
  if(NOT W_LABELS)
    set(W_LABELS unit)
  endif()
  if(NOT W_TIMEOUT)
    set(W_TIMEOUT 300)
  endif()
  set(env ${W_ENV})
  if(NOT "${W_ENV}" MATCHES "WEIR_LOST_WAKEUP=")
    list(APPEND env "WEIR_LOST_WAKEUP=abort")
  endif()
  set_tests_properties(${W_NAME} PROPERTIES LABELS "${W_LABELS}" TIMEOUT ${W_TIMEOUT}
                       ENVIRONMENT "${env}")
  if(W_SERIAL)  # tests that assert a latency bound, or load the machine, must run alone
    set_tests_properties(${W_NAME} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()

# weir_test(NAME core_task SOURCES task_test.cpp DEPS weir::core LABELS unit threads [SERIAL])
#   -> executable test_${NAME}, registered with ctest as ${NAME} (see weir_add_test).
function(weir_test)
  if(NOT WEIR_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(W "SERIAL" "NAME;TIMEOUT" "SOURCES;DEPS;LABELS;ENV" ${ARGN})
  set(target test_${W_NAME})
  add_executable(${target} ${W_SOURCES})
  target_compile_options(${target} PRIVATE ${WEIR_ALL_WARNINGS})
  target_link_libraries(${target} PRIVATE ${W_DEPS} GTest::gtest GTest::gtest_main)
  set(serial)
  if(W_SERIAL)
    set(serial SERIAL)
  endif()
  weir_add_test(NAME ${W_NAME} COMMAND ${target} LABELS ${W_LABELS} TIMEOUT ${W_TIMEOUT}
                ENV ${W_ENV} ${serial})
endfunction()

# weir_executable(NAME x SOURCES ... DEPS ... [OUTPUT_NAME name])
function(weir_executable)
  cmake_parse_arguments(W "" "NAME;OUTPUT_NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${W_NAME} ${W_SOURCES})
  target_compile_options(${W_NAME} PRIVATE ${WEIR_ALL_WARNINGS})
  target_link_libraries(${W_NAME} PRIVATE ${W_DEPS})
  if(W_OUTPUT_NAME)
    set_target_properties(${W_NAME} PROPERTIES OUTPUT_NAME ${W_OUTPUT_NAME})
  endif()
endfunction()

# weir_fuzzer(NAME x SOURCES ... DEPS ... CORPUS dir) -> a libFuzzer executable (clang only),
# also a ctest test (labels unit, fuzz) that fuzzes for WEIR_FUZZ_SECONDS from the committed
# seed corpus fuzz/corpus/<dir> (new inputs go to the build tree, not the source tree).
function(weir_fuzzer)
  cmake_parse_arguments(W "" "NAME;CORPUS" "SOURCES;DEPS" ${ARGN})
  add_executable(${W_NAME} ${W_SOURCES})
  target_compile_options(${W_NAME} PRIVATE ${WEIR_WARNINGS} -fsanitize=fuzzer)
  target_link_libraries(${W_NAME} PRIVATE ${W_DEPS})
  target_link_options(${W_NAME} PRIVATE -fsanitize=fuzzer)
  # The code under test gets the fuzzer's coverage instrumentation too (else libFuzzer sees only
  # the harness and cannot find its way into the parser). Only in sanitizer builds, whose
  # runtime serves the hooks to the other binaries linking those libraries.
  foreach(dep IN LISTS W_DEPS)
    if(WEIR_SANITIZE AND TARGET ${dep})
      get_target_property(real ${dep} ALIASED_TARGET)
      if(NOT real)
        set(real ${dep})
      endif()
      target_compile_options(${real} PRIVATE -fsanitize=fuzzer-no-link)
    endif()
  endforeach()
  set(work ${CMAKE_CURRENT_BINARY_DIR}/${W_NAME}_corpus)
  file(MAKE_DIRECTORY ${work})
  weir_add_test(NAME ${W_NAME}
                COMMAND ${W_NAME} -max_total_time=${WEIR_FUZZ_SECONDS} -print_final_stats=1
                        ${work} ${CMAKE_CURRENT_SOURCE_DIR}/corpus/${W_CORPUS}
                LABELS unit fuzz TIMEOUT 300)
endfunction()

# weir_embed(OUTPUT var NAMESPACE ns DIR dir FILES a.html b.js ...): generates a .cpp that holds
# the files' bytes (regenerated when one changes) and sets `var` to its path, for a target's
# SOURCES. The .cpp defines `ns::embedded_files` (name, bytes) and `ns::embedded_file_count`
# (declared by weir/core/embedded.hpp).
function(weir_embed)
  cmake_parse_arguments(W "" "OUTPUT;NAMESPACE;DIR" "FILES" ${ARGN})
  set(out "${CMAKE_CURRENT_BINARY_DIR}/embedded_${W_OUTPUT}.cpp")
  set(deps "")
  foreach(f IN LISTS W_FILES)
    list(APPEND deps "${W_DIR}/${f}")
  endforeach()
  string(REPLACE ";" "," files "${W_FILES}")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} "-DOUT=${out}" "-DDIR=${W_DIR}" "-DFILES=${files}"
            "-DNAMESPACE=${W_NAMESPACE}" -P "${PROJECT_SOURCE_DIR}/cmake/embed.cmake"
    DEPENDS ${deps} "${PROJECT_SOURCE_DIR}/cmake/embed.cmake"
    COMMENT "Embedding ${W_FILES}")
  set(${W_OUTPUT} "${out}" PARENT_SCOPE)
endfunction()
