# ferry_soak: the soak harness of issue 10 (bench/soak/soak_harness.h), shared by the soak
# program (bench/CMakeLists.txt, built with the benchmarks) and the one-minute soak test
# (tests/soak.cmake, built whether or not Google Benchmark is found). Included from both;
# defined once.
include_guard(GLOBAL)
set(FERRY_SOAK_DIR ${CMAKE_CURRENT_LIST_DIR})
add_library(ferry_soak STATIC
  ${FERRY_SOAK_DIR}/grant_ledger.cc
  ${FERRY_SOAK_DIR}/process_probe.cc
  ${FERRY_SOAK_DIR}/simulated_fleet.cc
  ${FERRY_SOAK_DIR}/soak_cluster.cc
  ${FERRY_SOAK_DIR}/soak_harness.cc
  ${FERRY_SOAK_DIR}/soak_workload.cc
)
target_include_directories(ferry_soak PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(ferry_soak PUBLIC ferry_rpc ferry_compiler Threads::Threads)
