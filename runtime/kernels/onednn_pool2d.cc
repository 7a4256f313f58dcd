// blocked_pool2d (blocked_kernels.h) as a oneDNN pooling primitive.
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/onednn_node_state.h"

namespace ferry::kernels {
namespace {

using dnnl::memory;
using internal::Fail;

constexpr const char* kName = "blocked_pool2d";

bool IsChannelsLast(const BlockedPool2dAttrs& a) { return a.layout == ConvLayout::kChannelsLast; }

// Height and width of a tensor in the attributes' layout.
int64_t Height(const BlockedPool2dAttrs& a, const DLTensor& t) { return t.shape[IsChannelsLast(a) ? 1 : 2]; }
int64_t Width(const BlockedPool2dAttrs& a, const DLTensor& t) { return t.shape[IsChannelsLast(a) ? 2 : 3]; }

OneDnnPrimitive MakePooling(const BlockedPool2dAttrs& a, const DLTensor& data, const DLTensor& out) {
  const memory::format_tag tag =
      IsChannelsLast(a) ? memory::format_tag::nhwc : memory::format_tag::nChw16c;
  const memory::desc src({data.shape[0], a.channels, Height(a, data), Width(a, data)},
                         memory::data_type::f32, tag);
  const memory::desc dst({out.shape[0], a.channels, Height(a, out), Width(a, out)},
                         memory::data_type::f32, tag);
  const dnnl::algorithm algorithm = a.is_max              ? dnnl::algorithm::pooling_max
                                    : a.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                                          : dnnl::algorithm::pooling_avg_exclude_padding;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const dnnl::pooling_v2_forward::desc desc(
      dnnl::prop_kind::forward_inference, algorithm, src, dst, {a.strides[0], a.strides[1]},
      {a.pool_size[0], a.pool_size[1]}, {a.dilation[0] - 1, a.dilation[1] - 1},
      {a.padding[0], a.padding[1]}, {a.padding[2], a.padding[3]});
  const dnnl::pooling_v2_forward::primitive_desc pd(desc, attr, internal::CpuEngine());
  OneDnnPrimitive made;
  made.primitive = dnnl::pooling_v2_forward(pd);
  made.scratchpad_bytes = pd.scratchpad_desc().get_size();
  made.src = pd.src_desc();
  made.dst = pd.dst_desc();
  return made;
}

}  // namespace

int BlockedPool2d(const BlockedPool2dAttrs& attrs, OneDnnNodeState* state, DLTensor* const* args,
                  int32_t num_args, FerryKernelError* error) {
  if (internal::CheckArgs(kName, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0 ||
      internal::CheckWindowAttrs(kName, attrs.strides, attrs.padding, attrs.dilation, error) != 0) {
    return -1;
  }
  if (state == nullptr) return Fail(error, kName, "no node state (out of memory at load)");
  if (attrs.pool_size[0] < 1 || attrs.pool_size[1] < 1 || attrs.channels < 1) {
    return Fail(error, kName, "pool size and channels must be positive");
  }
  const DLTensor& data = *args[0];
  const DLTensor& out = *args[1];
  const bool channels_last = IsChannelsLast(attrs);
  const bool laid_out = channels_last
                            ? data.ndim == 4 && data.shape[3] == attrs.channels
                            : data.ndim == 5 && data.shape[1] == ChannelBlocks(attrs.channels) &&
                                  data.shape[4] == kChannelBlock;
  if (!laid_out) {
    return Fail(error, kName, "data %s is not a %s tensor of %lld channels",
                internal::FormatShape(data).text, channels_last ? "channels-last" : "blocked",
                static_cast<long long>(attrs.channels));
  }
  const int64_t in[2] = {Height(attrs, data), Width(attrs, data)};
  int64_t window[2];
  for (int axis = 0; axis < 2; ++axis) {
    window[axis] = internal::WindowCount(in[axis], attrs.padding[axis], attrs.padding[2 + axis],
                                         attrs.pool_size[axis], attrs.strides[axis],
                                         attrs.dilation[axis], false);
  }
  if (window[0] < 1 || window[1] < 1) {
    return Fail(error, kName, "the window does not fit the padded input %s",
                internal::FormatShape(data).text);
  }
  const int64_t blocked_shape[5] = {data.shape[0], ChannelBlocks(attrs.channels), window[0],
                                    window[1], kChannelBlock};
  const int64_t last_shape[4] = {data.shape[0], window[0], window[1], attrs.channels};
  if (internal::CheckShape(kName, "output", out, channels_last ? last_shape : blocked_shape,
                           channels_last ? 4 : 5, error) != 0) {
    return -1;
  }
  if (internal::NumElements(out) == 0) return 0;
  return internal::CatchOneDnn(kName, error, [&] {
    const std::vector<int64_t> shapes(data.shape, data.shape + data.ndim);
    const OneDnnPrimitive pool =
        internal::PrimitiveFor(*state, shapes, [&] { return MakePooling(attrs, data, out); });
    return internal::Execute(kName, pool,
                             {{DNNL_ARG_SRC, internal::Memory(pool.src, data)},
                              {DNNL_ARG_DST, internal::Memory(pool.dst, out)}},
                             error);
  });
}

}  // namespace ferry::kernels
