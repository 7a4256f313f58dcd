# Issue 16, threads: the process-wide kernel thread count (runtime/kernel_threads.h), the
# kernels that split their work over it (bit-identical for any count), and --threads /
# FERRY_NUM_THREADS through `ferry` and `ferry-agent` as processes.
ferry_add_test(kernel_threads_test SOURCES kernel_threads_test.cc LIBS ferry_runtime)
ferry_add_test(kernels_parallel_test SOURCES kernels_parallel_test.cc LIBS ferry_kernels)
ferry_add_test(cli_threads_test SOURCES cli_threads_test.cc LIBS ferry_rpc)
target_compile_definitions(cli_threads_test PRIVATE
  FERRY_CLI_PATH="$<TARGET_FILE:ferry>"
  FERRY_AGENT_PATH="$<TARGET_FILE:ferry-agent>")
add_dependencies(cli_threads_test ferry ferry-agent)
