ferry_add_test(kernels_test
  SOURCES kernels_numeric_test.cc kernels_elementwise_test.cc kernels_error_test.cc
          kernels_onnx_ops_test.cc kernels_onnx_layout_test.cc
  LIBS ferry_kernels)
ferry_add_test(blocked_kernels_test SOURCES blocked_kernels_test.cc
  LIBS ferry_runtime ferry_kernels)
