// What the oneDNN kernels (onednn_conv2d.cc, onednn_pool2d.cc) share: the per-node state of
// blocked_kernels.h, the CPU engine, and running a primitive with the kernels' conventions
// (user scratchpad from the calling thread's scratch memory, exceptions turned into errors).
// Internal to ferry_kernels.
#ifndef FERRY_RUNTIME_KERNELS_ONEDNN_NODE_STATE_H_
#define FERRY_RUNTIME_KERNELS_ONEDNN_NODE_STATE_H_

#include <dnnl.hpp>

#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "runtime/kernels/blocked_kernels.h"

namespace ferry::kernels {

// A primitive made for one set of shapes, with what running it needs besides the tensors.
struct OneDnnPrimitive {
  dnnl::primitive primitive;
  // The formats it was made for (weights and bias only for a convolution).
  dnnl::memory::desc src, weights, bias, dst;
  // Weights reordered from the packed format into the one the primitive prefers; empty when
  // the packed weights are used in place.
  dnnl::memory reordered_weights;
  size_t scratchpad_bytes = 0;
};

struct OneDnnNodeState {
  std::mutex mutex;
  std::vector<int64_t> shapes;  // what `made` was made for
  bool ready = false;
  OneDnnPrimitive made;
};

namespace internal {

// The process's CPU engine (created at the first use, never destroyed: model libraries may
// be unloaded after oneDNN's own statics are gone).
const dnnl::engine& CpuEngine();

// The primitive of `state` for `shapes`, made by `make` when the state holds none for them.
// The returned copy shares the primitive (oneDNN handles are reference counted), so a call
// runs it without holding the state's lock.
OneDnnPrimitive PrimitiveFor(OneDnnNodeState& state, const std::vector<int64_t>& shapes,
                             const std::function<OneDnnPrimitive()>& make);

// Runs `primitive` on `args` (scratchpad added) on a stream of the CPU engine and waits.
// Returns 0, or -1 with the error filled when scratch memory runs out.
int Execute(const char* kernel, const OneDnnPrimitive& primitive,
            std::unordered_map<int, dnnl::memory> args, FerryKernelError* error);

// Runs `body`; a oneDNN or allocation exception becomes "<kernel>: oneDNN: <what>" and -1.
int CatchOneDnn(const char* kernel, FerryKernelError* error, const std::function<int()>& body);

// The tensor's dims as oneDNN wants them.
dnnl::memory::dims Dims(const DLTensor& t);
dnnl::memory Memory(const dnnl::memory::desc& desc, const DLTensor& t);

}  // namespace internal
}  // namespace ferry::kernels

#endif  // FERRY_RUNTIME_KERNELS_ONEDNN_NODE_STATE_H_
