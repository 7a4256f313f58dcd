// Helpers that build small ONNX models (onnx::ModelProto) in C++ for the importer tests, so
// each test states its graph in a few lines without .onnx files or Python.
//
//   OnnxModelBuilder m;                       // IR 8, default-domain opset 13
//   m.Input("x", {2, 3});
//   m.Initializer("w", {3}, {1, 2, 3});
//   m.Node("Mul", {"x", "w"}, {"y"});
//   m.Output("y");
//   StatusOr<Model> model = ImportOnnxModel(m.proto(), options);
#ifndef FERRY_TESTS_ONNX_TEST_MODELS_H_
#define FERRY_TESTS_ONNX_TEST_MODELS_H_

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ferry::testing {

// A dimension given to OnnxModelBuilder::Input that becomes the symbolic dim_param "N".
inline constexpr int64_t kDynamicDim = -1;

// A TensorProto of `dims` holding `values` in float_data / int64_data.
onnx::TensorProto FloatTensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<float>& values);
onnx::TensorProto Int64Tensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<int64_t>& values);

// Attribute setters; each appends one attribute with its type set.
void AddIntAttr(onnx::NodeProto& node, const std::string& name, int64_t value);
void AddFloatAttr(onnx::NodeProto& node, const std::string& name, float value);
void AddIntsAttr(onnx::NodeProto& node, const std::string& name,
                 const std::vector<int64_t>& values);
void AddTensorAttr(onnx::NodeProto& node, const std::string& name, const onnx::TensorProto& value);

class OnnxModelBuilder {
 public:
  // ir_version 8 and one opset import of the default domain at `opset`.
  explicit OnnxModelBuilder(int64_t opset = 13);

  // A graph input with `dims` (kDynamicDim for the dim_param "N"); `elem_type` is an
  // onnx::TensorProto::DataType.
  OnnxModelBuilder& Input(const std::string& name, const std::vector<int64_t>& dims,
                          int32_t elem_type = onnx::TensorProto::FLOAT);
  // A graph output of `elem_type`; with no `dims` the shape is left undeclared (Ferry infers
  // it, but onnx::checker, hence LoadOnnxModel, requires one).
  OnnxModelBuilder& Output(const std::string& name,
                           std::optional<std::vector<int64_t>> dims = std::nullopt,
                           int32_t elem_type = onnx::TensorProto::FLOAT);
  OnnxModelBuilder& Initializer(const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<float>& values);
  OnnxModelBuilder& Int64Initializer(const std::string& name, const std::vector<int64_t>& dims,
                                     const std::vector<int64_t>& values);
  // Appends a node of the default domain; the reference lives as long as the builder.
  onnx::NodeProto& Node(const std::string& op_type, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "");

  onnx::GraphProto& graph() { return *model_.mutable_graph(); }
  onnx::ModelProto& proto() { return model_; }
  const onnx::ModelProto& proto() const { return model_; }

 private:
  onnx::ModelProto model_;
};

}  // namespace ferry::testing

#endif  // FERRY_TESTS_ONNX_TEST_MODELS_H_
