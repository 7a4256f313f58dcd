// Tests of the data-movement kernels added for ONNX import (slice, pad, gather, cast,
// resize_nearest) against examples from the ONNX operator docs and hand-computed values,
// plus their error cases.
#include <gtest/gtest.h>
#include <stdint.h>

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/kernels.h"
#include "tests/kernels_test_util.h"

namespace ferry::kernels {
namespace {

using namespace test_util;  // NOLINT(build/namespaces)

constexpr DLDataType kInt8{kDLInt, 8, 1};
constexpr DLDataType kInt32{kDLInt, 32, 1};
constexpr DLDataType kInt64{kDLInt, 64, 1};
constexpr DLDataType kUInt8{kDLUInt, 8, 1};
constexpr DLDataType kUInt64{kDLUInt, 64, 1};
constexpr DLDataType kFloat64{kDLFloat, 64, 1};
constexpr DLDataType kBool{6, 8, 1};
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

template <typename T>
TypedTensor<T> Make(Shape shape, std::vector<T> values, DLDataType dtype = kFloat32) {
  TypedTensor<T> t(std::move(shape), dtype);
  t.data = std::move(values);
  return t;
}

// Expects failure with a message starting with "<prefix>: " and containing `part`.
void ExpectError(const KernelFn& fn, std::vector<DLTensor*> args, const std::string& prefix,
                 const std::string& part = "") {
  std::string msg;
  EXPECT_NE(Call(fn, std::move(args), &msg), 0);
  EXPECT_EQ(msg.rfind(prefix + ": ", 0), 0u) << msg;
  EXPECT_NE(msg.find(part), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------
// slice

SliceAttrs MakeSlice(std::vector<int64_t> starts, std::vector<int64_t> steps) {
  SliceAttrs a;
  a.ndim = static_cast<int64_t>(starts.size());
  for (size_t i = 0; i < starts.size(); ++i) {
    a.starts[i] = starts[i];
    a.steps[i] = steps[i];
  }
  return a;
}

KernelFn SliceFn(const SliceAttrs& attrs) {
  return [attrs](auto... p) { return Slice(attrs, p...); };
}

TEST(OnnxSliceTest, OnnxDocExamples) {
  // data [[1,2,3,4],[5,6,7,8]], starts [1,0], ends [2,3], steps [1,2] -> [[5,7]].
  Tensor data = Make<float>({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}), out = Output({1, 2});
  std::string msg;
  ASSERT_EQ(Call(SliceFn(MakeSlice({1, 0}, {1, 2})), {data.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data, (std::vector<float>{5, 7}));
  // Negative steps walk backwards: starts [1, 3], steps [-1, -2] -> [[8, 6], [4, 2]].
  Tensor back = Output({2, 2});
  ASSERT_EQ(Call(SliceFn(MakeSlice({1, 3}, {-1, -2})), {data.dl(), back.dl()}, &msg), 0) << msg;
  EXPECT_EQ(back.data, (std::vector<float>{8, 6, 4, 2}));
}

TEST(OnnxSliceTest, AnyDTypeAndRank) {
  // int64, 3-D: take [:, 1:3, ::-1] of a [2, 3, 2] arange.
  std::vector<int64_t> values(12);
  for (int i = 0; i < 12; ++i) values[i] = 100 + i;
  auto data = Make<int64_t>({2, 3, 2}, values, kInt64);
  TypedTensor<int64_t> out({2, 2, 2}, kInt64);
  std::string msg;
  ASSERT_EQ(Call(SliceFn(MakeSlice({0, 1, 1}, {1, 1, -1})), {data.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data, (std::vector<int64_t>{103, 102, 105, 104, 109, 108, 111, 110}));
  // uint8, a dimension read once with a huge step.
  auto bytes = Make<uint8_t>({4}, {9, 8, 7, 6}, kUInt8);
  TypedTensor<uint8_t> one({1}, kUInt8);
  ASSERT_EQ(Call(SliceFn(MakeSlice({2}, {std::numeric_limits<int64_t>::max()})),
                 {bytes.dl(), one.dl()}, &msg),
            0)
      << msg;
  EXPECT_EQ(one.data[0], 7);
  // An empty output reads nothing, so any start is fine.
  TypedTensor<uint8_t> none({0}, kUInt8);
  EXPECT_EQ(Call(SliceFn(MakeSlice({50}, {1})), {bytes.dl(), none.dl()}, &msg), 0) << msg;
}

TEST(OnnxSliceTest, RejectsBadReads) {
  Tensor data = Random({2, 4}), out = Output({1, 3});
  const std::vector<float> before = out.data;
  // Reads columns 2, 3, 4: 4 is outside [0, 4).
  ExpectError(SliceFn(MakeSlice({0, 2}, {1, 1})), {data.dl(), out.dl()}, "slice", "index 4");
  ExpectError(SliceFn(MakeSlice({-1, 0}, {1, 1})), {data.dl(), out.dl()}, "slice", "index -1");
  ExpectError(SliceFn(MakeSlice({1, 3}, {1, -2})), {data.dl(), out.dl()}, "slice", "index -1");
  ExpectError(SliceFn(MakeSlice({0, 0}, {1, std::numeric_limits<int64_t>::max()})),
              {data.dl(), out.dl()}, "slice", "overflow");
  ExpectError(SliceFn(MakeSlice({0, 0}, {0, 1})), {data.dl(), out.dl()}, "slice", "step");
  ExpectError(SliceFn(MakeSlice({0}, {1})), {data.dl(), out.dl()}, "slice", "rank");
  TypedTensor<int32_t> ints({1, 3}, kInt32);
  ExpectError(SliceFn(MakeSlice({0, 0}, {1, 1})), {data.dl(), ints.dl()}, "slice", "dtype");
  EXPECT_EQ(out.data, before);
}

// ---------------------------------------------------------------------------------------
// pad

PadAttrs MakePad(std::vector<int64_t> before, PadMode mode, double value = 0.0) {
  PadAttrs a;
  a.ndim = static_cast<int64_t>(before.size());
  for (size_t i = 0; i < before.size(); ++i) a.before[i] = before[i];
  a.mode = mode;
  a.value = value;
  return a;
}

KernelFn PadFn(const PadAttrs& attrs) {
  return [attrs](auto... p) { return Pad(attrs, p...); };
}

TEST(OnnxPadTest, OnnxDocExamples) {
  // x = [[1.0, 1.2], [2.3, 3.4], [4.5, 5.7]], pads = [0, 2, 0, 0].
  Tensor x = Make<float>({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f}), out = Output({3, 4});
  std::string msg;
  ASSERT_EQ(Call(PadFn(MakePad({0, 2}, PadMode::kConstant)), {x.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data, (std::vector<float>{0, 0, 1.0f, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f}));
  ASSERT_EQ(Call(PadFn(MakePad({0, 2}, PadMode::kReflect)), {x.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data, (std::vector<float>{1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f,
                                          5.7f, 4.5f, 5.7f}));
  ASSERT_EQ(Call(PadFn(MakePad({0, 2}, PadMode::kEdge)), {x.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data, (std::vector<float>{1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f,
                                          4.5f, 4.5f, 5.7f}));
}

TEST(OnnxPadTest, BothSidesSeveralAxesAndCrops) {
  // [1, 2, 3] padded 2 before and 3 after.
  Tensor row = Make<float>({3}, {1, 2, 3}), out = Output({8});
  std::string msg;
  ASSERT_EQ(Call(PadFn(MakePad({2}, PadMode::kReflect)), {row.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data, (std::vector<float>{3, 2, 1, 2, 3, 2, 1, 2}));
  ASSERT_EQ(Call(PadFn(MakePad({2}, PadMode::kEdge)), {row.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data, (std::vector<float>{1, 1, 1, 2, 3, 3, 3, 3}));
  ASSERT_EQ(Call(PadFn(MakePad({2}, PadMode::kConstant, -1.5)), {row.dl(), out.dl()}, &msg), 0);
  EXPECT_EQ(out.data, (std::vector<float>{-1.5f, -1.5f, 1, 2, 3, -1.5f, -1.5f, -1.5f}));
  // 2-D, padding rows and columns: [[1, 2], [3, 4]] with one row / column on each side.
  Tensor sq = Make<float>({2, 2}, {1, 2, 3, 4}), out2 = Output({4, 4});
  ASSERT_EQ(Call(PadFn(MakePad({1, 1}, PadMode::kEdge)), {sq.dl(), out2.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out2.data, (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
  ASSERT_EQ(Call(PadFn(MakePad({1, 1}, PadMode::kConstant, 9)), {sq.dl(), out2.dl()}, &msg), 0);
  EXPECT_EQ(out2.data, (std::vector<float>{9, 9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9, 9, 9, 9}));
  // Negative pads crop: remove the first row, add one column after.
  Tensor crop = Output({1, 3});
  ASSERT_EQ(Call(PadFn(MakePad({-1, 0}, PadMode::kReflect)), {sq.dl(), crop.dl()}, &msg), 0) << msg;
  EXPECT_EQ(crop.data, (std::vector<float>{3, 4, 3}));
}

TEST(OnnxPadTest, RejectsBadArguments) {
  Tensor one = Random({2, 1}), out = Output({2, 3});
  const std::vector<float> before = out.data;
  ExpectError(PadFn(MakePad({0, 1}, PadMode::kReflect)), {one.dl(), out.dl()}, "pad", "at least 2");
  Tensor empty({2, 0});
  ExpectError(PadFn(MakePad({0, 1}, PadMode::kEdge)), {empty.dl(), out.dl()}, "pad", "empty");
  ExpectError(PadFn(MakePad({0, 1}, static_cast<PadMode>(7))), {one.dl(), out.dl()}, "pad", "mode");
  ExpectError(PadFn(MakePad({0}, PadMode::kConstant)), {one.dl(), out.dl()}, "pad", "rank");
  // Cropping more than the dimension holds.
  Tensor small = Output({2, 0});
  ExpectError(PadFn(MakePad({0, -3}, PadMode::kConstant)), {one.dl(), small.dl()}, "pad");
  EXPECT_EQ(out.data, before);
}

// ---------------------------------------------------------------------------------------
// gather

KernelFn GatherFn(int64_t axis) {
  GatherAttrs attrs;
  attrs.axis = axis;
  return [attrs](auto... p) { return Gather(attrs, p...); };
}

TEST(OnnxGatherTest, OnnxDocExamples) {
  // axis 0: data [[1.0, 1.2], [2.3, 3.4], [4.5, 5.7]], indices [[0, 1], [1, 2]].
  Tensor data = Make<float>({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});
  auto indices = Make<int64_t>({2, 2}, {0, 1, 1, 2}, kInt64);
  Tensor out = Output({2, 2, 2});
  std::string msg;
  ASSERT_EQ(Call(GatherFn(0), {data.dl(), indices.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data, (std::vector<float>{1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f}));
  // axis 1: data [[1.0, 1.2, 1.9], [2.3, 3.4, 3.9], [4.5, 5.7, 5.9]], indices [[0, 2]].
  Tensor data1 = Make<float>({3, 3}, {1.0f, 1.2f, 1.9f, 2.3f, 3.4f, 3.9f, 4.5f, 5.7f, 5.9f});
  auto idx1 = Make<int32_t>({1, 2}, {0, 2}, kInt32);
  Tensor out1 = Output({3, 1, 2});
  ASSERT_EQ(Call(GatherFn(1), {data1.dl(), idx1.dl(), out1.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out1.data, (std::vector<float>{1.0f, 1.9f, 2.3f, 3.9f, 4.5f, 5.9f}));
}

TEST(OnnxGatherTest, NegativeIndicesScalarIndicesAndOtherDTypes) {
  // int8 data [2, 4], axis -1, indices [-1, 0, -4].
  auto data = Make<int8_t>({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}, kInt8);
  auto idx = Make<int64_t>({3}, {-1, 0, -4}, kInt64);
  TypedTensor<int8_t> out({2, 3}, kInt8);
  std::string msg;
  ASSERT_EQ(Call(GatherFn(-1), {data.dl(), idx.dl(), out.dl()}, &msg), 0) << msg;
  EXPECT_EQ(out.data, (std::vector<int8_t>{4, 1, 1, 8, 5, 5}));
  // A rank-0 index removes the axis: data[1] of a [3, 2] tensor.
  auto rows = Make<int64_t>({3, 2}, {10, 11, 20, 21, 30, 31}, kInt64);
  auto scalar = Make<int32_t>({}, {1}, kInt32);
  TypedTensor<int64_t> row({2}, kInt64);
  ASSERT_EQ(Call(GatherFn(0), {rows.dl(), scalar.dl(), row.dl()}, &msg), 0) << msg;
  EXPECT_EQ(row.data, (std::vector<int64_t>{20, 21}));
}

TEST(OnnxGatherTest, RejectsBadIndices) {
  Tensor data = Random({3, 2}), out = Output({2, 2});
  const std::vector<float> before = out.data;
  auto high = Make<int64_t>({2}, {0, 3}, kInt64);
  ExpectError(GatherFn(0), {data.dl(), high.dl(), out.dl()}, "gather", "index 3");
  auto low = Make<int32_t>({2}, {-4, 0}, kInt32);
  ExpectError(GatherFn(0), {data.dl(), low.dl(), out.dl()}, "gather", "index -4");
  Tensor float_idx = Make<float>({2}, {0, 1});
  ExpectError(GatherFn(0), {data.dl(), float_idx.dl(), out.dl()}, "gather", "indices");
  auto ok = Make<int64_t>({2}, {0, 1}, kInt64);
  ExpectError(GatherFn(2), {data.dl(), ok.dl(), out.dl()}, "gather", "axis");
  Tensor wrong = Output({2, 3});
  ExpectError(GatherFn(0), {data.dl(), ok.dl(), wrong.dl()}, "gather", "output shape");
  TypedTensor<int32_t> ints({2, 2}, kInt32);
  ExpectError(GatherFn(0), {data.dl(), ok.dl(), ints.dl()}, "gather", "dtype");
  EXPECT_EQ(out.data, before);
}

// ---------------------------------------------------------------------------------------
// cast

TEST(OnnxCastTest, FloatToIntegersTruncatesAndClamps) {
  Tensor in = Make<float>({7}, {-1.7f, 2.9f, 1e10f, -1e10f, kNaN, 300.0f, -0.5f});
  TypedTensor<int32_t> i32({7}, kInt32);
  std::string msg;
  ASSERT_EQ(Call(Cast, {in.dl(), i32.dl()}, &msg), 0) << msg;
  EXPECT_EQ(i32.data, (std::vector<int32_t>{-1, 2, std::numeric_limits<int32_t>::max(),
                                            std::numeric_limits<int32_t>::min(), 0, 300, 0}));
  TypedTensor<uint8_t> u8({7}, kUInt8);
  ASSERT_EQ(Call(Cast, {in.dl(), u8.dl()}, &msg), 0) << msg;
  EXPECT_EQ(u8.data, (std::vector<uint8_t>{0, 2, 255, 0, 0, 255, 0}));
  TypedTensor<int64_t> i64({7}, kInt64);
  ASSERT_EQ(Call(Cast, {in.dl(), i64.dl()}, &msg), 0) << msg;
  EXPECT_EQ(i64.data, (std::vector<int64_t>{-1, 2, 10000000000, -10000000000, 0, 300, 0}));
  // 2^64 and beyond clamp to the uint64 maximum.
  auto big = Make<double>({2}, {1.9e19, 1e30}, kFloat64);
  TypedTensor<uint64_t> u64({2}, kUInt64);
  ASSERT_EQ(Call(Cast, {big.dl(), u64.dl()}, &msg), 0) << msg;
  EXPECT_EQ(u64.data[0], 18446744073709551615ull);
  EXPECT_EQ(u64.data[1], 18446744073709551615ull);
}

TEST(OnnxCastTest, IntegersFloatsAndBools) {
  // Integer narrowing wraps like numpy; integers convert exactly to float.
  auto ints = Make<int32_t>({4}, {300, -129, 7, 0}, kInt32);
  TypedTensor<int8_t> i8({4}, kInt8);
  std::string msg;
  ASSERT_EQ(Call(Cast, {ints.dl(), i8.dl()}, &msg), 0) << msg;
  EXPECT_EQ(i8.data, (std::vector<int8_t>{44, 127, 7, 0}));
  Tensor f = Output({4});
  ASSERT_EQ(Call(Cast, {ints.dl(), f.dl()}, &msg), 0) << msg;
  EXPECT_EQ(f.data, (std::vector<float>{300, -129, 7, 0}));
  // Bools: any non-zero byte reads as true; to bool is x != 0 (NaN is true).
  auto bools = Make<uint8_t>({3}, {0, 1, 2}, kBool);
  TypedTensor<int32_t> from_bool({3}, kInt32);
  ASSERT_EQ(Call(Cast, {bools.dl(), from_bool.dl()}, &msg), 0) << msg;
  EXPECT_EQ(from_bool.data, (std::vector<int32_t>{0, 1, 1}));
  Tensor floats = Make<float>({4}, {0.0f, -0.0f, kNaN, 0.25f});
  TypedTensor<uint8_t> to_bool({4}, kBool);
  ASSERT_EQ(Call(Cast, {floats.dl(), to_bool.dl()}, &msg), 0) << msg;
  EXPECT_EQ(to_bool.data, (std::vector<uint8_t>{0, 0, 1, 1}));
  // float64 <-> float32 round to nearest.
  auto doubles = Make<double>({2}, {0.1, -2.5}, kFloat64);
  Tensor narrowed = Output({2});
  ASSERT_EQ(Call(Cast, {doubles.dl(), narrowed.dl()}, &msg), 0) << msg;
  EXPECT_EQ(narrowed.data, (std::vector<float>{0.1f, -2.5f}));
  TypedTensor<double> widened({2}, kFloat64);
  ASSERT_EQ(Call(Cast, {narrowed.dl(), widened.dl()}, &msg), 0) << msg;
  EXPECT_EQ(widened.data, (std::vector<double>{double{0.1f}, -2.5}));
}

TEST(OnnxCastTest, RejectsUnsupportedDTypesAndShapes) {
  Tensor in = Random({3});
  TypedTensor<uint16_t> half({3}, DLDataType{kDLFloat, 16, 1});
  ExpectError(Cast, {in.dl(), half.dl()}, "cast", "argument 1");
  ExpectError(Cast, {half.dl(), in.dl()}, "cast", "argument 0");
  TypedTensor<int32_t> vec({3}, DLDataType{kDLInt, 32, 2});
  ExpectError(Cast, {in.dl(), vec.dl()}, "cast", "lanes");
  TypedTensor<int32_t> wrong({4}, kInt32);
  ExpectError(Cast, {in.dl(), wrong.dl()}, "cast", "output shape");
  ExpectError(Cast, {in.dl()}, "cast", "arguments");
}

// ---------------------------------------------------------------------------------------
// resize_nearest

ResizeNearestAttrs MakeResize(std::vector<double> scales, ResizeCoordinateMode coordinate,
                              ResizeNearestMode nearest) {
  ResizeNearestAttrs a;
  a.ndim = static_cast<int64_t>(scales.size());
  for (size_t i = 0; i < scales.size(); ++i) a.scales[i] = scales[i];
  a.coordinate_mode = coordinate;
  a.nearest_mode = nearest;
  return a;
}

// Runs resize_nearest on `in` into a fresh output of `out_shape` and returns its values.
std::vector<float> RunResize(Tensor& in, const Shape& out_shape, const ResizeNearestAttrs& a) {
  Tensor out = Output(out_shape);
  std::string msg;
  EXPECT_EQ(Call([&](auto... p) { return ResizeNearest(a, p...); }, {in.dl(), out.dl()}, &msg), 0)
      << msg;
  return out.data;
}

Tensor Arange4x4() {
  Tensor t({1, 1, 4, 4});
  for (int i = 0; i < 16; ++i) t.data[i] = static_cast<float>(i + 1);
  return t;
}

// Expected output of resizing Arange4x4() to 8x8 when rows and columns map to `idx`.
std::vector<float> Pick8x8(const std::vector<int>& idx) {
  std::vector<float> v;
  for (int r : idx) {
    for (int c : idx) v.push_back(static_cast<float>(r * 4 + c + 1));
  }
  return v;
}

using Coord = ResizeCoordinateMode;
using Nearest = ResizeNearestMode;

TEST(OnnxResizeTest, OnnxDocExamples) {
  // resize_upsample_scales_nearest: scales [1, 1, 2, 3].
  Tensor x = Make<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(
      RunResize(x, {1, 1, 4, 6},
                MakeResize({1, 1, 2, 3}, Coord::kHalfPixel, Nearest::kRoundPreferFloor)),
      (std::vector<float>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}));
  // resize_downsample_scales_nearest: scales [1, 1, 0.6, 0.6] -> [[1, 3]].
  Tensor y = Make<float>({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(RunResize(y, {1, 1, 1, 2},
                      MakeResize({1, 1, 0.6, 0.6}, Coord::kHalfPixel, Nearest::kRoundPreferFloor)),
            (std::vector<float>{1, 3}));
  // 4x4 -> 8x8 by sizes (scale 2) in three mode combinations from the backend tests.
  Tensor z = Arange4x4();
  EXPECT_EQ(RunResize(z, {1, 1, 8, 8}, MakeResize({1, 1, 2, 2}, Coord::kHalfPixel, Nearest::kCeil)),
            Pick8x8({0, 1, 1, 2, 2, 3, 3, 3}));
  EXPECT_EQ(
      RunResize(z, {1, 1, 8, 8}, MakeResize({1, 1, 2, 2}, Coord::kAlignCorners, Nearest::kFloor)),
      Pick8x8({0, 0, 0, 1, 1, 2, 2, 3}));
  EXPECT_EQ(RunResize(z, {1, 1, 8, 8},
                      MakeResize({1, 1, 2, 2}, Coord::kAsymmetric, Nearest::kRoundPreferCeil)),
            Pick8x8({0, 1, 1, 2, 2, 3, 3, 3}));
}

TEST(OnnxResizeTest, RoundingAndCoordinateModes) {
  Tensor row = Make<float>({4}, {10, 11, 12, 13});
  // asymmetric, scale 2: x = o / 2 = 0, 0.5, 1, 1.5, ..., 3.5.
  const Shape up = {8};
  EXPECT_EQ(RunResize(row, up, MakeResize({2}, Coord::kAsymmetric, Nearest::kRoundPreferFloor)),
            (std::vector<float>{10, 10, 11, 11, 12, 12, 13, 13}));
  EXPECT_EQ(RunResize(row, up, MakeResize({2}, Coord::kAsymmetric, Nearest::kRoundPreferCeil)),
            (std::vector<float>{10, 11, 11, 12, 12, 13, 13, 13}));
  EXPECT_EQ(RunResize(row, up, MakeResize({2}, Coord::kAsymmetric, Nearest::kCeil)),
            (std::vector<float>{10, 11, 11, 12, 12, 13, 13, 13}));
  // tf_half_pixel_for_nn, scale 2: x = (o + 0.5) / 2 = 0.25, 0.75, ... -> floor.
  EXPECT_EQ(RunResize(row, up, MakeResize({2}, Coord::kTfHalfPixelForNn, Nearest::kFloor)),
            (std::vector<float>{10, 10, 11, 11, 12, 12, 13, 13}));
  // half_pixel, scale 0.5: x = 2 o + 0.5 -> round_prefer_floor picks 0 and 2.
  EXPECT_EQ(RunResize(row, {2}, MakeResize({0.5}, Coord::kHalfPixel, Nearest::kRoundPreferFloor)),
            (std::vector<float>{10, 12}));
  EXPECT_EQ(RunResize(row, {2}, MakeResize({0.5}, Coord::kHalfPixel, Nearest::kRoundPreferCeil)),
            (std::vector<float>{11, 13}));
  // pytorch_half_pixel with one output reads index 0; half_pixel reads the middle.
  EXPECT_EQ(RunResize(row, {1}, MakeResize({0.25}, Coord::kPytorchHalfPixel, Nearest::kFloor)),
            (std::vector<float>{10}));
  EXPECT_EQ(RunResize(row, {1}, MakeResize({0.25}, Coord::kHalfPixel, Nearest::kFloor)),
            (std::vector<float>{11}));
  // align_corners maps the last output to the last input (out = scale * in here).
  EXPECT_EQ(RunResize(row, {3}, MakeResize({0.75}, Coord::kAlignCorners, Nearest::kFloor)),
            (std::vector<float>{10, 11, 13}));
  // With a scale that gives a fractional size, ONNX divides by scale * in - 1, not out - 1:
  // 4 * 0.6 = 2.4, so output 1 reads coordinate 3 / 1.4 = 2.14 (floor 2), not 3.
  EXPECT_EQ(RunResize(row, {2}, MakeResize({0.6}, Coord::kAlignCorners, Nearest::kFloor)),
            (std::vector<float>{10, 12}));
  // Scales must be positive for every mode.
  std::string msg;
  Tensor out = Output({3});
  const ResizeNearestAttrs zero = MakeResize({0.0}, Coord::kAlignCorners, Nearest::kFloor);
  EXPECT_NE(Call([&](auto... p) { return ResizeNearest(zero, p...); }, {row.dl(), out.dl()}, &msg),
            0);
  EXPECT_NE(msg.find("scale"), std::string::npos) << msg;
}

TEST(OnnxResizeTest, LinearInterpolatesBetweenNeighboursAndClampsAtTheEdges) {
  Tensor row = Make<float>({2}, {1, 2});
  ResizeLinearAttrs a;
  a.ndim = 1;
  a.scales[0] = 2.0;
  a.coordinate_mode = Coord::kHalfPixel;
  Tensor out = Output({4});
  std::string msg;
  ASSERT_EQ(Call([&](auto... p) { return ResizeLinear(a, p...); }, {row.dl(), out.dl()}, &msg), 0)
      << msg;
  // Source coordinates -0.25, 0.25, 0.75, 1.25.
  EXPECT_EQ(out.data, (std::vector<float>{1.0f, 1.25f, 1.75f, 2.0f}));
  // 2-D: a [2, 2] plane doubled with align_corners interpolates along both axes.
  Tensor plane = Make<float>({2, 2}, {0, 3, 6, 9});
  ResizeLinearAttrs b;
  b.ndim = 2;
  b.scales[0] = b.scales[1] = 1.5;
  b.coordinate_mode = Coord::kAlignCorners;
  Tensor grid = Output({3, 3});
  ASSERT_EQ(Call([&](auto... p) { return ResizeLinear(b, p...); }, {plane.dl(), grid.dl()}, &msg),
            0)
      << msg;
  EXPECT_EQ(grid.data, (std::vector<float>{0, 1.5f, 3, 3, 4.5f, 6, 6, 7.5f, 9}));
  // tf_half_pixel_for_nn is a nearest-neighbour mode.
  b.coordinate_mode = Coord::kTfHalfPixelForNn;
  EXPECT_NE(Call([&](auto... p) { return ResizeLinear(b, p...); }, {plane.dl(), grid.dl()}, &msg),
            0);
}

TEST(OnnxResizeTest, CubicKeepsConstantsAndLinesAndHitsTheSamplesItPasses) {
  // Keys' weights sum to 1 (with or without exclude_outside): a constant stays constant.
  Tensor flat = Make<float>({4}, {5, 5, 5, 5});
  ResizeCubicAttrs a;
  a.ndim = 1;
  a.scales[0] = 2.0;
  std::string msg;
  for (bool exclude : {false, true}) {
    a.exclude_outside = exclude;
    Tensor out = Output({8});
    ASSERT_EQ(Call([&](auto... p) { return ResizeCubic(a, p...); }, {flat.dl(), out.dl()}, &msg),
              0)
        << msg;
    for (float v : out.data) EXPECT_NEAR(v, 5.0f, 1e-6f) << exclude;
  }
  // With asymmetric coordinates and scale 2, even outputs sit on input samples exactly, and
  // cubic convolution reproduces a straight line away from the edges.
  Tensor line = Make<float>({6}, {0, 1, 2, 3, 4, 5});
  a.exclude_outside = false;
  a.coordinate_mode = Coord::kAsymmetric;
  Tensor out = Output({12});
  ASSERT_EQ(Call([&](auto... p) { return ResizeCubic(a, p...); }, {line.dl(), out.dl()}, &msg), 0)
      << msg;
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(out.data[2 * i], static_cast<float>(i)) << i;
  for (int i = 2; i < 8; ++i) EXPECT_NEAR(out.data[i], 0.5f * i, 1e-6f) << i;
}

TEST(OnnxResizeTest, RejectsBadAttributes) {
  Tensor in = Random({2, 2}), out = Output({4, 4});
  const std::vector<float> before = out.data;
  auto run = [&](const ResizeNearestAttrs& a, const std::string& part) {
    ExpectError([&](auto... p) { return ResizeNearest(a, p...); }, {in.dl(), out.dl()},
                "resize_nearest", part);
  };
  run(MakeResize({2, 0}, Coord::kHalfPixel, Nearest::kFloor), "scale");
  run(MakeResize({2, std::nan("")}, Coord::kAsymmetric, Nearest::kFloor), "scale");
  run(MakeResize({2, 2}, static_cast<Coord>(9), Nearest::kFloor), "coordinate");
  run(MakeResize({2, 2}, Coord::kHalfPixel, static_cast<Nearest>(9)), "nearest");
  run(MakeResize({2, 2, 1}, Coord::kHalfPixel, Nearest::kFloor), "rank");
  Tensor empty({2, 0});
  ExpectError(
      [](auto... p) {
        return ResizeNearest(MakeResize({2, 2}, Coord::kHalfPixel, Nearest::kFloor), p...);
      },
      {empty.dl(), out.dl()}, "resize_nearest", "empty");
  EXPECT_EQ(out.data, before);
}

}  // namespace
}  // namespace ferry::kernels
