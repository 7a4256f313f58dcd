// Graph passes (compiler/passes.h) on models built with GraphBuilder: which chains
// FuseEpilogues folds and which it must leave alone, what RemoveDeadNodes removes and how it
// renumbers, and that fused models compute bit-identical outputs once exported.
#include "compiler/passes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "compiler/graph_builder.h"
#include "tests/library_run_util.h"
#include "tests/model_test_util.h"

namespace ferry {
namespace {

using compiler::Attrs;
using compiler::FuseEpilogues;
using compiler::GraphBuilder;
using compiler::Model;
using compiler::OptimizeModel;
using compiler::RemoveDeadNodes;
using compiler::Tensor;
using ::testing::ElementsAre;
using testing::RandomArray;

int64_t IntAttr(const Attrs& attrs, const std::string& name) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return -1;
  const int64_t* v = std::get_if<int64_t>(&it->second);
  return v ? *v : -1;
}

double FloatAttr(const Attrs& attrs, const std::string& name) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return NAN;
  const double* v = std::get_if<double>(&it->second);
  return v ? *v : NAN;
}

// A [C] array with values in [0.5, 1.5): valid variances and scales.
NDArray PositiveArray(int64_t c, uint32_t seed) {
  NDArray a = RandomArray({c}, seed);
  for (int64_t i = 0; i < c; ++i) a.data_as<float>()[i] = 1.0f + 0.5f * a.data_as<float>()[i];
  return a;
}

// The graph as export would see it: names as function names, then Validate.
Status ValidateModel(const Model& model) {
  ExecGraph check = model.graph;
  for (GraphNode& node : check.nodes) node.func_name = node.name;
  if (model.node_attrs.size() != model.graph.nodes.size()) {
    return InvalidArgumentError("node_attrs is not parallel to nodes");
  }
  return check.Validate();
}

// FuseEpilogues leaves the fused-away intermediates as entries without a source; export
// sees the model after RemoveDeadNodes (OptimizeModel), so fusion tests validate that.
Status ValidateAfterCleanup(Model model) {
  RETURN_IF_ERROR(RemoveDeadNodes(model).status());
  return ValidateModel(model);
}

// data[1, 3, 8, 8] -> conv2d(4 filters 3x3, pad 1) -> bias_add -> batch_norm -> relu, with
// every tensor returned so tests can expose intermediates as outputs.
struct ConvChain {
  Tensor x, w, bias, gamma, beta, mean, var, conv, biased, normed, activated;
};

StatusOr<ConvChain> AddConvChain(GraphBuilder& b) {
  ConvChain c;
  ASSIGN_OR_RETURN(c.x, b.Input("data", {1, 3, 8, 8}));
  ASSIGN_OR_RETURN(c.w, b.Param("w", RandomArray({4, 3, 3, 3}, 1)));
  ASSIGN_OR_RETURN(c.bias, b.Param("bias", RandomArray({4}, 2)));
  ASSIGN_OR_RETURN(c.gamma, b.Param("gamma", PositiveArray(4, 3)));
  ASSIGN_OR_RETURN(c.beta, b.Param("beta", RandomArray({4}, 4)));
  ASSIGN_OR_RETURN(c.mean, b.Param("mean", RandomArray({4}, 5)));
  ASSIGN_OR_RETURN(c.var, b.Param("var", PositiveArray(4, 6)));
  ASSIGN_OR_RETURN(c.conv,
                   b.Op("conv2d", {c.x, c.w}, {{"padding", std::vector<int64_t>{1, 1}}}, "conv"));
  ASSIGN_OR_RETURN(c.biased, b.Op("bias_add", {c.conv, c.bias}, {}, "bias_add"));
  ASSIGN_OR_RETURN(c.normed, b.Op("batch_norm", {c.biased, c.gamma, c.beta, c.mean, c.var},
                                  {{"epsilon", 1e-3}}, "bn"));
  ASSIGN_OR_RETURN(c.activated, b.Op("relu", {c.normed}, {}, "relu"));
  return c;
}

StatusOr<Model> ConvChainModel(const std::string& key) {
  GraphBuilder b(key);
  ASSIGN_OR_RETURN(ConvChain c, AddConvChain(b));
  RETURN_IF_ERROR(b.Output(c.activated));
  return std::move(b).Finish();
}

// data[2, 8] -> dense(5) -> add(bias [5]) -> clip(-0.5, 0.5). `bias_first` puts the bias as
// the add's first operand.
StatusOr<Model> DenseChainModel(const std::string& key, bool bias_first = false) {
  GraphBuilder b(key);
  ASSIGN_OR_RETURN(Tensor x, b.Input("data", {2, 8}));
  ASSIGN_OR_RETURN(Tensor w, b.Param("w", RandomArray({5, 8}, 7)));
  ASSIGN_OR_RETURN(Tensor bias, b.Param("bias", RandomArray({5}, 8)));
  ASSIGN_OR_RETURN(Tensor y, b.Op("dense", {x, w}, {}, "fc"));
  ASSIGN_OR_RETURN(Tensor z, b.Op("add", bias_first ? std::vector<Tensor>{bias, y}
                                                    : std::vector<Tensor>{y, bias}));
  ASSIGN_OR_RETURN(Tensor out, b.Op("clip", {z}, {{"min", -0.5}, {"max", 0.5}}));
  RETURN_IF_ERROR(b.Output(out));
  return std::move(b).Finish();
}

// data[2, 3, 8] (a batch of token rows) -> matmul by a [8, 5] weight -> add of a [5] bias ->
// relu: a transformer's feed-forward layer as PyTorch exports it.
StatusOr<Model> MatmulChainModel(const std::string& key) {
  GraphBuilder b(key);
  ASSIGN_OR_RETURN(Tensor x, b.Input("data", {2, 3, 8}));
  ASSIGN_OR_RETURN(Tensor w, b.Param("w", RandomArray({8, 5}, 9)));
  ASSIGN_OR_RETURN(Tensor bias, b.Param("bias", RandomArray({5}, 10)));
  ASSIGN_OR_RETURN(Tensor y, b.Op("matmul", {x, w}, {}, "ffn"));
  ASSIGN_OR_RETURN(Tensor z, b.Op("add", {bias, y}));
  ASSIGN_OR_RETURN(Tensor out, b.Op("relu", {z}));
  RETURN_IF_ERROR(b.Output(out));
  return std::move(b).Finish();
}

// ---- FuseEpilogues: what fuses ----

TEST(FuseEpiloguesTest, MatmulAddReluFusesAlongTheLastAxis) {
  ASSERT_OK_AND_ASSIGN(Model model, MatmulChainModel("mar"));
  ASSERT_OK_AND_ASSIGN(int removed, FuseEpilogues(model));
  EXPECT_EQ(removed, 2);
  ASSERT_EQ(model.graph.nodes.size(), 1u);
  EXPECT_EQ(model.graph.nodes[0].op, "matmul");
  EXPECT_EQ(IntAttr(model.node_attrs[0], "bias"), 1);
  EXPECT_EQ(IntAttr(model.node_attrs[0], "activation"), 1);
  EXPECT_EQ(model.graph.nodes[0].inputs.size(), 3u);
  ASSERT_OK(ValidateAfterCleanup(model));
}

TEST(FuseEpiloguesTest, ConvBiasBatchNormReluBecomesOneNode) {
  ASSERT_OK_AND_ASSIGN(Model model, ConvChainModel("cbr"));
  const ExecGraph before = model.graph;
  ASSERT_EQ(before.nodes.size(), 4u);
  ASSERT_OK_AND_ASSIGN(int removed, FuseEpilogues(model));
  EXPECT_EQ(removed, 3);
  ASSERT_EQ(model.graph.nodes.size(), 1u);
  ASSERT_EQ(model.node_attrs.size(), 1u);
  const GraphNode& node = model.graph.nodes[0];
  EXPECT_EQ(node.op, "conv2d");
  EXPECT_EQ(node.name, "conv");
  const Attrs& attrs = model.node_attrs[0];
  EXPECT_EQ(IntAttr(attrs, "bias"), 1);
  EXPECT_EQ(IntAttr(attrs, "batch_norm"), 1);
  EXPECT_EQ(IntAttr(attrs, "activation"), 1);
  EXPECT_DOUBLE_EQ(FloatAttr(attrs, "epsilon"), 1e-3);
  EXPECT_EQ(attrs.count("padding"), 1u) << "the conv's own attributes are kept";
  // data, weight, bias, gamma, beta, mean, var; the output is the relu's (the model output).
  ASSERT_EQ(node.inputs.size(), 7u);
  std::vector<std::string> input_names;
  for (uint32_t e : node.inputs) {
    for (const NamedEntry& p : model.graph.params) {
      if (p.entry == e) input_names.push_back(p.name);
    }
  }
  EXPECT_THAT(input_names, ElementsAre("w", "bias", "gamma", "beta", "mean", "var"));
  EXPECT_EQ(node.inputs[0], model.graph.inputs[0].entry);
  EXPECT_THAT(node.outputs, ElementsAre(model.graph.outputs[0]));
  // Entries are renumbered; the output is the same tensor.
  ASSERT_EQ(model.graph.outputs.size(), 1u);
  EXPECT_EQ(model.graph.entries[model.graph.outputs[0]], before.entries[before.outputs[0]]);
  ASSERT_OK(ValidateAfterCleanup(model));
}

// FuseEpilogues alone keeps the model valid: the fused-away intermediates go too.
TEST(FuseEpiloguesTest, FusedModelIsValidWithoutCleanup) {
  ASSERT_OK_AND_ASSIGN(Model model, ConvChainModel("alone"));
  ASSERT_OK(FuseEpilogues(model));
  ASSERT_OK(ValidateModel(model));
}

TEST(FuseEpiloguesTest, DenseAddClipFusesWithClipActivation) {
  for (bool bias_first : {false, true}) {
    SCOPED_TRACE(bias_first);
    ASSERT_OK_AND_ASSIGN(Model model, DenseChainModel("dac", bias_first));
    ASSERT_OK_AND_ASSIGN(int removed, FuseEpilogues(model));
    EXPECT_EQ(removed, 2);
    ASSERT_EQ(model.graph.nodes.size(), 1u);
    EXPECT_EQ(model.graph.nodes[0].op, "dense");
    const Attrs& attrs = model.node_attrs[0];
    EXPECT_EQ(IntAttr(attrs, "bias"), 1);
    EXPECT_EQ(IntAttr(attrs, "batch_norm"), 0);
    EXPECT_EQ(IntAttr(attrs, "activation"), 2);
    EXPECT_DOUBLE_EQ(FloatAttr(attrs, "clip_min"), -0.5);
    EXPECT_DOUBLE_EQ(FloatAttr(attrs, "clip_max"), 0.5);
    EXPECT_EQ(model.graph.nodes[0].inputs.size(), 3u);
    ASSERT_OK(ValidateAfterCleanup(model));
  }
}

TEST(FuseEpiloguesTest, DenseAddOfFullMatrixIsNotFused) {
  GraphBuilder b("dense_add_matrix");
  ASSERT_OK_AND_ASSIGN(Tensor x, b.Input("data", {2, 8}));
  ASSERT_OK_AND_ASSIGN(Tensor w, b.Param("w", RandomArray({5, 8}, 1)));
  ASSERT_OK_AND_ASSIGN(Tensor m, b.Param("m", RandomArray({2, 5}, 2)));
  ASSERT_OK_AND_ASSIGN(Tensor y, b.Op("dense", {x, w}));
  ASSERT_OK_AND_ASSIGN(Tensor z, b.Op("add", {y, m}));
  ASSERT_OK(b.Output(z));
  ASSERT_OK_AND_ASSIGN(Model model, std::move(b).Finish());
  ASSERT_OK_AND_ASSIGN(int removed, FuseEpilogues(model));
  EXPECT_EQ(removed, 0);
  EXPECT_EQ(model.graph.nodes.size(), 2u);
}

// ---- FuseEpilogues: what must not fuse ----

TEST(FuseEpiloguesTest, ConvFeedingTwoNodesIsNotFused) {
  GraphBuilder b("fanout");
  ASSERT_OK_AND_ASSIGN(Tensor x, b.Input("data", {1, 3, 8, 8}));
  ASSERT_OK_AND_ASSIGN(Tensor w, b.Param("w", RandomArray({4, 3, 3, 3}, 1)));
  ASSERT_OK_AND_ASSIGN(Tensor conv, b.Op("conv2d", {x, w}));
  ASSERT_OK_AND_ASSIGN(Tensor r, b.Op("relu", {conv}));
  ASSERT_OK_AND_ASSIGN(Tensor s, b.Op("sigmoid", {conv}));
  ASSERT_OK(b.Output(r));
  ASSERT_OK(b.Output(s));
  ASSERT_OK_AND_ASSIGN(Model model, std::move(b).Finish());
  const ExecGraph before = model.graph;
  ASSERT_OK_AND_ASSIGN(int removed, FuseEpilogues(model));
  EXPECT_EQ(removed, 0);
  ASSERT_EQ(model.graph.nodes.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(model.graph.nodes[i].op, before.nodes[i].op);
    EXPECT_EQ(model.graph.nodes[i].inputs, before.nodes[i].inputs);
  }
  EXPECT_EQ(IntAttr(model.node_attrs[0], "activation"), -1) << "conv attrs untouched";
}

TEST(FuseEpiloguesTest, ChainStopsWhereAnIntermediateFansOut) {
  GraphBuilder b("partial");
  ASSERT_OK_AND_ASSIGN(Tensor x, b.Input("data", {1, 3, 8, 8}));
  ASSERT_OK_AND_ASSIGN(Tensor w, b.Param("w", RandomArray({4, 3, 3, 3}, 1)));
  ASSERT_OK_AND_ASSIGN(Tensor bias, b.Param("bias", RandomArray({4}, 2)));
  ASSERT_OK_AND_ASSIGN(Tensor conv, b.Op("conv2d", {x, w}));
  ASSERT_OK_AND_ASSIGN(Tensor biased, b.Op("bias_add", {conv, bias}));
  ASSERT_OK_AND_ASSIGN(Tensor r, b.Op("relu", {biased}));
  ASSERT_OK_AND_ASSIGN(Tensor s, b.Op("sigmoid", {biased}));
  ASSERT_OK(b.Output(r));
  ASSERT_OK(b.Output(s));
  ASSERT_OK_AND_ASSIGN(Model model, std::move(b).Finish());
  ASSERT_OK_AND_ASSIGN(int removed, FuseEpilogues(model));
  EXPECT_EQ(removed, 1);
  ASSERT_EQ(model.graph.nodes.size(), 3u);
  EXPECT_EQ(model.graph.nodes[0].op, "conv2d");
  EXPECT_EQ(IntAttr(model.node_attrs[0], "bias"), 1);
  EXPECT_EQ(IntAttr(model.node_attrs[0], "activation"), 0);
  // Both readers of the fused conv + bias_add result still read it (entries are renumbered).
  ASSERT_EQ(model.graph.nodes[0].outputs.size(), 1u);
  const uint32_t fused = model.graph.nodes[0].outputs[0];
  EXPECT_EQ(model.graph.nodes[1].op, "relu");
  EXPECT_EQ(model.graph.nodes[2].op, "sigmoid");
  EXPECT_THAT(model.graph.nodes[1].inputs, ElementsAre(fused));
  EXPECT_THAT(model.graph.nodes[2].inputs, ElementsAre(fused));
  ASSERT_OK(ValidateAfterCleanup(model));
}

TEST(FuseEpiloguesTest, IntermediateModelOutputIsNotFused) {
  GraphBuilder b("exposed");
  ASSERT_OK_AND_ASSIGN(ConvChain c, AddConvChain(b));
  ASSERT_OK(b.Output(c.activated));
  ASSERT_OK(b.Output(c.biased));  // the bias_add result is a model output too
  ASSERT_OK_AND_ASSIGN(Model model, std::move(b).Finish());
  ASSERT_OK_AND_ASSIGN(int removed, FuseEpilogues(model));
  // conv + bias_add fuse (the conv's output is internal); bn + relu may not join.
  EXPECT_EQ(removed, 1);
  ASSERT_EQ(model.graph.nodes.size(), 3u);
  EXPECT_EQ(model.graph.nodes[0].op, "conv2d");
  EXPECT_EQ(model.graph.nodes[1].op, "batch_norm");
  EXPECT_EQ(model.graph.nodes[2].op, "relu");
  // Entries are renumbered: the fused node computes output 1, relu output 0.
  ASSERT_EQ(model.graph.outputs.size(), 2u);
  EXPECT_THAT(model.graph.nodes[0].outputs, ElementsAre(model.graph.outputs[1]));
  EXPECT_THAT(model.graph.nodes[2].outputs, ElementsAre(model.graph.outputs[0]));
  ASSERT_OK(ValidateAfterCleanup(model));
}

TEST(FuseEpiloguesTest, ConvOutputThatIsAModelOutputIsNotFused) {
  GraphBuilder b("conv_exposed");
  ASSERT_OK_AND_ASSIGN(Tensor x, b.Input("data", {1, 3, 8, 8}));
  ASSERT_OK_AND_ASSIGN(Tensor w, b.Param("w", RandomArray({4, 3, 3, 3}, 1)));
  ASSERT_OK_AND_ASSIGN(Tensor conv, b.Op("conv2d", {x, w}));
  ASSERT_OK_AND_ASSIGN(Tensor r, b.Op("relu", {conv}));
  ASSERT_OK(b.Output(conv));
  ASSERT_OK(b.Output(r));
  ASSERT_OK_AND_ASSIGN(Model model, std::move(b).Finish());
  ASSERT_OK_AND_ASSIGN(int removed, FuseEpilogues(model));
  EXPECT_EQ(removed, 0);
  EXPECT_EQ(model.graph.nodes.size(), 2u);
}

TEST(FuseEpiloguesTest, BiasAddOnAnotherAxisIsNotFused) {
  GraphBuilder b("wrong_axis");
  ASSERT_OK_AND_ASSIGN(Tensor x, b.Input("data", {1, 3, 8, 8}));
  ASSERT_OK_AND_ASSIGN(Tensor w, b.Param("w", RandomArray({8, 3, 1, 1}, 1)));
  ASSERT_OK_AND_ASSIGN(Tensor bias, b.Param("bias", RandomArray({8}, 2)));
  ASSERT_OK_AND_ASSIGN(Tensor conv, b.Op("conv2d", {x, w}));
  // [1, 8, 8, 8]: the bias runs along the width, not the channels.
  ASSERT_OK_AND_ASSIGN(Tensor y, b.Op("bias_add", {conv, bias}, {{"axis", int64_t{3}}}));
  ASSERT_OK(b.Output(y));
  ASSERT_OK_AND_ASSIGN(Model model, std::move(b).Finish());
  ASSERT_OK_AND_ASSIGN(int removed, FuseEpilogues(model));
  EXPECT_EQ(removed, 0);
  EXPECT_EQ(model.graph.nodes.size(), 2u);
}

// ---- RemoveDeadNodes ----

TEST(RemoveDeadNodesTest, RemovesUnusedNodesAndTheirParametersAndRenumbers) {
  GraphBuilder b("dead");
  ASSERT_OK_AND_ASSIGN(Tensor x, b.Input("data", {2, 4}));
  ASSERT_OK_AND_ASSIGN(Tensor unused_input, b.Input("unused_input", {3}));
  ASSERT_OK_AND_ASSIGN(Tensor dead_w, b.Param("dead.w", RandomArray({4}, 1)));
  ASSERT_OK_AND_ASSIGN(Tensor dead, b.Op("mul", {x, dead_w}, {}, "dead_mul"));
  ASSERT_OK_AND_ASSIGN(Tensor w, b.Param("fc.w", RandomArray({3, 4}, 2)));
  ASSERT_OK_AND_ASSIGN(Tensor y, b.Op("dense", {x, w}, {}, "fc"));
  ASSERT_OK_AND_ASSIGN(Tensor dead2, b.Op("sigmoid", {dead}, {}, "dead_sigmoid"));
  ASSERT_OK_AND_ASSIGN(Tensor out, b.Op("relu", {y}, {}, "relu"));
  ASSERT_OK(b.Output(out));
  (void)unused_input;
  (void)dead2;
  ASSERT_OK_AND_ASSIGN(Model model, std::move(b).Finish());
  ASSERT_EQ(model.params.size(), 2u);
  const size_t entries_before = model.graph.entries.size();

  ASSERT_OK_AND_ASSIGN(int removed, RemoveDeadNodes(model));
  EXPECT_EQ(removed, 2);
  ASSERT_EQ(model.graph.nodes.size(), 2u);
  EXPECT_EQ(model.graph.nodes[0].name, "fc");
  EXPECT_EQ(model.graph.nodes[1].name, "relu");
  ASSERT_EQ(model.node_attrs.size(), 2u);
  // The dead parameter is gone from the graph and the values; the live one stays.
  ASSERT_EQ(model.params.size(), 1u);
  EXPECT_EQ(model.params.count("fc.w"), 1u);
  ASSERT_EQ(model.graph.params.size(), 1u);
  EXPECT_EQ(model.graph.params[0].name, "fc.w");
  // Inputs are kept, even unused ones.
  ASSERT_EQ(model.graph.inputs.size(), 2u);
  EXPECT_EQ(model.graph.inputs[1].name, "unused_input");
  // Entries: data, unused_input, fc.w, fc out, relu out, in their old order.
  EXPECT_EQ(model.graph.entries.size(), entries_before - 3);
  ASSERT_EQ(model.graph.entries.size(), 5u);
  EXPECT_EQ(model.graph.inputs[0].entry, 0u);
  EXPECT_EQ(model.graph.inputs[1].entry, 1u);
  EXPECT_EQ(model.graph.params[0].entry, 2u);
  EXPECT_THAT(model.graph.nodes[0].inputs, ElementsAre(0u, 2u));
  EXPECT_THAT(model.graph.nodes[0].outputs, ElementsAre(3u));
  EXPECT_THAT(model.graph.nodes[1].inputs, ElementsAre(3u));
  EXPECT_THAT(model.graph.nodes[1].outputs, ElementsAre(4u));
  EXPECT_THAT(model.graph.outputs, ElementsAre(4u));
  EXPECT_EQ(model.graph.entries[3].shape, (std::vector<int64_t>{2, 3}));
  ASSERT_OK(ValidateModel(model));
}

TEST(RemoveDeadNodesTest, LiveModelIsUnchanged) {
  ASSERT_OK_AND_ASSIGN(Model model, DenseChainModel("live"));
  const ExecGraph before = model.graph;
  ASSERT_OK_AND_ASSIGN(int removed, RemoveDeadNodes(model));
  EXPECT_EQ(removed, 0);
  EXPECT_EQ(model.graph.entries, before.entries);
  EXPECT_EQ(model.graph.nodes.size(), before.nodes.size());
  EXPECT_EQ(model.params.size(), 2u);
}

TEST(RemoveDeadNodesTest, DropsEntriesLeftBehindByFusion) {
  ASSERT_OK_AND_ASSIGN(Model model, ConvChainModel("cleanup"));
  ASSERT_OK(OptimizeModel(model));
  ASSERT_EQ(model.graph.nodes.size(), 1u);
  // data, 6 parameters and the fused output: the three intermediates are gone.
  EXPECT_EQ(model.graph.entries.size(), 8u);
  EXPECT_EQ(model.params.size(), 6u);
  ASSERT_OK(ValidateModel(model));
}

// ---- Fused and unfused models compute the same bits ----

TEST(FusedExportTest, FusedAndUnfusedOutputsAreBitIdentical) {
  ASSERT_OK_AND_ASSIGN(Model conv_plain, ConvChainModel("conv_plain"));
  ASSERT_OK_AND_ASSIGN(Model dense_plain, DenseChainModel("dense_plain"));
  ASSERT_OK_AND_ASSIGN(Model matmul_plain, MatmulChainModel("matmul_plain"));
  Model conv_fused = conv_plain, dense_fused = dense_plain, matmul_fused = matmul_plain;
  conv_fused.key = "conv_fused";
  dense_fused.key = "dense_fused";
  matmul_fused.key = "matmul_fused";
  ASSERT_OK(OptimizeModel(conv_fused));
  ASSERT_OK(OptimizeModel(dense_fused));
  ASSERT_OK(OptimizeModel(matmul_fused));
  ASSERT_EQ(conv_fused.graph.nodes.size(), 1u);
  ASSERT_EQ(dense_fused.graph.nodes.size(), 1u);
  ASSERT_EQ(matmul_fused.graph.nodes.size(), 1u);
  // On the plain kernels: blocked layouts fold the batch norm, which is not bit for bit.
  compiler::ExportOptions options;
  options.blocked_layouts = false;
  ASSERT_OK_AND_ASSIGN(std::string path,
                       testing::ExportGraphLibrary(
                           {&conv_plain, &conv_fused, &dense_plain, &dense_fused,
                            &matmul_plain, &matmul_fused},
                           "fusion",
                           options));
  for (uint32_t seed : {40u, 41u}) {
    SCOPED_TRACE(seed);
    const NDArray image = RandomArray({1, 3, 8, 8}, seed);
    ASSERT_OK_AND_ASSIGN(auto a, testing::RunGraphModel(path, "conv_plain", {{"data", image}}));
    ASSERT_OK_AND_ASSIGN(auto b, testing::RunGraphModel(path, "conv_fused", {{"data", image}}));
    EXPECT_TRUE(testing::BitIdentical(a[0], b[0]));
    const NDArray rows = RandomArray({2, 8}, seed);
    ASSERT_OK_AND_ASSIGN(auto c, testing::RunGraphModel(path, "dense_plain", {{"data", rows}}));
    ASSERT_OK_AND_ASSIGN(auto d, testing::RunGraphModel(path, "dense_fused", {{"data", rows}}));
    EXPECT_TRUE(testing::BitIdentical(c[0], d[0]));
    const NDArray tokens = RandomArray({2, 3, 8}, seed);
    ASSERT_OK_AND_ASSIGN(auto e, testing::RunGraphModel(path, "matmul_plain", {{"data", tokens}}));
    ASSERT_OK_AND_ASSIGN(auto f, testing::RunGraphModel(path, "matmul_fused", {{"data", tokens}}));
    EXPECT_TRUE(testing::BitIdentical(e[0], f[0]));
    // The clip bounds hold.
    float lo = 1, hi = -1;
    for (int64_t i = 0; i < d[0].NumElements(); ++i) {
      lo = std::min(lo, d[0].data_as<float>()[i]);
      hi = std::max(hi, d[0].data_as<float>()[i]);
    }
    EXPECT_GE(lo, -0.5f);
    EXPECT_LE(hi, 0.5f);
  }
}

}  // namespace
}  // namespace ferry
