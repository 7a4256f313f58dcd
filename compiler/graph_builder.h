// GraphBuilder: builds a Model in C++, one operator at a time, inferring every tensor's shape
// and dtype as it goes so mistakes surface at the line that makes them.
//
//   GraphBuilder b("mlp");
//   ASSIGN_OR_RETURN(Tensor x, b.Input("data", {1, 784}));
//   ASSIGN_OR_RETURN(Tensor w, b.Param("fc.weight", weight_array));
//   ASSIGN_OR_RETURN(Tensor y, b.Op("dense", {x, w}));
//   RETURN_IF_ERROR(b.Output(y));
//   ASSIGN_OR_RETURN(Model model, std::move(b).Finish());
#ifndef FERRY_COMPILER_GRAPH_BUILDER_H_
#define FERRY_COMPILER_GRAPH_BUILDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/attrs.h"
#include "compiler/model.h"

namespace ferry::compiler {

// A tensor of the graph under construction (a graph entry id).
struct Tensor {
  uint32_t entry = 0;
};

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string key);

  // Errors: kInvalidArgument for a duplicate name or an invalid shape.
  StatusOr<Tensor> Input(const std::string& name, std::vector<int64_t> shape,
                         DataType dtype = DataType::Float32());
  // `value` must be a CPU array. Errors: kInvalidArgument for a duplicate name.
  StatusOr<Tensor> Param(const std::string& name, NDArray value);
  // Adds a node computing `op` (op_registry.h); `name` defaults to "<op>_<index>".
  // Errors: those of LowerOp, with the node's name as context.
  StatusOr<Tensor> Op(const std::string& op, std::vector<Tensor> inputs, Attrs attrs = {},
                      std::string name = "");
  // Marks `tensor` as the next model output. Errors: kInvalidArgument when it is not a node
  // output or is already an output.
  Status Output(Tensor tensor);

  const TensorInfo& info(Tensor tensor) const { return model_.graph.entries.at(tensor.entry); }

  // Validates and returns the model. Errors: kInvalidArgument when the graph has no outputs
  // or fails ExecGraph::Validate.
  StatusOr<Model> Finish() &&;

 private:
  Status CheckNewName(const std::string& name) const;
  uint32_t AddEntry(TensorInfo info);

  Model model_;
};

}  // namespace ferry::compiler

#endif  // FERRY_COMPILER_GRAPH_BUILDER_H_
