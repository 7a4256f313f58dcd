# ONNX's backend test data (libonnx-testdata) through the importer and both executors.
ferry_add_test(onnx_conformance_test SOURCES onnx_conformance_test.cc LIBS ferry_onnx GTest::gmock)
