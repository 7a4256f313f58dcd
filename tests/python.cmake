# The Python package's tests (tests/python/, pytest), registered only when the `_ferry`
# extension is built (python/CMakeLists.txt skips it without pybind11 or the Python headers).
# They import `ferry` from ${CMAKE_BINARY_DIR}/python and run the ferry, ferry-agent and
# ferry-tracker binaries of ${CMAKE_BINARY_DIR}/bin (FERRY_BIN): models are built with
# `ferry build`, agents and trackers listen on ephemeral loopback ports. pytest prints its
# summary (-rs: the reason of every skipped test); every wait in the tests is bounded.
if(TARGET _ferry)
  # `cmake --build build --target python_test_deps` builds everything the tests run.
  add_custom_target(python_test_deps ALL)
  add_dependencies(python_test_deps _ferry ferry ferry-agent ferry-tracker)
  # The interpreter the extension is built for (python/CMakeLists.txt: Debian's python3).
  set(ferry_test_python /usr/bin/python3)
  if(NOT EXISTS ${ferry_test_python} AND DEFINED CACHE{Python3_EXECUTABLE})
    set(ferry_test_python ${Python3_EXECUTABLE})
  endif()
  add_test(NAME python_pytest
    COMMAND ${ferry_test_python} -m pytest -q -rs -p no:cacheprovider
            ${PROJECT_SOURCE_DIR}/tests/python)
  set_tests_properties(python_pytest PROPERTIES
    ENVIRONMENT "PYTHONPATH=${CMAKE_BINARY_DIR}/python;FERRY_BIN=${CMAKE_BINARY_DIR}/bin;PYTHONDONTWRITEBYTECODE=1"
    TIMEOUT 900)
else()
  message(STATUS "Ferry: no _ferry target; the Python tests (tests/python) are not registered")
endif()
