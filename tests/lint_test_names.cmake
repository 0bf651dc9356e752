# CTest check: Catch2 test names must not contain ';' — catch_discover_tests splits such a name
# into several CTest tests that each match nothing and still pass, so the test never runs.
file(GLOB_RECURSE sources "${TESTS_DIR}/*.cpp")
set(bad "")
foreach(f IN LISTS sources)
  file(STRINGS "${f}" lines REGEX "TEST_CASE\\(\"[^\"]*;")
  if(lines)
    list(APPEND bad "${f}")
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "test names with ';' (rename them, they would never run): ${bad}")
endif()
message(STATUS "no test name contains ';'")
