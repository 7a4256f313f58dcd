#include "tests/onnx_test_models.h"

namespace ferry::testing {

onnx::TensorProto FloatTensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<float>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  for (float v : values) t.add_float_data(v);
  return t;
}

onnx::TensorProto Int64Tensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<int64_t>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) t.add_dims(d);
  for (int64_t v : values) t.add_int64_data(v);
  return t;
}

void AddIntAttr(onnx::NodeProto& node, const std::string& name, int64_t value) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void AddFloatAttr(onnx::NodeProto& node, const std::string& name, float value) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

void AddIntsAttr(onnx::NodeProto& node, const std::string& name,
                 const std::vector<int64_t>& values) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void AddTensorAttr(onnx::NodeProto& node, const std::string& name, const onnx::TensorProto& value) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::TENSOR);
  *a->mutable_t() = value;
}

OnnxModelBuilder::OnnxModelBuilder(int64_t opset) {
  model_.set_ir_version(8);
  model_.set_producer_name("ferry-tests");
  onnx::OperatorSetIdProto* import = model_.add_opset_import();
  import->set_domain("");
  import->set_version(opset);
  model_.mutable_graph()->set_name("test_graph");
}

OnnxModelBuilder& OnnxModelBuilder::Input(const std::string& name, const std::vector<int64_t>& dims,
                                          int32_t elem_type) {
  onnx::ValueInfoProto* input = graph().add_input();
  input->set_name(name);
  onnx::TypeProto::Tensor* tensor = input->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(elem_type);
  onnx::TensorShapeProto* shape = tensor->mutable_shape();
  for (int64_t d : dims) {
    onnx::TensorShapeProto::Dimension* dim = shape->add_dim();
    if (d == kDynamicDim) {
      dim->set_dim_param("N");
    } else {
      dim->set_dim_value(d);
    }
  }
  return *this;
}

OnnxModelBuilder& OnnxModelBuilder::Output(const std::string& name,
                                           std::optional<std::vector<int64_t>> dims,
                                           int32_t elem_type) {
  onnx::ValueInfoProto* output = graph().add_output();
  output->set_name(name);
  onnx::TypeProto::Tensor* tensor = output->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(elem_type);
  if (dims) {
    onnx::TensorShapeProto* shape = tensor->mutable_shape();
    for (int64_t d : *dims) shape->add_dim()->set_dim_value(d);
  }
  return *this;
}

OnnxModelBuilder& OnnxModelBuilder::Initializer(const std::string& name,
                                                const std::vector<int64_t>& dims,
                                                const std::vector<float>& values) {
  *graph().add_initializer() = FloatTensor(name, dims, values);
  return *this;
}

OnnxModelBuilder& OnnxModelBuilder::Int64Initializer(const std::string& name,
                                                     const std::vector<int64_t>& dims,
                                                     const std::vector<int64_t>& values) {
  *graph().add_initializer() = Int64Tensor(name, dims, values);
  return *this;
}

onnx::NodeProto& OnnxModelBuilder::Node(const std::string& op_type,
                                        const std::vector<std::string>& inputs,
                                        const std::vector<std::string>& outputs,
                                        const std::string& name) {
  onnx::NodeProto* node = graph().add_node();
  node->set_op_type(op_type);
  if (!name.empty()) node->set_name(name);
  for (const std::string& in : inputs) node->add_input(in);
  for (const std::string& out : outputs) node->add_output(out);
  return *node;
}

}  // namespace ferry::testing
