# The ONNX importer (compiler/onnx) on models built in C++, and the graph passes.
ferry_add_test(onnx_import_test
  SOURCES
    onnx_import_test.cc
    onnx_import_e2e_test.cc
    onnx_test_models.cc
  LIBS ferry_onnx GTest::gmock)
ferry_add_test(passes_test SOURCES passes_test.cc LIBS ferry_compiler GTest::gmock)
ferry_add_test(layer_norm_fusion_test SOURCES layer_norm_fusion_test.cc LIBS ferry_compiler)
