# Runs PROGRAM and passes only if it dies by abort (an always-on invariant check firing) and its
# stderr contains EXPECT. A plain non-zero exit does not count: that would also pass for a
# program that fails for an unrelated reason, and CTest's WILL_FAIL cannot check the message.
# Usage: cmake -DPROGRAM=<executable> -DEXPECT=<text> -P expect_abort.cmake
if(NOT DEFINED PROGRAM OR NOT DEFINED EXPECT)
  message(FATAL_ERROR "expect_abort.cmake: pass -DPROGRAM=<executable> -DEXPECT=<text>")
endif()

execute_process(COMMAND "${PROGRAM}"
                RESULT_VARIABLE result
                OUTPUT_VARIABLE out
                ERROR_VARIABLE err)

# execute_process reports death by a signal as text ("Subprocess aborted"); a shell would give 134.
if(NOT (result MATCHES "[Aa]bort" OR result STREQUAL "134"))
  message(FATAL_ERROR "expected ${PROGRAM} to abort, but it ended with '${result}'\n"
                      "stdout:\n${out}\nstderr:\n${err}")
endif()
string(FIND "${err}" "${EXPECT}" pos)
if(pos EQUAL -1)
  message(FATAL_ERROR "${PROGRAM} aborted, but stderr does not contain '${EXPECT}'\n"
                      "stderr:\n${err}")
endif()
message(STATUS "${PROGRAM} aborted as expected:\n${err}")
