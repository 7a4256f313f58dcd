// Tests of the CPU operator kernels against naive reference implementations on random data.
#include "runtime/kernels/kernels.h"

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

namespace ferry::kernels {
namespace {

using Shape = std::vector<int64_t>;

constexpr DLDataType kFloat32{kDLFloat, 32, 1};

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// A CPU tensor owning its data and shape. dl() returns a DLTensor viewing them; it stays valid
// until the Tensor is moved or its vectors are resized. T is the storage type; the DLPack
// dtype may differ (any dtype whose elements are `lanes` Ts).
template <typename T>
struct TypedTensor {
  explicit TypedTensor(Shape s, DLDataType type = kFloat32, int lanes = 1)
      : shape(std::move(s)), dtype(type), data(NumElements(shape) * lanes) {}

  DLTensor* dl() {
    view = DLTensor{};
    view.data = data.empty() ? nullptr : data.data();
    view.device = DLDevice{kDLCPU, 0};
    view.ndim = static_cast<int32_t>(shape.size());
    view.dtype = dtype;
    view.shape = shape.empty() ? nullptr : shape.data();
    view.strides = nullptr;
    view.byte_offset = 0;
    return &view;
  }

  Shape shape;
  DLDataType dtype;
  std::vector<T> data;
  DLTensor view{};
};
using Tensor = TypedTensor<float>;

std::mt19937& Rng() {
  static std::mt19937 rng(20240611);
  return rng;
}

Tensor Random(Shape shape, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(std::move(shape));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& v : t.data) v = dist(Rng());
  return t;
}

// Output buffer pre-filled with a sentinel so that unwritten elements show up.
Tensor Output(Shape shape) {
  Tensor t(std::move(shape));
  std::fill(t.data.begin(), t.data.end(), 12345.0f);
  return t;
}

Shape Strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t run = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = run;
    run *= shape[i];
  }
  return strides;
}

Shape Unravel(int64_t flat, const Shape& shape) {
  Shape index(shape.size());
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    index[i] = flat % shape[i];
    flat /= shape[i];
  }
  return index;
}

// Flat offset in an operand of `shape` of the right-aligned broadcast index `index`.
int64_t BroadcastOffset(const Shape& index, const Shape& shape) {
  const size_t lead = index.size() - shape.size();
  int64_t offset = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    offset = offset * shape[i] + (shape[i] == 1 ? 0 : index[lead + i]);
  }
  return offset;
}

void ExpectClose(const std::vector<float>& actual, const std::vector<float>& expected,
                 double tolerance = 1e-4) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    const double scale = std::max(1.0, std::fabs(static_cast<double>(expected[i])));
    ASSERT_NEAR(actual[i], expected[i], tolerance * scale) << "at flat index " << i;
  }
}

// Runs a kernel on tensors and returns its status; on failure `message` holds the error.
using KernelFn = std::function<int(DLTensor* const*, int32_t, FerryKernelError*)>;

int Call(const KernelFn& fn, std::vector<DLTensor*> args, std::string* message = nullptr) {
  FerryKernelError error{};
  int rc = fn(args.data(), static_cast<int32_t>(args.size()), &error);
  if (message != nullptr) *message = error.message;
  return rc;
}

// ---------------------------------------------------------------------------------------
// dense / matmul

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
// pooling

struct PoolCase {
  Shape data;
  Pool2dAttrs attrs;
};

Pool2dAttrs MakePool(int64_t kh, int64_t kw, int64_t sh, int64_t sw, std::array<int64_t, 4> pad,
                     bool ceil_mode, bool include_pad, int64_t dh = 1, int64_t dw = 1) {
  Pool2dAttrs a;
  a.pool_size[0] = kh;
  a.pool_size[1] = kw;
  a.strides[0] = sh;
  a.strides[1] = sw;
  for (int i = 0; i < 4; ++i) a.padding[i] = pad[i];
  a.dilation[0] = dh;
  a.dilation[1] = dw;
  a.ceil_mode = ceil_mode;
  a.count_include_pad = include_pad;
  return a;
}

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

// ---------------------------------------------------------------------------------------
// Errors common to every kernel.

struct ErrorCase {
  const char* name;
  KernelFn fn;
  std::vector<Shape> shapes;  // Valid arguments; the last is the output.
};

std::vector<ErrorCase> ErrorCases() {
  static const Conv2dAttrs conv;
  static const MatmulAttrs matmul;
  static const BiasAddAttrs bias;
  static const ClipAttrs clip;
  static const Pool2dAttrs pool = MakePool(2, 2, 2, 2, {0, 0, 0, 0}, false, false);
  static const BatchNormAttrs bn;
  static const ConcatAttrs concat;
  static TransposeAttrs transpose = [] {
    TransposeAttrs t;
    t.ndim = 2;
    t.axes[0] = 1;
    t.axes[1] = 0;
    return t;
  }();
  static const SoftmaxAttrs softmax;
  return {
      {"dense", Dense, {{2, 3}, {4, 3}, {2, 4}}},
      {"matmul", [](auto... p) { return Matmul(matmul, p...); }, {{2, 3}, {3, 4}, {2, 4}}},
      {"conv2d",
       [](auto... p) { return Conv2d(conv, p...); },
       {{1, 2, 4, 4}, {3, 2, 3, 3}, {1, 3, 2, 2}}},
      {"bias_add", [](auto... p) { return BiasAdd(bias, p...); }, {{2, 3}, {3}, {2, 3}}},
      {"relu", Relu, {{2, 3}, {2, 3}}},
      {"sigmoid", Sigmoid, {{2, 3}, {2, 3}}},
      {"tanh", Tanh, {{2, 3}, {2, 3}}},
      {"clip", [](auto... p) { return Clip(clip, p...); }, {{2, 3}, {2, 3}}},
      {"max_pool2d", [](auto... p) { return MaxPool2d(pool, p...); }, {{1, 2, 4, 4}, {1, 2, 2, 2}}},
      {"avg_pool2d", [](auto... p) { return AvgPool2d(pool, p...); }, {{1, 2, 4, 4}, {1, 2, 2, 2}}},
      {"global_avg_pool2d", GlobalAvgPool2d, {{1, 2, 4, 4}, {1, 2, 1, 1}}},
      {"batch_norm",
       [](auto... p) { return BatchNorm(bn, p...); },
       {{2, 3, 4}, {3}, {3}, {3}, {3}, {2, 3, 4}}},
      {"add", Add, {{2, 3}, {3}, {2, 3}}},
      {"mul", Mul, {{2, 3}, {2, 1}, {2, 3}}},
      {"concat", [](auto... p) { return Concat(concat, p...); }, {{2, 3}, {1, 3}, {3, 3}}},
      {"reshape", Reshape, {{2, 3}, {3, 2}}},
      {"transpose", [](auto... p) { return Transpose(transpose, p...); }, {{2, 3}, {3, 2}}},
      {"softmax", [](auto... p) { return Softmax(softmax, p...); }, {{2, 3}, {2, 3}}},
  };
}

class KernelErrorTest : public testing::TestWithParam<size_t> {
 protected:
  void SetUp() override {
    c_ = ErrorCases()[GetParam()];
    // Positive data keeps batch_norm's variance valid.
    for (const Shape& s : c_.shapes) tensors_.push_back(Random(s, 0.5f, 1.5f));
  }
  std::vector<DLTensor*> Args() {
    std::vector<DLTensor*> args;
    for (Tensor& t : tensors_) args.push_back(t.dl());
    return args;
  }
  // Runs with `args`, expects failure, a message prefixed by the kernel name and an untouched
  // output.
  void ExpectFailure(std::vector<DLTensor*> args, const char* what) {
    SCOPED_TRACE(what);
    const std::vector<float> before = tensors_.back().data;
    FerryKernelError error{};
    const int rc = c_.fn(args.data(), static_cast<int32_t>(args.size()), &error);
    EXPECT_NE(rc, 0);
    const std::string msg = error.message;
    EXPECT_EQ(msg.rfind(std::string(c_.name) + ": ", 0), 0u) << msg;
    EXPECT_GT(msg.size(), strlen(c_.name) + 2) << msg;
    EXPECT_EQ(tensors_.back().data, before);
  }

  ErrorCase c_;
  std::vector<Tensor> tensors_;
};

TEST_P(KernelErrorTest, ValidArgumentsSucceed) {
  std::string msg;
  EXPECT_EQ(Call(c_.fn, Args(), &msg), 0) << msg;
}

TEST_P(KernelErrorTest, WrongArgumentCount) {
  std::vector<DLTensor*> args = Args();
  args.pop_back();
  if (std::string(c_.name) != "concat") ExpectFailure(args, "one too few");
  args = Args();
  args.push_back(args.back());
  if (std::string(c_.name) != "concat") ExpectFailure(args, "one too many");
  ExpectFailure({}, "none");
}

TEST_P(KernelErrorTest, WrongDType) {
  std::vector<DLTensor*> args = Args();
  args[0]->dtype = DLDataType{kDLInt, 32, 1};
  ExpectFailure(args, "int32 input");
  args = Args();
  args.back()->dtype = DLDataType{kDLFloat, 16, 1};
  ExpectFailure(args, "float16 output");
}

TEST_P(KernelErrorTest, MismatchedOutputShape) {
  Shape& shape = tensors_.back().shape;
  shape.back() += 1;
  tensors_.back().data.resize(NumElements(shape));
  ExpectFailure(Args(), "output one wider");
  shape.back() -= 1;
  shape.push_back(1);
  tensors_.back().data.resize(NumElements(shape));
  if (std::string(c_.name) != "reshape") ExpectFailure(Args(), "output one rank higher");
}

TEST_P(KernelErrorTest, NullTensorsAndData) {
  for (size_t i = 0; i < tensors_.size(); ++i) {
    std::vector<DLTensor*> args = Args();
    args[i] = nullptr;
    ExpectFailure(args, "null tensor");
    args = Args();
    args[i]->data = nullptr;
    ExpectFailure(args, "null data");
  }
  FerryKernelError error{};
  EXPECT_NE(c_.fn(nullptr, static_cast<int32_t>(tensors_.size()), &error), 0);
  EXPECT_EQ(std::string(error.message).rfind(std::string(c_.name) + ": ", 0), 0u);
  // A null error pointer is allowed.
  EXPECT_NE(c_.fn(nullptr, static_cast<int32_t>(tensors_.size()), nullptr), 0);
}

TEST_P(KernelErrorTest, RejectsOtherDevicesAndStrides) {
  std::vector<DLTensor*> args = Args();
  args[0]->device = DLDevice{kDLCUDA, 0};
  ExpectFailure(args, "cuda input");
  args = Args();
  // Reverse strides are not compact.
  Tensor& first = tensors_[0];
  Shape strides = Strides(first.shape);
  std::reverse(strides.begin(), strides.end());
  args[0]->strides = strides.data();
  ExpectFailure(args, "non-compact strides");
  // Explicit compact strides are accepted.
  Shape compact = Strides(first.shape);
  args[0]->strides = compact.data();
  std::string msg;
  EXPECT_EQ(Call(c_.fn, args, &msg), 0) << msg;
}

TEST_P(KernelErrorTest, HonoursByteOffset) {
  // Run once normally, then with the first input moved 4 floats into a larger buffer.
  std::string msg;
  ASSERT_EQ(Call(c_.fn, Args(), &msg), 0) << msg;
  const std::vector<float> expected = tensors_.back().data;
  std::vector<float> shifted(tensors_[0].data.size() + 4, -99.0f);
  std::copy(tensors_[0].data.begin(), tensors_[0].data.end(), shifted.begin() + 4);
  std::fill(tensors_.back().data.begin(), tensors_.back().data.end(), 0.0f);
  std::vector<DLTensor*> args = Args();
  args[0]->data = shifted.data();
  args[0]->byte_offset = 4 * sizeof(float);
  ASSERT_EQ(Call(c_.fn, args, &msg), 0) << msg;
  EXPECT_EQ(tensors_.back().data, expected);
}

INSTANTIATE_TEST_SUITE_P(AllKernels, KernelErrorTest,
                         testing::Range<size_t>(0, ErrorCases().size()),
                         [](const testing::TestParamInfo<size_t>& info) {
                           return std::string(ErrorCases()[info.param].name);
                         });

}  // namespace
}  // namespace ferry::kernels
