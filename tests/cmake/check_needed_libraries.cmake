# Fails when the ELF binary BINARY names a shared library matching the regular expression
# FORBIDDEN among its NEEDED entries (readelf -d). Run as a ctest test:
#   cmake -DREADELF=... -DBINARY=... -DFORBIDDEN=... -P check_needed_libraries.cmake
foreach(var READELF BINARY FORBIDDEN)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_needed_libraries.cmake needs -D${var}=...")
  endif()
endforeach()

execute_process(COMMAND ${READELF} -d ${BINARY}
                OUTPUT_VARIABLE dynamic ERROR_VARIABLE error RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${READELF} -d ${BINARY} failed (${result}): ${error}")
endif()

string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]*\\]" entries "${dynamic}")
if(NOT entries)
  message(FATAL_ERROR "${BINARY} has no NEEDED entries; is it a dynamically linked ELF binary?")
endif()
set(needed "")
set(forbidden "")
foreach(entry IN LISTS entries)
  string(REGEX REPLACE ".*\\[([^]]*)\\]" "\\1" library "${entry}")
  list(APPEND needed "${library}")
  if(library MATCHES "${FORBIDDEN}")
    list(APPEND forbidden "${library}")
  endif()
endforeach()
string(REPLACE ";" " " needed_text "${needed}")
if(forbidden)
  string(REPLACE ";" " " forbidden_text "${forbidden}")
  message(FATAL_ERROR "${BINARY} links ${forbidden_text} (matching '${FORBIDDEN}'); "
                      "it needs: ${needed_text}")
endif()
message(STATUS "${BINARY} needs: ${needed_text}")
