// FuseLayerNorms (compiler/passes.h): a layer normalisation written out as its arithmetic, as
// PyTorch exports nn.LayerNorm before opset 17, becomes one layer_norm node computing the same
// values; chains that differ from it in any way stay as they are.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "compiler/graph_builder.h"
#include "compiler/passes.h"
#include "tests/library_run_util.h"
#include "tests/model_test_util.h"

namespace ferry {
namespace {

using compiler::Attrs;
using compiler::FuseLayerNorms;
using compiler::GraphBuilder;
using compiler::Model;
using compiler::Tensor;
using testing::RandomArray;

NDArray Scalar(float value) {
  NDArray a = NDArray::Empty({}, DataType::Float32(), Device::Cpu()).value();
  a.data_as<float>()[0] = value;
  return a;
}

// How the written-out normalisation of data [2, 5, 8] over its last axis varies.
struct Spelling {
  bool square_by_mul = false;       // d * d instead of pow(d, 2)
  bool operands_swapped = false;    // gamma * n, beta + y
  std::vector<int64_t> axes = {2};  // of both reduce_means
  float exponent = 2.0f;
  bool epsilon_is_input = false;    // not a constant
  bool centred_is_output = false;   // d is also a model output
  std::vector<int64_t> gamma_shape = {8};
};

StatusOr<Model> WrittenOutLayerNorm(const std::string& key, const Spelling& s) {
  GraphBuilder b(key);
  ASSIGN_OR_RETURN(Tensor x, b.Input("data", {2, 5, 8}));
  ASSIGN_OR_RETURN(Tensor gamma, b.Param("gamma", RandomArray(s.gamma_shape, 1)));
  ASSIGN_OR_RETURN(Tensor beta, b.Param("beta", RandomArray({8}, 2)));
  ASSIGN_OR_RETURN(Tensor eps,
                   s.epsilon_is_input ? b.Input("eps", {}) : b.Param("eps", Scalar(1e-5f)));
  const Attrs reduce = {{"axes", s.axes}, {"keepdims", int64_t{1}}};
  ASSIGN_OR_RETURN(Tensor mean, b.Op("reduce_mean", {x}, reduce, "mean"));
  ASSIGN_OR_RETURN(Tensor d, b.Op("sub", {x, mean}, {}, "centre"));
  Tensor squared;
  if (s.square_by_mul) {
    ASSIGN_OR_RETURN(squared, b.Op("mul", {d, d}, {}, "square"));
  } else {
    ASSIGN_OR_RETURN(Tensor two, b.Param("two", Scalar(s.exponent)));
    ASSIGN_OR_RETURN(squared, b.Op("pow", {d, two}, {}, "square"));
  }
  ASSIGN_OR_RETURN(Tensor variance, b.Op("reduce_mean", {squared}, reduce, "variance"));
  ASSIGN_OR_RETURN(Tensor shifted, b.Op("add", {variance, eps}, {}, "shift"));
  ASSIGN_OR_RETURN(Tensor deviation, b.Op("sqrt", {shifted}, {}, "root"));
  ASSIGN_OR_RETURN(Tensor normed, b.Op("div", {d, deviation}, {}, "normalise"));
  ASSIGN_OR_RETURN(Tensor scaled, s.operands_swapped ? b.Op("mul", {gamma, normed}, {}, "scale")
                                                     : b.Op("mul", {normed, gamma}, {}, "scale"));
  ASSIGN_OR_RETURN(Tensor y, s.operands_swapped ? b.Op("add", {beta, scaled}, {}, "bias")
                                                : b.Op("add", {scaled, beta}, {}, "bias"));
  RETURN_IF_ERROR(b.Output(y));
  if (s.centred_is_output) RETURN_IF_ERROR(b.Output(d));
  return std::move(b).Finish();
}

// Fuses, removes what is left dead, and returns the operators that remain.
std::vector<std::string> FusedOps(Model& model, int* fused) {
  StatusOr<int> count = FuseLayerNorms(model);
  EXPECT_TRUE(count.ok()) << count.status().ToString();
  *fused = count.value_or(-1);
  EXPECT_TRUE(compiler::RemoveDeadNodes(model).ok());
  std::vector<std::string> ops;
  for (const GraphNode& node : model.graph.nodes) ops.push_back(node.op);
  return ops;
}

TEST(FuseLayerNormsTest, EverySpellingBecomesOneNodeComputingTheSameValues) {
  const Spelling spellings[] = {{}, {.square_by_mul = true, .operands_swapped = true},
                                {.axes = {-1}}};
  for (size_t i = 0; i < std::size(spellings); ++i) {
    SCOPED_TRACE(i);
    ASSERT_OK_AND_ASSIGN(Model plain, WrittenOutLayerNorm("plain", spellings[i]));
    Model fused = plain;
    fused.key = "fused";
    int count = 0;
    ASSERT_EQ(FusedOps(fused, &count), std::vector<std::string>{"layer_norm"});
    EXPECT_EQ(count, 1);
    const Attrs& attrs = fused.node_attrs[0];
    EXPECT_EQ(std::get<int64_t>(attrs.at("axis")), 2);
    EXPECT_NEAR(std::get<double>(attrs.at("epsilon")), 1e-5, 1e-12);
    // Only the normalisation's own constants went with the chain.
    EXPECT_EQ(fused.params.count("eps") + fused.params.count("two"), 0u);
    EXPECT_EQ(fused.params.count("gamma") + fused.params.count("beta"), 2u);

    ASSERT_OK_AND_ASSIGN(std::string path,
                         testing::ExportGraphLibrary({&plain, &fused}, "layer_norm"));
    const NDArray data = RandomArray({2, 5, 8}, 7 + static_cast<uint32_t>(i));
    ASSERT_OK_AND_ASSIGN(auto expected, testing::RunGraphModel(path, "plain", {{"data", data}}));
    ASSERT_OK_AND_ASSIGN(auto actual, testing::RunGraphModel(path, "fused", {{"data", data}}));
    ASSERT_EQ(actual[0].shape(), expected[0].shape());
    for (int64_t e = 0; e < expected[0].NumElements(); ++e) {
      EXPECT_NEAR(actual[0].data_as<float>()[e], expected[0].data_as<float>()[e], 1e-5) << e;
    }
  }
}

TEST(FuseLayerNormsTest, ChainsThatAreNotALayerNormStayAsTheyAre) {
  const std::pair<const char*, Spelling> others[] = {
      {"another exponent", {.exponent = 3.0f}},
      {"epsilon not a constant", {.epsilon_is_input = true}},
      {"not over the trailing axes", {.axes = {1}}},
      {"an intermediate is a model output", {.centred_is_output = true}},
      {"a scale of another shape", {.gamma_shape = {5, 8}}},
  };
  for (const auto& [why, spelling] : others) {
    SCOPED_TRACE(why);
    ASSERT_OK_AND_ASSIGN(Model model, WrittenOutLayerNorm("m", spelling));
    const size_t nodes = model.graph.nodes.size();
    int count = -1;
    EXPECT_EQ(FusedOps(model, &count).size(), nodes);
    EXPECT_EQ(count, 0);
  }
}

}  // namespace
}  // namespace ferry
