# The one-minute soak (issue 10, item 5): a real ferry-tracker with simulated agents and real
# ferry-agents, clients doing sessions through it; zero lost requests and duplicate grants.
# The harness is bench/soak (ferry_soak); bench/soak_main.cc runs the ten-minute version.
include(${PROJECT_SOURCE_DIR}/bench/soak/soak_library.cmake)
ferry_add_test(soak_test SOURCES soak_test.cc LIBS ferry_soak)
target_compile_definitions(soak_test PRIVATE
  FERRY_TRACKER_PATH="$<TARGET_FILE:ferry-tracker>"
  FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>")
add_dependencies(soak_test ferry-tracker ferry-agent)
