#include "runtime/graph_executor.h"

#include "runtime/executor_node.h"
#include "runtime/kernels/kernel_abi.h"
#include "runtime/memory_plan.h"

namespace ferry {
namespace {

class GraphExecutorNode final : public ExecutorNode {
 public:
  GraphExecutorNode(ObjectPtr<SharedLibrary> library, std::shared_ptr<const ModelRecord> record)
      : ExecutorNode(std::move(library), std::move(record)) {}

  std::string type_key() const override { return "graph_executor"; }

  Status Prepare(const ParamMap& packaged_params) {
    RETURN_IF_ERROR(AllocateModelArrays(packaged_params));
    const ExecGraph& g = graph();
    const MemoryPlan plan = PlanMemory(g);
    if (plan.arena_bytes > 0) {
      ASSIGN_OR_RETURN(arena_, NDArray::Empty({plan.arena_bytes}, DataType::UInt8(), Device::Cpu()));
    }
    for (size_t e = 0; e < g.entries.size(); ++e) {
      if (plan.offsets[e] == MemoryPlan::kNotInArena) continue;
      char* data = arena_.data_as<char>() + plan.offsets[e];
      set_entry_array(e, NDArray::Borrow(data, g.entries[e].shape, g.entries[e].dtype,
                                         Device::Cpu()));
    }
    steps_.reserve(g.nodes.size());
    for (const GraphNode& node : g.nodes) {
      auto func = reinterpret_cast<FerryOpFunc>(library().FindSymbol(node.func_name));
      if (func == nullptr) {
        return InvalidArgumentError(library().path() + " lacks operator function '" +
                                    node.func_name + "' of node '" + node.name + "'");
      }
      steps_.push_back(Step{func, {}, &node});
    }
    BindArrays();
    return Status::Ok();
  }

 private:
  struct Step {
    FerryOpFunc func;
    std::vector<DLTensor*> args;
    const GraphNode* node;
  };

  void BindArrays() override {
    for (Step& step : steps_) {
      step.args.clear();
      for (uint32_t e : step.node->inputs) step.args.push_back(entry_array(e).dl_tensor());
      for (uint32_t e : step.node->outputs) step.args.push_back(entry_array(e).dl_tensor());
    }
  }

  Status Execute() override {
    for (const Step& step : steps_) {
      FerryKernelError error;
      error.message[0] = '\0';
      if (step.func(step.args.data(), static_cast<int32_t>(step.args.size()), &error) != 0) {
        return InternalError("node '" + step.node->name + "' (" + step.node->op +
                             ") failed: " + error.message);
      }
    }
    return Status::Ok();
  }

  NDArray arena_;
  std::vector<Step> steps_;
};

}  // namespace

StatusOr<Module> CreateGraphExecutor(ObjectPtr<SharedLibrary> library,
                                     std::shared_ptr<const ModelRecord> record,
                                     const ParamMap& packaged_params) {
  ObjectPtr<GraphExecutorNode> node =
      MakeObject<GraphExecutorNode>(std::move(library), std::move(record));
  RETURN_IF_ERROR(node->Prepare(packaged_params));
  return Module(node);
}

}  // namespace ferry
