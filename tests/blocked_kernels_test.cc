// The blocked-layout kernels (runtime/kernels/blocked_kernels.h) against the plain kernels,
// which kernels_numeric_test.cc checks against reference loops: layout round trips keep the
// padding zero, oneDNN convolutions and pools on NCHW16c agree with conv2d and the pools on
// NCHW, and malformed calls get errors naming the problem.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "runtime/build_config.h"
#include "runtime/kernels/blocked_kernels.h"
#include "tests/kernels_test_util.h"

namespace ferry::kernels {
namespace {

using test_util::Call;
using test_util::Output;
using test_util::Random;
using test_util::Shape;
using test_util::Tensor;

Shape BlockedShape(const Shape& nchw) {
  return {nchw[0], ChannelBlocks(nchw[1]), nchw[2], nchw[3], kChannelBlock};
}

Tensor ToBlocks(Tensor& plain) {
  Tensor blocked = Output(BlockedShape(plain.shape));
  std::string msg;
  const ChannelBlocksAttrs attrs{plain.shape[1]};
  EXPECT_EQ(Call([&](auto... p) { return ToChannelBlocks(attrs, p...); },
                 {plain.dl(), blocked.dl()}, &msg),
            0)
      << msg;
  return blocked;
}

Tensor FromBlocks(Tensor& blocked, int64_t channels) {
  Tensor plain = Output({blocked.shape[0], channels, blocked.shape[2], blocked.shape[3]});
  std::string msg;
  const ChannelBlocksAttrs attrs{channels};
  EXPECT_EQ(Call([&](auto... p) { return FromChannelBlocks(attrs, p...); },
                 {blocked.dl(), plain.dl()}, &msg),
            0)
      << msg;
  return plain;
}

// NCHW <-> NHWC.
Tensor ToChannelsLast(const Tensor& plain) {
  const int64_t n = plain.shape[0], c = plain.shape[1], h = plain.shape[2], w = plain.shape[3];
  Tensor last({n, h, w, c});
  for (int64_t i = 0; i < n * c * h * w; ++i) {
    const int64_t x = i % w, y = i / w % h, ch = i / (w * h) % c, img = i / (w * h * c);
    last.data[((img * h + y) * w + x) * c + ch] = plain.data[i];
  }
  return last;
}
Tensor FromChannelsLast(const Tensor& last) {
  const int64_t n = last.shape[0], h = last.shape[1], w = last.shape[2], c = last.shape[3];
  Tensor plain({n, c, h, w});
  for (int64_t i = 0; i < n * c * h * w; ++i) {
    const int64_t x = i % w, y = i / w % h, ch = i / (w * h) % c, img = i / (w * h * c);
    plain.data[i] = last.data[((img * h + y) * w + x) * c + ch];
  }
  return plain;
}

// Largest |a - b| relative to the largest |b| (at least 1).
double RelativeError(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0, scale = 1;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(double{a[i]} - b[i]));
    scale = std::max(scale, std::fabs(double{b[i]}));
  }
  return worst / scale;
}

// Whether every padding channel of a blocked tensor of `channels` channels is zero.
bool PaddingIsZero(const Tensor& blocked, int64_t channels) {
  const int64_t spatial = blocked.shape[2] * blocked.shape[3];
  for (int64_t n = 0; n < blocked.shape[0]; ++n) {
    for (int64_t b = 0; b < blocked.shape[1]; ++b) {
      for (int64_t s = 0; s < spatial; ++s) {
        for (int64_t lane = 0; lane < kChannelBlock; ++lane) {
          if (b * kChannelBlock + lane < channels) continue;
          const float v = blocked.data[((n * blocked.shape[1] + b) * spatial + s) * kChannelBlock + lane];
          if (v != 0.0f) return false;
        }
      }
    }
  }
  return true;
}

TEST(ChannelBlocksTest, RoundTripKeepsValuesAndZeroesThePadding) {
  for (int64_t channels : {1, 16, 20, 35}) {
    SCOPED_TRACE(testing::Message() << channels << " channels");
    Tensor plain = Random({2, channels, 3, 5});
    Tensor blocked = ToBlocks(plain);
    EXPECT_TRUE(PaddingIsZero(blocked, channels));
    // Channel c of pixel (h, w) lands in block c / 16, lane c % 16.
    const int64_t c = channels - 1, h = 2, w = 4;
    EXPECT_EQ(blocked.data[(((1 * blocked.shape[1] + c / 16) * 3 + h) * 5 + w) * 16 + c % 16],
              plain.data[((1 * channels + c) * 3 + h) * 5 + w]);
    Tensor back = FromBlocks(blocked, channels);
    EXPECT_EQ(back.data, plain.data);
  }
}

TEST(ChannelBlocksTest, RejectsShapesThatDoNotMatch) {
  Tensor plain = Random({1, 20, 3, 3});
  Tensor wrong = Output({1, 1, 3, 3, 16});  // 20 channels need two blocks
  std::string msg;
  const ChannelBlocksAttrs attrs{20};
  EXPECT_NE(Call([&](auto... p) { return ToChannelBlocks(attrs, p...); }, {plain.dl(), wrong.dl()},
                 &msg),
            0);
  EXPECT_NE(msg.find("to_channel_blocks"), std::string::npos) << msg;
  const ChannelBlocksAttrs other{21};
  Tensor blocked = Output({1, 2, 3, 3, 16});
  EXPECT_NE(Call([&](auto... p) { return ToChannelBlocks(other, p...); },
                 {plain.dl(), blocked.dl()}, &msg),
            0);
  EXPECT_NE(msg.find("21"), std::string::npos) << msg;
}

#if FERRY_HAVE_DNNL

struct StateDeleter {
  void operator()(OneDnnNodeState* s) const { DeleteOneDnnNodeState(s); }
};
using State = std::unique_ptr<OneDnnNodeState, StateDeleter>;
State NewState() { return State(NewOneDnnNodeState()); }

struct ConvCase {
  const char* name;
  int64_t n, c, h, w, o, kh, kw, stride, pad, dilation;
  bool depthwise = false;
  bool residual = false;
  Activation activation = Activation::kNone;
};

// The plain conv2d with a bias epilogue (and, for a residual, a separate add and activation).
std::vector<float> Reference(const ConvCase& c, Tensor& data, Tensor& weight, Tensor& bias,
                             Tensor* residual, int64_t oh, int64_t ow) {
  Conv2dAttrs attrs;
  attrs.strides[0] = attrs.strides[1] = c.stride;
  for (int64_t& p : attrs.padding) p = c.pad;
  attrs.dilation[0] = attrs.dilation[1] = c.dilation;
  attrs.groups = c.depthwise ? c.c : 1;
  attrs.epilogue.bias = true;
  if (!c.residual) attrs.epilogue.activation = c.activation;
  Tensor out = Output({c.n, c.o, oh, ow});
  std::string msg;
  EXPECT_EQ(Call([&](auto... p) { return Conv2d(attrs, p...); },
                 {data.dl(), weight.dl(), bias.dl(), out.dl()}, &msg),
            0)
      << msg;
  if (residual != nullptr) {
    for (size_t i = 0; i < out.data.size(); ++i) {
      out.data[i] += residual->data[i];
      if (c.activation == Activation::kRelu) out.data[i] = std::max(out.data[i], 0.0f);
    }
  }
  return out.data;
}

class BlockedConv2dLayoutTest : public ::testing::TestWithParam<ConvLayout> {};

TEST_P(BlockedConv2dLayoutTest, MatchesThePlainConvolution) {
  const ConvLayout layout = GetParam();
  const bool last = layout == ConvLayout::kChannelsLast;
  const ConvCase cases[] = {
      {"3x3 blocked", 1, 32, 9, 9, 48, 3, 3, 1, 1, 1},
      {"first layer 7x7/2, 3 channels, 20 outputs", 2, 3, 15, 15, 20, 7, 7, 2, 3, 1, false, false,
       Activation::kRelu},
      {"depthwise 3x3/2", 1, 32, 10, 10, 32, 3, 3, 2, 1, 1, true, false, Activation::kClip},
      {"1x1/2 over 24 channels", 1, 24, 8, 8, 40, 1, 1, 2, 0, 1},
      {"dilated", 1, 16, 9, 9, 16, 3, 3, 1, 2, 2},
      {"residual and relu", 2, 32, 7, 7, 32, 3, 3, 1, 1, 1, false, true, Activation::kRelu},
  };
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(c.name);
    const int64_t oh = (c.h + 2 * c.pad - c.dilation * (c.kh - 1) - 1) / c.stride + 1;
    const int64_t ow = (c.w + 2 * c.pad - c.dilation * (c.kw - 1) - 1) / c.stride + 1;
    Tensor data = Random({c.n, c.c, c.h, c.w});
    Tensor weight = Random({c.o, c.depthwise ? 1 : c.c, c.kh, c.kw});
    Tensor bias = Random({c.o});
    Tensor residual = Random({c.n, c.o, oh, ow});
    const std::vector<float> expected =
        Reference(c, data, weight, bias, c.residual ? &residual : nullptr, oh, ow);

    BlockedConv2dAttrs attrs;
    attrs.layout = layout;
    attrs.channels = c.c;
    attrs.out_channels = c.o;
    attrs.kernel[0] = c.kh;
    attrs.kernel[1] = c.kw;
    attrs.strides[0] = attrs.strides[1] = c.stride;
    for (int64_t& p : attrs.padding) p = c.pad;
    attrs.dilation[0] = attrs.dilation[1] = c.dilation;
    attrs.groups = c.depthwise ? c.c : 1;
    attrs.blocked_input = c.c >= kChannelBlock;
    attrs.residual = c.residual;
    attrs.activation = c.activation;
    FerryKernelError error{};
    const int64_t packed_size = PackedConv2dWeightSize(attrs, &error);
    ASSERT_GT(packed_size, 0) << error.message;
    Tensor packed({packed_size});
    ASSERT_EQ(PackConv2dWeight(attrs, weight.data.data(), packed.data.data(), &error), 0)
        << error.message;

    Tensor input = last ? ToChannelsLast(data) : attrs.blocked_input ? ToBlocks(data) : data;
    Tensor blocked_residual = last ? ToChannelsLast(residual) : ToBlocks(residual);
    Tensor out = last ? Output({c.n, oh, ow, c.o})
                      : Output({c.n, ChannelBlocks(c.o), oh, ow, kChannelBlock});
    State state = NewState();
    std::vector<DLTensor*> args = {input.dl(), packed.dl(), bias.dl()};
    if (c.residual) args.push_back(blocked_residual.dl());
    args.push_back(out.dl());
    std::string msg;
    // Twice: the second call reuses the primitive made by the first.
    for (int call = 0; call < 2; ++call) {
      ASSERT_EQ(Call([&](auto... p) { return BlockedConv2d(attrs, state.get(), p...); }, args, &msg), 0)
          << msg;
    }
    if (!last) {
      EXPECT_TRUE(PaddingIsZero(out, c.o));
    }
    EXPECT_LT(RelativeError(last ? FromChannelsLast(out).data : FromBlocks(out, c.o).data, expected),
              1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, BlockedConv2dLayoutTest,
                         ::testing::Values(ConvLayout::kChannelBlocks, ConvLayout::kChannelsLast),
                         [](const auto& info) {
                           return info.param == ConvLayout::kChannelsLast ? "nhwc" : "nchw16c";
                         });


TEST(BlockedConv2dTest, RejectsMalformedCalls) {
  BlockedConv2dAttrs attrs;
  attrs.channels = 16;
  attrs.out_channels = 16;
  attrs.kernel[0] = attrs.kernel[1] = 3;
  attrs.padding[0] = attrs.padding[1] = attrs.padding[2] = attrs.padding[3] = 1;
  Tensor data = Random({1, 1, 4, 4, 16}), bias = Random({16});
  Tensor short_weight = Random({16 * 16 * 9 - 1});
  Tensor out = Output({1, 1, 4, 4, 16});
  State state = NewState();
  std::string msg;
  auto run = [&](const BlockedConv2dAttrs& a, OneDnnNodeState* s, std::vector<DLTensor*> args) {
    return Call([&](auto... p) { return BlockedConv2d(a, s, p...); }, std::move(args), &msg);
  };
  EXPECT_NE(run(attrs, state.get(), {data.dl(), short_weight.dl(), bias.dl(), out.dl()}), 0);
  EXPECT_NE(msg.find("packed weight"), std::string::npos) << msg;

  Tensor weight = Random({16 * 16 * 9});
  Tensor wrong_out = Output({1, 1, 3, 3, 16});
  EXPECT_NE(run(attrs, state.get(), {data.dl(), weight.dl(), bias.dl(), wrong_out.dl()}), 0);
  EXPECT_NE(msg.find("output"), std::string::npos) << msg;

  EXPECT_NE(run(attrs, nullptr, {data.dl(), weight.dl(), bias.dl(), out.dl()}), 0);
  EXPECT_NE(msg.find("state"), std::string::npos) << msg;

  BlockedConv2dAttrs grouped = attrs;
  grouped.groups = 2;
  EXPECT_NE(run(grouped, state.get(), {data.dl(), weight.dl(), bias.dl(), out.dl()}), 0);
  EXPECT_NE(msg.find("groups"), std::string::npos) << msg;
  // The state still works for a good call afterwards.
  EXPECT_EQ(run(attrs, state.get(), {data.dl(), weight.dl(), bias.dl(), out.dl()}), 0) << msg;
}

// Windows along one axis, with PyTorch's ceil-mode rule (a last window must start inside the
// input or its leading padding).
int64_t PoolOutput(int64_t in, int64_t k, int64_t stride, int64_t pad, bool ceil_mode) {
  const int64_t span = in + 2 * pad - k;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

class BlockedPool2dLayoutTest : public ::testing::TestWithParam<ConvLayout> {};

TEST_P(BlockedPool2dLayoutTest, MatchesThePlainPools) {
  const ConvLayout layout = GetParam();
  const bool last = layout == ConvLayout::kChannelsLast;
  struct PoolCase {
    const char* name;
    bool is_max, ceil_mode, include_pad, global;
    int64_t k, stride, pad;
  };
  const PoolCase cases[] = {
      {"max 3x3/2 ceil mode", true, true, false, false, 3, 2, 0},
      {"max 3x3/2 pad 1", true, false, false, false, 3, 2, 1},
      {"avg 3x3/1 pad 1 excluding padding", false, false, false, false, 3, 1, 1},
      {"avg 2x2/2 including padding", false, false, true, false, 2, 2, 1},
      {"global avg", false, false, false, true, 0, 1, 0},
  };
  for (const PoolCase& c : cases) {
    SCOPED_TRACE(c.name);
    const int64_t channels = 24, h = 12, w = 11;
    Tensor data = Random({2, channels, h, w});
    Tensor expected({0});
    BlockedPool2dAttrs attrs;
    attrs.layout = layout;
    attrs.is_max = c.is_max;
    attrs.channels = channels;
    attrs.count_include_pad = c.include_pad;
    std::string msg;
    if (c.global) {
      expected = Output({2, channels, 1, 1});
      ASSERT_EQ(Call(GlobalAvgPool2d, {data.dl(), expected.dl()}, &msg), 0) << msg;
      attrs.pool_size[0] = h;
      attrs.pool_size[1] = w;
    } else {
      const Pool2dAttrs plain =
          test_util::MakePool(c.k, c.k, c.stride, c.stride, {c.pad, c.pad, c.pad, c.pad}, c.ceil_mode,
                              c.include_pad);
      const int64_t oh = PoolOutput(h, c.k, c.stride, c.pad, c.ceil_mode);
      const int64_t ow = PoolOutput(w, c.k, c.stride, c.pad, c.ceil_mode);
      expected = Output({2, channels, oh, ow});
      ASSERT_EQ(Call([&](auto... p) { return c.is_max ? MaxPool2d(plain, p...) : AvgPool2d(plain, p...); },
                     {data.dl(), expected.dl()}, &msg),
                0)
          << msg;
      for (int axis = 0; axis < 2; ++axis) {
        attrs.pool_size[axis] = c.k;
        attrs.strides[axis] = c.stride;
        attrs.padding[axis] = c.pad;
        // A ceil-mode pool's extra windows as extra bottom and right padding.
        const int64_t in = axis == 0 ? h : w, out = axis == 0 ? oh : ow;
        attrs.padding[2 + axis] = std::max(c.pad, (out - 1) * c.stride + c.k - in - c.pad);
      }
    }
    Tensor blocked = last ? ToChannelsLast(data) : ToBlocks(data);
    const Shape& e = expected.shape;
    Tensor out = Output(last ? Shape{e[0], e[2], e[3], e[1]} : BlockedShape(e));
    State state = NewState();
    ASSERT_EQ(Call([&](auto... p) { return BlockedPool2d(attrs, state.get(), p...); },
                   {blocked.dl(), out.dl()}, &msg),
              0)
        << msg;
    if (!last) {
      EXPECT_TRUE(PaddingIsZero(out, channels));
    }
    EXPECT_LT(RelativeError(last ? FromChannelsLast(out).data : FromBlocks(out, channels).data,
                            expected.data),
              1e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, BlockedPool2dLayoutTest,
                         ::testing::Values(ConvLayout::kChannelBlocks, ConvLayout::kChannelsLast),
                         [](const auto& info) {
                           return info.param == ConvLayout::kChannelsLast ? "nhwc" : "nchw16c";
                         });

#endif  // FERRY_HAVE_DNNL

}  // namespace
}  // namespace ferry::kernels
