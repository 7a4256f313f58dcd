// Kernels on the layouts that the compiler pass ConvertToBlockedLayouts
// (compiler/blocked_layouts.h) chooses for convolutional networks, run as oneDNN primitives:
//
// - channel blocks, NCHW16c: a 4-D NCHW tensor of C channels is held as a 5-D tensor
//   [N, ceil(C / 16), H, W, 16] whose channel c sits at [n, c / 16, h, w, c % 16]; channels
//   past C (the last block's padding) are zero. oneDNN's direct AVX-512 convolutions read it,
//   the fastest for depthwise convolutions. Element-wise kernels and concat along axis 1 apply
//   to the 5-D tensors unchanged, and the padding stays zero through every operation the pass
//   lets through (relu, clip with min <= 0 <= max, add).
// - channels last, NHWC: [N, H, W, C], no padding; oneDNN's brgemm convolutions read it, the
//   fastest for dense convolutions over small images (a quarter less time than NCHW16c on the
//   7x7 and 14x14 layers of a ResNet). Concat of channels is along axis 3.
//
// The oneDNN kernels keep a OneDnnNodeState per graph node: the primitive is created at the
// node's first call and reused by later ones (a call with other shapes creates it anew). The
// generated code makes one state per node and never frees it. A state is thread-safe: calls
// from several threads may share it. Convolution weights come packed at build time
// (PackConv2dWeight); when the oneDNN found at run time prefers another weight format, the
// state reorders them once, at the first call.
//
// Same conventions as kernels.h otherwise: inputs first, the output last, 0 or -1 with the
// error filled. The oneDNN kernels exist only in builds with oneDNN (FERRY_HAVE_DNNL), and
// use the kernel thread count of runtime/kernel_threads.h through OpenMP.
#ifndef FERRY_RUNTIME_KERNELS_BLOCKED_KERNELS_H_
#define FERRY_RUNTIME_KERNELS_BLOCKED_KERNELS_H_

#include <stdint.h>

#include "runtime/kernels/kernel_abi.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels {

inline constexpr int64_t kChannelBlock = 16;
inline constexpr int64_t ChannelBlocks(int64_t channels) {
  return (channels + kChannelBlock - 1) / kChannelBlock;
}

// to_channel_blocks: in [N, C, H, W] -> out [N, ceil(C / 16), H, W, 16], padding zeroed.
// from_channel_blocks: in [N, ceil(C / 16), H, W, 16] -> out [N, C, H, W].
struct ChannelBlocksAttrs {
  int64_t channels = 0;  // C
};
int ToChannelBlocks(const ChannelBlocksAttrs& attrs, DLTensor* const* args, int32_t num_args,
                    FerryKernelError* error);
int FromChannelBlocks(const ChannelBlocksAttrs& attrs, DLTensor* const* args, int32_t num_args,
                      FerryKernelError* error);

enum class ConvLayout : int32_t { kChannelBlocks, kChannelsLast };

struct OneDnnNodeState;
// Null when out of memory (the kernels then fail with a message).
OneDnnNodeState* NewOneDnnNodeState() noexcept;
void DeleteOneDnnNodeState(OneDnnNodeState* state) noexcept;

// blocked_conv2d: data, packed weight, bias [O], [residual], out.
// With channel blocks, data is [N, C, H, W] (blocked_input false: a first layer with few
// channels) or [N, ceil(C / 16), H, W, 16], and out is [N, ceil(O / 16), OH, OW, 16] (OH as
// conv2d's); channels last, data is [N, H, W, C] and out [N, OH, OW, O] (blocked_input is
// ignored). The weight is the 1-D float array PackConv2dWeight made for these attributes:
// oneDNN's blocked weight format for channel blocks; the plain OIHW order for channels last,
// where the brgemm format depends on the machine and is made at the first call. With
// `residual` the result is conv + bias + residual (a tensor shaped like out), then the
// activation; without, conv + bias, then the activation, which may also be kSwish.
// With channel blocks groups is 1 or, for a depthwise convolution, C == O; channels last
// takes any groups that divide C and O.
struct BlockedConv2dAttrs {
  ConvLayout layout = ConvLayout::kChannelBlocks;
  int64_t channels = 0;      // C
  int64_t out_channels = 0;  // O
  int64_t kernel[2] = {1, 1};
  int64_t strides[2] = {1, 1};
  int64_t padding[4] = {0, 0, 0, 0};  // top, left, bottom, right
  int64_t dilation[2] = {1, 1};
  int64_t groups = 1;
  bool blocked_input = true;
  bool residual = false;
  Activation activation = Activation::kNone;
  double clip_min = 0.0;
  double clip_max = 6.0;
};
int BlockedConv2d(const BlockedConv2dAttrs& attrs, OneDnnNodeState* state, DLTensor* const* args,
                  int32_t num_args, FerryKernelError* error);

// The number of floats of the packed weight for `attrs`, or -1 (with the error filled) when
// oneDNN has no such convolution.
int64_t PackedConv2dWeightSize(const BlockedConv2dAttrs& attrs, FerryKernelError* error);
// Packs an OIHW weight [O, C / groups, KH, KW] into `packed` (PackedConv2dWeightSize floats).
int PackConv2dWeight(const BlockedConv2dAttrs& attrs, const float* oihw, float* packed,
                     FerryKernelError* error);

// blocked_pool2d: data [N, ceil(C / 16), H, W, 16] -> out [N, ceil(C / 16), OH, OW, 16], or
// channels last data [N, H, W, C] -> out [N, OH, OW, C].
// The padding given is what the output needs: a ceil-mode pool passes its extra bottom and
// right padding in, so OH = (H + top + bottom - dilation_h * (KH - 1) - 1) / stride_h + 1.
// Padded taps never count for max; for avg they count with count_include_pad.
struct BlockedPool2dAttrs {
  ConvLayout layout = ConvLayout::kChannelBlocks;
  bool is_max = true;
  int64_t channels = 0;  // C
  int64_t pool_size[2] = {1, 1};
  int64_t strides[2] = {1, 1};
  int64_t padding[4] = {0, 0, 0, 0};
  int64_t dilation[2] = {1, 1};
  bool count_include_pad = false;
};
int BlockedPool2d(const BlockedPool2dAttrs& attrs, OneDnnNodeState* state, DLTensor* const* args,
                  int32_t num_args, FerryKernelError* error);

}  // namespace ferry::kernels

#endif  // FERRY_RUNTIME_KERNELS_BLOCKED_KERNELS_H_
