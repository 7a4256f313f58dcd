#include "compiler/zoo.h"

#include <cmath>
#include <random>

#include "compiler/graph_builder.h"

namespace ferry::compiler {
namespace {

// Seeded weights, identical across standard libraries: the distributions of <random> are
// implementation-defined, so values come straight from the engine.
class WeightSource {
 public:
  explicit WeightSource(uint32_t seed) : engine_(seed) {}

  // Uniform in [lo, hi).
  float Uniform(float lo, float hi) {
    return lo + (hi - lo) * static_cast<float>(engine_() >> 8) / static_cast<float>(1 << 24);
  }

  StatusOr<NDArray> Array(std::vector<int64_t> shape, float lo, float hi) {
    ASSIGN_OR_RETURN(NDArray a, NDArray::Empty(std::move(shape), DataType::Float32(), Device::Cpu()));
    float* data = a.data_as<float>();
    for (int64_t i = 0; i < a.NumElements(); ++i) data[i] = Uniform(lo, hi);
    return a;
  }

  // He-uniform for a layer with `fan_in` inputs.
  StatusOr<NDArray> Weight(std::vector<int64_t> shape, int64_t fan_in) {
    const float bound = std::sqrt(6.0f / static_cast<float>(fan_in));
    return Array(std::move(shape), -bound, bound);
  }

 private:
  std::mt19937 engine_;
};

StatusOr<Tensor> Dense(GraphBuilder& b, WeightSource& w, Tensor x, const std::string& name,
                       int64_t units) {
  const int64_t in = b.info(x).shape[1];
  ASSIGN_OR_RETURN(NDArray weight_value, w.Weight({units, in}, in));
  ASSIGN_OR_RETURN(NDArray bias_value, w.Array({units}, -0.1f, 0.1f));
  ASSIGN_OR_RETURN(Tensor weight, b.Param(name + ".weight", weight_value));
  ASSIGN_OR_RETURN(Tensor bias, b.Param(name + ".bias", bias_value));
  ASSIGN_OR_RETURN(Tensor y, b.Op("dense", {x, weight}, {}, name));
  return b.Op("bias_add", {y, bias}, {{"axis", int64_t{1}}}, name + ".bias_add");
}

StatusOr<Tensor> Conv(GraphBuilder& b, WeightSource& w, Tensor x, const std::string& name,
                      int64_t channels) {
  const int64_t in = b.info(x).shape[1];
  ASSIGN_OR_RETURN(NDArray weight_value, w.Weight({channels, in, 3, 3}, in * 9));
  ASSIGN_OR_RETURN(Tensor weight, b.Param(name + ".weight", weight_value));
  return b.Op("conv2d", {x, weight}, {{"padding", int64_t{1}}, {"strides", int64_t{1}}}, name);
}

StatusOr<Tensor> BatchNorm(GraphBuilder& b, WeightSource& w, Tensor x, const std::string& name) {
  const int64_t c = b.info(x).shape[1];
  std::vector<Tensor> inputs = {x};
  const std::pair<const char*, std::pair<float, float>> kParts[] = {
      {".gamma", {0.5f, 1.5f}}, {".beta", {-0.1f, 0.1f}}, {".mean", {-0.1f, 0.1f}},
      {".var", {0.5f, 1.5f}}};
  for (const auto& [suffix, range] : kParts) {
    ASSIGN_OR_RETURN(NDArray value, w.Array({c}, range.first, range.second));
    ASSIGN_OR_RETURN(Tensor t, b.Param(name + suffix, value));
    inputs.push_back(t);
  }
  return b.Op("batch_norm", inputs, {{"epsilon", 1e-5}}, name);
}

StatusOr<Model> BuildMlp(uint32_t seed) {
  GraphBuilder b("mlp");
  WeightSource w(seed);
  ASSIGN_OR_RETURN(Tensor x, b.Input("data", {1, 784}));
  ASSIGN_OR_RETURN(x, Dense(b, w, x, "fc1", 128));
  ASSIGN_OR_RETURN(x, b.Op("relu", {x}, {}, "fc1.relu"));
  ASSIGN_OR_RETURN(x, Dense(b, w, x, "fc2", 64));
  ASSIGN_OR_RETURN(x, b.Op("relu", {x}, {}, "fc2.relu"));
  ASSIGN_OR_RETURN(x, Dense(b, w, x, "fc3", 10));
  RETURN_IF_ERROR(b.Output(x));
  return std::move(b).Finish();
}

StatusOr<Model> BuildCnn(uint32_t seed) {
  GraphBuilder b("cnn");
  WeightSource w(seed);
  ASSIGN_OR_RETURN(Tensor x, b.Input("data", {1, 3, 32, 32}));
  ASSIGN_OR_RETURN(x, Conv(b, w, x, "stem.conv", 16));
  ASSIGN_OR_RETURN(x, BatchNorm(b, w, x, "stem.bn"));
  ASSIGN_OR_RETURN(x, b.Op("relu", {x}, {}, "stem.relu"));
  // Residual block.
  ASSIGN_OR_RETURN(Tensor y, Conv(b, w, x, "block.conv1", 16));
  ASSIGN_OR_RETURN(y, BatchNorm(b, w, y, "block.bn1"));
  ASSIGN_OR_RETURN(y, b.Op("relu", {y}, {}, "block.relu1"));
  ASSIGN_OR_RETURN(y, Conv(b, w, y, "block.conv2", 16));
  ASSIGN_OR_RETURN(y, BatchNorm(b, w, y, "block.bn2"));
  ASSIGN_OR_RETURN(y, b.Op("add", {y, x}, {}, "block.add"));
  ASSIGN_OR_RETURN(x, b.Op("relu", {y}, {}, "block.relu2"));
  ASSIGN_OR_RETURN(x, b.Op("max_pool2d", {x},
                           {{"pool_size", int64_t{2}}, {"strides", int64_t{2}}}, "pool"));
  ASSIGN_OR_RETURN(x, Conv(b, w, x, "head.conv", 32));
  ASSIGN_OR_RETURN(NDArray bias_value, w.Array({32}, -0.1f, 0.1f));
  ASSIGN_OR_RETURN(Tensor bias, b.Param("head.conv.bias", bias_value));
  ASSIGN_OR_RETURN(x, b.Op("bias_add", {x, bias}, {{"axis", int64_t{1}}}, "head.bias_add"));
  ASSIGN_OR_RETURN(x, b.Op("relu", {x}, {}, "head.relu"));
  ASSIGN_OR_RETURN(x, b.Op("global_avg_pool2d", {x}, {}, "head.gap"));
  ASSIGN_OR_RETURN(x, b.Op("flatten", {x}, {}, "head.flatten"));
  ASSIGN_OR_RETURN(x, Dense(b, w, x, "head.fc", 10));
  ASSIGN_OR_RETURN(x, b.Op("softmax", {x}, {{"axis", int64_t{-1}}}, "head.softmax"));
  RETURN_IF_ERROR(b.Output(x));
  return std::move(b).Finish();
}

}  // namespace

StatusOr<Model> BuildZooModel(const std::string& name, uint32_t seed) {
  if (name == "mlp") return BuildMlp(seed);
  if (name == "cnn") return BuildCnn(seed);
  return NotFoundError("no zoo model '" + name + "' (known: mlp, cnn)");
}

std::vector<std::string> ListZooModels() { return {"mlp", "cnn"}; }

}  // namespace ferry::compiler
