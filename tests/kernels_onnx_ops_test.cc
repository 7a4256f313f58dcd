// Tests of the arithmetic kernels added for ONNX import (unary, sub / div / pow,
// global_max_pool2d, log_softmax, reduce_sum / reduce_mean, layer_norm, conv2d_transpose)
// against naive double-precision references and examples from the ONNX operator docs, plus
// the error cases every new float32 kernel shares.
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/kernels.h"
#include "tests/kernels_test_util.h"

namespace ferry::kernels {
namespace {

using namespace test_util;  // NOLINT(build/namespaces)

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Expects `fn` to fail with a message starting with "<prefix>: " and to leave `out` untouched.
void ExpectError(const KernelFn& fn, std::vector<DLTensor*> args, const std::string& prefix,
                 const std::vector<float>* out = nullptr) {
  const std::vector<float> before = out != nullptr ? *out : std::vector<float>();
  std::string msg;
  EXPECT_NE(Call(fn, std::move(args), &msg), 0);
  EXPECT_EQ(msg.rfind(prefix + ": ", 0), 0u) << msg;
  EXPECT_GT(msg.size(), prefix.size() + 2) << msg;
  if (out != nullptr) {  // Bitwise, so that NaNs compare equal.
    ASSERT_EQ(out->size(), before.size());
    EXPECT_EQ(memcmp(out->data(), before.data(), before.size() * sizeof(float)), 0);
  }
}

// ---------------------------------------------------------------------------------------
// unary

KernelFn UnaryFn(UnaryOp op, double alpha = 0.0, double beta = 0.0) {
  UnaryAttrs attrs;
  attrs.op = op;
  attrs.alpha = alpha;
  attrs.beta = beta;
  return [attrs](auto... p) { return Unary(attrs, p...); };
}

TEST(OnnxUnaryTest, MatchesReference) {
  struct Case {
    UnaryOp op;
    double alpha, beta;
    float lo, hi;  // Input range.
    std::function<double(double)> ref;
  };
  const std::vector<Case> cases = {
      {UnaryOp::kNeg, 0, 0, -5, 5, [](double x) { return -x; }},
      {UnaryOp::kExp, 0, 0, -5, 5, [](double x) { return std::exp(x); }},
      {UnaryOp::kSqrt, 0, 0, 0, 9, [](double x) { return std::sqrt(x); }},
      {UnaryOp::kErf, 0, 0, -3, 3, [](double x) { return std::erf(x); }},
      {UnaryOp::kLeakyRelu, 0.1, 0, -5, 5, [](double x) { return x >= 0 ? x : 0.1 * x; }},
      {UnaryOp::kHardSigmoid, 0.2, 0.5, -5, 5,
       [](double x) { return std::max(0.0, std::min(1.0, 0.2 * x + 0.5)); }},
      {UnaryOp::kHardSwish, 0, 0, -5, 5,
       [](double x) { return x * std::max(0.0, std::min(1.0, x / 6 + 0.5)); }},
      {UnaryOp::kIdentity, 0, 0, -5, 5, [](double x) { return x; }},
      {UnaryOp::kLog, 0, 0, 0.01f, 9, [](double x) { return std::log(x); }},
      {UnaryOp::kAbs, 0, 0, -5, 5, [](double x) { return std::fabs(x); }},
      {UnaryOp::kReciprocal, 0, 0, 0.5f, 4, [](double x) { return 1.0 / x; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "op " << static_cast<int>(c.op));
    Tensor in = Random({3, 4, 5}, c.lo, c.hi), out = Output({3, 4, 5});
    std::string msg;
    ASSERT_EQ(Call(UnaryFn(c.op, c.alpha, c.beta), {in.dl(), out.dl()}, &msg), 0) << msg;
    std::vector<float> expected(in.data.size());
    for (size_t i = 0; i < in.data.size(); ++i) expected[i] = c.ref(in.data[i]);
    ExpectClose(out.data, expected, 1e-6);
  }
}

TEST(OnnxUnaryTest, KnownValuesAndSpecialCases) {
  Tensor in({7}), out = Output({7});
  in.data = {-3.0f, -1.0f, 0.0f, 1.0f, 3.0f, 6.0f, kNaN};
  std::string msg;
  ASSERT_EQ(Call(UnaryFn(UnaryOp::kHardSwish), {in.dl(), out.dl()}, &msg), 0) << msg;
  ExpectClose({out.data.begin(), out.data.end() - 1},
              {0.0f, -1.0f / 3.0f, 0.0f, 2.0f / 3.0f, 3.0f, 6.0f}, 1e-6);
  EXPECT_TRUE(std::isnan(out.data[6]));
  // hard_sigmoid propagates NaN and clamps to [0, 1].
  ASSERT_EQ(Call(UnaryFn(UnaryOp::kHardSigmoid, 0.2, 0.5), {in.dl(), out.dl()}, &msg), 0);
  ExpectClose({out.data.begin(), out.data.end() - 1}, {0.0f, 0.3f, 0.5f, 0.7f, 1.0f, 1.0f}, 1e-6);
  EXPECT_TRUE(std::isnan(out.data[6]));
  // IEEE results for reciprocal, log and sqrt outside their domains.
  Tensor special({3}), res = Output({3});
  special.data = {0.0f, -1.0f, 1.0f};
  ASSERT_EQ(Call(UnaryFn(UnaryOp::kReciprocal), {special.dl(), res.dl()}, &msg), 0);
  EXPECT_EQ(res.data[0], kInf);
  ASSERT_EQ(Call(UnaryFn(UnaryOp::kLog), {special.dl(), res.dl()}, &msg), 0);
  EXPECT_EQ(res.data[0], -kInf);
  EXPECT_TRUE(std::isnan(res.data[1]));
  ASSERT_EQ(Call(UnaryFn(UnaryOp::kSqrt), {special.dl(), res.dl()}, &msg), 0);
  EXPECT_TRUE(std::isnan(res.data[1]));
  // In place.
  ASSERT_EQ(Call(UnaryFn(UnaryOp::kNeg), {special.dl(), special.dl()}, &msg), 0);
  EXPECT_EQ(special.data, (std::vector<float>{-0.0f, 1.0f, -1.0f}));
}

TEST(OnnxUnaryTest, RejectsUnknownOpAndNamesTheOp) {
  Tensor in = Random({4}), out = Output({4}), wrong = Output({5});
  ExpectError(UnaryFn(static_cast<UnaryOp>(99)), {in.dl(), out.dl()}, "unary", &out.data);
  ExpectError(UnaryFn(UnaryOp::kErf), {in.dl(), wrong.dl()}, "unary(erf)", &wrong.data);
}

// ---------------------------------------------------------------------------------------
// sub / div / pow

TEST(OnnxBinaryTest, SubDivPowBroadcastLikeNumpy) {
  struct Case {
    KernelFn fn;
    std::function<float(float, float)> ref;
  };
  const std::vector<Case> cases = {
      {Sub, [](float x, float y) { return x - y; }},
      {Div, [](float x, float y) { return x / y; }},
      {Pow, [](float x, float y) { return static_cast<float>(std::pow(double{x}, double{y})); }},
  };
  const Shape sa = {2, 1, 4}, sb = {3, 1}, so = {2, 3, 4};
  for (size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(testing::Message() << "case " << k);
    Tensor a = Random(sa, 0.5f, 2.0f), b = Random(sb, -2.0f, 2.0f), out = Output(so);
    std::string msg;
    ASSERT_EQ(Call(cases[k].fn, {a.dl(), b.dl(), out.dl()}, &msg), 0) << msg;
    std::vector<float> expected(out.data.size());
    for (int64_t i = 0; i < NumElements(so); ++i) {
      const Shape index = Unravel(i, so);
      expected[i] =
          cases[k].ref(a.data[BroadcastOffset(index, sa)], b.data[BroadcastOffset(index, sb)]);
    }
    ExpectClose(out.data, expected, 1e-6);
  }
}

TEST(OnnxBinaryTest, KnownValuesAndErrors) {
  Tensor a({4}), b({4}), out = Output({4});
  a.data = {1.0f, -1.0f, 0.0f, 6.0f};
  b.data = {0.0f, 0.0f, 0.0f, 4.0f};
  std::string msg;
  ASSERT_EQ(Call(Div, {a.dl(), b.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data[0], kInf);
  EXPECT_EQ(out.data[1], -kInf);
  EXPECT_TRUE(std::isnan(out.data[2]));
  EXPECT_EQ(out.data[3], 1.5f);
  a.data = {2.0f, 4.0f, -8.0f, 3.0f};
  b.data = {3.0f, 0.5f, 1.0f / 3.0f, -1.0f};
  ASSERT_EQ(Call(Pow, {a.dl(), b.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data[0], 8.0f);
  EXPECT_EQ(out.data[1], 2.0f);
  EXPECT_TRUE(std::isnan(out.data[2]));  // Negative base, fractional exponent.
  EXPECT_FLOAT_EQ(out.data[3], 1.0f / 3.0f);
  Tensor c = Random({3});
  ExpectError(Sub, {a.dl(), c.dl(), out.dl()}, "sub", &out.data);
  EXPECT_EQ(Call(Sub, {a.dl(), c.dl(), out.dl()}, &msg), -1);
  EXPECT_EQ(msg, "sub: shapes [4] and [3] do not broadcast");
}

// ---------------------------------------------------------------------------------------
// global_max_pool2d / log_softmax

TEST(OnnxPoolTest, GlobalMaxPool) {
  Tensor data = Random({2, 3, 4, 5}), out = Output({2, 3, 1, 1});
  data.data[7] = kNaN;  // In plane 0.
  std::string msg;
  ASSERT_EQ(Call(GlobalMaxPool2d, {data.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_TRUE(std::isnan(out.data[0]));
  for (int p = 1; p < 6; ++p) {
    EXPECT_EQ(out.data[p],
              *std::max_element(data.data.begin() + p * 20, data.data.begin() + (p + 1) * 20));
  }
  Tensor empty({1, 2, 0, 3}), out2 = Output({1, 2, 1, 1});
  ExpectError(GlobalMaxPool2d, {empty.dl(), out2.dl()}, "global_max_pool2d", &out2.data);
  Tensor wrong = Output({2, 3, 1});
  ExpectError(GlobalMaxPool2d, {data.dl(), wrong.dl()}, "global_max_pool2d", &wrong.data);
}

TEST(OnnxSoftmaxTest, LogSoftmaxMatchesReference) {
  const Shape shape = {2, 3, 4};
  for (int64_t axis : {0, 1, 2, -1}) {
    SCOPED_TRACE(testing::Message() << "axis " << axis);
    const int a = static_cast<int>(axis < 0 ? axis + 3 : axis);
    Tensor in = Random(shape, -5.0f, 5.0f), out = Output(shape);
    SoftmaxAttrs attrs;
    attrs.axis = axis;
    std::string msg;
    ASSERT_EQ(Call([&](auto... p) { return LogSoftmax(attrs, p...); }, {in.dl(), out.dl()}, &msg),
              0)
        << msg;
    const Shape strides = Strides(shape);
    std::vector<float> expected(out.data.size());
    for (int64_t i = 0; i < NumElements(shape); ++i) {
      const Shape index = Unravel(i, shape);
      const int64_t first = i - index[a] * strides[a];
      double sum = 0.0;
      for (int64_t t = 0; t < shape[a]; ++t)
        sum += std::exp(double{in.data[first + t * strides[a]]});
      expected[i] = static_cast<float>(in.data[i] - std::log(sum));
    }
    ExpectClose(out.data, expected, 1e-5);
  }
  // Large values stay finite, in place.
  Tensor big({3});
  big.data = {1000.0f, 1001.0f, 1002.0f};
  SoftmaxAttrs attrs;
  std::string msg;
  ASSERT_EQ(Call([&](auto... p) { return LogSoftmax(attrs, p...); }, {big.dl(), big.dl()}, &msg),
            0);
  ExpectClose(big.data, {-2.407606f, -1.407606f, -0.407606f}, 1e-5);
  attrs.axis = 1;
  ExpectError([&](auto... p) { return LogSoftmax(attrs, p...); }, {big.dl(), big.dl()},
              "log_softmax");
}

// ---------------------------------------------------------------------------------------
// reduce_sum / reduce_mean

ReduceAttrs MakeReduce(const std::vector<int>& flags) {
  ReduceAttrs attrs;
  attrs.ndim = static_cast<int64_t>(flags.size());
  for (size_t i = 0; i < flags.size(); ++i) attrs.reduce[i] = flags[i];
  return attrs;
}

TEST(OnnxReduceTest, SumAndMeanMatchReference) {
  const Shape shape = {2, 3, 4, 5};
  const std::vector<std::vector<int>> flag_sets = {{0, 1, 0, 0}, {1, 0, 0, 1}, {0, 0, 0, 1},
                                                   {1, 1, 1, 1}, {0, 0, 0, 0}, {1, 0, 1, 0}};
  for (bool mean : {false, true}) {
    for (const auto& flags : flag_sets) {
      SCOPED_TRACE(testing::Message()
                   << "mean " << mean << " flags " << flags[0] << flags[1] << flags[2] << flags[3]);
      Shape kept_shape;  // keepdims = 0.
      int64_t reduced = 1;
      for (int d = 0; d < 4; ++d) {
        if (flags[d] == 0) kept_shape.push_back(shape[d]);
        if (flags[d] != 0) reduced *= shape[d];
      }
      Tensor in = Random(shape), out = Output(kept_shape);
      const ReduceAttrs attrs = MakeReduce(flags);
      KernelFn fn = [&](auto... p) {
        return mean ? ReduceMean(attrs, p...) : ReduceSum(attrs, p...);
      };
      std::string msg;
      ASSERT_EQ(Call(fn, {in.dl(), out.dl()}, &msg), 0) << msg;
      std::vector<double> sums(out.data.size(), 0.0);
      for (int64_t i = 0; i < NumElements(shape); ++i) {
        const Shape index = Unravel(i, shape);
        int64_t flat = 0;
        for (int d = 0; d < 4; ++d) {
          if (flags[d] == 0) flat = flat * shape[d] + index[d];
        }
        sums[flat] += in.data[i];
      }
      std::vector<float> expected(sums.size());
      for (size_t i = 0; i < sums.size(); ++i) {
        expected[i] = static_cast<float>(mean ? sums[i] / reduced : sums[i]);
      }
      ExpectClose(out.data, expected, 1e-6);
    }
  }
}

TEST(OnnxReduceTest, KeepDimsEmptyAxesAndErrors) {
  // keepdims: [2, 3] -> [2, 1]; ONNX ReduceMean example values.
  Tensor in({2, 3}), out = Output({2, 1});
  in.data = {5.0f, 1.0f, 20.0f, 2.0f, 30.0f, 1.0f};
  const ReduceAttrs axis1 = MakeReduce({0, 1});
  std::string msg;
  ASSERT_EQ(Call([&](auto... p) { return ReduceMean(axis1, p...); }, {in.dl(), out.dl()}, &msg), 0)
      << msg;
  EXPECT_EQ(out.data, (std::vector<float>{26.0f / 3.0f, 11.0f}));
  // Reducing an empty axis: 0 for sum, NaN for mean.
  Tensor empty({2, 0}), out2 = Output({2});
  ASSERT_EQ(Call([&](auto... p) { return ReduceSum(axis1, p...); }, {empty.dl(), out2.dl()}), 0);
  EXPECT_EQ(out2.data, (std::vector<float>{0.0f, 0.0f}));
  ASSERT_EQ(Call([&](auto... p) { return ReduceMean(axis1, p...); }, {empty.dl(), out2.dl()}), 0);
  EXPECT_TRUE(std::isnan(out2.data[0]) && std::isnan(out2.data[1]));
  // A rank-0 input reduces to itself.
  Tensor scalar(Shape{}), out3 = Output({});
  scalar.data = {4.5f};
  const ReduceAttrs none = MakeReduce({});
  ASSERT_EQ(Call([&](auto... p) { return ReduceSum(none, p...); }, {scalar.dl(), out3.dl()}), 0);
  EXPECT_EQ(out3.data[0], 4.5f);
  // Wrong element count and wrong ndim.
  Tensor wrong = Output({3});
  ExpectError([&](auto... p) { return ReduceSum(axis1, p...); }, {in.dl(), wrong.dl()},
              "reduce_sum", &wrong.data);
  const ReduceAttrs three = MakeReduce({0, 1, 0});
  ExpectError([&](auto... p) { return ReduceMean(three, p...); }, {in.dl(), out.dl()},
              "reduce_mean", &out.data);
}

// ---------------------------------------------------------------------------------------
// layer_norm

TEST(OnnxLayerNormTest, MatchesReference) {
  const Shape shape = {2, 3, 8};
  for (int64_t axis : {-1, 1, 0}) {
    for (bool bias : {true, false}) {
      SCOPED_TRACE(testing::Message() << "axis " << axis << " bias " << bias);
      const int a = static_cast<int>(axis < 0 ? axis + 3 : axis);
      Shape norm_shape(shape.begin() + a, shape.end());
      const int64_t inner = NumElements(norm_shape);
      Tensor x = Random(shape, -3.0f, 5.0f), scale = Random(norm_shape), b = Random({inner}),
             out = Output(shape);
      LayerNormAttrs attrs;
      attrs.axis = axis;
      attrs.epsilon = 1e-3;
      std::vector<DLTensor*> args = {x.dl(), scale.dl()};
      if (bias) args.push_back(b.dl());
      args.push_back(out.dl());
      std::string msg;
      ASSERT_EQ(Call([&](auto... p) { return LayerNorm(attrs, p...); }, args, &msg), 0) << msg;
      std::vector<float> expected(out.data.size());
      for (int64_t row = 0; row < NumElements(shape) / inner; ++row) {
        const float* v = x.data.data() + row * inner;
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < inner; ++i) mean += v[i];
        mean /= inner;
        for (int64_t i = 0; i < inner; ++i) var += (v[i] - mean) * (v[i] - mean);
        var /= inner;
        for (int64_t i = 0; i < inner; ++i) {
          const double y =
              (v[i] - mean) / std::sqrt(var + 1e-3) * scale.data[i] + (bias ? b.data[i] : 0.0);
          expected[row * inner + i] = static_cast<float>(y);
        }
      }
      ExpectClose(out.data, expected, 1e-5);
    }
  }
}

TEST(OnnxLayerNormTest, RejectsBadParameters) {
  Tensor x = Random({2, 4}), scale = Random({4}), bias = Random({3}), out = Output({2, 4});
  LayerNormAttrs attrs;
  KernelFn fn = [&](auto... p) { return LayerNorm(attrs, p...); };
  ExpectError(fn, {x.dl(), scale.dl(), bias.dl(), out.dl()}, "layer_norm", &out.data);
  attrs.axis = 0;  // Normalises 8 elements; scale has 4.
  ExpectError(fn, {x.dl(), scale.dl(), out.dl()}, "layer_norm", &out.data);
  attrs.axis = 2;
  ExpectError(fn, {x.dl(), scale.dl(), out.dl()}, "layer_norm", &out.data);
  attrs.axis = -1;
  attrs.epsilon = -1.0;
  ExpectError(fn, {x.dl(), scale.dl(), out.dl()}, "layer_norm", &out.data);
}

// ---------------------------------------------------------------------------------------
// conv2d_transpose

// Direct scatter loop: every input element adds x * w to the output positions it reaches.
std::vector<float> ConvTransposeReference(const Tensor& x, const Tensor& w,
                                          const Conv2dTransposeAttrs& a, const Shape& out_shape) {
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const int64_t og = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  const int64_t o = out_shape[1], oh = out_shape[2], ow = out_shape[3], cg = c / a.groups;
  std::vector<double> y(NumElements(out_shape), 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < wd; ++j)
          for (int64_t k = 0; k < og; ++k)
            for (int64_t p = 0; p < kh; ++p)
              for (int64_t q = 0; q < kw; ++q) {
                const int64_t r = i * a.strides[0] - a.padding[0] + p * a.dilation[0];
                const int64_t s = j * a.strides[1] - a.padding[1] + q * a.dilation[1];
                if (r < 0 || r >= oh || s < 0 || s >= ow) continue;
                const int64_t oc = (ci / cg) * og + k;
                y[((b * o + oc) * oh + r) * ow + s] +=
                    double{x.data[((b * c + ci) * h + i) * wd + j]} *
                    w.data[((ci * og + k) * kh + p) * kw + q];
              }
  return std::vector<float>(y.begin(), y.end());
}

Conv2dTransposeAttrs MakeConvT(std::array<int64_t, 2> stride, std::array<int64_t, 4> pad,
                               std::array<int64_t, 2> dilation, std::array<int64_t, 2> out_pad,
                               int64_t groups) {
  Conv2dTransposeAttrs a;
  for (int i = 0; i < 2; ++i) {
    a.strides[i] = stride[i];
    a.dilation[i] = dilation[i];
    a.output_padding[i] = out_pad[i];
  }
  for (int i = 0; i < 4; ++i) a.padding[i] = pad[i];
  a.groups = groups;
  return a;
}

TEST(OnnxConvTransposeTest, OnnxDocExample) {
  Tensor x({1, 1, 3, 3}), w({1, 2, 3, 3}), out = Output({1, 2, 5, 5});
  for (int i = 0; i < 9; ++i) x.data[i] = static_cast<float>(i);
  std::fill(w.data.begin(), w.data.end(), 1.0f);
  const Conv2dTransposeAttrs attrs;
  std::string msg;
  ASSERT_EQ(Call([&](auto... p) { return Conv2dTranspose(attrs, p...); },
                 {x.dl(), w.dl(), out.dl()}, &msg),
            0)
      << msg;
  const std::vector<float> plane = {0,  1,  3, 3,  2,  3,  8,  15, 12, 7,  9,  21, 36,
                                    27, 15, 9, 20, 33, 24, 13, 6,  13, 21, 15, 8};
  std::vector<float> expected = plane;
  expected.insert(expected.end(), plane.begin(), plane.end());
  EXPECT_EQ(out.data, expected);
}

TEST(OnnxConvTransposeTest, MatchesDirectLoop) {
  struct Case {
    Shape x, w;
    Conv2dTransposeAttrs attrs;
  };
  const std::vector<Case> cases = {
      {{2, 3, 4, 5}, {3, 2, 3, 3}, MakeConvT({1, 1}, {0, 0, 0, 0}, {1, 1}, {0, 0}, 1)},
      {{1, 2, 3, 3}, {2, 3, 3, 2}, MakeConvT({3, 2}, {1, 0, 2, 1}, {1, 1}, {1, 1}, 1)},
      {{1, 4, 5, 4}, {4, 1, 2, 3}, MakeConvT({2, 2}, {1, 1, 1, 1}, {2, 1}, {0, 1}, 2)},
      {{1, 6, 3, 3}, {6, 1, 3, 3}, MakeConvT({2, 1}, {0, 2, 1, 0}, {1, 2}, {1, 0}, 6)},
      {{2, 2, 1, 1}, {2, 3, 1, 1}, MakeConvT({1, 1}, {0, 0, 0, 0}, {1, 1}, {0, 0}, 1)},
      {{1, 2, 4, 4}, {2, 2, 5, 5}, MakeConvT({1, 3}, {3, 4, 2, 4}, {1, 1}, {0, 2}, 1)},
  };
  for (size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(testing::Message() << "case " << k);
    const Case& c = cases[k];
    const auto& a = c.attrs;
    const int64_t oh = (c.x[2] - 1) * a.strides[0] - a.padding[0] - a.padding[2] +
                       a.dilation[0] * (c.w[2] - 1) + a.output_padding[0] + 1;
    const int64_t ow = (c.x[3] - 1) * a.strides[1] - a.padding[1] - a.padding[3] +
                       a.dilation[1] * (c.w[3] - 1) + a.output_padding[1] + 1;
    const Shape out_shape = {c.x[0], c.w[1] * a.groups, oh, ow};
    Tensor x = Random(c.x), w = Random(c.w), out = Output(out_shape);
    std::string msg;
    ASSERT_EQ(
        Call([&](auto... p) { return Conv2dTranspose(a, p...); }, {x.dl(), w.dl(), out.dl()}, &msg),
        0)
        << msg;
    ExpectClose(out.data, ConvTransposeReference(x, w, a, out_shape), 1e-5);
  }
}

TEST(OnnxConvTransposeTest, RejectsBadGeometry) {
  Tensor x = Random({1, 4, 3, 3}), w = Random({4, 2, 3, 3}), out = Output({1, 2, 5, 5});
  Conv2dTransposeAttrs attrs;
  KernelFn fn = [&](auto... p) { return Conv2dTranspose(attrs, p...); };
  std::string msg;
  ASSERT_EQ(Call(fn, {x.dl(), w.dl(), out.dl()}, &msg), 0) << msg;
  Tensor w3 = Random({3, 2, 3, 3});  // Weight channels do not match data channels.
  ExpectError(fn, {x.dl(), w3.dl(), out.dl()}, "conv2d_transpose", &out.data);
  attrs.groups = 3;  // 4 channels are not divisible by 3 groups.
  ExpectError(fn, {x.dl(), w.dl(), out.dl()}, "conv2d_transpose", &out.data);
  attrs.groups = 2;  // Output channels become 4.
  ExpectError(fn, {x.dl(), w.dl(), out.dl()}, "conv2d_transpose", &out.data);
  attrs.groups = 1;
  attrs.output_padding[0] = -1;
  ExpectError(fn, {x.dl(), w.dl(), out.dl()}, "conv2d_transpose", &out.data);
  attrs.output_padding[0] = 0;
  attrs.padding[0] = attrs.padding[2] = 4;  // 5 - 8 rows: negative output size.
  ExpectError(fn, {x.dl(), w.dl(), out.dl()}, "conv2d_transpose", &out.data);
}

// ---------------------------------------------------------------------------------------
// conv3d, max_pool3d, avg_pool3d (numbers: ONNX's Conv3d / Pool3d conformance cases).

TEST(Onnx3dWindowTest, SumKernelAndPoolsOverACube) {
  // A 2x2x2 all-ones kernel over a 2x2x2 cube of 1..8 sums it: 36.
  Tensor x({1, 1, 2, 2, 2}), w({1, 1, 2, 2, 2}), out = Output({1, 1, 1, 1, 1});
  x.data = {1, 2, 3, 4, 5, 6, 7, 8};
  std::fill(w.data.begin(), w.data.end(), 1.0f);
  Conv3dAttrs conv;
  std::string msg;
  ASSERT_EQ(Call([&](auto... p) { return Conv3d(conv, p...); }, {x.dl(), w.dl(), out.dl()}, &msg),
            0)
      << msg;
  EXPECT_EQ(out.data, std::vector<float>{36});
  Pool3dAttrs pool;
  pool.pool_size[0] = pool.pool_size[1] = pool.pool_size[2] = 2;
  ASSERT_EQ(Call([&](auto... p) { return MaxPool3d(pool, p...); }, {x.dl(), out.dl()}, &msg), 0)
      << msg;
  EXPECT_EQ(out.data, std::vector<float>{8});
  ASSERT_EQ(Call([&](auto... p) { return AvgPool3d(pool, p...); }, {x.dl(), out.dl()}, &msg), 0)
      << msg;
  EXPECT_EQ(out.data, std::vector<float>{4.5f});
  // With one layer of padding on every side and count_include_pad, a 3x3x3 window at the
  // corner holds the 8 values and 19 zeros: 36 / 27.
  Pool3dAttrs padded = pool;
  for (int i = 0; i < 3; ++i) padded.pool_size[i] = 3;
  for (int64_t& p : padded.padding) p = 1;
  padded.count_include_pad = true;
  Tensor corner = Output({1, 1, 2, 2, 2});
  ASSERT_EQ(Call([&](auto... p) { return AvgPool3d(padded, p...); }, {x.dl(), corner.dl()}, &msg),
            0)
      << msg;
  EXPECT_FLOAT_EQ(corner.data[0], 36.0f / 27.0f);
}

TEST(Onnx3dWindowTest, RejectsBadGeometry) {
  Tensor x = Random({1, 2, 3, 3, 3}), w = Random({2, 2, 2, 2, 2}), out = Output({1, 2, 2, 2, 2});
  Conv3dAttrs attrs;
  KernelFn fn = [&](auto... p) { return Conv3d(attrs, p...); };
  std::string msg;
  ASSERT_EQ(Call(fn, {x.dl(), w.dl(), out.dl()}, &msg), 0) << msg;
  Tensor flat = Random({1, 2, 3, 3});  // 4-D data.
  ExpectError(fn, {flat.dl(), w.dl(), out.dl()}, "conv3d", &out.data);
  attrs.groups = 2;  // weight channels 2 != 2 / 2.
  ExpectError(fn, {x.dl(), w.dl(), out.dl()}, "conv3d", &out.data);
  attrs.groups = 1;
  attrs.strides[2] = 0;
  ExpectError(fn, {x.dl(), w.dl(), out.dl()}, "conv3d", &out.data);
  Pool3dAttrs pool;
  pool.pool_size[0] = 4;  // Larger than the depth.
  ExpectError([&](auto... p) { return MaxPool3d(pool, p...); }, {x.dl(), out.dl()}, "max_pool3d",
              &out.data);
}

}  // namespace
}  // namespace ferry::kernels
