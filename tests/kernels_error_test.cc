// Error cases common to every CPU kernel: argument count, dtype, shapes, null and non-CPU
// tensors, strides and byte offsets.
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
  static const UnaryAttrs unary{UnaryOp::kExp, 0.0, 0.0};
  static const ReduceAttrs reduce = [] {
    ReduceAttrs r;
    r.ndim = 2;
    r.reduce[1] = 1;
    return r;
  }();
  static const PadAttrs pad = [] {
    PadAttrs p;
    p.ndim = 2;
    p.before[1] = 1;
    p.mode = PadMode::kReflect;
    return p;
  }();
  static const Conv2dTransposeAttrs convt = [] {
    Conv2dTransposeAttrs c;
    c.strides[0] = c.strides[1] = 2;
    for (int64_t& p : c.padding) p = 1;
    c.output_padding[0] = c.output_padding[1] = 1;
    return c;
  }();
  static const ResizeNearestAttrs resize = [] {
    ResizeNearestAttrs r;
    r.ndim = 2;
    r.scales[0] = 1.0;
    r.scales[1] = 2.0;
    return r;
  }();
  static const LayerNormAttrs layer_norm;
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
      // Kernels added for ONNX import.
      {"unary(exp)", [](auto... p) { return Unary(unary, p...); }, {{2, 3}, {2, 3}}},
      {"sub", Sub, {{2, 3}, {3}, {2, 3}}},
      {"div", Div, {{2, 3}, {2, 1}, {2, 3}}},
      {"pow", Pow, {{2, 3}, {2, 3}, {2, 3}}},
      {"global_max_pool2d", GlobalMaxPool2d, {{1, 2, 4, 4}, {1, 2, 1, 1}}},
      {"log_softmax", [](auto... p) { return LogSoftmax(softmax, p...); }, {{2, 3}, {2, 3}}},
      {"reduce_sum", [](auto... p) { return ReduceSum(reduce, p...); }, {{2, 3}, {2}}},
      {"reduce_mean", [](auto... p) { return ReduceMean(reduce, p...); }, {{2, 3}, {2}}},
      {"pad", [](auto... p) { return Pad(pad, p...); }, {{2, 3}, {2, 5}}},
      {"conv2d_transpose",
       [](auto... p) { return Conv2dTranspose(convt, p...); },
       {{1, 2, 3, 3}, {2, 3, 3, 3}, {1, 3, 6, 6}}},
      {"resize_nearest", [](auto... p) { return ResizeNearest(resize, p...); }, {{2, 3}, {2, 6}}},
      {"layer_norm",
       [](auto... p) { return LayerNorm(layer_norm, p...); },
       {{2, 3}, {3}, {3}, {2, 3}}},
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
  // pad and resize_nearest take their output sizes from the output's shape.
  if (std::string(c_.name) == "pad" || std::string(c_.name) == "resize_nearest") return;
  Shape& shape = tensors_.back().shape;
  shape.back() += 1;
  tensors_.back().data.resize(NumElements(shape));
  ExpectFailure(Args(), "output one wider");
  shape.back() -= 1;
  shape.push_back(1);
  tensors_.back().data.resize(NumElements(shape));
  // reshape and the reductions check the output's element count, not its rank.
  const std::string name = c_.name;
  if (name != "reshape" && name != "reduce_sum" && name != "reduce_mean") {
    ExpectFailure(Args(), "output one rank higher");
  }
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
  args.back()->device = DLDevice{kDLCUDA, 0};
  ExpectFailure(args, "cuda output");
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
                           std::string name = ErrorCases()[info.param].name;
                           for (char& ch : name) {
                             if (ch == '(' || ch == ')') ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace ferry::kernels
