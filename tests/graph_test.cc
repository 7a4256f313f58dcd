// Tests of ExecGraph (validation and binary form) and of static memory planning.
#include "runtime/graph.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/zoo.h"
#include "runtime/binary_io.h"
#include "runtime/memory_plan.h"
#include "tests/graph_test_util.h"

namespace ferry {
namespace {

using testing::ChainGraph;
using testing::ExpectGraphsEqual;
using testing::SmallGraph;

std::string SerializeGraph(const ExecGraph& g) {
  BinaryWriter writer;
  g.Serialize(writer);
  return writer.Release();
}

// ---- ExecGraph::Validate ----

TEST(ExecGraphValidateTest, AcceptsWellFormedGraph) {
  EXPECT_TRUE(SmallGraph().Validate().ok()) << SmallGraph().Validate().ToString();
}

TEST(ExecGraphValidateTest, AcceptsZooGraphs) {
  for (const std::string& name : compiler::ListZooModels()) {
    StatusOr<compiler::Model> model = compiler::BuildZooModel(name);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    ExecGraph g = model->graph;
    for (GraphNode& node : g.nodes) node.func_name = "f_" + std::to_string(&node - g.nodes.data());
    EXPECT_TRUE(g.Validate().ok()) << name << ": " << g.Validate().ToString();
  }
}

struct Violation {
  const char* what;
  void (*mutate)(ExecGraph&);
};

const Violation kViolations[] = {
    {"more than 8 dimensions", [](ExecGraph& g) { g.entries[1].shape.assign(9, 1); }},
    {"negative dimension", [](ExecGraph& g) { g.entries[1].shape = {-1}; }},
    {"element count overflows int64",
     [](ExecGraph& g) {
       g.entries[1].shape = {int64_t{1} << 40, int64_t{1} << 40};
     }},
    {"dtype of zero bits", [](ExecGraph& g) { g.entries[1].dtype.bits = 0; }},
    {"dtype of zero lanes", [](ExecGraph& g) { g.entries[1].dtype.lanes = 0; }},
    {"dtype not a whole number of bytes", [](ExecGraph& g) { g.entries[1].dtype.bits = 4; }},
    {"empty input name", [](ExecGraph& g) { g.inputs[0].name = ""; }},
    {"empty parameter name", [](ExecGraph& g) { g.params[0].name = ""; }},
    {"control character in an input name", [](ExecGraph& g) { g.inputs[0].name = "x\n"; }},
    {"DEL in a parameter name", [](ExecGraph& g) { g.params[0].name = "b\x7f"; }},
    {"input and parameter share a name", [](ExecGraph& g) { g.params[0].name = "x"; }},
    {"input refers to an entry out of range", [](ExecGraph& g) { g.inputs[0].entry = 99; }},
    {"input and parameter share an entry", [](ExecGraph& g) { g.params[0].entry = 0; }},
    {"entry without a source", [](ExecGraph& g) { g.entries.push_back(g.entries[0]); }},
    {"node reads an entry before it is produced",
     [](ExecGraph& g) { std::swap(g.nodes[0], g.nodes[1]); }},
    {"node reads an entry out of range", [](ExecGraph& g) { g.nodes[1].inputs[1] = 5; }},
    {"node without outputs",
     [](ExecGraph& g) {
       g.nodes[2].outputs.clear();
       g.entries.pop_back();
       g.outputs = {3};
     }},
    {"node writes an input", [](ExecGraph& g) { g.nodes[2].outputs = {0}; }},
    {"node writes a parameter", [](ExecGraph& g) { g.nodes[2].outputs = {1}; }},
    {"node writes an entry another node wrote", [](ExecGraph& g) { g.nodes[2].outputs = {2}; }},
    {"node writes an entry out of range", [](ExecGraph& g) { g.nodes[2].outputs = {77}; }},
    {"duplicate node names", [](ExecGraph& g) { g.nodes[2].name = "a"; }},
    {"empty node name", [](ExecGraph& g) { g.nodes[1].name = ""; }},
    {"empty operator", [](ExecGraph& g) { g.nodes[1].op = ""; }},
    {"empty function name", [](ExecGraph& g) { g.nodes[1].func_name = ""; }},
    {"control character in a function name", [](ExecGraph& g) { g.nodes[1].func_name = "f\t"; }},
    {"no model outputs", [](ExecGraph& g) { g.outputs.clear(); }},
    {"model output that is an input", [](ExecGraph& g) { g.outputs = {0}; }},
    {"model output that is a parameter", [](ExecGraph& g) { g.outputs = {1}; }},
    {"model output out of range", [](ExecGraph& g) { g.outputs = {5}; }},
    {"model output listed twice",
     [](ExecGraph& g) {
       g.outputs = {4, 4};
     }},
};

TEST(ExecGraphValidateTest, RejectsEachInvariantViolation) {
  for (const Violation& v : kViolations) {
    ExecGraph g = SmallGraph();
    v.mutate(g);
    const Status status = g.Validate();
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << v.what << ": " << status.ToString();
    EXPECT_FALSE(status.message().empty()) << v.what;
  }
}

TEST(ExecGraphValidateTest, AcceptsScalarsAndEmptyTensors) {
  ExecGraph g = SmallGraph();
  g.entries[1].shape = {};  // a scalar parameter
  EXPECT_TRUE(g.Validate().ok());
  g.entries[0].shape = {0, 8};  // an empty input
  EXPECT_TRUE(g.Validate().ok());
  g.entries[1].shape.assign(8, 1);  // exactly 8 dimensions
  EXPECT_TRUE(g.Validate().ok());
}

// ---- ExecGraph binary form ----

TEST(ExecGraphSerializeTest, RoundTrip) {
  const ExecGraph g = SmallGraph();
  const std::string bytes = SerializeGraph(g);
  BinaryReader reader(bytes);
  StatusOr<ExecGraph> back = ExecGraph::Deserialize(reader);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(reader.remaining(), 0u);
  ExpectGraphsEqual(g, *back);
  EXPECT_EQ(SerializeGraph(*back), bytes);
}

TEST(ExecGraphSerializeTest, RoundTripOfZooCnn) {
  StatusOr<compiler::Model> model = compiler::BuildZooModel("cnn");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ExecGraph g = model->graph;
  for (GraphNode& node : g.nodes) node.func_name = "fn_" + node.name;
  const std::string bytes = SerializeGraph(g);
  BinaryReader reader(bytes);
  StatusOr<ExecGraph> back = ExecGraph::Deserialize(reader);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectGraphsEqual(g, *back);
}

TEST(ExecGraphSerializeTest, EveryTruncationIsAnError) {
  const std::string bytes = SerializeGraph(SmallGraph());
  for (size_t length = 0; length < bytes.size(); ++length) {
    BinaryReader reader(std::string_view(bytes).substr(0, length));
    StatusOr<ExecGraph> g = ExecGraph::Deserialize(reader);
    ASSERT_FALSE(g.ok()) << "prefix of " << length << " bytes";
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument) << length;
  }
}

TEST(ExecGraphSerializeTest, EverySingleByteCorruptionIsValidOrAnError) {
  const std::string bytes = SerializeGraph(SmallGraph());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(corrupt[i] ^ mask);
      BinaryReader reader(corrupt);
      StatusOr<ExecGraph> g = ExecGraph::Deserialize(reader);
      if (g.ok()) {
        EXPECT_TRUE(g->Validate().ok()) << "byte " << i;
      } else {
        EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument) << "byte " << i;
      }
    }
  }
}

TEST(ExecGraphSerializeTest, DeserializeValidates) {
  ExecGraph g = SmallGraph();
  g.outputs = {4, 4};
  const std::string bytes = SerializeGraph(g);
  BinaryReader reader(bytes);
  EXPECT_EQ(ExecGraph::Deserialize(reader).status().code(), StatusCode::kInvalidArgument);
}

TEST(ExecGraphSerializeTest, HugeCountsAreRejectedWithoutAllocating) {
  BinaryWriter writer;
  writer.WriteU64(uint64_t{1} << 60);  // entry count
  const std::string bytes = writer.Release();
  BinaryReader reader(bytes);
  EXPECT_EQ(ExecGraph::Deserialize(reader).status().code(), StatusCode::kInvalidArgument);
}

// Found by tests/fuzz/graph_fuzz.cc: counts under the limits but past what the input can hold
// (a 48-byte graph declaring 2^20 nodes) made Deserialize allocate ~150 MB before finding the
// input truncated. Each count is now refused against the bytes that remain.
TEST(ExecGraphSerializeTest, CountsPastTheRemainingBytesAreRefusedBeforeAllocating) {
  struct Case {
    int field;  // which count is inflated: 0 entries, 1 inputs, 2 outputs, 3 nodes
    std::string what;
  };
  for (const Case& c : {Case{0, "graph entry count 1048576 needs at least"},
                        Case{1, "graph inputs 1048576 needs at least"},
                        Case{2, "graph outputs 4096 needs at least"},
                        Case{3, "graph node count 1048576 needs at least"}}) {
    BinaryWriter w;
    w.WriteU64(c.field == 0 ? uint64_t{1} << 20 : 0);  // entries
    if (c.field != 0) {
      w.WriteU64(c.field == 1 ? uint64_t{1} << 20 : 0);  // inputs
      if (c.field != 1) {
        w.WriteU64(0);                                      // params
        w.WriteU64(c.field == 2 ? uint64_t{1} << 12 : 0);  // outputs
        if (c.field == 3) w.WriteU64(uint64_t{1} << 20);   // nodes
      }
    }
    const std::string bytes = w.Release() + std::string(8, '\0');
    BinaryReader reader(bytes);
    StatusOr<ExecGraph> g = ExecGraph::Deserialize(reader);
    ASSERT_FALSE(g.ok()) << c.what;
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(g.status().message().find(c.what), std::string::npos) << g.status().message();
  }
}

// ---- PlanMemory ----

int64_t EntryBytes(const TensorInfo& t) {
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  return n * static_cast<int64_t>(t.dtype.bytes());
}

// Checks the contract of `plan` for `g`: which entries are in the arena, alignment, bounds,
// and that no two intermediates with overlapping lifetimes overlap in memory.
void CheckPlan(const ExecGraph& g, const MemoryPlan& plan) {
  ASSERT_EQ(plan.offsets.size(), g.entries.size());
  std::vector<bool> external(g.entries.size(), false);
  for (const NamedEntry& in : g.inputs) external[in.entry] = true;
  for (const NamedEntry& p : g.params) external[p.entry] = true;
  for (uint32_t out : g.outputs) external[out] = true;
  // Lifetimes computed here, independently of the planner.
  std::vector<size_t> first(g.entries.size(), 0), last(g.entries.size(), 0);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (uint32_t e : g.nodes[n].outputs) first[e] = last[e] = n;
    for (uint32_t e : g.nodes[n].inputs) last[e] = std::max(last[e], n);
  }
  int64_t sum = 0;
  for (size_t e = 0; e < g.entries.size(); ++e) {
    if (external[e]) {
      EXPECT_EQ(plan.offsets[e], MemoryPlan::kNotInArena) << "entry " << e;
      continue;
    }
    ASSERT_NE(plan.offsets[e], MemoryPlan::kNotInArena) << "intermediate entry " << e;
    EXPECT_GE(plan.offsets[e], 0);
    EXPECT_EQ(plan.offsets[e] % 64, 0) << "entry " << e;
    EXPECT_LE(plan.offsets[e] + EntryBytes(g.entries[e]), plan.arena_bytes) << "entry " << e;
    sum += EntryBytes(g.entries[e]);
  }
  EXPECT_GE(plan.unshared_bytes, sum);
  EXPECT_LE(plan.arena_bytes, plan.unshared_bytes);
  for (size_t a = 0; a < g.entries.size(); ++a) {
    for (size_t b = a + 1; b < g.entries.size(); ++b) {
      if (external[a] || external[b]) continue;
      const bool live_together = first[a] <= last[b] && first[b] <= last[a];
      if (!live_together) continue;
      const int64_t a_end = plan.offsets[a] + EntryBytes(g.entries[a]);
      const int64_t b_end = plan.offsets[b] + EntryBytes(g.entries[b]);
      const bool disjoint = a_end <= plan.offsets[b] || b_end <= plan.offsets[a];
      EXPECT_TRUE(disjoint) << "entries " << a << " and " << b << " are live together but share "
                            << "bytes: [" << plan.offsets[a] << ", " << a_end << ") and ["
                            << plan.offsets[b] << ", " << b_end << ")";
    }
  }
}

TEST(MemoryPlanTest, ChainReusesMemory) {
  const ExecGraph g = ChainGraph(6);
  ASSERT_TRUE(g.Validate().ok());
  const MemoryPlan plan = PlanMemory(g);
  CheckPlan(g, plan);
  EXPECT_EQ(plan.unshared_bytes, 5 * 4096);
  EXPECT_LT(plan.arena_bytes, plan.unshared_bytes);
  // Two buffers suffice for a chain: each tensor only lives with its producer's input.
  EXPECT_EQ(plan.arena_bytes, 2 * 4096);
}

TEST(MemoryPlanTest, GraphWithoutIntermediatesHasEmptyArena) {
  const ExecGraph g = ChainGraph(1);
  const MemoryPlan plan = PlanMemory(g);
  CheckPlan(g, plan);
  EXPECT_EQ(plan.arena_bytes, 0);
  EXPECT_EQ(plan.unshared_bytes, 0);
}

TEST(MemoryPlanTest, OutputsOfOneNodeAreLiveTogether) {
  // node "split" writes entries 1 and 2; only 1 is read later. Both must still be placed
  // apart, and apart from what "join" writes while reading 1.
  ExecGraph g;
  g.entries.assign(5, TensorInfo{{256}, DataType::Float32()});
  g.inputs = {{"x", 0}};
  g.nodes = {{"split", "split", "f0", {0}, {1, 2}},
             {"join", "relu", "f1", {1}, {3}},
             {"last", "relu", "f2", {3}, {4}}};
  g.outputs = {4};
  ASSERT_TRUE(g.Validate().ok()) << g.Validate().ToString();
  const MemoryPlan plan = PlanMemory(g);
  CheckPlan(g, plan);
  EXPECT_NE(plan.offsets[1], plan.offsets[2]);
}

TEST(MemoryPlanTest, ZooCnnLiveTensorsNeverOverlap) {
  StatusOr<compiler::Model> model = compiler::BuildZooModel("cnn");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const ExecGraph& g = model->graph;
  const MemoryPlan plan = PlanMemory(g);
  CheckPlan(g, plan);
  EXPECT_LT(plan.arena_bytes, plan.unshared_bytes);
}

TEST(MemoryPlanTest, ZooMlpPlan) {
  StatusOr<compiler::Model> model = compiler::BuildZooModel("mlp");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const MemoryPlan plan = PlanMemory(model->graph);
  CheckPlan(model->graph, plan);
  EXPECT_LT(plan.arena_bytes, plan.unshared_bytes);
}

}  // namespace
}  // namespace ferry
