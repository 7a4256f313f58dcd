#include "compiler/op_registry.h"

#include "compiler/lowerings.h"
#include "runtime/build_config.h"
#include "runtime/kernels/kernels.h"

namespace ferry::compiler {
namespace {

using namespace lowering;  // NOLINT: the table below names every lowering.
using LowerFn = std::function<StatusOr<OpLowering>(Inputs, const Attrs&)>;

struct OpEntry {
  const char* name;
  LowerFn lower;
};

LowerFn Unary(const char* op) {
  return [op](Inputs in, const Attrs& a) { return LowerUnary(op, in, a); };
}
LowerFn Binary(const char* op) {
  return [op](Inputs in, const Attrs& a) { return LowerBinary(op, in, a); };
}

const std::vector<OpEntry>& OpTable() {
  static const std::vector<OpEntry> kTable = {
      {"abs", Unary("abs")},
      {"add", Binary("add")},
      {"avg_pool2d", [](Inputs in, const Attrs& a) { return LowerPool(in, a, false); }},
      {"avg_pool3d", [](Inputs in, const Attrs& a) { return LowerPool3d(in, a, false); }},
      {"batch_norm", LowerBatchNorm},
      {"from_channel_blocks",
       [](Inputs in, const Attrs& a) { return LowerChannelBlocks(in, a, false); }},
      {"to_channel_blocks",
       [](Inputs in, const Attrs& a) { return LowerChannelBlocks(in, a, true); }},
#if FERRY_HAVE_DNNL
      {"blocked_conv2d", LowerBlockedConv2d},
      {"blocked_pool2d", LowerBlockedPool2d},
#endif
      {"bias_add", LowerBiasAdd},
      {"cast", LowerCast},
      {"clip", LowerClip},
      {"concat", LowerConcat},
      {"conv2d", LowerConv2d},
      {"conv2d_transpose", LowerConv2dTranspose},
      {"conv3d", LowerConv3d},
      {"copy", LowerCopy},
      {"dense", LowerDense},
      {"div", Binary("div")},
      {"erf", Unary("erf")},
      {"exp", Unary("exp")},
      {"flatten", LowerFlatten},
      {"gather", LowerGather},
      {"global_avg_pool2d", [](Inputs in, const Attrs& a) { return LowerGlobalPool(in, a, false); }},
      {"global_max_pool2d", [](Inputs in, const Attrs& a) { return LowerGlobalPool(in, a, true); }},
      {"hard_sigmoid", Unary("hard_sigmoid")},
      {"hard_swish", Unary("hard_swish")},
      {"layer_norm", LowerLayerNorm},
      {"leaky_relu", Unary("leaky_relu")},
      {"log", Unary("log")},
      {"log_softmax", [](Inputs in, const Attrs& a) { return LowerSoftmax(in, a, true); }},
      {"matmul", LowerMatmul},
      {"max_pool2d", [](Inputs in, const Attrs& a) { return LowerPool(in, a, true); }},
      {"max_pool3d", [](Inputs in, const Attrs& a) { return LowerPool3d(in, a, true); }},
      {"mul", Binary("mul")},
      {"neg", Unary("neg")},
      {"pad", LowerPad},
      {"pow", Binary("pow")},
      {"reciprocal", Unary("reciprocal")},
      {"reduce_mean", [](Inputs in, const Attrs& a) { return LowerReduce(in, a, true); }},
      {"reduce_sum", [](Inputs in, const Attrs& a) { return LowerReduce(in, a, false); }},
      {"relu", Unary("relu")},
      {"reshape", LowerReshape},
      {"resize_cubic",
       [](Inputs in, const Attrs& a) { return LowerResize(in, a, ResizeKind::kCubic); }},
      {"resize_linear",
       [](Inputs in, const Attrs& a) { return LowerResize(in, a, ResizeKind::kLinear); }},
      {"resize_nearest",
       [](Inputs in, const Attrs& a) { return LowerResize(in, a, ResizeKind::kNearest); }},
      {"sigmoid", Unary("sigmoid")},
      {"slice", LowerSlice},
      {"softmax", [](Inputs in, const Attrs& a) { return LowerSoftmax(in, a, false); }},
      {"sqrt", Unary("sqrt")},
      {"sub", Binary("sub")},
      {"tanh", Unary("tanh")},
      {"transpose", LowerTranspose},
  };
  return kTable;
}

}  // namespace

StatusOr<OpLowering> LowerOp(const std::string& op, std::span<const TensorInfo> inputs,
                             const Attrs& attrs) {
  for (const OpEntry& entry : OpTable()) {
    if (op != entry.name) continue;
    for (const TensorInfo& t : inputs) {
      if (t.shape.size() > static_cast<size_t>(kernels::kMaxDims)) {
        return InvalidArgumentError(op + ": inputs may have at most 8 dimensions");
      }
    }
    StatusOr<OpLowering> lowered = entry.lower(inputs, attrs);
    if (!lowered.ok()) return lowered.status().WithContext(op);
    return lowered;
  }
  return NotFoundError("unknown operator '" + op + "'");
}

std::vector<std::string> ListOps() {
  std::vector<std::string> names;
  for (const OpEntry& entry : OpTable()) names.emplace_back(entry.name);
  return names;
}

}  // namespace ferry::compiler
