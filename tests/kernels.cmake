ferry_add_test(kernels_test SOURCES kernels_test.cc LIBS ferry_kernels)
