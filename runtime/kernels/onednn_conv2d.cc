// blocked_conv2d (blocked_kernels.h) as a oneDNN convolution with post-ops, and the packing
// of its weights.
#include <string.h>

#include <vector>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/onednn_node_state.h"

namespace ferry::kernels {
namespace {

using dnnl::memory;
using internal::Fail;
using Tag = memory::format_tag;

constexpr const char* kName = "blocked_conv2d";

bool IsDepthwise(const BlockedConv2dAttrs& a) { return a.groups > 1; }
bool IsChannelsLast(const BlockedConv2dAttrs& a) { return a.layout == ConvLayout::kChannelsLast; }

// The oneDNN format of the data and output tensors.
Tag DataTag(const BlockedConv2dAttrs& a) {
  if (IsChannelsLast(a)) return Tag::nhwc;
  return a.blocked_input ? Tag::nChw16c : Tag::nchw;
}
Tag OutputTag(const BlockedConv2dAttrs& a) { return IsChannelsLast(a) ? Tag::nhwc : Tag::nChw16c; }

// The shape of an NCHW tensor of `channels` channels in the layout (data or output).
std::vector<int64_t> LayoutShape(const BlockedConv2dAttrs& a, bool blocked, int64_t n,
                                 int64_t channels, int64_t h, int64_t w) {
  if (IsChannelsLast(a)) return {n, h, w, channels};
  if (!blocked) return {n, channels, h, w};
  return {n, ChannelBlocks(channels), h, w, kChannelBlock};
}

int64_t OutputSize(int64_t in, int64_t pad_before, int64_t pad_after, int64_t kernel,
                   int64_t stride, int64_t dilation) {
  return internal::WindowCount(in, pad_before, pad_after, kernel, stride, dilation, false);
}

memory::desc PlainWeightDesc(const BlockedConv2dAttrs& a);

// The packed weight's layout with channel blocks: OIhw16i16o after a blocked input, Ohwi16o
// after a plain one (a first layer), Goihw16g for a depthwise convolution: the formats
// oneDNN's AVX-512 direct convolutions read. Channels last: OIHW.
memory::desc PackedWeightDesc(const BlockedConv2dAttrs& a) {
  if (IsChannelsLast(a)) return PlainWeightDesc(a);
  if (IsDepthwise(a)) {
    return memory::desc({a.groups, 1, 1, a.kernel[0], a.kernel[1]}, memory::data_type::f32,
                        Tag::Goihw16g);
  }
  return memory::desc({a.out_channels, a.channels, a.kernel[0], a.kernel[1]},
                      memory::data_type::f32, a.blocked_input ? Tag::OIhw16i16o : Tag::Ohwi16o);
}

memory::desc PlainWeightDesc(const BlockedConv2dAttrs& a) {
  if (a.groups > 1) {
    return memory::desc({a.groups, a.out_channels / a.groups, a.channels / a.groups, a.kernel[0],
                         a.kernel[1]},
                        memory::data_type::f32, Tag::goihw);
  }
  return memory::desc({a.out_channels, a.channels, a.kernel[0], a.kernel[1]},
                      memory::data_type::f32, Tag::oihw);
}

int CheckAttrs(const BlockedConv2dAttrs& a, FerryKernelError* error) {
  if (a.channels < 1 || a.out_channels < 1 || a.kernel[0] < 1 || a.kernel[1] < 1) {
    return Fail(error, kName, "channels, output channels and kernel size must be positive");
  }
  if (a.groups < 1 || a.channels % a.groups != 0 || a.out_channels % a.groups != 0) {
    return Fail(error, kName, "groups %lld do not divide %lld input and %lld output channels",
                static_cast<long long>(a.groups), static_cast<long long>(a.channels),
                static_cast<long long>(a.out_channels));
  }
  const bool depthwise = a.groups == a.channels && a.groups == a.out_channels;
  if (a.groups != 1 && !IsChannelsLast(a) && !(depthwise && a.blocked_input)) {
    return Fail(error, kName, "groups %lld: channel blocks take 1 or depthwise on a blocked input",
                static_cast<long long>(a.groups));
  }
  return internal::CheckWindowAttrs(kName, a.strides, a.padding, a.dilation, error);
}

// Images, height, width of a data or output tensor in the attributes' layout.
struct Extent {
  int64_t n, h, w;
};
Extent ExtentOf(const BlockedConv2dAttrs& a, const DLTensor& t) {
  if (IsChannelsLast(a)) return {t.shape[0], t.shape[1], t.shape[2]};
  return {t.shape[0], t.shape[2], t.shape[3]};
}

OneDnnPrimitive MakeConvolution(const BlockedConv2dAttrs& a, const DLTensor& data,
                                const DLTensor& out, const float* packed) {
  const Extent in = ExtentOf(a, data), to = ExtentOf(a, out);
  const memory::desc src({in.n, a.channels, in.h, in.w}, memory::data_type::f32, DataTag(a));
  const memory::desc dst({to.n, a.out_channels, to.h, to.w}, memory::data_type::f32,
                         OutputTag(a));
  const memory::desc bias({a.out_channels}, memory::data_type::f32, Tag::x);
  memory::desc weights = PackedWeightDesc(a);
  const memory::desc any_weights(weights.dims(), memory::data_type::f32, Tag::any);

  dnnl::post_ops post_ops;
  if (a.residual) post_ops.append_sum(1.0f);
  if (a.activation == Activation::kRelu) {
    post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  } else if (a.activation == Activation::kClip) {
    post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, static_cast<float>(a.clip_min),
                            static_cast<float>(a.clip_max));
  } else if (a.activation == Activation::kSwish) {
    post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(post_ops);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, any_weights,
      bias, dst, {a.strides[0], a.strides[1]}, {a.dilation[0] - 1, a.dilation[1] - 1},
      {a.padding[0], a.padding[1]}, {a.padding[2], a.padding[3]});
  const dnnl::convolution_forward::primitive_desc pd(desc, attr, internal::CpuEngine());

  OneDnnPrimitive made;
  made.primitive = dnnl::convolution_forward(pd);
  made.scratchpad_bytes = pd.scratchpad_desc().get_size();
  made.src = pd.src_desc();
  made.weights = pd.weights_desc();
  made.bias = pd.bias_desc();
  made.dst = pd.dst_desc();
  if (pd.weights_desc() != weights) {
    // This oneDNN prefers another weight format than the one packed at build time.
    made.reordered_weights = memory(pd.weights_desc(), internal::CpuEngine());
    memory source(weights, internal::CpuEngine(), const_cast<float*>(packed));
    dnnl::stream stream(internal::CpuEngine());
    dnnl::reorder(source, made.reordered_weights).execute(stream, source, made.reordered_weights);
    stream.wait();
  }
  return made;
}

}  // namespace

int64_t PackedConv2dWeightSize(const BlockedConv2dAttrs& attrs, FerryKernelError* error) {
  if (CheckAttrs(attrs, error) != 0) return -1;
  int64_t size = -1;
  const int rc = internal::CatchOneDnn(kName, error, [&] {
    size = static_cast<int64_t>(PackedWeightDesc(attrs).get_size() / sizeof(float));
    return 0;
  });
  return rc == 0 ? size : -1;
}

int PackConv2dWeight(const BlockedConv2dAttrs& attrs, const float* oihw, float* packed,
                     FerryKernelError* error) {
  if (CheckAttrs(attrs, error) != 0) return -1;
  return internal::CatchOneDnn(kName, error, [&] {
    const dnnl::engine& engine = internal::CpuEngine();
    memory from(PlainWeightDesc(attrs), engine, const_cast<float*>(oihw));
    memory to(PackedWeightDesc(attrs), engine, packed);
    dnnl::stream stream(engine);
    dnnl::reorder(from, to).execute(stream, from, to);
    stream.wait();
    return 0;
  });
}

int BlockedConv2d(const BlockedConv2dAttrs& attrs, OneDnnNodeState* state, DLTensor* const* args,
                  int32_t num_args, FerryKernelError* error) {
  const int32_t expected_args = attrs.residual ? 5 : 4;
  if (internal::CheckArgs(kName, args, num_args, expected_args, expected_args, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0 || CheckAttrs(attrs, error) != 0) {
    return -1;
  }
  if (state == nullptr) return Fail(error, kName, "no node state (out of memory at load)");
  const DLTensor& data = *args[0];
  const DLTensor& weight = *args[1];
  const DLTensor& bias = *args[2];
  const DLTensor& out = *args[num_args - 1];
  const bool blocked_data = attrs.blocked_input && !IsChannelsLast(attrs);
  if (data.ndim != (blocked_data ? 5 : 4)) {
    return Fail(error, kName, "data must be %d-D, got %s", blocked_data ? 5 : 4,
                internal::FormatShape(data).text);
  }
  const Extent in = ExtentOf(attrs, data);
  const std::vector<int64_t> data_shape = LayoutShape(attrs, blocked_data, in.n, attrs.channels, in.h, in.w);
  if (internal::CheckShape(kName, "data", data, data_shape.data(), data.ndim, error) != 0) return -1;
  const int64_t oh = OutputSize(in.h, attrs.padding[0], attrs.padding[2], attrs.kernel[0],
                                attrs.strides[0], attrs.dilation[0]);
  const int64_t ow = OutputSize(in.w, attrs.padding[1], attrs.padding[3], attrs.kernel[1],
                                attrs.strides[1], attrs.dilation[1]);
  if (oh < 1 || ow < 1) {
    return Fail(error, kName, "the kernel does not fit the padded input %s",
                internal::FormatShape(data).text);
  }
  const std::vector<int64_t> out_shape = LayoutShape(attrs, true, in.n, attrs.out_channels, oh, ow);
  const int out_rank = static_cast<int>(out_shape.size());
  const int64_t bias_shape[1] = {attrs.out_channels};
  if (internal::CheckShape(kName, "output", out, out_shape.data(), out_rank, error) != 0 ||
      internal::CheckShape(kName, "bias", bias, bias_shape, 1, error) != 0 ||
      (attrs.residual &&
       internal::CheckShape(kName, "residual", *args[3], out_shape.data(), out_rank, error) != 0)) {
    return -1;
  }
  const int64_t packed_size = PackedConv2dWeightSize(attrs, error);
  if (packed_size < 0) return -1;
  if (weight.ndim != 1 || weight.shape[0] != packed_size) {
    return Fail(error, kName, "packed weight %s is not the %lld floats these attributes need",
                internal::FormatShape(weight).text, static_cast<long long>(packed_size));
  }
  if (internal::NumElements(out) == 0) return 0;
  const float* packed = internal::DataAs<const float>(weight);
  return internal::CatchOneDnn(kName, error, [&] {
    // Reordered weights are made from this call's packed weights: another weight array is
    // another primitive.
    std::vector<int64_t> shapes(data.shape, data.shape + data.ndim);
    shapes.push_back(reinterpret_cast<intptr_t>(packed));
    const OneDnnPrimitive conv =
        internal::PrimitiveFor(*state, shapes, [&] { return MakeConvolution(attrs, data, out, packed); });
    if (attrs.residual && args[3]->data != out.data) {
      memcpy(internal::DataAs<void>(out), internal::DataAs<const void>(*args[3]),
             sizeof(float) * internal::NumElements(out));
    }
    memory weights = conv.reordered_weights
                         ? conv.reordered_weights
                         : memory(conv.weights, internal::CpuEngine(), const_cast<float*>(packed));
    return internal::Execute(kName, conv,
                             {{DNNL_ARG_SRC, internal::Memory(conv.src, data)},
                              {DNNL_ARG_WEIGHTS, weights},
                              {DNNL_ARG_BIAS, internal::Memory(conv.bias, bias)},
                              {DNNL_ARG_DST, internal::Memory(conv.dst, out)}},
                             error);
  });
}

}  // namespace ferry::kernels
