ferry_add_test(runtime_core_test SOURCES runtime_core_test.cc LIBS ferry_runtime)
ferry_add_test(binary_io_test SOURCES binary_io_test.cc LIBS ferry_runtime)
ferry_add_test(npy_test SOURCES npy_test.cc LIBS ferry_runtime)
ferry_add_test(dlpack_interop_test SOURCES dlpack_interop_test.cc LIBS ferry_runtime)
