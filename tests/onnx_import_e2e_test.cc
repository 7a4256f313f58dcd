// ONNX import end to end: small ONNX models built in the test are imported, exported as model
// libraries (graph executor), loaded and run; outputs are checked against values the test
// computes itself, and optimised imports against unoptimised ones bit for bit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "compiler/onnx/onnx_importer.h"
#include "tests/library_run_util.h"
#include "tests/model_test_util.h"
#include "tests/onnx_test_models.h"

namespace ferry {
namespace {

using compiler::Model;
using compiler::onnx_import::ImportOnnxModel;
using compiler::onnx_import::OnnxImportOptions;
using testing::AddFloatAttr;
using testing::AddIntAttr;
using testing::AddIntsAttr;
using testing::OnnxModelBuilder;
using testing::RandomArray;

OnnxImportOptions Options(const std::string& key, bool optimize = true) {
  OnnxImportOptions options;
  options.key = key;
  options.optimize = optimize;
  return options;
}

// `count` values uniform in [lo, hi) from a fixed seed.
std::vector<float> RandomValues(size_t count, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (float& x : v) x = dist(engine);
  return v;
}

std::vector<float> Values(const NDArray& a) {
  return std::vector<float>(a.data_as<float>(), a.data_as<float>() + a.NumElements());
}

void ExpectNear(const NDArray& actual, const std::vector<int64_t>& shape,
                const std::vector<double>& expected, double tolerance = 1e-5) {
  ASSERT_EQ(actual.shape(), shape);
  ASSERT_EQ(actual.dtype(), DataType::Float32());
  ASSERT_EQ(actual.NumElements(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(actual.data_as<float>()[i], expected[i],
                tolerance * std::max(1.0, std::fabs(expected[i])))
        << "element " << i;
  }
}

TEST(OnnxEndToEndTest, GemmWithTransposedBAlphaBetaAndBias) {
  constexpr int64_t M = 2, K = 4, N = 3;
  const std::vector<float> b = RandomValues(N * K, 1), c = RandomValues(N, 2);
  const float alpha = 0.5f, beta = 2.0f;
  OnnxModelBuilder m;
  m.Input("a", {M, K});
  m.Initializer("b", {N, K}, b);
  m.Initializer("c", {N}, c);
  onnx::NodeProto& gemm = m.Node("Gemm", {"a", "b", "c"}, {"y"}, "gemm");
  AddIntAttr(gemm, "transB", 1);
  AddFloatAttr(gemm, "alpha", alpha);
  AddFloatAttr(gemm, "beta", beta);
  m.Output("y");
  ASSERT_OK_AND_ASSIGN(Model model, ImportOnnxModel(m.proto(), Options("gemm")));

  const NDArray a = RandomArray({M, K}, 3);
  ASSERT_OK_AND_ASSIGN(std::vector<NDArray> out, testing::ExportAndRun(model, {{"a", a}}));
  ASSERT_EQ(out.size(), 1u);
  std::vector<double> expected;
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double dot = 0;
      for (int64_t k = 0; k < K; ++k) dot += double{a.data_as<float>()[i * K + k]} * b[j * K + k];
      expected.push_back(alpha * dot + beta * c[j]);
    }
  }
  ExpectNear(out[0], {M, N}, expected);
}

TEST(OnnxEndToEndTest, GemmWithoutTransposeAndNonConstantB) {
  constexpr int64_t M = 3, K = 2, N = 2;
  OnnxModelBuilder m;
  m.Input("a", {K, M});
  m.Input("b", {K, N});
  AddIntAttr(m.Node("Gemm", {"a", "b"}, {"y"}), "transA", 1);
  m.Output("y");
  ASSERT_OK_AND_ASSIGN(Model model, ImportOnnxModel(m.proto(), Options("gemm_ta")));
  const NDArray a = RandomArray({K, M}, 4), b = RandomArray({K, N}, 5);
  ASSERT_OK_AND_ASSIGN(std::vector<NDArray> out,
                       testing::ExportAndRun(model, {{"a", a}, {"b", b}}));
  std::vector<double> expected;
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double dot = 0;
      for (int64_t k = 0; k < K; ++k) {
        dot += double{a.data_as<float>()[k * M + i]} * b.data_as<float>()[k * N + j];
      }
      expected.push_back(dot);
    }
  }
  ExpectNear(out[0], {M, N}, expected);
}

TEST(OnnxEndToEndTest, MatMulWithOneDimensionalOperands) {
  constexpr int64_t M = 2, K = 4, N = 3;
  const std::vector<float> vec = RandomValues(K, 6), mat = RandomValues(K * N, 7);
  OnnxModelBuilder m;
  m.Input("x", {M, K});
  m.Input("v", {K});
  m.Initializer("w_vec", {K}, vec);
  m.Initializer("w_mat", {K, N}, mat);
  m.Node("MatMul", {"x", "w_vec"}, {"matrix_vector"});  // [M, K] @ [K] -> [M]
  m.Node("MatMul", {"v", "w_mat"}, {"vector_matrix"});  // [K] @ [K, N] -> [N]
  m.Node("MatMul", {"v", "w_vec"}, {"dot"});            // [K] @ [K] -> []
  m.Output("matrix_vector");
  m.Output("vector_matrix");
  m.Output("dot");
  ASSERT_OK_AND_ASSIGN(Model model, ImportOnnxModel(m.proto(), Options("matmul1d")));
  const NDArray x = RandomArray({M, K}, 8), v = RandomArray({K}, 9);
  ASSERT_OK_AND_ASSIGN(std::vector<NDArray> out,
                       testing::ExportAndRun(model, {{"x", x}, {"v", v}}));
  ASSERT_EQ(out.size(), 3u);
  std::vector<double> mv, vm;
  for (int64_t i = 0; i < M; ++i) {
    double dot = 0;
    for (int64_t k = 0; k < K; ++k) dot += double{x.data_as<float>()[i * K + k]} * vec[k];
    mv.push_back(dot);
  }
  for (int64_t j = 0; j < N; ++j) {
    double dot = 0;
    for (int64_t k = 0; k < K; ++k) dot += double{v.data_as<float>()[k]} * mat[k * N + j];
    vm.push_back(dot);
  }
  ExpectNear(out[0], {M}, mv);
  ExpectNear(out[1], {N}, vm);
  double dot = 0;
  for (int64_t k = 0; k < K; ++k) dot += double{v.data_as<float>()[k]} * vec[k];
  ExpectNear(out[2], {}, {dot});
}

TEST(OnnxEndToEndTest, SplitIntoThreeOutputs) {
  OnnxModelBuilder m;
  m.Input("x", {2, 6});
  m.Int64Initializer("sizes", {3}, {1, 2, 3});
  AddIntAttr(m.Node("Split", {"x"}, {"a", "b", "c"}), "axis", 1);
  AddIntAttr(m.Node("Split", {"x", "sizes"}, {"d", "e", "f"}), "axis", -1);
  for (const char* name : {"a", "b", "c", "d", "e", "f"}) m.Output(name);
  ASSERT_OK_AND_ASSIGN(Model model, ImportOnnxModel(m.proto(), Options("split")));
  const NDArray x = RandomArray({2, 6}, 10);
  ASSERT_OK_AND_ASSIGN(std::vector<NDArray> out, testing::ExportAndRun(model, {{"x", x}}));
  ASSERT_EQ(out.size(), 6u);
  const float* in = x.data_as<float>();
  // Columns [begin, end) of x, row-major.
  auto columns = [&](int64_t begin, int64_t end) {
    std::vector<float> v;
    for (int64_t r = 0; r < 2; ++r) {
      for (int64_t c = begin; c < end; ++c) v.push_back(in[r * 6 + c]);
    }
    return v;
  };
  const struct { int64_t begin, end; } kParts[] = {{0, 2}, {2, 4}, {4, 6}, {0, 1}, {1, 3}, {3, 6}};
  for (size_t i = 0; i < 6; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(out[i].shape(), (std::vector<int64_t>{2, kParts[i].end - kParts[i].begin}));
    EXPECT_EQ(Values(out[i]), columns(kParts[i].begin, kParts[i].end));
  }
}

TEST(OnnxEndToEndTest, GlobalAveragePoolOverThreeSpatialAxes) {
  OnnxModelBuilder m;
  m.Input("x", {1, 2, 2, 3, 4});
  m.Node("GlobalAveragePool", {"x"}, {"y"});
  m.Output("y");
  ASSERT_OK_AND_ASSIGN(Model model, ImportOnnxModel(m.proto(), Options("gap3d")));
  const NDArray x = RandomArray({1, 2, 2, 3, 4}, 12);
  ASSERT_OK_AND_ASSIGN(std::vector<NDArray> out, testing::ExportAndRun(model, {{"x", x}}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), (std::vector<int64_t>{1, 2, 1, 1, 1}));
  for (int64_t c = 0; c < 2; ++c) {
    double sum = 0;
    for (int64_t i = 0; i < 24; ++i) sum += x.data_as<float>()[c * 24 + i];
    EXPECT_NEAR(out[0].data_as<float>()[c], sum / 24, 1e-6) << c;
  }
}

TEST(OnnxEndToEndTest, SplitThatDoesNotDivideEvenlyIsInvalidArgument) {
  OnnxModelBuilder m;
  m.Input("x", {2, 5});
  AddIntAttr(m.Node("Split", {"x"}, {"a", "b", "c"}), "axis", 1);
  for (const char* name : {"a", "b", "c"}) m.Output(name);
  StatusOr<Model> model = ImportOnnxModel(m.proto(), Options("split"));
  EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(), ::testing::HasSubstr("evenly"));
}

// x[1, 3, 8, 8] -> Conv(4 filters 3x3, pad 1, bias) -> BatchNormalization -> Relu, random
// fixed-seed weights.
OnnxModelBuilder ConvBnReluModel() {
  constexpr int64_t C = 3, O = 4;
  OnnxModelBuilder m;
  m.Input("x", {1, C, 8, 8});
  m.Initializer("w", {O, C, 3, 3}, RandomValues(O * C * 9, 11));
  m.Initializer("bias", {O}, RandomValues(O, 12));
  m.Initializer("gamma", {O}, RandomValues(O, 13, 0.5f, 1.5f));
  m.Initializer("beta", {O}, RandomValues(O, 14));
  m.Initializer("mean", {O}, RandomValues(O, 15));
  m.Initializer("var", {O}, RandomValues(O, 16, 0.1f, 2.0f));
  AddIntsAttr(m.Node("Conv", {"x", "w", "bias"}, {"conv"}, "conv"), "pads", {1, 1, 1, 1});
  AddFloatAttr(m.Node("BatchNormalization", {"conv", "gamma", "beta", "mean", "var"}, {"bn"}, "bn"),
               "epsilon", 1e-3f);
  m.Node("Relu", {"bn"}, {"y"}, "relu");
  m.Output("y");
  return m;
}

TEST(OnnxEndToEndTest, OptimizedConvBnReluIsBitIdenticalToUnoptimized) {
  const OnnxModelBuilder m = ConvBnReluModel();
  ASSERT_OK_AND_ASSIGN(Model fused, ImportOnnxModel(m.proto(), Options("fused", true)));
  ASSERT_OK_AND_ASSIGN(Model plain, ImportOnnxModel(m.proto(), Options("plain", false)));
  ASSERT_EQ(fused.graph.nodes.size(), 1u);
  EXPECT_EQ(fused.graph.nodes[0].op, "conv2d");
  EXPECT_EQ(fused.graph.nodes[0].inputs.size(), 7u);
  ASSERT_EQ(plain.graph.nodes.size(), 3u);
  EXPECT_EQ(plain.graph.nodes[0].op, "conv2d");
  EXPECT_EQ(plain.graph.nodes[1].op, "batch_norm");
  EXPECT_EQ(plain.graph.nodes[2].op, "relu");

  // On the plain kernels: blocked layouts fold the batch norm, which is not bit for bit.
  compiler::ExportOptions options;
  options.blocked_layouts = false;
  ASSERT_OK_AND_ASSIGN(std::string path,
                       testing::ExportGraphLibrary({&fused, &plain}, "cbr", options));
  for (uint32_t seed : {20u, 21u}) {
    SCOPED_TRACE(seed);
    const NDArray x = RandomArray({1, 3, 8, 8}, seed);
    ASSERT_OK_AND_ASSIGN(std::vector<NDArray> a, testing::RunGraphModel(path, "fused", {{"x", x}}));
    ASSERT_OK_AND_ASSIGN(std::vector<NDArray> b, testing::RunGraphModel(path, "plain", {{"x", x}}));
    ASSERT_EQ(a[0].shape(), (std::vector<int64_t>{1, 4, 8, 8}));
    EXPECT_TRUE(testing::BitIdentical(a[0], b[0]));
    // Relu: no negative outputs, and some are positive.
    const std::vector<float> v = Values(a[0]);
    EXPECT_GE(*std::min_element(v.begin(), v.end()), 0.0f);
    EXPECT_GT(*std::max_element(v.begin(), v.end()), 0.0f);
  }
}

// Softmax over rows of `x` seen as [outer, inner] (the coerced 2-D semantics before opset 13).
std::vector<double> CoercedSoftmax(const NDArray& x, int64_t outer, int64_t inner) {
  std::vector<double> out;
  for (int64_t r = 0; r < outer; ++r) {
    const float* row = x.data_as<float>() + r * inner;
    double max = row[0], sum = 0;
    for (int64_t i = 1; i < inner; ++i) max = std::max<double>(max, row[i]);
    for (int64_t i = 0; i < inner; ++i) sum += std::exp(row[i] - max);
    for (int64_t i = 0; i < inner; ++i) out.push_back(std::exp(row[i] - max) / sum);
  }
  return out;
}

// Softmax-11 of x[2, 3, 4] at `axis` against the coerced reference.
void CheckSoftmax11(int64_t axis, int64_t outer, int64_t inner) {
  OnnxModelBuilder m(11);
  m.Input("x", {2, 3, 4});
  AddIntAttr(m.Node("Softmax", {"x"}, {"y"}), "axis", axis);
  m.Output("y");
  ASSERT_OK_AND_ASSIGN(Model model, ImportOnnxModel(m.proto(), Options("softmax11")));
  const NDArray x = RandomArray({2, 3, 4}, 30);
  ASSERT_OK_AND_ASSIGN(std::vector<NDArray> out, testing::ExportAndRun(model, {{"x", x}}));
  ExpectNear(out[0], {2, 3, 4}, CoercedSoftmax(x, outer, inner));
}

TEST(OnnxEndToEndTest, SoftmaxOpset11CoercesToTwoDimensions) {
  CheckSoftmax11(/*axis=*/1, /*outer=*/2, /*inner=*/12);
}

TEST(OnnxEndToEndTest, SoftmaxOpset11NegativeAxisCountsFromTheBack) {
  // ONNX Softmax-11: axis in [-r, r-1]; -1 on a rank-3 input is axis 2, rows of 4.
  CheckSoftmax11(/*axis=*/-1, /*outer=*/6, /*inner=*/4);
}

TEST(OnnxEndToEndTest, SoftmaxOpset13IsPerAxis) {
  OnnxModelBuilder m(13);
  m.Input("x", {2, 3, 4});
  AddIntAttr(m.Node("Softmax", {"x"}, {"y"}), "axis", 2);
  m.Output("y");
  ASSERT_OK_AND_ASSIGN(Model model, ImportOnnxModel(m.proto(), Options("softmax13")));
  const NDArray x = RandomArray({2, 3, 4}, 31);
  ASSERT_OK_AND_ASSIGN(std::vector<NDArray> out, testing::ExportAndRun(model, {{"x", x}}));
  ExpectNear(out[0], {2, 3, 4}, CoercedSoftmax(x, 6, 4));
}

}  // namespace
}  // namespace ferry
