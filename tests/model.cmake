# Model library formats, export/load/execute end to end, and the ferry CLI.
ferry_add_test(graph_test SOURCES graph_test.cc params_manifest_test.cc LIBS ferry_compiler)
ferry_add_test(model_library_test
  SOURCES
    model_library_test.cc
    model_executor_test.cc
    model_library_errors_test.cc
    model_reference.cc
  LIBS ferry_compiler ferry_kernels)
ferry_add_test(cli_test SOURCES cli_test.cc LIBS ferry_runtime)
target_compile_definitions(cli_test PRIVATE FERRY_CLI_PATH="$<TARGET_FILE:ferry>")
add_dependencies(cli_test ferry)
ferry_add_test(blocked_layouts_test SOURCES blocked_layouts_test.cc LIBS ferry_compiler)
# Packaged parameters used in place (params and manifest version 2, sharing, copy on write).
ferry_add_test(model_params_test
  SOURCES params_in_place_test.cc model_params_sharing_test.cc LIBS ferry_compiler)
