# The device agent's storage: labels, SHA-256, the upload cache and session directories; and
# what the storage refuses or cleans up (owners, limits, quota, temp files, load paths).
ferry_add_test(agent_storage_test SOURCES agent_storage_test.cc LIBS ferry_agent_storage)
ferry_add_test(agent_storage_limits_test SOURCES agent_storage_limits_test.cc LIBS ferry_agent)
# Issue 9 regressions against a real ferry-agent: session ownership, unclaimed sessions, header
# checks, the worker watchdog, clean stops, CURVE keys, `ferry keygen` and `ferry run` with keys.
ferry_add_test(agent_security_test
  SOURCES agent_security_test.cc agent_security_curve_test.cc
  LIBS ferry_rpc ferry_compiler)
target_compile_definitions(agent_security_test PRIVATE
  FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>"
  FERRY_CLI_PATH="$<TARGET_FILE:ferry>")
add_dependencies(agent_security_test ferry-agent ferry)
# What an eavesdropper sees: a plaintext and a CURVE session captured with tcpdump on a veth
# link between network namespaces (skipped with the reason without root or tcpdump).
ferry_add_test(agent_wire_capture_test SOURCES agent_wire_capture_test.cc netns_test_util.cc
               LIBS ferry_rpc ferry_compiler)
target_compile_definitions(agent_wire_capture_test PRIVATE
  FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>")
add_dependencies(agent_wire_capture_test ferry-agent)
# Tensor bytes in calls against a real ferry-agent: an argument over the frame limit streams in
# chunks and arrives intact, with the worker holding it once; small ones travel inline.
ferry_add_test(agent_tensor_path_test SOURCES agent_tensor_path_test.cc LIBS ferry_rpc ferry_compiler)
target_compile_definitions(agent_tensor_path_test PRIVATE
  FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>")
add_dependencies(agent_tensor_path_test ferry-agent)
# Faults a real ferry-agent survives: killed during an upload, a full disk (tmpfs; root), a
# worker over its memory limit.
ferry_add_test(agent_fault_test SOURCES agent_fault_test.cc LIBS ferry_rpc ferry_compiler)
target_compile_definitions(agent_fault_test PRIVATE FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>")
add_dependencies(agent_fault_test ferry-agent)
# Faults on the client's link, over CURVE: cut mid-copy (veth down) and slowed to 1 Mbit/s
# (tc tbf) in network namespaces (skipped with the reason without root, `ip` or `tc`).
ferry_add_test(agent_link_fault_test SOURCES agent_link_fault_test.cc netns_test_util.cc
               LIBS ferry_rpc ferry_compiler)
target_compile_definitions(agent_link_fault_test PRIVATE
  FERRY_TRACKER_PATH="$<TARGET_FILE:ferry-tracker>"
  FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>")
add_dependencies(agent_link_fault_test ferry-tracker ferry-agent)
