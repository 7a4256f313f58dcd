// ConvertToBlockedLayouts (compiler/blocked_layouts.h): a small network with every pattern
// the pass handles (an image's first convolution, folded batch norm, ceil-mode pooling, a
// residual add with relu, a depthwise convolution with clip, channel concat, global pooling,
// a plain reader in the middle) converts into blocked operators with no reorder between
// consecutive blocked layers, and computes what the plain model computes, with the graph and
// the AOT executor.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "compiler/blocked_layouts.h"
#include "compiler/export_library.h"
#include "compiler/graph_builder.h"
#include "compiler/passes.h"
#include "compiler/subprocess.h"
#include "runtime/build_config.h"
#include "tests/model_test_util.h"

namespace ferry::compiler {
namespace {

using testing::MaxAbsDiff;
using testing::RandomArray;
using testing::RunLibraryModel;

NDArray Positive(const std::vector<int64_t>& shape, uint32_t seed) {
  NDArray a = RandomArray(shape, seed);
  for (int64_t i = 0; i < a.NumElements(); ++i) a.data_as<float>()[i] = 0.5f + std::fabs(a.data_as<float>()[i]);
  return a;
}

// data [1, 3, 32, 32] -> two outputs: the classifier's [1, 10] and a sigmoid of a blocked
// tensor [1, 32, 8, 8] (a reader without a blocked form in the middle of the network).
StatusOr<Model> ResidualNetwork() {
  GraphBuilder b("resnetish");
  ASSIGN_OR_RETURN(Tensor x, b.Input("data", {1, 3, 32, 32}));
  uint32_t seed = 1;
  auto param = [&](const std::string& name, std::vector<int64_t> shape) {
    return b.Param(name, RandomArray(shape, seed++));
  };
  // conv 7x7/2 over the image, batch norm, relu.
  ASSIGN_OR_RETURN(Tensor w1, param("conv1.weight", {32, 3, 7, 7}));
  ASSIGN_OR_RETURN(Tensor c1, b.Op("conv2d", {x, w1}, {{"strides", std::vector<int64_t>{2, 2}},
                                                      {"padding", std::vector<int64_t>{3, 3}}},
                                   "conv1"));
  ASSIGN_OR_RETURN(Tensor gamma, b.Param("bn1.gamma", Positive({32}, seed++)));
  ASSIGN_OR_RETURN(Tensor beta, param("bn1.beta", {32}));
  ASSIGN_OR_RETURN(Tensor mean, param("bn1.mean", {32}));
  ASSIGN_OR_RETURN(Tensor var, b.Param("bn1.var", Positive({32}, seed++)));
  ASSIGN_OR_RETURN(Tensor n1, b.Op("batch_norm", {c1, gamma, beta, mean, var}, {}, "bn1"));
  ASSIGN_OR_RETURN(Tensor r1, b.Op("relu", {n1}, {}, "relu1"));
  // max pool 3x3/2 in ceil mode: 16 -> 8.
  ASSIGN_OR_RETURN(Tensor p1, b.Op("max_pool2d", {r1}, {{"pool_size", std::vector<int64_t>{3, 3}},
                                                        {"strides", std::vector<int64_t>{2, 2}},
                                                        {"ceil_mode", int64_t{1}}},
                                   "pool1"));
  // A residual block: conv, relu, conv, add, relu.
  const Attrs same{{"padding", std::vector<int64_t>{1, 1}}};
  ASSIGN_OR_RETURN(Tensor w2, param("conv2.weight", {32, 32, 3, 3}));
  ASSIGN_OR_RETURN(Tensor b2, param("conv2.bias", {32}));
  ASSIGN_OR_RETURN(Tensor c2, b.Op("conv2d", {p1, w2, b2}, same, "conv2"));
  ASSIGN_OR_RETURN(Tensor r2, b.Op("relu", {c2}, {}, "relu2"));
  ASSIGN_OR_RETURN(Tensor w3, param("conv3.weight", {32, 32, 3, 3}));
  ASSIGN_OR_RETURN(Tensor c3, b.Op("conv2d", {r2, w3}, same, "conv3"));
  ASSIGN_OR_RETURN(Tensor sum, b.Op("add", {c3, p1}, {}, "add3"));
  ASSIGN_OR_RETURN(Tensor r3, b.Op("relu", {sum}, {}, "relu3"));
  // A depthwise branch with relu6, concatenated with the block's output.
  ASSIGN_OR_RETURN(Tensor wd, param("dw.weight", {32, 1, 3, 3}));
  ASSIGN_OR_RETURN(Tensor cd, b.Op("conv2d", {r3, wd}, {{"padding", std::vector<int64_t>{1, 1}},
                                                        {"groups", int64_t{32}}},
                                   "dw"));
  ASSIGN_OR_RETURN(Tensor six, b.Op("clip", {cd}, {{"min", 0.0}, {"max", 6.0}}, "relu6"));
  ASSIGN_OR_RETURN(Tensor cat, b.Op("concat", {r3, six}, {{"axis", int64_t{1}}}, "concat"));
  ASSIGN_OR_RETURN(Tensor gap, b.Op("global_avg_pool2d", {cat}, {}, "gap"));
  ASSIGN_OR_RETURN(Tensor flat, b.Op("flatten", {gap}, {}, "flatten"));
  ASSIGN_OR_RETURN(Tensor wf, param("fc.weight", {10, 64}));
  ASSIGN_OR_RETURN(Tensor fc, b.Op("dense", {flat, wf}, {}, "fc"));
  ASSIGN_OR_RETURN(Tensor side, b.Op("sigmoid", {r3}, {}, "side"));
  RETURN_IF_ERROR(b.Output(fc));
  RETURN_IF_ERROR(b.Output(side));
  ASSIGN_OR_RETURN(Model model, std::move(b).Finish());
  RETURN_IF_ERROR(OptimizeModel(model));
  return model;
}

std::map<std::string, int> OpCounts(const Model& model) {
  std::map<std::string, int> counts;
  for (const GraphNode& node : model.graph.nodes) ++counts[node.op];
  return counts;
}

// conv2d over data [1, 16, 8, 8] with `groups`, then `op` on its result.
StatusOr<Model> ConvThen(int64_t groups, const std::string& op) {
  GraphBuilder b("conv_then_" + op);
  ASSIGN_OR_RETURN(Tensor x, b.Input("data", {1, 16, 8, 8}));
  ASSIGN_OR_RETURN(Tensor w, b.Param("w", RandomArray({16, 16 / groups, 3, 3}, 5)));
  ASSIGN_OR_RETURN(Tensor y, b.Op("conv2d", {x, w}, {{"groups", groups}}));
  ASSIGN_OR_RETURN(Tensor z, b.Op(op, {y}));
  RETURN_IF_ERROR(b.Output(z));
  return std::move(b).Finish();
}

TEST(BlockedLayoutsTest, ChoosesChannelBlocksOnlyWhereTheyHelpAndHold) {
  // Depthwise convolutions run faster on channel blocks.
  ASSERT_OK_AND_ASSIGN(Model depthwise, ConvThen(16, "relu"));
  EXPECT_EQ(ChooseBlockedLayout(depthwise), BlockedLayout::kChannelBlocks);
  ASSERT_OK_AND_ASSIGN(Model dense, ConvThen(1, "relu"));
  EXPECT_EQ(ChooseBlockedLayout(dense), BlockedLayout::kChannelsLast);
  // sigmoid(0) is not 0: it would leave the blocks' padding, so channels last.
  ASSERT_OK_AND_ASSIGN(Model gated, ConvThen(16, "sigmoid"));
  EXPECT_EQ(ChooseBlockedLayout(gated), BlockedLayout::kChannelsLast);
  // Grouped convolutions have no channel-block kernel.
  ASSERT_OK_AND_ASSIGN(Model grouped, ConvThen(4, "relu"));
  EXPECT_EQ(ChooseBlockedLayout(grouped), BlockedLayout::kChannelsLast);
}

TEST(BlockedLayoutsTest, FusesSiluIntoTheConvolution) {
  if (!BlockedLayoutsAvailable()) GTEST_SKIP() << "this build has no oneDNN";
  GraphBuilder b("silu");
  ASSERT_OK_AND_ASSIGN(Tensor x, b.Input("data", {1, 16, 8, 8}));
  ASSERT_OK_AND_ASSIGN(Tensor w, b.Param("w", RandomArray({24, 4, 3, 3}, 6)));
  ASSERT_OK_AND_ASSIGN(Tensor y, b.Op("conv2d", {x, w}, {{"groups", int64_t{4}}, {"padding", std::vector<int64_t>{1, 1}}}));
  ASSERT_OK_AND_ASSIGN(Tensor gate, b.Op("sigmoid", {y}));
  ASSERT_OK_AND_ASSIGN(Tensor silu, b.Op("mul", {y, gate}));
  // Squeeze-excitation: a per-channel scale stays in the layout.
  ASSERT_OK_AND_ASSIGN(Tensor pooled, b.Op("global_avg_pool2d", {silu}));
  ASSERT_OK_AND_ASSIGN(Tensor scale, b.Op("sigmoid", {pooled}));
  ASSERT_OK_AND_ASSIGN(Tensor scaled, b.Op("mul", {silu, scale}));
  ASSERT_OK(b.Output(scaled));
  ASSERT_OK_AND_ASSIGN(Model model, std::move(b).Finish());
  ASSERT_OK_AND_ASSIGN(Model converted, ConvertToBlockedLayouts(model));
  std::map<std::string, int> ops = OpCounts(converted);
  EXPECT_EQ(ops["blocked_conv2d"], 1);
  EXPECT_EQ(ops["sigmoid"], 1);  // the excitation's only
  EXPECT_EQ(ops["mul"], 1);
  EXPECT_EQ(ops["transpose"], 2);  // in and out
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("ferry-silu-"));
  ExportOptions plain_options;
  plain_options.blocked_layouts = false;
  ASSERT_OK(ExportLibrary(std::vector<ModelBuild>{{&model, ExecutorKind::kGraph}},
                          dir.path() + "/plain.so", plain_options));
  ASSERT_OK(ExportLibrary(std::vector<ModelBuild>{{&model, ExecutorKind::kGraph}},
                          dir.path() + "/fused.so"));
  const NDArray input = RandomArray({1, 16, 8, 8}, 7);
  ASSERT_OK_AND_ASSIGN(NDArray expected, RunLibraryModel(dir.path() + "/plain.so", "silu", input));
  ASSERT_OK_AND_ASSIGN(NDArray actual, RunLibraryModel(dir.path() + "/fused.so", "silu", input));
  EXPECT_LT(MaxAbsDiff(actual, expected), 1e-5);
}

TEST(BlockedLayoutsTest, ConvertsEveryPatternWithoutReordersBetweenLayers) {
  if (!BlockedLayoutsAvailable()) GTEST_SKIP() << "this build has no oneDNN";
  ASSERT_OK_AND_ASSIGN(Model plain, ResidualNetwork());
  ASSERT_OK_AND_ASSIGN(Model blocked, ConvertToBlockedLayouts(plain, BlockedLayout::kChannelBlocks));
  std::map<std::string, int> ops = OpCounts(blocked);
  EXPECT_EQ(ops["conv2d"], 0);
  EXPECT_EQ(ops["blocked_conv2d"], 4);
  EXPECT_EQ(ops["blocked_pool2d"], 2);  // the max pool and the global pool
  // The image is read as it is; the only plain readers are flatten and sigmoid.
  EXPECT_EQ(ops["to_channel_blocks"], 0);
  EXPECT_EQ(ops["from_channel_blocks"], 2);
  // The residual add and the relus after conv2 and the add are post-ops.
  EXPECT_EQ(ops["add"], 0);
  EXPECT_EQ(ops["relu"], 0);
  EXPECT_EQ(ops["concat"], 1);
  EXPECT_EQ(blocked.params.count("conv1.weight"), 0u);
  EXPECT_EQ(blocked.params.count("conv1.packed_weight"), 1u);
  EXPECT_EQ(blocked.params.count("conv1.packed_bias"), 1u);
  EXPECT_EQ(blocked.params.count("fc.weight"), 1u);
  // Inputs and outputs keep their names and shapes.
  ASSERT_EQ(blocked.graph.inputs.size(), 1u);
  EXPECT_EQ(blocked.graph.inputs[0].name, "data");
  ASSERT_EQ(blocked.graph.outputs.size(), 2u);
  EXPECT_EQ(blocked.graph.entries[blocked.graph.outputs[0]].shape, (std::vector<int64_t>{1, 10}));
  EXPECT_EQ(blocked.graph.entries[blocked.graph.outputs[1]].shape,
            (std::vector<int64_t>{1, 32, 8, 8}));
}

TEST(BlockedLayoutsTest, ChannelsLastTransposesOnlyAtTheEdges) {
  if (!BlockedLayoutsAvailable()) GTEST_SKIP() << "this build has no oneDNN";
  ASSERT_OK_AND_ASSIGN(Model plain, ResidualNetwork());
  ASSERT_OK_AND_ASSIGN(Model last, ConvertToBlockedLayouts(plain, BlockedLayout::kChannelsLast));
  std::map<std::string, int> ops = OpCounts(last);
  EXPECT_EQ(ops["blocked_conv2d"], 4);
  EXPECT_EQ(ops["blocked_pool2d"], 2);
  // The image into NHWC; flatten's and sigmoid's inputs back to NCHW.
  EXPECT_EQ(ops["transpose"], 3);
  EXPECT_EQ(ops["to_channel_blocks"] + ops["from_channel_blocks"], 0);
  EXPECT_EQ(ops["add"] + ops["relu"], 0);
  EXPECT_EQ(ops["concat"], 1);
}

TEST(BlockedLayoutsTest, ComputesWhatThePlainModelComputes) {
  if (!BlockedLayoutsAvailable()) GTEST_SKIP() << "this build has no oneDNN";
  ASSERT_OK_AND_ASSIGN(Model model, ResidualNetwork());
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("ferry-blocked-"));
  const NDArray input = RandomArray({1, 3, 32, 32}, 99);
  ExportOptions plain_options;
  plain_options.blocked_layouts = false;
  const std::string plain_path = dir.path() + "/plain.so";
  ASSERT_OK(ExportLibrary(std::vector<ModelBuild>{{&model, ExecutorKind::kGraph}}, plain_path,
                          plain_options));
  ASSERT_OK_AND_ASSIGN(NDArray expected, RunLibraryModel(plain_path, "resnetish", input));
  for (BlockedLayout layout : {BlockedLayout::kChannelBlocks, BlockedLayout::kChannelsLast})
  for (ExecutorKind kind : {ExecutorKind::kGraph, ExecutorKind::kAot}) {
    const std::string variant = std::string(layout == BlockedLayout::kChannelsLast ? "nhwc" : "nchw16c") +
                                (kind == ExecutorKind::kGraph ? "_graph" : "_aot");
    SCOPED_TRACE(variant);
    const std::string path = dir.path() + "/" + variant + ".so";
    ExportOptions options;
    options.layout = layout;
    ASSERT_OK(ExportLibrary(std::vector<ModelBuild>{{&model, kind}}, path, options));
    ASSERT_OK_AND_ASSIGN(NDArray actual, RunLibraryModel(path, "resnetish", input));
    double scale = 1;
    for (int64_t i = 0; i < expected.NumElements(); ++i) {
      scale = std::max(scale, std::fabs(double{expected.data_as<float>()[i]}));
    }
    EXPECT_LT(MaxAbsDiff(actual, expected) / scale, 1e-4);
  }
}

TEST(BlockedLayoutsTest, LeavesModelsWithoutConvolutionsAlone) {
  GraphBuilder b("mlp");
  ASSERT_OK_AND_ASSIGN(Tensor x, b.Input("data", {2, 8}));
  ASSERT_OK_AND_ASSIGN(Tensor w, b.Param("w", RandomArray({4, 8}, 3)));
  ASSERT_OK_AND_ASSIGN(Tensor y, b.Op("dense", {x, w}));
  ASSERT_OK_AND_ASSIGN(Tensor r, b.Op("relu", {y}));
  ASSERT_OK(b.Output(r));
  ASSERT_OK_AND_ASSIGN(Model model, std::move(b).Finish());
  ASSERT_OK_AND_ASSIGN(Model converted, ConvertToBlockedLayouts(model));
  EXPECT_EQ(OpCounts(converted), OpCounts(model));
  EXPECT_EQ(converted.graph.entries, model.graph.entries);
}

}  // namespace
}  // namespace ferry::compiler
