# Build modes, warnings and helpers shared by every folder.

# Release keeps NICEMU_ASSERT (it does not depend on NDEBUG) and adds debug info for profiling.
set(CMAKE_CXX_FLAGS_RELEASE "-O2 -g1" CACHE STRING "" FORCE)
set(CMAKE_CXX_FLAGS_DEBUG "-O0 -g" CACHE STRING "" FORCE)
set(CMAKE_CXX_FLAGS_SANITIZE "-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    CACHE STRING "Flags for the ASan + UBSan build" FORCE)
set(CMAKE_EXE_LINKER_FLAGS_SANITIZE "-fsanitize=address,undefined" CACHE STRING "" FORCE)
set(CMAKE_SHARED_LINKER_FLAGS_SANITIZE "-fsanitize=address,undefined" CACHE STRING "" FORCE)

# Warnings per STYLE.md. Linked PRIVATE by every nicemu target.
add_library(nicemu_warnings INTERFACE)
target_compile_options(nicemu_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow)
if(NICEMU_WERROR)
  target_compile_options(nicemu_warnings INTERFACE -Werror)
endif()
# The stricter set for byte-level layers (wire, netmem).
add_library(nicemu_warnings_strict INTERFACE)
target_link_libraries(nicemu_warnings_strict INTERFACE nicemu_warnings)
target_compile_options(nicemu_warnings_strict INTERFACE -Wconversion -Wsign-conversion)

# nicemu_library(<name> [STRICT] SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Defines nicemu_<name> with alias nicemu::<name>; public headers in include/.
function(nicemu_library name)
  cmake_parse_arguments(L "STRICT" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  if(L_SOURCES)
    add_library(nicemu_${name} STATIC ${L_SOURCES})
    target_include_directories(nicemu_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                               PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    target_link_libraries(nicemu_${name} PUBLIC ${L_PUBLIC_DEPS} PRIVATE ${L_PRIVATE_DEPS})
    if(L_STRICT)
      target_link_libraries(nicemu_${name} PRIVATE nicemu_warnings_strict)
    else()
      target_link_libraries(nicemu_${name} PRIVATE nicemu_warnings)
    endif()
  else()
    add_library(nicemu_${name} INTERFACE)
    target_include_directories(nicemu_${name} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(nicemu_${name} INTERFACE ${L_PUBLIC_DEPS})
  endif()
  add_library(nicemu::${name} ALIAS nicemu_${name})
endfunction()

# nicemu_catch_test(<name> LABELS <module> <level> SOURCES ... LIBS ...)
# One Catch2 executable; each TEST_CASE becomes a CTest test carrying the labels.
function(nicemu_catch_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} nicemu_test_support Catch2::Catch2WithMain nicemu_warnings)
  catch_discover_tests(${name})
  # Labels go on the directory: catch_discover_tests' PROPERTIES splits a label list into
  # separate arguments, so only the first label would stick. One test folder per module.
  set_property(DIRECTORY APPEND PROPERTY LABELS ${T_LABELS})
endfunction()
