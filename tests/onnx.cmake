# The ONNX frontend end to end: torchvision models exported by PyTorch
# (tests/onnx/export_torchvision.py under Debian's /usr/bin/python3; skipped with the reason
# without python3-torch / python3-torchvision), built with both executors and compared with
# PyTorch's outputs.
ferry_add_test(onnx_torchvision_test SOURCES onnx_torchvision_test.cc LIBS ferry_onnx)
target_compile_definitions(onnx_torchvision_test PRIVATE
  FERRY_EXPORT_TORCHVISION_SCRIPT="${CMAKE_CURRENT_SOURCE_DIR}/onnx/export_torchvision.py")
