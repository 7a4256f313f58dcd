// Static memory planning: places a graph's intermediate tensors in one arena so that tensors
// whose lifetimes do not overlap share bytes.
//
// Inputs, parameters and model outputs live in buffers of their own (the executor hands them
// out); every other node output is an intermediate placed in the arena. An intermediate is
// live from the node that writes it to the last node that reads it; tensors written by the
// same node are live together. Placement is greedy by decreasing size at the lowest
// 64-byte-aligned offset that does not overlap a placed tensor with an overlapping lifetime.
#ifndef FERRY_RUNTIME_MEMORY_PLAN_H_
#define FERRY_RUNTIME_MEMORY_PLAN_H_

#include <cstdint>
#include <vector>

#include "runtime/graph.h"

namespace ferry {

struct MemoryPlan {
  static constexpr int64_t kNotInArena = -1;
  // Byte offset of each graph entry in the arena, or kNotInArena.
  std::vector<int64_t> offsets;
  int64_t arena_bytes = 0;
  // Sum of the intermediates' sizes: what the arena would need without reuse.
  int64_t unshared_bytes = 0;
};

// Plans a validated graph. Never fails for a graph that passed ExecGraph::Validate.
MemoryPlan PlanMemory(const ExecGraph& graph);

}  // namespace ferry

#endif  // FERRY_RUNTIME_MEMORY_PLAN_H_
