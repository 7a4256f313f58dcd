#include "runtime/kernels/onednn_node_state.h"

#include <new>

#include "runtime/kernels/kernel_util.h"

namespace ferry::kernels {

OneDnnNodeState* NewOneDnnNodeState() noexcept { return new (std::nothrow) OneDnnNodeState; }
void DeleteOneDnnNodeState(OneDnnNodeState* state) noexcept { delete state; }

namespace internal {

const dnnl::engine& CpuEngine() {
  static const dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

OneDnnPrimitive PrimitiveFor(OneDnnNodeState& state, const std::vector<int64_t>& shapes,
                             const std::function<OneDnnPrimitive()>& make) {
  std::lock_guard<std::mutex> lock(state.mutex);
  if (!state.ready || state.shapes != shapes) {
    state.ready = false;
    state.made = make();
    state.shapes = shapes;
    state.ready = true;
  }
  return state.made;
}

int Execute(const char* kernel, const OneDnnPrimitive& primitive,
            std::unordered_map<int, dnnl::memory> args, FerryKernelError* error) {
  if (primitive.scratchpad_bytes > 0) {
    const int64_t floats = static_cast<int64_t>(primitive.scratchpad_bytes / sizeof(float) + 1);
    float* scratch = ScratchFloats(floats);
    if (scratch == nullptr) {
      return Fail(error, kernel, "cannot allocate %zu bytes of scratch memory",
                  primitive.scratchpad_bytes);
    }
    const dnnl::memory::desc desc({static_cast<dnnl::memory::dim>(primitive.scratchpad_bytes)},
                                  dnnl::memory::data_type::u8, dnnl::memory::format_tag::x);
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(desc, CpuEngine(), scratch));
  }
  dnnl::stream stream(CpuEngine());
  primitive.primitive.execute(stream, args);
  stream.wait();
  return 0;
}

int CatchOneDnn(const char* kernel, FerryKernelError* error, const std::function<int()>& body) {
  try {
    return body();
  } catch (const dnnl::error& e) {
    return Fail(error, kernel, "oneDNN: %s (status %d)", e.what(), static_cast<int>(e.status));
  } catch (const std::bad_alloc&) {
    return Fail(error, kernel, "out of memory");
  } catch (const std::exception& e) {
    return Fail(error, kernel, "%s", e.what());
  }
}

dnnl::memory::dims Dims(const DLTensor& t) { return dnnl::memory::dims(t.shape, t.shape + t.ndim); }

dnnl::memory Memory(const dnnl::memory::desc& desc, const DLTensor& t) {
  return dnnl::memory(desc, CpuEngine(), DataAs<void>(t));
}

}  // namespace internal
}  // namespace ferry::kernels
