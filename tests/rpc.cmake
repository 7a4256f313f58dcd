# Remote sessions: the wire format, the session layers over an in-memory channel, and a real
# ferry-agent on an ephemeral loopback port.
ferry_add_test(rpc_message_test SOURCES rpc_message_test.cc LIBS ferry_rpc)
ferry_add_test(rpc_session_test SOURCES rpc_session_test.cc rpc_call_sequence_test.cc LIBS ferry_agent ferry_compiler)
ferry_add_test(agent_integration_test
  SOURCES agent_integration_test.cc
  LIBS ferry_rpc ferry_compiler)
target_compile_definitions(agent_integration_test
  PRIVATE FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>")
add_dependencies(agent_integration_test ferry-agent)
# The bulk path of CURVE sessions: AES-256-GCM frame sealing (known answers, tampering, replay)
# and the sealed channel.
ferry_add_test(rpc_frame_sealer_test SOURCES rpc_frame_sealer_test.cc LIBS ferry_rpc)
# The bulk path against a real ferry-agent with CURVE keys: 64 MiB copies and uploads intact,
# strangers and replays on the bulk socket get nothing.
ferry_add_test(rpc_bulk_path_test SOURCES rpc_bulk_path_test.cc LIBS ferry_rpc ferry_compiler)
target_compile_definitions(rpc_bulk_path_test PRIVATE FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>")
add_dependencies(rpc_bulk_path_test ferry-agent)
# How tensor bytes travel in a session: inline results, large arguments streamed in chunks,
# small ones used from their frame, zero-copy sends that wait for the transport to let go.
ferry_add_test(rpc_tensor_path_test SOURCES rpc_tensor_path_test.cc LIBS ferry_rpc)
# The retry policy of idempotent client steps.
ferry_add_test(rpc_retry_test SOURCES rpc_retry_test.cc LIBS ferry_rpc)
# CURVE key files and key arguments.
ferry_add_test(rpc_curve_keys_test SOURCES rpc_curve_keys_test.cc LIBS ferry_rpc ferry_compiler)
