#include "runtime/memory_plan.h"

#include <algorithm>

namespace ferry {
namespace {

constexpr int64_t kAlignment = 64;

int64_t AlignUp(int64_t v) { return (v + kAlignment - 1) / kAlignment * kAlignment; }

struct Interval {
  uint32_t entry;
  int64_t bytes;
  size_t first;  // index of the writing node
  size_t last;   // index of the last reading node (== first when never read)
  int64_t offset = 0;
};

bool Overlaps(const Interval& a, const Interval& b) {
  return a.first <= b.last && b.first <= a.last;
}

}  // namespace

MemoryPlan PlanMemory(const ExecGraph& graph) {
  MemoryPlan plan;
  plan.offsets.assign(graph.entries.size(), MemoryPlan::kNotInArena);
  std::vector<bool> is_output(graph.entries.size(), false);
  for (uint32_t e : graph.outputs) is_output[e] = true;

  std::vector<Interval> intervals;
  std::vector<int64_t> interval_of(graph.entries.size(), -1);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (uint32_t e : graph.nodes[i].outputs) {
      if (is_output[e]) continue;
      const TensorInfo& t = graph.entries[e];
      int64_t elements = 1;
      for (int64_t d : t.shape) elements *= d;
      interval_of[e] = static_cast<int64_t>(intervals.size());
      intervals.push_back({e, AlignUp(std::max<int64_t>(1, elements * t.dtype.bytes())), i, i});
    }
    for (uint32_t e : graph.nodes[i].inputs) {
      if (interval_of[e] >= 0) intervals[interval_of[e]].last = i;
    }
  }

  std::vector<size_t> order(intervals.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return intervals[a].bytes > intervals[b].bytes;
  });

  std::vector<size_t> placed;
  for (size_t index : order) {
    Interval& current = intervals[index];
    // Candidate offsets: 0 and the end of every conflicting placed tensor; take the lowest
    // that fits between conflicts.
    std::vector<const Interval*> conflicts;
    for (size_t p : placed) {
      if (Overlaps(intervals[p], current)) conflicts.push_back(&intervals[p]);
    }
    std::sort(conflicts.begin(), conflicts.end(),
              [](const Interval* a, const Interval* b) { return a->offset < b->offset; });
    int64_t offset = 0;
    for (const Interval* c : conflicts) {
      if (offset + current.bytes <= c->offset) break;
      offset = std::max(offset, c->offset + c->bytes);
    }
    current.offset = offset;
    placed.push_back(index);
    plan.offsets[current.entry] = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + current.bytes);
    plan.unshared_bytes += current.bytes;
  }
  return plan;
}

}  // namespace ferry
