// Tests of the element-wise, broadcast, layout (concat / reshape / transpose) and softmax CPU
// kernels against naive reference implementations on random data.
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/kernels/kernels.h"
#include "tests/kernels_test_util.h"

namespace ferry::kernels {
namespace {

using namespace test_util;  // NOLINT(build/namespaces)

// ---------------------------------------------------------------------------------------
// element-wise

TEST(ElementwiseTest, UnaryKernelsMatchReference) {
  struct Case {
    KernelFn fn;
    std::function<float(float)> ref;
  };
  ClipAttrs clip;
  clip.min = -0.25;
  clip.max = 0.5;
  const std::vector<Case> cases = {
      {Relu, [](float x) { return x > 0 ? x : 0.0f; }},
      {Sigmoid, [](float x) { return static_cast<float>(1.0 / (1.0 + std::exp(-double{x}))); }},
      {Tanh, [](float x) { return static_cast<float>(std::tanh(double{x})); }},
      {[&](auto... p) { return Clip(clip, p...); },
       [](float x) { return std::min(0.5f, std::max(-0.25f, x)); }},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "case " << i);
    Tensor in = Random({2, 3, 5}, -6.0f, 6.0f), out = Output({2, 3, 5});
    std::string msg;
    ASSERT_EQ(Call(cases[i].fn, {in.dl(), out.dl()}, &msg), 0) << msg;
    std::vector<float> expected(in.data.size());
    for (size_t j = 0; j < in.data.size(); ++j) expected[j] = cases[i].ref(in.data[j]);
    ExpectClose(out.data, expected);
  }
}

TEST(ElementwiseTest, ClipRejectsInvertedRange) {
  ClipAttrs clip;
  clip.min = 1.0;
  clip.max = 0.0;
  Tensor in = Random({4}), out = Output({4});
  std::string msg;
  EXPECT_NE(Call([&](auto... p) { return Clip(clip, p...); }, {in.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("clip: ", 0), 0u) << msg;
}

TEST(ElementwiseTest, BiasAddAlongAxes) {
  const Shape shape = {2, 3, 4, 5};
  for (int64_t axis : {0, 1, 3, -1, -3}) {
    SCOPED_TRACE(testing::Message() << "axis " << axis);
    const int64_t a = axis < 0 ? axis + 4 : axis;
    Tensor data = Random(shape), bias = Random({shape[a]}), out = Output(shape);
    BiasAddAttrs attrs;
    attrs.axis = axis;
    std::string msg;
    ASSERT_EQ(Call([&](auto... p) { return BiasAdd(attrs, p...); },
                   {data.dl(), bias.dl(), out.dl()}, &msg),
              0)
        << msg;
    std::vector<float> expected(data.data.size());
    for (int64_t i = 0; i < NumElements(shape); ++i) {
      expected[i] = data.data[i] + bias.data[Unravel(i, shape)[a]];
    }
    ExpectClose(out.data, expected);
  }
  BiasAddAttrs attrs;
  attrs.axis = 4;
  Tensor data = Random(shape), bias = Random({5}), out = Output(shape);
  std::string msg;
  EXPECT_NE(
      Call([&](auto... p) { return BiasAdd(attrs, p...); }, {data.dl(), bias.dl(), out.dl()}, &msg),
      0);
  EXPECT_EQ(msg.rfind("bias_add: ", 0), 0u) << msg;
}

// ---------------------------------------------------------------------------------------
// add / mul

Shape BroadcastShape(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i + a.size() >= n ? a[i + a.size() - n] : 1;
    const int64_t db = i + b.size() >= n ? b[i + b.size() - n] : 1;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

TEST(BroadcastTest, AddAndMulMatchReference) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4}, {2, 3, 4}},
      {{2, 3, 4}, {3, 1}},
      {{1}, {2, 2}},
      {{2, 2}, {1}},
      {{}, {3, 2}},
      {{4, 1, 3}, {1, 5, 1}},
      {{3, 1, 2, 1}, {4, 1, 5}},
      {{2, 1}, {1, 2}},
      {{5}, {2, 3, 5}},
      {{2, 0, 3}, {1, 3}},
      {{}, {}},
      {{1, 1}, {1}},
  };
  for (bool is_add : {true, false}) {
    for (const auto& [sa, sb] : cases) {
      SCOPED_TRACE(testing::Message()
                   << "add " << is_add << " ranks " << sa.size() << ", " << sb.size());
      const Shape so = BroadcastShape(sa, sb);
      Tensor a = Random(sa), b = Random(sb), out = Output(so);
      std::string msg;
      ASSERT_EQ(Call(is_add ? KernelFn(Add) : KernelFn(Mul), {a.dl(), b.dl(), out.dl()}, &msg), 0)
          << msg;
      std::vector<float> expected(out.data.size());
      for (int64_t i = 0; i < NumElements(so); ++i) {
        const Shape index = Unravel(i, so);
        const float x = a.data[BroadcastOffset(index, sa)], y = b.data[BroadcastOffset(index, sb)];
        expected[i] = is_add ? x + y : x * y;
      }
      ExpectClose(out.data, expected);
    }
  }
}

TEST(BroadcastTest, RejectsIncompatibleShapes) {
  std::string msg;
  Tensor a = Random({2, 3}), b = Random({4}), out = Output({2, 3});
  EXPECT_NE(Call(Add, {a.dl(), b.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg, "add: shapes [2, 3] and [4] do not broadcast");
  Tensor c = Random({3}), out2 = Output({3, 3});
  EXPECT_NE(Call(Mul, {a.dl(), c.dl(), out2.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("mul: output shape", 0), 0u) << msg;
}

TEST(BroadcastTest, InPlace) {
  Tensor a = Random({2, 3}), b = Random({3});
  std::vector<float> expected(6);
  for (int i = 0; i < 6; ++i) expected[i] = a.data[i] + b.data[i % 3];
  std::string msg;
  ASSERT_EQ(Call(Add, {a.dl(), b.dl(), a.dl()}, &msg), 0) << msg;
  ExpectClose(a.data, expected);
}

// ---------------------------------------------------------------------------------------
// concat / reshape / transpose

TEST(LayoutTest, ConcatAlongSeveralAxes) {
  const Shape base = {2, 3, 4};
  for (int64_t axis : {0, 1, 2, -1, -3}) {
    SCOPED_TRACE(testing::Message() << "axis " << axis);
    const int64_t a = axis < 0 ? axis + 3 : axis;
    std::vector<Tensor> inputs;
    for (int64_t extent : {2, 1, 0, 3}) {
      Shape s = base;
      s[a] = extent;
      inputs.push_back(Random(s));
    }
    Shape so = base;
    so[a] = 6;
    Tensor out = Output(so);
    std::vector<DLTensor*> args;
    for (Tensor& t : inputs) args.push_back(t.dl());
    args.push_back(out.dl());
    ConcatAttrs attrs;
    attrs.axis = axis;
    std::string msg;
    ASSERT_EQ(Call([&](auto... p) { return Concat(attrs, p...); }, args, &msg), 0) << msg;
    std::vector<float> expected(out.data.size());
    for (int64_t i = 0; i < NumElements(so); ++i) {
      Shape index = Unravel(i, so);
      size_t which = 0;
      while (index[a] >= inputs[which].shape[a]) index[a] -= inputs[which++].shape[a];
      int64_t flat = 0;
      for (size_t d = 0; d < 3; ++d) flat = flat * inputs[which].shape[d] + index[d];
      expected[i] = inputs[which].data[flat];
    }
    ExpectClose(out.data, expected, 0.0);
  }
}

TEST(LayoutTest, ConcatAnyDTypeAndErrors) {
  const DLDataType i16{kDLInt, 16, 1};
  TypedTensor<int16_t> a({2, 1}, i16), b({2, 2}, i16), out({2, 3}, i16);
  a.data = {1, 2};
  b.data = {3, 4, 5, 6};
  ConcatAttrs attrs;
  attrs.axis = 1;
  auto fn = [&](auto... p) { return Concat(attrs, p...); };
  std::string msg;
  ASSERT_EQ(Call(fn, {a.dl(), b.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data, (std::vector<int16_t>{1, 3, 4, 2, 5, 6}));
  // A single input is a copy.
  TypedTensor<int16_t> copy({2, 2}, i16);
  ASSERT_EQ(Call(fn, {b.dl(), copy.dl()}, &msg), 0) << msg;
  EXPECT_EQ(copy.data, b.data);
  // Shapes that differ outside the axis.
  TypedTensor<int16_t> c({3, 2}, i16), out2({2, 5}, i16);
  EXPECT_NE(Call(fn, {a.dl(), c.dl(), out2.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("concat: input 1 shape", 0), 0u) << msg;
  // Mixed dtypes.
  Tensor f(Shape{2, 2});
  EXPECT_NE(Call(fn, {a.dl(), f.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("concat: argument 1 has dtype float32", 0), 0u) << msg;
  // Rank-0 inputs and bad axes.
  Tensor s0(Shape{}), s1(Shape{}), s2(Shape{2});
  EXPECT_NE(Call(fn, {s0.dl(), s1.dl(), s2.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("concat: axis", 0), 0u) << msg;
  attrs.axis = 2;
  EXPECT_NE(Call(fn, {a.dl(), b.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("concat: axis 2 is out of range", 0), 0u) << msg;
  EXPECT_NE(Call(fn, {out.dl()}, &msg), 0);
  EXPECT_EQ(msg, "concat: expected at least 2 arguments, got 1");
}

TEST(LayoutTest, Reshape) {
  Tensor in = Random({2, 3, 4}), out = Output({6, 4});
  std::string msg;
  ASSERT_EQ(Call(Reshape, {in.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data, in.data);
  Tensor flat = Output({24});
  ASSERT_EQ(Call(Reshape, {in.dl(), flat.dl()}, &msg), 0) << msg;
  EXPECT_EQ(flat.data, in.data);
  ASSERT_EQ(Call(Reshape, {in.dl(), in.dl()}, &msg), 0) << msg;  // In place.
  const DLDataType u8{kDLUInt, 8, 1};
  TypedTensor<uint8_t> bytes_in({2, 3}, u8), bytes_out({3, 2}, u8);
  bytes_in.data = {1, 2, 3, 4, 5, 6};
  ASSERT_EQ(Call(Reshape, {bytes_in.dl(), bytes_out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(bytes_out.data, bytes_in.data);
  Tensor wrong = Output({5, 5});
  EXPECT_NE(Call(Reshape, {in.dl(), wrong.dl()}, &msg), 0);
  EXPECT_EQ(msg, "reshape: output shape [5, 5] has 25 elements, input shape [2, 3, 4] has 24");
}

template <typename T>
void CheckTranspose(const Shape& shape, const std::vector<int64_t>& axes, DLDataType dtype,
                    int lanes) {
  SCOPED_TRACE(testing::Message() << "rank " << shape.size() << " bits " << int{dtype.bits}
                                  << " lanes " << lanes);
  TypedTensor<T> in(shape, dtype, lanes);
  for (size_t i = 0; i < in.data.size(); ++i) in.data[i] = static_cast<T>(i * 7 + 1);
  Shape out_shape(shape.size());
  for (size_t i = 0; i < axes.size(); ++i) out_shape[i] = shape[axes[i]];
  TypedTensor<T> out(out_shape, dtype, lanes);
  TransposeAttrs attrs;
  attrs.ndim = static_cast<int64_t>(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) attrs.axes[i] = axes[i];
  std::string msg;
  ASSERT_EQ(Call([&](auto... p) { return Transpose(attrs, p...); }, {in.dl(), out.dl()}, &msg), 0)
      << msg;
  const Shape in_strides = Strides(shape);
  std::vector<T> expected(out.data.size());
  for (int64_t i = 0; i < NumElements(out_shape); ++i) {
    const Shape index = Unravel(i, out_shape);
    int64_t src = 0;
    for (size_t d = 0; d < axes.size(); ++d) src += index[d] * in_strides[axes[d]];
    for (int l = 0; l < lanes; ++l) expected[i * lanes + l] = in.data[src * lanes + l];
  }
  EXPECT_EQ(out.data, expected);
}

TEST(LayoutTest, TransposePermutations) {
  CheckTranspose<float>({3, 4}, {1, 0}, kFloat32, 1);
  CheckTranspose<float>({2, 3, 4}, {0, 2, 1}, kFloat32, 1);
  CheckTranspose<float>({2, 3, 4}, {2, 0, 1}, kFloat32, 1);
  CheckTranspose<float>({2, 3, 4}, {0, 1, 2}, kFloat32, 1);
  CheckTranspose<float>({2, 3, 4, 5}, {0, 3, 1, 2}, kFloat32, 1);  // NCHW -> NHWC... inverse.
  CheckTranspose<float>({2, 3, 4, 5}, {3, 2, 1, 0}, kFloat32, 1);
  CheckTranspose<float>({2, 1, 3, 1, 2, 2, 1, 3}, {7, 0, 6, 1, 5, 2, 4, 3}, kFloat32, 1);
  CheckTranspose<float>({}, {}, kFloat32, 1);
  CheckTranspose<float>({2, 0, 3}, {2, 1, 0}, kFloat32, 1);
  CheckTranspose<int8_t>({3, 5}, {1, 0}, DLDataType{kDLInt, 8, 1}, 1);
  CheckTranspose<int16_t>({2, 3, 4}, {1, 2, 0}, DLDataType{kDLInt, 16, 1}, 1);
  CheckTranspose<int64_t>({4, 3, 2}, {2, 0, 1}, DLDataType{kDLInt, 64, 1}, 1);
  CheckTranspose<float>({3, 2, 4}, {1, 2, 0}, DLDataType{kDLFloat, 32, 3}, 3);  // 12 bytes.
  // NCHW -> NHWC of few channels, rows longer than a tile: the tiled 2-D transpose path.
  CheckTranspose<float>({2, 3, 5, 150}, {0, 2, 3, 1}, kFloat32, 1);
  CheckTranspose<int8_t>({1, 3, 4, 130}, {0, 2, 3, 1}, DLDataType{kDLInt, 8, 1}, 1);
  CheckTranspose<int64_t>({2, 15, 70}, {0, 2, 1}, DLDataType{kDLInt, 64, 1}, 1);
}

TEST(LayoutTest, TransposeRejectsBadAxes) {
  Tensor in = Random({2, 3}), out = Output({3, 2});
  TransposeAttrs attrs;
  auto fn = [&](auto... p) { return Transpose(attrs, p...); };
  std::string msg;
  attrs.ndim = 3;
  EXPECT_NE(Call(fn, {in.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("transpose: ", 0), 0u) << msg;
  attrs.ndim = 2;
  attrs.axes[0] = 1;
  attrs.axes[1] = 1;
  EXPECT_NE(Call(fn, {in.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg, "transpose: axes is not a permutation of [0, 2)");
  attrs.axes[1] = -1;
  EXPECT_NE(Call(fn, {in.dl(), out.dl()}, &msg), 0);
  attrs.axes[0] = 0;
  attrs.axes[1] = 1;
  EXPECT_NE(Call(fn, {in.dl(), out.dl()}, &msg), 0);  // Output is [3, 2], not [2, 3].
  EXPECT_EQ(msg.rfind("transpose: output shape", 0), 0u) << msg;
}

// ---------------------------------------------------------------------------------------
// softmax

TEST(SoftmaxTest, MatchesReferenceAlongAxes) {
  const Shape shape = {3, 4, 5};
  for (int64_t axis : {1, -1, 0, 2}) {
    SCOPED_TRACE(testing::Message() << "axis " << axis);
    const int64_t a = axis < 0 ? axis + 3 : axis;
    Tensor in = Random(shape, -20.0f, 20.0f), out = Output(shape);
    in.data[0] = 100.0f;  // Overflows exp() without the max subtraction.
    SoftmaxAttrs attrs;
    attrs.axis = axis;
    std::string msg;
    ASSERT_EQ(Call([&](auto... p) { return Softmax(attrs, p...); }, {in.dl(), out.dl()}, &msg), 0)
        << msg;
    const Shape strides = Strides(shape);
    std::vector<float> expected(in.data.size());
    for (int64_t i = 0; i < NumElements(shape); ++i) {
      const Shape index = Unravel(i, shape);
      const int64_t first = i - index[a] * strides[a];
      double max = -1e300, sum = 0;
      for (int64_t t = 0; t < shape[a]; ++t)
        max = std::max(max, double{in.data[first + t * strides[a]]});
      for (int64_t t = 0; t < shape[a]; ++t) sum += std::exp(in.data[first + t * strides[a]] - max);
      expected[i] = static_cast<float>(std::exp(in.data[i] - max) / sum);
    }
    ExpectClose(out.data, expected, 1e-5);
  }
  SoftmaxAttrs attrs;
  attrs.axis = 3;
  Tensor in = Random(shape), out = Output(shape);
  std::string msg;
  EXPECT_NE(Call([&](auto... p) { return Softmax(attrs, p...); }, {in.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg, "softmax: axis 3 is out of range for rank 3");
}

}  // namespace
}  // namespace ferry::kernels
