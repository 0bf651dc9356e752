# CTest check: Catch2 test names must not contain ';' — catch_discover_tests splits such a name
# into several CTest tests that each match nothing and still pass, so the test never runs.
# A name may be written as up to four adjacent string literals over several lines.
file(GLOB_RECURSE sources "${TESTS_DIR}/*.cpp")
set(bad "")
set(piece "\"[^\"]*\"[ \t\r\n]*")
foreach(f IN LISTS sources)
  file(READ "${f}" content)
  if(content MATCHES "TEST_CASE\\(\"[^\"]*;" OR content MATCHES "TEST_CASE\\(${piece}\"[^\"]*;" OR
     content MATCHES "TEST_CASE\\(${piece}${piece}\"[^\"]*;" OR
     content MATCHES "TEST_CASE\\(${piece}${piece}${piece}\"[^\"]*;")
    list(APPEND bad "${f}")
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "test names with ';' (rename them, they would never run): ${bad}")
endif()
message(STATUS "no test name contains ';'")
