# ONNX's backend test data (libonnx-testdata) through the importer and both executors.
ferry_add_test(onnx_conformance_test SOURCES onnx_conformance_test.cc LIBS ferry_onnx GTest::gmock)
# ferry build / run / onnx-test on ONNX files, as real processes.
ferry_add_test(cli_onnx_test SOURCES cli_onnx_test.cc LIBS ferry_onnx)
target_compile_definitions(cli_onnx_test PRIVATE FERRY_CLI_PATH="$<TARGET_FILE:ferry>")
add_dependencies(cli_onnx_test ferry)
