// Small graphs and parameter sets shared by the format tests (graph_test.cc,
// params_manifest_test.cc).
#ifndef FERRY_TESTS_GRAPH_TEST_UTIL_H_
#define FERRY_TESTS_GRAPH_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "runtime/graph.h"
#include "runtime/params.h"

namespace ferry::testing {

// input x [2, 8] -> a = relu(x) -> b = bias_add(a, bias) -> c = relu(b) -> output c.
// Entries: 0 x, 1 bias, 2 a, 3 b, 4 c.
inline ExecGraph SmallGraph() {
  ExecGraph g;
  g.entries = {{{2, 8}, DataType::Float32()},
               {{8}, DataType::Float32()},
               {{2, 8}, DataType::Float32()},
               {{2, 8}, DataType::Float32()},
               {{2, 8}, DataType::Float32()}};
  g.inputs = {{"x", 0}};
  g.params = {{"bias", 1}};
  g.nodes = {{"a", "relu", "f_a", {0}, {2}},
             {"b", "bias_add", "f_b", {2, 1}, {3}},
             {"c", "relu", "f_c", {3}, {4}}};
  g.outputs = {4};
  return g;
}

inline void ExpectGraphsEqual(const ExecGraph& a, const ExecGraph& b) {
  EXPECT_EQ(a.entries, b.entries);
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    EXPECT_EQ(a.inputs[i].name, b.inputs[i].name);
    EXPECT_EQ(a.inputs[i].entry, b.inputs[i].entry);
  }
  ASSERT_EQ(a.params.size(), b.params.size());
  for (size_t i = 0; i < a.params.size(); ++i) {
    EXPECT_EQ(a.params[i].name, b.params[i].name);
    EXPECT_EQ(a.params[i].entry, b.params[i].entry);
  }
  EXPECT_EQ(a.outputs, b.outputs);
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    EXPECT_EQ(a.nodes[i].name, b.nodes[i].name);
    EXPECT_EQ(a.nodes[i].op, b.nodes[i].op);
    EXPECT_EQ(a.nodes[i].func_name, b.nodes[i].func_name);
    EXPECT_EQ(a.nodes[i].inputs, b.nodes[i].inputs);
    EXPECT_EQ(a.nodes[i].outputs, b.nodes[i].outputs);
  }
}

// A chain of `length` relus over [1, 1024] float32 tensors.
inline ExecGraph ChainGraph(int length) {
  ExecGraph g;
  g.entries.push_back({{1, 1024}, DataType::Float32()});
  g.inputs = {{"x", 0}};
  for (int i = 0; i < length; ++i) {
    g.entries.push_back({{1, 1024}, DataType::Float32()});
    g.nodes.push_back({"relu" + std::to_string(i),
                       "relu",
                       "f" + std::to_string(i),
                       {static_cast<uint32_t>(i)},
                       {static_cast<uint32_t>(i + 1)}});
  }
  g.outputs = {static_cast<uint32_t>(length)};
  return g;
}

inline ParamMap SampleParams() {
  ParamMap params;
  NDArray weight = NDArray::Empty({2, 3}, DataType::Float32(), Device::Cpu()).value();
  for (int i = 0; i < 6; ++i) weight.data_as<float>()[i] = 0.5f * static_cast<float>(i) - 1.0f;
  NDArray steps = NDArray::Empty({4}, DataType::Int64(), Device::Cpu()).value();
  for (int i = 0; i < 4; ++i) steps.data_as<int64_t>()[i] = int64_t{1} << (10 * i);
  NDArray scale = NDArray::Empty({}, DataType::Float64(), Device::Cpu()).value();
  *scale.data_as<double>() = 3.25;
  NDArray empty = NDArray::Empty({0, 3}, DataType::Float32(), Device::Cpu()).value();
  params.emplace("layer.weight", weight);
  params.emplace("steps", steps);
  params.emplace("scale", scale);
  params.emplace("empty", empty);
  return params;
}

}  // namespace ferry::testing

#endif  // FERRY_TESTS_GRAPH_TEST_UTIL_H_
