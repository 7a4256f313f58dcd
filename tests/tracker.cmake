# The tracker links neither BLAS nor oneDNN (the kernels' libraries; runtime/CMakeLists.txt):
# its NEEDED entries, which tracker/CMakeLists.txt keeps equal to what it links.
add_test(NAME tracker_links_no_kernel_libraries
         COMMAND ${CMAKE_COMMAND} -DREADELF=${CMAKE_READELF}
                 -DBINARY=$<TARGET_FILE:ferry-tracker> "-DFORBIDDEN=blas|lapack|dnnl|mkl"
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/check_needed_libraries.cmake)
set_tests_properties(tracker_links_no_kernel_libraries
                     PROPERTIES LABELS tracker_links_no_kernel_libraries TIMEOUT 60)

# The tracker's scheduler, driven directly with a fake clock.
ferry_add_test(scheduler_test SOURCES scheduler_test.cc scheduler_lease_test.cc
               LIBS ferry_tracker_core)
# A real ferry-tracker and ferry-agents on ephemeral loopback ports, and the ferry CLI against
# them.
ferry_add_test(tracker_integration_test SOURCES tracker_integration_test.cc
               LIBS ferry_rpc ferry_compiler)
target_compile_definitions(tracker_integration_test PRIVATE
  FERRY_TRACKER_PATH="$<TARGET_FILE:ferry-tracker>"
  FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>"
  FERRY_CLI_PATH="$<TARGET_FILE:ferry>")
add_dependencies(tracker_integration_test ferry-tracker ferry-agent ferry)
# Tracker, agents and client in separate network namespaces joined by veth pairs (iproute2;
# skipped with the reason without root / CAP_NET_ADMIN).
ferry_add_test(multihost_test SOURCES multihost_test.cc netns_test_util.cc
               LIBS ferry_rpc ferry_compiler)
target_compile_definitions(multihost_test PRIVATE
  FERRY_TRACKER_PATH="$<TARGET_FILE:ferry-tracker>"
  FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>"
  FERRY_CLI_PATH="$<TARGET_FILE:ferry>")
add_dependencies(multihost_test ferry-tracker ferry-agent ferry)
# The tracker against an attacker: forged and replayed heartbeats, foreign releases, versions,
# deadlines, CURVE roles (a TrackerServer on a thread, raw DEALER sockets).
ferry_add_test(tracker_security_test SOURCES tracker_security_test.cc LIBS ferry_tracker)
# A tracker and an agent under CURVE in this process: refusals through the tracker, tickets
# bound to their client's key.
ferry_add_test(tracker_curve_cluster_test SOURCES tracker_curve_cluster_test.cc
               LIBS ferry_agent ferry_tracker ferry_rpc ferry_compiler)
target_compile_definitions(tracker_curve_cluster_test PRIVATE
  FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>")
add_dependencies(tracker_curve_cluster_test ferry-agent)
# Faults around a real tracker: killed and restarted with 50 clients queued.
ferry_add_test(tracker_fault_test SOURCES tracker_fault_test.cc LIBS ferry_rpc ferry_compiler)
target_compile_definitions(tracker_fault_test PRIVATE
  FERRY_TRACKER_PATH="$<TARGET_FILE:ferry-tracker>"
  FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>"
  FERRY_CLI_PATH="$<TARGET_FILE:ferry>")
add_dependencies(tracker_fault_test ferry-tracker ferry-agent ferry)
# The daemons' malloc settings (util/malloc_tuning.h): freed per-connection buffers give
# their memory back (the soak's RSS growth).
ferry_add_test(malloc_tuning_test SOURCES malloc_tuning_test.cc LIBS ferry_util)
