# logship_add_component(<target> <dir> [EXCLUDE <file>...] [DEPS <lib>...])
# A static library of every .cc under <dir>, tests and fuzz targets excluded.
function(logship_add_component target dir)
  cmake_parse_arguments(ARG "" "" "EXCLUDE;DEPS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${dir}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "_(test|fuzz)\\.cc$")
  foreach(ex ${ARG_EXCLUDE})
    list(REMOVE_ITEM srcs ${CMAKE_SOURCE_DIR}/${dir}/${ex})
  endforeach()
  if(NOT srcs)
    set(srcs ${CMAKE_SOURCE_DIR}/cmake/empty.cc)
  endif()
  add_library(${target} STATIC ${srcs})
  target_include_directories(${target} PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS})
endfunction()

# logship_add_test(<name> <source>): one GoogleTest executable registered with CTest.
# Tests find the built binary through LOGSHIP_BIN and the source tree through LOGSHIP_SRC.
function(logship_add_test name src)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE logship_testsupport GTest::gtest GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "LOGSHIP_BIN=$<TARGET_FILE:logship>;LOGSHIP_SRC=${CMAKE_SOURCE_DIR}"
    TIMEOUT 600)
  add_dependencies(${name} logship)
endfunction()

# Registers every *_test.cc under <dir> as its own test, named after the file.
function(logship_add_tests dir)
  file(GLOB_RECURSE tests CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${dir}/*_test.cc)
  foreach(t ${tests})
    get_filename_component(name ${t} NAME_WE)
    logship_add_test(${name} ${t})
  endforeach()
endfunction()

# Every *_fuzz.cc under <dir> is a libFuzzer target (LLVMFuzzerTestOneInput) with its
# seed corpus in fuzz_corpus/ beside it. Always: <name>_replay runs the corpus as a CTest
# test. With LOGSHIP_FUZZ (clang): <name> is the real fuzzer (`./<name> <corpus dir>`).
function(logship_add_fuzz_targets dir)
  file(GLOB_RECURSE fuzzers CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${dir}/*_fuzz.cc)
  foreach(f ${fuzzers})
    get_filename_component(name ${f} NAME_WE)
    get_filename_component(fdir ${f} DIRECTORY)
    add_executable(${name}_replay ${f} ${CMAKE_SOURCE_DIR}/cmake/fuzz_replay_main.cc)
    target_link_libraries(${name}_replay PRIVATE logship_cli)
    add_test(NAME ${name}_corpus COMMAND ${name}_replay ${fdir}/fuzz_corpus)
    if(LOGSHIP_FUZZ)
      add_executable(${name} ${f})
      target_link_options(${name} PRIVATE -fsanitize=fuzzer)
      target_link_libraries(${name} PRIVATE logship_cli)
    endif()
  endforeach()
endfunction()
