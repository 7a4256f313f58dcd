// Tests of the dense, matmul, conv2d, pooling and batch_norm CPU kernels against naive
// reference implementations on random data.
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
#include "runtime/kernels/vector_math.h"
#include "tests/kernels_test_util.h"

namespace ferry::kernels {
namespace {

using namespace test_util;  // NOLINT(build/namespaces)

// ---------------------------------------------------------------------------------------
// dense / matmul

// The softmax's exponential (vector_math.h) against the correctly rounded e^x.
TEST(VectorExpTest, WithinTwoUlpOverTheFloatRangeAndExactAtTheEdges) {
  auto ulps = [](float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    return std::abs(static_cast<int64_t>(ia) - static_cast<int64_t>(ib));
  };
  int64_t worst = 0;
  float worst_at = 0;
  for (int64_t i = 0; i <= 1750000; ++i) {
    const float x = -87.0f + static_cast<float>(i) * 1e-4f;
    const float expected = static_cast<float>(std::exp(static_cast<double>(x)));
    const int64_t d = ulps(internal::VectorExp(x), expected);
    if (d > worst) {
      worst = d;
      worst_at = x;
    }
  }
  EXPECT_LE(worst, 2) << "at x = " << worst_at;
  EXPECT_EQ(internal::VectorExp(0.0f), 1.0f);
  EXPECT_EQ(internal::VectorExp(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(internal::VectorExp(-200.0f), 0.0f);
  EXPECT_EQ(internal::VectorExp(std::numeric_limits<float>::infinity()),
            std::numeric_limits<float>::infinity());
  EXPECT_EQ(internal::VectorExp(100.0f), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(internal::VectorExp(std::numeric_limits<float>::quiet_NaN())));
  // Subnormal results keep their precision.
  const float tiny = internal::VectorExp(-100.0f);
  EXPECT_NEAR(tiny, std::exp(-100.0), 2e-45);
}

TEST(DenseTest, MatchesReference) {
  for (const auto& [m, k, n] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 1, 1}, {3, 5, 4}, {7, 16, 9}, {0, 3, 2}, {2, 0, 3}}) {
    Tensor data = Random({m, k}), weight = Random({n, k}), out = Output({m, n});
    std::string msg;
    ASSERT_EQ(Call(Dense, {data.dl(), weight.dl(), out.dl()}, &msg), 0) << msg;
    std::vector<float> expected(m * n);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p)
          sum += double{data.data[i * k + p]} * weight.data[j * k + p];
        expected[i * n + j] = static_cast<float>(sum);
      }
    }
    ExpectClose(out.data, expected);
  }
}

TEST(DenseTest, RejectsMismatchedK) {
  Tensor data = Random({2, 3}), weight = Random({4, 5}), out = Output({2, 4});
  std::string msg;
  EXPECT_NE(Call(Dense, {data.dl(), weight.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("dense: ", 0), 0u) << msg;
}

struct MatmulCase {
  Shape a, b;
  bool ta, tb;
};

std::vector<float> ReferenceMatmul(const Tensor& a, const Tensor& b, bool ta, bool tb,
                                   Shape* out_shape) {
  const size_t ra = a.shape.size(), rb = b.shape.size();
  const int64_t m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const int64_t k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const int64_t n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  const Shape a_batch(a.shape.begin(), a.shape.end() - 2);
  const Shape b_batch(b.shape.begin(), b.shape.end() - 2);
  const size_t nb = std::max(a_batch.size(), b_batch.size());
  Shape batch(nb);
  for (size_t i = 0; i < nb; ++i) {
    const int64_t da = i + a_batch.size() >= nb ? a_batch[i + a_batch.size() - nb] : 1;
    const int64_t db = i + b_batch.size() >= nb ? b_batch[i + b_batch.size() - nb] : 1;
    batch[i] = da == 1 ? db : da;
  }
  *out_shape = batch;
  out_shape->push_back(m);
  out_shape->push_back(n);
  std::vector<float> out(NumElements(*out_shape));
  const int64_t a_rows = a.shape[ra - 2], a_cols = a.shape[ra - 1];
  const int64_t b_rows = b.shape[rb - 2], b_cols = b.shape[rb - 1];
  for (int64_t t = 0; t < NumElements(batch); ++t) {
    const Shape index = Unravel(t, batch);
    const float* pa = a.data.data() + BroadcastOffset(index, a_batch) * a_rows * a_cols;
    const float* pb = b.data.data() + BroadcastOffset(index, b_batch) * b_rows * b_cols;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p) {
          const float x = ta ? pa[p * a_cols + i] : pa[i * a_cols + p];
          const float y = tb ? pb[j * b_cols + p] : pb[p * b_cols + j];
          sum += double{x} * y;
        }
        out[(t * m + i) * n + j] = static_cast<float>(sum);
      }
    }
  }
  return out;
}

TEST(MatmulTest, MatchesReferenceWithBroadcastAndTransposes) {
  const std::vector<MatmulCase> cases = {
      {{3, 4}, {4, 5}, false, false},
      {{4, 3}, {4, 5}, true, false},
      {{3, 4}, {5, 4}, false, true},
      {{4, 3}, {5, 4}, true, true},
      {{2, 3, 4}, {2, 4, 5}, false, false},
      {{2, 3, 4, 5}, {5, 6}, false, false},  // Shared b: one stacked GEMM.
      {{2, 3, 4, 5}, {6, 5}, false, true},   // Shared b, transposed.
      {{2, 3, 5, 4}, {5, 6}, true, false},   // Shared b, transposed a.
      {{2, 1, 3, 4}, {3, 4, 5}, false, false},
      {{1, 4, 3}, {2, 1, 5, 4}, true, true},
      {{3, 4}, {2, 2, 4, 5}, false, false},  // Shared a.
      {{2, 0, 3, 4}, {4, 5}, false, false},  // Empty batch.
      {{2, 3, 0}, {2, 0, 5}, false, false},  // K == 0.
  };
  for (const MatmulCase& c : cases) {
    SCOPED_TRACE(testing::Message() << "a rank " << c.a.size() << " ta " << c.ta << " tb " << c.tb);
    Tensor a = Random(c.a), b = Random(c.b);
    Shape out_shape;
    std::vector<float> expected = ReferenceMatmul(a, b, c.ta, c.tb, &out_shape);
    Tensor out = Output(out_shape);
    MatmulAttrs attrs;
    attrs.transpose_a = c.ta;
    attrs.transpose_b = c.tb;
    std::string msg;
    ASSERT_EQ(
        Call([&](auto... p) { return Matmul(attrs, p...); }, {a.dl(), b.dl(), out.dl()}, &msg), 0)
        << msg;
    ExpectClose(out.data, expected);
  }
}

TEST(MatmulTest, RejectsBadShapes) {
  MatmulAttrs attrs;
  auto fn = [&](auto... p) { return Matmul(attrs, p...); };
  std::string msg;
  {
    Tensor a = Random({3}), b = Random({3, 2}), out = Output({2});
    EXPECT_NE(Call(fn, {a.dl(), b.dl(), out.dl()}, &msg), 0);
    EXPECT_EQ(msg.rfind("matmul: ", 0), 0u) << msg;
  }
  {
    Tensor a = Random({2, 3, 4}), b = Random({3, 4, 5}), out = Output({3, 3, 5});
    EXPECT_NE(Call(fn, {a.dl(), b.dl(), out.dl()}, &msg), 0);
    EXPECT_EQ(msg.rfind("matmul: ", 0), 0u) << msg;
  }
  {
    Tensor a = Random({3, 4}), b = Random({5, 6}), out = Output({3, 6});
    EXPECT_NE(Call(fn, {a.dl(), b.dl(), out.dl()}, &msg), 0);
    EXPECT_NE(msg.find("inner dimensions"), std::string::npos) << msg;
  }
}

// ---------------------------------------------------------------------------------------
// conv2d

struct ConvCase {
  int64_t n, c, h, w, o, kh, kw;
  Conv2dAttrs attrs;
};

Conv2dAttrs MakeConv(int64_t sh, int64_t sw, std::array<int64_t, 4> pad, int64_t dh, int64_t dw,
                     int64_t groups) {
  Conv2dAttrs a;
  a.strides[0] = sh;
  a.strides[1] = sw;
  for (int i = 0; i < 4; ++i) a.padding[i] = pad[i];
  a.dilation[0] = dh;
  a.dilation[1] = dw;
  a.groups = groups;
  return a;
}

TEST(Conv2dTest, MatchesReference) {
  const std::vector<ConvCase> cases = {
      {1, 3, 5, 5, 4, 3, 3, MakeConv(1, 1, {0, 0, 0, 0}, 1, 1, 1)},
      {2, 3, 7, 6, 5, 3, 2, MakeConv(2, 1, {1, 0, 2, 1}, 1, 1, 1)},  // Stride, asym pad.
      {1, 2, 9, 8, 3, 3, 3, MakeConv(1, 2, {2, 2, 2, 2}, 2, 3, 1)},  // Dilation.
      {2, 4, 6, 6, 6, 3, 3, MakeConv(1, 1, {1, 1, 1, 1}, 1, 1, 2)},  // Groups.
      {1, 4, 7, 7, 4, 3, 3, MakeConv(2, 2, {1, 1, 1, 1}, 1, 1, 4)},  // Depthwise.
      {1, 4, 5, 5, 8, 3, 3, MakeConv(1, 1, {0, 1, 2, 0}, 1, 1, 4)},  // Depthwise x2.
      {2, 5, 4, 3, 7, 1, 1, MakeConv(1, 1, {0, 0, 0, 0}, 1, 1, 1)},  // 1x1 direct.
      {1, 3, 6, 5, 2, 1, 1, MakeConv(2, 3, {0, 0, 0, 0}, 1, 1, 1)},  // 1x1 strided.
      {1, 2, 2, 3, 3, 4, 4, MakeConv(1, 1, {2, 1, 1, 2}, 1, 1, 1)},  // Kernel > input.
      {1, 2, 5, 5, 2, 2, 2, MakeConv(3, 3, {4, 4, 4, 4}, 1, 1, 1)},  // Pad > kernel.
      {0, 2, 5, 5, 2, 3, 3, MakeConv(1, 1, {0, 0, 0, 0}, 1, 1, 1)},  // Empty batch.
  };
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    SCOPED_TRACE(testing::Message() << "case " << ci);
    const ConvCase& c = cases[ci];
    const Conv2dAttrs& at = c.attrs;
    const int64_t g = at.groups, cg = c.c / g, og = c.o / g;
    const int64_t oh =
        (c.h + at.padding[0] + at.padding[2] - at.dilation[0] * (c.kh - 1) - 1) / at.strides[0] + 1;
    const int64_t ow =
        (c.w + at.padding[1] + at.padding[3] - at.dilation[1] * (c.kw - 1) - 1) / at.strides[1] + 1;
    Tensor data = Random({c.n, c.c, c.h, c.w}), weight = Random({c.o, cg, c.kh, c.kw});
    Tensor out = Output({c.n, c.o, oh, ow});
    std::vector<float> expected(out.data.size());
    for (int64_t n = 0; n < c.n; ++n) {
      for (int64_t o = 0; o < c.o; ++o) {
        const int64_t grp = o / og;
        for (int64_t y = 0; y < oh; ++y) {
          for (int64_t x = 0; x < ow; ++x) {
            double sum = 0;
            for (int64_t ic = 0; ic < cg; ++ic) {
              for (int64_t ky = 0; ky < c.kh; ++ky) {
                for (int64_t kx = 0; kx < c.kw; ++kx) {
                  const int64_t iy = y * at.strides[0] - at.padding[0] + ky * at.dilation[0];
                  const int64_t ix = x * at.strides[1] - at.padding[1] + kx * at.dilation[1];
                  if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                  const int64_t channel = grp * cg + ic;
                  sum += double{data.data[((n * c.c + channel) * c.h + iy) * c.w + ix]} *
                         weight.data[((o * cg + ic) * c.kh + ky) * c.kw + kx];
                }
              }
            }
            expected[((n * c.o + o) * oh + y) * ow + x] = static_cast<float>(sum);
          }
        }
      }
    }
    std::string msg;
    ASSERT_EQ(
        Call([&](auto... p) { return Conv2d(at, p...); }, {data.dl(), weight.dl(), out.dl()}, &msg),
        0)
        << msg;
    ExpectClose(out.data, expected);
  }
}

TEST(Conv2dTest, RejectsBadGeometry) {
  std::string msg;
  auto run = [&](const Conv2dAttrs& at, Shape d, Shape w, Shape o) {
    Tensor data = Random(d), weight = Random(w), out = Output(o);
    return Call([&](auto... p) { return Conv2d(at, p...); }, {data.dl(), weight.dl(), out.dl()},
                &msg);
  };
  Conv2dAttrs at;
  EXPECT_NE(run(at, {1, 3, 5, 5}, {2, 4, 3, 3}, {1, 2, 3, 3}), 0);
  EXPECT_EQ(msg, "conv2d: weight channels 4 do not match input channels 3 / groups 1");
  at.groups = 2;
  EXPECT_NE(run(at, {1, 4, 5, 5}, {3, 2, 3, 3}, {1, 3, 3, 3}), 0);  // O % groups != 0.
  EXPECT_EQ(msg.rfind("conv2d: ", 0), 0u) << msg;
  at.groups = 1;
  EXPECT_NE(run(at, {1, 1, 2, 2}, {1, 1, 3, 3}, {1, 1, 1, 1}), 0);  // Kernel too large.
  EXPECT_EQ(msg.rfind("conv2d: ", 0), 0u) << msg;
  at.strides[0] = 0;
  EXPECT_NE(run(at, {1, 1, 5, 5}, {1, 1, 3, 3}, {1, 1, 3, 3}), 0);
  EXPECT_EQ(msg.rfind("conv2d: ", 0), 0u) << msg;
  at = Conv2dAttrs{};
  at.padding[2] = -1;
  EXPECT_NE(run(at, {1, 1, 5, 5}, {1, 1, 3, 3}, {1, 1, 2, 3}), 0);
  EXPECT_EQ(msg.rfind("conv2d: ", 0), 0u) << msg;
  at = Conv2dAttrs{};
  EXPECT_NE(run(at, {1, 1, 5, 5}, {1, 1, 3, 3}, {1, 1, 3, 4}), 0);  // Wrong output shape.
  EXPECT_EQ(msg.rfind("conv2d: output shape", 0), 0u) << msg;
}

// ---------------------------------------------------------------------------------------
// pooling

struct PoolCase {
  Shape data;
  Pool2dAttrs attrs;
};

// The header's output-size rule, written out independently.
int64_t PoolOut(int64_t in, int64_t pad_before, int64_t pad_after, int64_t k, int64_t s, int64_t d,
                bool ceil_mode) {
  const int64_t padded = in + pad_before + pad_after;
  const int64_t span = padded - d * (k - 1) - 1;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= padded) --out;
  return out;
}

std::vector<PoolCase> PoolCases() {
  std::vector<PoolCase> cases;
  for (bool ceil_mode : {false, true}) {
    for (bool include_pad : {false, true}) {
      cases.push_back({{2, 3, 6, 6}, MakePool(2, 2, 2, 2, {0, 0, 0, 0}, ceil_mode, include_pad)});
      cases.push_back({{1, 2, 7, 7}, MakePool(3, 3, 2, 2, {1, 1, 1, 1}, ceil_mode, include_pad)});
      cases.push_back({{1, 2, 8, 7}, MakePool(3, 2, 2, 3, {1, 0, 2, 1}, ceil_mode, include_pad)});
      cases.push_back(
          {{2, 1, 9, 9}, MakePool(3, 3, 2, 2, {0, 0, 0, 0}, ceil_mode, include_pad, 2, 2)});
      cases.push_back({{1, 3, 5, 6}, MakePool(2, 3, 3, 2, {0, 1, 1, 0}, ceil_mode, include_pad)});
      cases.push_back({{1, 1, 3, 3}, MakePool(1, 1, 2, 2, {2, 2, 2, 2}, ceil_mode, include_pad)});
      // With ceil_mode the last windows run past the padded input.
      cases.push_back({{1, 2, 5, 5}, MakePool(2, 2, 2, 2, {0, 0, 0, 0}, ceil_mode, include_pad)});
      cases.push_back({{1, 1, 6, 7}, MakePool(3, 3, 2, 2, {1, 1, 1, 1}, ceil_mode, include_pad)});
    }
  }
  return cases;
}

void CheckPool(bool is_max) {
  const std::vector<PoolCase> cases = PoolCases();
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const PoolCase& c = cases[ci];
    const Pool2dAttrs& at = c.attrs;
    SCOPED_TRACE(testing::Message()
                 << "case " << ci << " ceil " << at.ceil_mode << " incl " << at.count_include_pad);
    const int64_t h = c.data[2], w = c.data[3];
    const int64_t oh = PoolOut(h, at.padding[0], at.padding[2], at.pool_size[0], at.strides[0],
                               at.dilation[0], at.ceil_mode);
    const int64_t ow = PoolOut(w, at.padding[1], at.padding[3], at.pool_size[1], at.strides[1],
                               at.dilation[1], at.ceil_mode);
    Tensor data = Random(c.data), out = Output({c.data[0], c.data[1], oh, ow});
    std::vector<float> expected(out.data.size());
    for (int64_t p = 0; p < c.data[0] * c.data[1]; ++p) {
      for (int64_t y = 0; y < oh; ++y) {
        for (int64_t x = 0; x < ow; ++x) {
          double sum = 0;
          float best = std::numeric_limits<float>::lowest();
          int64_t real = 0, padded = 0;
          for (int64_t ky = 0; ky < at.pool_size[0]; ++ky) {
            for (int64_t kx = 0; kx < at.pool_size[1]; ++kx) {
              const int64_t iy = y * at.strides[0] - at.padding[0] + ky * at.dilation[0];
              const int64_t ix = x * at.strides[1] - at.padding[1] + kx * at.dilation[1];
              if (iy < h + at.padding[2] && ix < w + at.padding[3]) ++padded;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              const float v = data.data[(p * h + iy) * w + ix];
              ++real;
              sum += v;
              best = std::max(best, v);
            }
          }
          const int64_t divisor = at.count_include_pad ? padded : real;
          expected[(p * oh + y) * ow + x] =
              is_max ? best : (divisor == 0 ? 0.0f : static_cast<float>(sum / divisor));
        }
      }
    }
    std::string msg;
    const int rc =
        is_max ? Call([&](auto... q) { return MaxPool2d(at, q...); }, {data.dl(), out.dl()}, &msg)
               : Call([&](auto... q) { return AvgPool2d(at, q...); }, {data.dl(), out.dl()}, &msg);
    ASSERT_EQ(rc, 0) << msg;
    ExpectClose(out.data, expected);
  }
}

TEST(PoolTest, MaxPoolMatchesReference) { CheckPool(true); }
TEST(PoolTest, AvgPoolMatchesReference) { CheckPool(false); }

TEST(PoolTest, CeilModeOutputSize) {
  // 6 wide, window 3, stride 2: floor gives 2 windows, ceil 3 (the last one overhangs).
  Pool2dAttrs at = MakePool(3, 3, 2, 2, {0, 0, 0, 0}, true, false);
  Tensor data = Random({1, 1, 6, 6}), out = Output({1, 1, 3, 3});
  std::string msg;
  ASSERT_EQ(Call([&](auto... q) { return AvgPool2d(at, q...); }, {data.dl(), out.dl()}, &msg), 0)
      << msg;
  // The last window covers columns 4 and 5 only.
  EXPECT_NEAR(out.data[2],
              (data.data[4] + data.data[5] + data.data[10] + data.data[11] + data.data[16] +
               data.data[17]) /
                  6.0f,
              1e-5);
  at.ceil_mode = false;
  Tensor small = Output({1, 1, 2, 2});
  EXPECT_EQ(Call([&](auto... q) { return MaxPool2d(at, q...); }, {data.dl(), small.dl()}), 0);
  EXPECT_NE(Call([&](auto... q) { return MaxPool2d(at, q...); }, {data.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("max_pool2d: output shape", 0), 0u) << msg;
  // A ceil_mode window that runs past the padded input divides by its taps inside it only:
  // 5 wide, window 2, stride 2 give windows at 0, 2 and 4; the last one holds one element.
  at = MakePool(2, 2, 2, 2, {0, 0, 0, 0}, true, true);
  Tensor five = Random({1, 1, 5, 5}), three = Output({1, 1, 3, 3});
  ASSERT_EQ(Call([&](auto... q) { return AvgPool2d(at, q...); }, {five.dl(), three.dl()}, &msg), 0)
      << msg;
  EXPECT_FLOAT_EQ(three.data[8], five.data[24]);
  // A window lying entirely in the padding averages to 0 and has max lowest().
  at = MakePool(1, 1, 1, 1, {1, 0, 0, 0}, false, true);
  Tensor one = Random({1, 1, 1, 1}), two = Output({1, 1, 2, 1});
  ASSERT_EQ(Call([&](auto... q) { return AvgPool2d(at, q...); }, {one.dl(), two.dl()}, &msg), 0)
      << msg;
  EXPECT_EQ(two.data[0], 0.0f);
  EXPECT_EQ(two.data[1], one.data[0]);
  ASSERT_EQ(Call([&](auto... q) { return MaxPool2d(at, q...); }, {one.dl(), two.dl()}, &msg), 0)
      << msg;
  EXPECT_EQ(two.data[0], std::numeric_limits<float>::lowest());
  EXPECT_EQ(two.data[1], one.data[0]);
}

TEST(PoolTest, RejectsBadAttributes) {
  std::string msg;
  Tensor data = Random({1, 1, 4, 4}), out = Output({1, 1, 4, 4});
  Pool2dAttrs at;
  at.pool_size[0] = 0;
  EXPECT_NE(Call([&](auto... q) { return MaxPool2d(at, q...); }, {data.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("max_pool2d: ", 0), 0u) << msg;
  at = Pool2dAttrs{};
  at.strides[1] = -1;
  EXPECT_NE(Call([&](auto... q) { return AvgPool2d(at, q...); }, {data.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("avg_pool2d: ", 0), 0u) << msg;
  at = Pool2dAttrs{};
  at.pool_size[0] = 5;  // Larger than the input.
  EXPECT_NE(Call([&](auto... q) { return AvgPool2d(at, q...); }, {data.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("avg_pool2d: ", 0), 0u) << msg;
  at = Pool2dAttrs{};
  Tensor flat = Random({4, 4});
  EXPECT_NE(Call([&](auto... q) { return MaxPool2d(at, q...); }, {flat.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("max_pool2d: ", 0), 0u) << msg;
}

TEST(PoolTest, GlobalAvgPool) {
  Tensor data = Random({2, 3, 4, 5}), out = Output({2, 3, 1, 1});
  std::string msg;
  ASSERT_EQ(Call(GlobalAvgPool2d, {data.dl(), out.dl()}, &msg), 0) << msg;
  std::vector<float> expected(6);
  for (int p = 0; p < 6; ++p) {
    double sum = 0;
    for (int i = 0; i < 20; ++i) sum += data.data[p * 20 + i];
    expected[p] = static_cast<float>(sum / 20);
  }
  ExpectClose(out.data, expected);
  Tensor wrong = Output({2, 3, 1});
  EXPECT_NE(Call(GlobalAvgPool2d, {data.dl(), wrong.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("global_avg_pool2d: ", 0), 0u) << msg;
}

// ---------------------------------------------------------------------------------------
// batch_norm

TEST(BatchNormTest, MatchesReference) {
  for (int64_t axis : {1, -1, 0}) {
    SCOPED_TRACE(testing::Message() << "axis " << axis);
    const Shape shape = {2, 3, 4, 5};
    const int64_t a = axis < 0 ? axis + 4 : axis, c = shape[a];
    Tensor data = Random(shape), gamma = Random({c}), beta = Random({c}), mean = Random({c});
    Tensor var = Random({c}, 0.1f, 2.0f), out = Output(shape);
    BatchNormAttrs attrs;
    attrs.axis = axis;
    attrs.epsilon = 1e-3;
    std::string msg;
    ASSERT_EQ(Call([&](auto... p) { return BatchNorm(attrs, p...); },
                   {data.dl(), gamma.dl(), beta.dl(), mean.dl(), var.dl(), out.dl()}, &msg),
              0)
        << msg;
    std::vector<float> expected(data.data.size());
    for (int64_t i = 0; i < NumElements(shape); ++i) {
      const int64_t ch = Unravel(i, shape)[a];
      expected[i] = static_cast<float>((double{data.data[i]} - mean.data[ch]) /
                                           std::sqrt(double{var.data[ch]} + 1e-3) * gamma.data[ch] +
                                       beta.data[ch]);
    }
    ExpectClose(out.data, expected);
  }
}

TEST(BatchNormTest, RejectsBadParameters) {
  Tensor data = Random({2, 3, 4}), p3 = Random({3}), p4 = Random({4}), out = Output({2, 3, 4});
  BatchNormAttrs attrs;
  auto fn = [&](auto... p) { return BatchNorm(attrs, p...); };
  std::string msg;
  EXPECT_NE(Call(fn, {data.dl(), p3.dl(), p3.dl(), p4.dl(), p3.dl(), out.dl()}, &msg), 0);
  EXPECT_NE(msg.find("batch_norm: moving_mean shape"), std::string::npos) << msg;
  attrs.epsilon = -1.0;
  EXPECT_NE(Call(fn, {data.dl(), p3.dl(), p3.dl(), p3.dl(), p3.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(msg.rfind("batch_norm: ", 0), 0u) << msg;
}

}  // namespace
}  // namespace ferry::kernels
