// Lowerings of the blocked-layout operators (runtime/kernels/blocked_kernels.h), which only
// ConvertToBlockedLayouts (blocked_layouts.h) puts into graphs: to_channel_blocks,
// from_channel_blocks, and with oneDNN blocked_conv2d and blocked_pool2d.
#include <memory>

#include "compiler/lowering_util.h"
#include "compiler/lowerings.h"
#include "runtime/build_config.h"
#include "runtime/kernels/blocked_kernels.h"
#include "runtime/kernels/kernel_util.h"

namespace ferry::compiler::lowering {
namespace {

using kernels::ChannelBlocks;
using kernels::kChannelBlock;

Shape Blocked(int64_t n, int64_t channels, int64_t h, int64_t w) {
  return {n, ChannelBlocks(channels), h, w, kChannelBlock};
}

Status CheckBlocked(const TensorInfo& t, int64_t channels, const char* role) {
  if (t.shape.size() != 5 || t.shape[1] != ChannelBlocks(channels) || t.shape[4] != kChannelBlock) {
    return InvalidArgumentError(std::string(role) + " " + t.ToString() +
                                " is not a blocked tensor of " + std::to_string(channels) +
                                " channels");
  }
  return Status::Ok();
}

// A tensor of the layout: channel blocks (blocked or, for a first layer's data, plain NCHW)
// or channels last.
Shape LaidOut(kernels::ConvLayout layout, bool blocked, int64_t n, int64_t channels, int64_t h,
              int64_t w) {
  if (layout == kernels::ConvLayout::kChannelsLast) return {n, h, w, channels};
  if (!blocked) return {n, channels, h, w};
  return Blocked(n, channels, h, w);
}

// Images, height and width of `t` in the layout; an error when it does not hold `channels`.
struct Extent {
  int64_t n, h, w;
};
StatusOr<Extent> CheckLaidOut(const TensorInfo& t, kernels::ConvLayout layout, bool blocked,
                              int64_t channels, const char* role) {
  const bool last = layout == kernels::ConvLayout::kChannelsLast;
  const size_t rank = !last && blocked ? 5 : 4;
  if (t.shape.size() == rank) {
    const Extent e = last ? Extent{t.shape[0], t.shape[1], t.shape[2]}
                          : Extent{t.shape[0], t.shape[2], t.shape[3]};
    if (t.shape == LaidOut(layout, blocked, e.n, channels, e.h, e.w)) return e;
  }
  return InvalidArgumentError(std::string(role) + " " + t.ToString() + " is not a " +
                              (last ? "channels-last" : blocked ? "blocked" : "NCHW") +
                              " tensor of " + std::to_string(channels) + " channels");
}

// The enumerator in generated code.
std::string LayoutLiteral(kernels::ConvLayout layout) {
  return std::string("ferry::kernels::ConvLayout::") +
         (layout == kernels::ConvLayout::kChannelsLast ? "kChannelsLast" : "kChannelBlocks");
}

StatusOr<kernels::ConvLayout> LayoutAttr(const Attrs& attrs) {
  ASSIGN_OR_RETURN(int64_t layout, GetIntAttr(attrs, "layout", 0));
  if (layout != 0 && layout != 1) {
    return InvalidArgumentError("layout must be 0 (channel blocks) or 1 (channels last)");
  }
  return static_cast<kernels::ConvLayout>(layout);
}

StatusOr<int64_t> PositiveAttr(const Attrs& attrs, const char* name) {
  ASSIGN_OR_RETURN(int64_t value, GetIntAttr(attrs, name, 0));
  if (value < 1 || value > kernels::internal::kMaxAttrValue) {
    return InvalidArgumentError(std::string("attribute '") + name + "' must be in [1, 2^30]");
  }
  return value;
}

#if FERRY_HAVE_DNNL
// A call of a oneDNN kernel: like WithAttrs, plus the node's state, made once per node by the
// generated code and, for constant folding here, once per lowering.
template <typename A>
using StatefulKernelFn = int (*)(const A&, kernels::OneDnnNodeState*, DLTensor* const*, int32_t,
                                 FerryKernelError*);
template <typename A>
OpLowering WithState(TensorInfo output, const char* kernel, const char* attrs_type,
                     const std::string& initializer, const A& attrs, StatefulKernelFn<A> fn) {
  OpLowering lowering;
  lowering.output = std::move(output);
  lowering.body = std::string("  static constexpr ferry::kernels::") + attrs_type + " kAttrs{" +
                  initializer +
                  "};\n  static ferry::kernels::OneDnnNodeState* const state = "
                  "ferry::kernels::NewOneDnnNodeState();\n  return ferry::kernels::" + kernel +
                  "(kAttrs, state, args, num_args, error);\n";
  std::shared_ptr<kernels::OneDnnNodeState> state(kernels::NewOneDnnNodeState(),
                                                  kernels::DeleteOneDnnNodeState);
  lowering.evaluate = [attrs, fn, state](DLTensor* const* args, int32_t num_args,
                                         FerryKernelError* error) {
    return fn(attrs, state.get(), args, num_args, error);
  };
  return lowering;
}

std::string Pair(const int64_t* v) { return "{" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + "}"; }
std::string Quad(const int64_t* v) {
  return "{" + Join(std::span<const int64_t>(v, 4)) + "}";
}
#endif

}  // namespace

StatusOr<OpLowering> LowerChannelBlocks(Inputs in, const Attrs& attrs, bool to_blocks) {
  static constexpr std::string_view kKnown[] = {"channels"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  ASSIGN_OR_RETURN(int64_t channels, PositiveAttr(attrs, "channels"));
  const Shape& s = in[0].shape;
  Shape out;
  if (to_blocks) {
    RETURN_IF_ERROR(CheckRank(in[0], "data", 4));
    if (s[1] != channels) return InvalidArgumentError("data " + in[0].ToString() + " does not have " + std::to_string(channels) + " channels");
    out = Blocked(s[0], channels, s[2], s[3]);
  } else {
    RETURN_IF_ERROR(CheckBlocked(in[0], channels, "data"));
    out = {s[0], channels, s[2], s[3]};
  }
  const kernels::ChannelBlocksAttrs k{channels};
  return WithAttrs(TensorInfo{out, DataType::Float32()},
                   to_blocks ? "ToChannelBlocks" : "FromChannelBlocks", "ChannelBlocksAttrs",
                   ".channels = " + std::to_string(channels), k,
                   to_blocks ? &kernels::ToChannelBlocks : &kernels::FromChannelBlocks);
}

#if FERRY_HAVE_DNNL
StatusOr<OpLowering> LowerBlockedConv2d(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {
      "layout",        "channels", "out_channels", "kernel",   "strides",  "padding", "dilation",
      "groups",        "blocked_input", "residual", "activation", "clip_min", "clip_max"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckFloat32(in));
  kernels::BlockedConv2dAttrs k;
  ASSIGN_OR_RETURN(k.layout, LayoutAttr(attrs));
  ASSIGN_OR_RETURN(k.channels, PositiveAttr(attrs, "channels"));
  ASSIGN_OR_RETURN(k.out_channels, PositiveAttr(attrs, "out_channels"));
  ASSIGN_OR_RETURN(k.groups, PositiveAttr(attrs, "groups"));
  ASSIGN_OR_RETURN(std::vector<int64_t> kernel, GetIntsAttr(attrs, "kernel", 2, {}));
  ASSIGN_OR_RETURN(Window w, GetWindow(attrs));
  ASSIGN_OR_RETURN(int64_t blocked_input, GetIntAttr(attrs, "blocked_input", 1));
  ASSIGN_OR_RETURN(int64_t residual, GetIntAttr(attrs, "residual", 0));
  ASSIGN_OR_RETURN(int64_t activation, GetIntAttr(attrs, "activation", 0));
  ASSIGN_OR_RETURN(k.clip_min, GetFloatAttr(attrs, "clip_min", 0.0));
  ASSIGN_OR_RETURN(k.clip_max, GetFloatAttr(attrs, "clip_max", 6.0));
  if (activation < 0 || activation > 3) {
    return InvalidArgumentError("activation must be 0 (none), 1 (relu), 2 (clip) or 3 (swish)");
  }
  k.blocked_input = blocked_input != 0;
  k.residual = residual != 0;
  k.activation = static_cast<kernels::Activation>(activation);
  CopyDims(kernel, k.kernel);
  CopyDims(w.strides, k.strides);
  CopyDims(w.padding, k.padding);
  CopyDims(w.dilation, k.dilation);
  RETURN_IF_ERROR(CheckArity(in, k.residual ? 4 : 3, k.residual ? 4 : 3));
  const bool last = k.layout == kernels::ConvLayout::kChannelsLast;
  ASSIGN_OR_RETURN(Extent e, CheckLaidOut(in[0], k.layout, k.blocked_input || last, k.channels, "data"));
  FerryKernelError error{};
  const int64_t packed = kernels::PackedConv2dWeightSize(k, &error);
  if (packed < 0) return InvalidArgumentError(error.message);
  if (in[1].shape != Shape{packed}) {
    return InvalidArgumentError("packed weight " + in[1].ToString() + " must be [" +
                                std::to_string(packed) + "]");
  }
  if (in[2].shape != Shape{k.out_channels}) {
    return InvalidArgumentError("bias " + in[2].ToString() + " must be [" + std::to_string(k.out_channels) + "]");
  }
  const int64_t oh = kernels::internal::WindowCount(e.h, k.padding[0], k.padding[2], k.kernel[0],
                                                    k.strides[0], k.dilation[0], false);
  const int64_t ow = kernels::internal::WindowCount(e.w, k.padding[1], k.padding[3], k.kernel[1],
                                                    k.strides[1], k.dilation[1], false);
  if (oh < 1 || ow < 1) return InvalidArgumentError("the kernel does not fit the padded input " + in[0].ToString());
  const Shape out = LaidOut(k.layout, true, e.n, k.out_channels, oh, ow);
  if (k.residual && in[3].shape != out) {
    return InvalidArgumentError("residual " + in[3].ToString() + " must be shaped like the output");
  }
  static constexpr const char* kActivations[] = {"kNone", "kRelu", "kClip", "kSwish"};
  const std::string init =
      ".layout = " + LayoutLiteral(k.layout) + ", .channels = " + std::to_string(k.channels) + ", .out_channels = " +
      std::to_string(k.out_channels) + ", .kernel = " + Pair(k.kernel) + ", .strides = " +
      Pair(k.strides) + ", .padding = " + Quad(k.padding) + ", .dilation = " + Pair(k.dilation) +
      ", .groups = " + std::to_string(k.groups) + ", .blocked_input = " + Bool(k.blocked_input) +
      ", .residual = " + Bool(k.residual) + ", .activation = ferry::kernels::Activation::" +
      kActivations[activation] + ", .clip_min = " + FloatLiteral(k.clip_min) +
      ", .clip_max = " + FloatLiteral(k.clip_max);
  return WithState(TensorInfo{out, DataType::Float32()}, "BlockedConv2d", "BlockedConv2dAttrs",
                   init, k, &kernels::BlockedConv2d);
}

StatusOr<OpLowering> LowerBlockedPool2d(Inputs in, const Attrs& attrs) {
  static constexpr std::string_view kKnown[] = {"layout", "is_max",   "channels", "pool_size",
                                                "strides",  "padding",  "dilation",
                                                "count_include_pad"};
  RETURN_IF_ERROR(CheckKnownAttrs(attrs, kKnown));
  RETURN_IF_ERROR(CheckArity(in, 1, 1));
  RETURN_IF_ERROR(CheckFloat32(in));
  kernels::BlockedPool2dAttrs k;
  ASSIGN_OR_RETURN(k.layout, LayoutAttr(attrs));
  ASSIGN_OR_RETURN(int64_t is_max, GetIntAttr(attrs, "is_max", 1));
  ASSIGN_OR_RETURN(int64_t include_pad, GetIntAttr(attrs, "count_include_pad", 0));
  ASSIGN_OR_RETURN(k.channels, PositiveAttr(attrs, "channels"));
  ASSIGN_OR_RETURN(std::vector<int64_t> pool, GetIntsAttr(attrs, "pool_size", 2, {}));
  for (int64_t p : pool) {
    if (p < 1 || p > kernels::internal::kMaxAttrValue) return InvalidArgumentError("pool_size must be in [1, 2^30]");
  }
  ASSIGN_OR_RETURN(Window w, GetWindow(attrs));
  k.is_max = is_max != 0;
  k.count_include_pad = include_pad != 0;
  CopyDims(pool, k.pool_size);
  CopyDims(w.strides, k.strides);
  CopyDims(w.padding, k.padding);
  CopyDims(w.dilation, k.dilation);
  ASSIGN_OR_RETURN(Extent e, CheckLaidOut(in[0], k.layout, true, k.channels, "data"));
  const int64_t oh = kernels::internal::WindowCount(e.h, k.padding[0], k.padding[2], k.pool_size[0],
                                                    k.strides[0], k.dilation[0], false);
  const int64_t ow = kernels::internal::WindowCount(e.w, k.padding[1], k.padding[3], k.pool_size[1],
                                                    k.strides[1], k.dilation[1], false);
  if (oh < 1 || ow < 1) return InvalidArgumentError("the window does not fit the padded input " + in[0].ToString());
  const std::string init = ".layout = " + LayoutLiteral(k.layout) + ", .is_max = " +
                           Bool(k.is_max) + ", .channels = " +
                           std::to_string(k.channels) + ", .pool_size = " + Pair(k.pool_size) +
                           ", .strides = " + Pair(k.strides) + ", .padding = " + Quad(k.padding) +
                           ", .dilation = " + Pair(k.dilation) +
                           ", .count_include_pad = " + Bool(k.count_include_pad);
  return WithState(TensorInfo{LaidOut(k.layout, true, e.n, k.channels, oh, ow), DataType::Float32()},
                   "BlockedPool2d", "BlockedPool2dAttrs", init, k, &kernels::BlockedPool2d);
}
#endif

}  // namespace ferry::compiler::lowering
