// to_channel_blocks and from_channel_blocks (blocked_kernels.h): NCHW <-> NCHW16c.
#include <string.h>

#include "runtime/kernels/blocked_kernels.h"
#include "runtime/kernels/kernel_util.h"

namespace ferry::kernels {
namespace {

using internal::Fail;

// Validates `plain` [N, C, H, W] against `blocked` [N, ceil(C / 16), H, W, 16].
int CheckPair(const char* name, const ChannelBlocksAttrs& attrs, DLTensor* const* args,
              int32_t num_args, const DLTensor& plain, const DLTensor& blocked,
              FerryKernelError* error) {
  if (internal::CheckArgs(name, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(name, args, num_args, error) != 0) {
    return -1;
  }
  if (plain.ndim != 4) return Fail(error, name, "the NCHW tensor must be 4-D, got rank %d", plain.ndim);
  if (attrs.channels != plain.shape[1]) {
    return Fail(error, name, "the NCHW tensor has %lld channels, the attributes say %lld",
                static_cast<long long>(plain.shape[1]), static_cast<long long>(attrs.channels));
  }
  const int64_t expected[5] = {plain.shape[0], ChannelBlocks(plain.shape[1]), plain.shape[2],
                               plain.shape[3], kChannelBlock};
  return internal::CheckShape(name, "blocked tensor", blocked, expected, 5, error);
}

// Calls copy(plain_offset, blocked_offset, count) for every run of spatial positions that is
// contiguous in the plain tensor: (image, channel) pairs, in parallel.
template <typename Copy>
void ForEachChannel(const DLTensor& plain, Copy copy) {
  const int64_t n = plain.shape[0], c = plain.shape[1];
  const int64_t spatial = plain.shape[2] * plain.shape[3];
  const int64_t blocks = ChannelBlocks(c);
#pragma omp parallel for collapse(2) schedule(static) if (n * c * spatial > 32768)
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t plain_offset = (i * c + ch) * spatial;
      const int64_t blocked_offset =
          ((i * blocks + ch / kChannelBlock) * spatial) * kChannelBlock + ch % kChannelBlock;
      copy(plain_offset, blocked_offset, spatial);
    }
  }
}

}  // namespace

int ToChannelBlocks(const ChannelBlocksAttrs& attrs, DLTensor* const* args, int32_t num_args,
                    FerryKernelError* error) {
  constexpr const char* kName = "to_channel_blocks";
  if (num_args != 2 || args == nullptr || args[0] == nullptr || args[1] == nullptr) {
    return internal::CheckArgs(kName, args, num_args, 2, 2, error);
  }
  if (CheckPair(kName, attrs, args, num_args, *args[0], *args[1], error) != 0) return -1;
  const float* in = internal::DataAs<const float>(*args[0]);
  float* out = internal::DataAs<float>(*args[1]);
  const DLTensor& plain = *args[0];
  const int64_t c = plain.shape[1], spatial = plain.shape[2] * plain.shape[3];
  if (c % kChannelBlock != 0) {
    // Zero the last block's padding channels; the copy below fills the rest.
    const int64_t blocks = ChannelBlocks(c);
    for (int64_t i = 0; i < plain.shape[0]; ++i) {
      memset(out + (i * blocks + blocks - 1) * spatial * kChannelBlock, 0,
             sizeof(float) * spatial * kChannelBlock);
    }
  }
  ForEachChannel(plain, [&](int64_t from, int64_t to, int64_t count) {
    for (int64_t s = 0; s < count; ++s) out[to + s * kChannelBlock] = in[from + s];
  });
  return 0;
}

int FromChannelBlocks(const ChannelBlocksAttrs& attrs, DLTensor* const* args, int32_t num_args,
                      FerryKernelError* error) {
  constexpr const char* kName = "from_channel_blocks";
  if (num_args != 2 || args == nullptr || args[0] == nullptr || args[1] == nullptr) {
    return internal::CheckArgs(kName, args, num_args, 2, 2, error);
  }
  if (CheckPair(kName, attrs, args, num_args, *args[1], *args[0], error) != 0) return -1;
  const float* in = internal::DataAs<const float>(*args[0]);
  float* out = internal::DataAs<float>(*args[1]);
  ForEachChannel(*args[1], [&](int64_t to, int64_t from, int64_t count) {
    for (int64_t s = 0; s < count; ++s) out[to + s] = in[from + s * kChannelBlock];
  });
  return 0;
}

}  // namespace ferry::kernels
