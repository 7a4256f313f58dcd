#include "runtime/aot_executor.h"

#include "runtime/executor_node.h"
#include "runtime/kernels/kernel_abi.h"

namespace ferry {
namespace {

class AotExecutorNode final : public ExecutorNode {
 public:
  AotExecutorNode(ObjectPtr<SharedLibrary> library, std::shared_ptr<const ModelRecord> record)
      : ExecutorNode(std::move(library), std::move(record)) {}

  std::string type_key() const override { return "aot_executor"; }

  Status Prepare(const ParamMap& packaged_params) {
    RETURN_IF_ERROR(AllocateModelArrays(packaged_params));
    entry_ = reinterpret_cast<FerryAotEntry>(library().FindSymbol(record().aot_entry));
    if (entry_ == nullptr) {
      return InvalidArgumentError(library().path() + " lacks the AOT entry '" +
                                  record().aot_entry + "' of model '" + record().key + "'");
    }
    // At least one byte so the workspace pointer is valid even for graphs without
    // intermediates.
    ASSIGN_OR_RETURN(workspace_,
                     NDArray::Empty({std::max<int64_t>(1, record().workspace_bytes)},
                                    DataType::UInt8(), Device::Cpu()));
    BindArrays();
    return Status::Ok();
  }

 private:
  void BindArrays() override {
    const ExecGraph& g = graph();
    io_.clear();
    for (const NamedEntry& in : g.inputs) io_.push_back(entry_array(in.entry).dl_tensor());
    for (const NamedEntry& p : g.params) io_.push_back(entry_array(p.entry).dl_tensor());
    for (uint32_t out : g.outputs) io_.push_back(entry_array(out).dl_tensor());
  }

  Status Execute() override {
    FerryKernelError error;
    error.message[0] = '\0';
    if (entry_(io_.data(), static_cast<int32_t>(io_.size()), workspace_.data(), &error) != 0) {
      return InternalError(std::string("AOT entry failed: ") + error.message);
    }
    return Status::Ok();
  }

  FerryAotEntry entry_ = nullptr;
  NDArray workspace_;
  std::vector<DLTensor*> io_;
};

}  // namespace

StatusOr<Module> CreateAotExecutor(ObjectPtr<SharedLibrary> library,
                                   std::shared_ptr<const ModelRecord> record,
                                   const ParamMap& packaged_params) {
  ObjectPtr<AotExecutorNode> node =
      MakeObject<AotExecutorNode>(std::move(library), std::move(record));
  RETURN_IF_ERROR(node->Prepare(packaged_params));
  return Module(node);
}

}  // namespace ferry
