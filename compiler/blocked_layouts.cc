#include "compiler/blocked_layouts.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "compiler/graph_builder.h"
#include "compiler/lowering_util.h"
#include "runtime/build_config.h"
#include "runtime/kernels/blocked_kernels.h"

namespace ferry::compiler {

#if FERRY_HAVE_DNNL
namespace {

using kernels::kChannelBlock;


bool IsFloat4d(const TensorInfo& t) { return t.dtype == DataType::Float32() && t.shape.size() == 4; }

// A clip that keeps the blocks' zero padding zero.
bool IsZeroPreservingClip(const Attrs& attrs) {
  return FloatAttrOr(attrs, "min", 0.0) <= 0.0 && FloatAttrOr(attrs, "max", 6.0) >= 0.0;
}

// Element-wise operators that apply to a tensor in any layout. With channel blocks only those
// that keep zero padding zero qualify (f(0) == 0, and 0 op 0 == 0 for the binary ones).
bool IsZeroPreservingUnary(const std::string& op, const Attrs& attrs) {
  static const std::set<std::string> kOps = {"relu", "leaky_relu", "tanh", "hard_swish", "neg",
                                             "abs"};
  return kOps.count(op) || (op == "clip" && IsZeroPreservingClip(attrs));
}
bool IsUnary(const std::string& op) {
  static const std::set<std::string> kOps = {"abs",  "clip",       "erf",  "exp",  "hard_sigmoid",
                                             "hard_swish", "leaky_relu", "log", "neg",
                                             "reciprocal", "relu", "sigmoid", "sqrt", "tanh"};
  return kOps.count(op) > 0;
}
bool IsZeroPreservingBinary(const std::string& op) { return op == "add" || op == "sub" || op == "mul"; }
bool IsBinary(const std::string& op) { return IsZeroPreservingBinary(op) || op == "div"; }

// Whether a model's element-wise operators would leave channel blocks (their padding) or its
// grouped convolutions have no channel-block kernel: then it takes channels last.
bool NeedsChannelsLast(const Model& model) {
  for (size_t n = 0; n < model.graph.nodes.size(); ++n) {
    const GraphNode& node = model.graph.nodes[n];
    const Attrs& attrs = model.node_attrs[n];
    if (IsUnary(node.op) && !IsZeroPreservingUnary(node.op, attrs)) return true;
    if (IsBinary(node.op) && !IsZeroPreservingBinary(node.op)) return true;
    if (node.op == "conv2d" && node.inputs.size() >= 2) {
      const int64_t groups = IntAttrOr(attrs, "groups", 1);
      const int64_t channels = model.graph.entries[node.inputs[0]].shape.size() == 4
                                   ? model.graph.entries[node.inputs[0]].shape[1]
                                   : 0;
      if (groups > 1 && groups != channels) return true;
    }
  }
  return false;
}

// A conv2d this pass converts, with what converting it needs.
struct ConvPlan {
  kernels::BlockedConv2dAttrs attrs;
  uint32_t weight = 0;
  std::optional<uint32_t> bias;
  std::optional<std::array<uint32_t, 4>> batch_norm;  // gamma, beta, mean, var
  double epsilon = 1e-5;
  // The add of a residual fused in, the residual's entry, and the activation after the add.
  int add_node = -1;
  uint32_t residual = 0;
  int activation_node = -1;
};

class Converter {
 public:
  Converter(const Model& model, kernels::ConvLayout layout)
      : model_(model),
        layout_(layout),
        g_(model.graph),
        builder_(model.key),
        plain_(g_.entries.size()),
        blocked_(g_.entries.size()),
        name_of_(g_.entries.size()),
        readers_(g_.entries.size(), 0),
        reader_(g_.entries.size(), -1),
        plans_(g_.nodes.size()),
        fused_into_(g_.nodes.size(), -1) {}

  StatusOr<Model> Run() {
    for (const NamedEntry& p : g_.params) {
      is_param_.insert(p.entry);
      param_name_[p.entry] = p.name;
    }
    for (size_t n = 0; n < g_.nodes.size(); ++n) {
      for (uint32_t e : g_.nodes[n].inputs) {
        ++readers_[e];
        reader_[e] = static_cast<int>(n);
      }
      for (uint32_t e : g_.nodes[n].outputs) name_of_[e] = g_.nodes[n].name;
    }
    for (uint32_t e : g_.outputs) readers_[e] += 2;
    for (const NamedEntry& in : g_.inputs) {
      ASSIGN_OR_RETURN(plain_[in.entry], builder_.Input(in.name, g_.entries[in.entry].shape,
                                                        g_.entries[in.entry].dtype));
      name_of_[in.entry] = in.name;
    }
    PlanConvolutions();
    for (size_t n = 0; n < g_.nodes.size(); ++n) {
      const Status done = Convert(n);
      if (!done.ok()) return done.WithContext("blocked layouts, node '" + g_.nodes[n].name + "'");
    }
    for (uint32_t e : g_.outputs) {
      ASSIGN_OR_RETURN(Tensor t, Plain(e));
      RETURN_IF_ERROR(builder_.Output(t));
    }
    return std::move(builder_).Finish();
  }

 private:
  void PlanConvolutions() {
    for (size_t n = 0; n < g_.nodes.size(); ++n) {
      std::optional<ConvPlan> plan = PlanConv(n);
      if (!plan) continue;
      // conv -> add(conv, residual) [-> relu | clip]: the add and activation become post-ops.
      const uint32_t out = g_.nodes[n].outputs[0];
      if (plan->attrs.activation == kernels::Activation::kNone && readers_[out] == 1 &&
          fused_into_[reader_[out]] < 0) {
        const int a = reader_[out];
        const GraphNode& add = g_.nodes[a];
        if (add.op == "add" && add.inputs.size() == 2 && add.inputs[0] != add.inputs[1] &&
            g_.entries[add.inputs[0]] == g_.entries[add.inputs[1]]) {
          plan->add_node = a;
          plan->residual = add.inputs[0] == out ? add.inputs[1] : add.inputs[0];
          const uint32_t sum = add.outputs[0];
          const int next = readers_[sum] == 1 ? reader_[sum] : -1;
          if (next >= 0) {
            const GraphNode& act = g_.nodes[next];
            if (act.op == "relu") {
              plan->attrs.activation = kernels::Activation::kRelu;
              plan->activation_node = next;
            } else if (act.op == "clip" && IsZeroPreservingClip(model_.node_attrs[next])) {
              plan->attrs.activation = kernels::Activation::kClip;
              plan->attrs.clip_min = FloatAttrOr(model_.node_attrs[next], "min", 0.0);
              plan->attrs.clip_max = FloatAttrOr(model_.node_attrs[next], "max", 6.0);
              plan->activation_node = next;
            }
          }
          plan->attrs.residual = true;
          fused_into_[a] = static_cast<int>(n);
          if (plan->activation_node >= 0) fused_into_[plan->activation_node] = static_cast<int>(n);
        }
      }
      if (!plan->attrs.residual) PlanSwish(n, *plan);
      plans_[n] = std::move(plan);
    }
  }

  // conv -> sigmoid, mul(conv, sigmoid) (ONNX's SiLU): the pair becomes a swish post-op when
  // nothing else reads the convolution's or the sigmoid's result.
  void PlanSwish(size_t n, ConvPlan& plan) {
    const uint32_t out = g_.nodes[n].outputs[0];
    if (plan.attrs.activation != kernels::Activation::kNone || readers_[out] != 2) return;
    int sigmoid = -1, mul = -1;
    for (size_t r = n + 1; r < g_.nodes.size(); ++r) {
      const GraphNode& node = g_.nodes[r];
      if (std::find(node.inputs.begin(), node.inputs.end(), out) == node.inputs.end()) continue;
      if (node.op == "sigmoid" && node.inputs.size() == 1) sigmoid = static_cast<int>(r);
      if (node.op == "mul" && node.inputs.size() == 2) mul = static_cast<int>(r);
    }
    if (sigmoid < 0 || mul < 0 || fused_into_[sigmoid] >= 0 || fused_into_[mul] >= 0) return;
    const uint32_t gate = g_.nodes[sigmoid].outputs[0];
    const std::vector<uint32_t>& factors = g_.nodes[mul].inputs;
    const bool pairs = (factors[0] == out && factors[1] == gate) ||
                       (factors[0] == gate && factors[1] == out);
    if (!pairs || readers_[gate] != 1) return;
    plan.attrs.activation = kernels::Activation::kSwish;
    plan.activation_node = mul;
    fused_into_[sigmoid] = fused_into_[mul] = static_cast<int>(n);
  }

  std::optional<ConvPlan> PlanConv(size_t n) const {
    const GraphNode& node = g_.nodes[n];
    const Attrs& attrs = model_.node_attrs[n];
    if (node.op != "conv2d" || node.inputs.size() < 2) return std::nullopt;
    const TensorInfo& data = g_.entries[node.inputs[0]];
    const TensorInfo& weight = g_.entries[node.inputs[1]];
    if (!IsFloat4d(data) || !IsFloat4d(weight)) return std::nullopt;
    for (size_t i = 1; i < node.inputs.size(); ++i) {
      if (!is_param_.count(node.inputs[i])) return std::nullopt;
    }
    ConvPlan plan;
    kernels::BlockedConv2dAttrs& k = plan.attrs;
    k.channels = data.shape[1];
    k.out_channels = weight.shape[0];
    k.kernel[0] = weight.shape[2];
    k.kernel[1] = weight.shape[3];
    k.groups = IntAttrOr(attrs, "groups", 1);
    const bool depthwise = k.groups > 1 && k.groups == k.channels && k.groups == k.out_channels;
    // Channels last takes any groups; channel blocks only depthwise ones.
    if (k.groups != 1 && !depthwise && !ChannelsLast()) return std::nullopt;
    if (k.channels % k.groups != 0 || k.out_channels % k.groups != 0) return std::nullopt;
    StatusOr<lowering::Window> w = lowering::GetWindow(attrs);
    if (!w.ok()) return std::nullopt;
    lowering::CopyDims(w->strides, k.strides);
    lowering::CopyDims(w->padding, k.padding);
    lowering::CopyDims(w->dilation, k.dilation);
    const bool bias = IntAttrOr(attrs, "bias", node.inputs.size() == 3 ? 1 : 0) != 0;
    const bool batch_norm = IntAttrOr(attrs, "batch_norm", 0) != 0;
    if (node.inputs.size() != size_t{2} + (bias ? 1 : 0) + (batch_norm ? 4 : 0)) return std::nullopt;
    plan.weight = node.inputs[1];
    if (bias) plan.bias = node.inputs[2];
    if (batch_norm) {
      const size_t b = bias ? 3 : 2;
      plan.batch_norm = {node.inputs[b], node.inputs[b + 1], node.inputs[b + 2], node.inputs[b + 3]};
      plan.epsilon = FloatAttrOr(attrs, "epsilon", 1e-5);
    }
    const int64_t activation = IntAttrOr(attrs, "activation", 0);
    if (activation < 0 || activation > 2) return std::nullopt;
    k.activation = static_cast<kernels::Activation>(activation);
    k.clip_min = FloatAttrOr(attrs, "clip_min", 0.0);
    k.clip_max = FloatAttrOr(attrs, "clip_max", 6.0);
    k.layout = layout_;
    // With channel blocks an image's few channels are read as they are; anything wider is
    // blocked. Channels last reads every input in that layout.
    k.blocked_input = ChannelsLast() || depthwise || k.channels >= kChannelBlock;
    FerryKernelError error{};
    if (kernels::PackedConv2dWeightSize(k, &error) < 0) return std::nullopt;
    return plan;
  }

  // `base`, or `base` with a number appended when the model already has that name.
  std::string NewParamName(const std::string& base) {
    std::string name = base;
    for (int i = 2; model_.params.count(name) || !new_params_.insert(name).second; ++i) {
      name = base + "." + std::to_string(i);
    }
    return name;
  }

  const NDArray& ParamArray(uint32_t e) const { return model_.params.at(param_name_.at(e)); }

  // The entry as a plain tensor of the new graph, converting a blocked one once.
  StatusOr<Tensor> Plain(uint32_t e) {
    if (plain_[e]) return *plain_[e];
    if (is_param_.count(e)) {
      ASSIGN_OR_RETURN(plain_[e], builder_.Param(param_name_.at(e), ParamArray(e)));
      return *plain_[e];
    }
    if (!blocked_[e]) return InternalError("entry " + std::to_string(e) + " is not computed yet");
    if (ChannelsLast()) {
      ASSIGN_OR_RETURN(plain_[e], builder_.Op("transpose", {*blocked_[e]},
                                              {{"axes", std::vector<int64_t>{0, 3, 1, 2}}},
                                              name_of_[e] + ".to_nchw"));
    } else {
      ASSIGN_OR_RETURN(plain_[e], builder_.Op("from_channel_blocks", {*blocked_[e]},
                                              {{"channels", g_.entries[e].shape[1]}},
                                              name_of_[e] + ".from_blocks"));
    }
    return *plain_[e];
  }

  // The entry as a blocked tensor (it must be float32 NCHW), converting a plain one once.
  StatusOr<Tensor> Blocked(uint32_t e) {
    if (blocked_[e]) return *blocked_[e];
    ASSIGN_OR_RETURN(Tensor plain, Plain(e));
    if (ChannelsLast()) {
      ASSIGN_OR_RETURN(blocked_[e], builder_.Op("transpose", {plain},
                                                {{"axes", std::vector<int64_t>{0, 2, 3, 1}}},
                                                name_of_[e] + ".to_nhwc"));
    } else {
      ASSIGN_OR_RETURN(blocked_[e], builder_.Op("to_channel_blocks", {plain},
                                                {{"channels", g_.entries[e].shape[1]}},
                                                name_of_[e] + ".to_blocks"));
    }
    return *blocked_[e];
  }

  bool HasBlocked(uint32_t e) const { return blocked_[e].has_value(); }

  // Operands of a binary operator that broadcast the same way in every layout: the same
  // NCHW shape, or one of them [N, C, 1, 1] (a per-channel scale, as in squeeze-excitation).
  static bool SameOrPerChannel(const TensorInfo& a, const TensorInfo& b) {
    if (!IsFloat4d(a) || !IsFloat4d(b)) return false;
    if (a.shape == b.shape) return true;
    auto per_channel_of = [](const std::vector<int64_t>& small, const std::vector<int64_t>& big) {
      return small[0] == big[0] && small[1] == big[1] && small[2] == 1 && small[3] == 1;
    };
    return per_channel_of(a.shape, b.shape) || per_channel_of(b.shape, a.shape);
  }
  bool ChannelsLast() const { return layout_ == kernels::ConvLayout::kChannelsLast; }
  int64_t LayoutAttr() const { return static_cast<int64_t>(layout_); }

  Status Convert(size_t n) {
    const GraphNode& node = g_.nodes[n];
    if (fused_into_[n] >= 0) {
      // The add of a fused residual: the convolution runs here, where its residual exists.
      if (static_cast<int>(n) == plans_[fused_into_[n]]->add_node) {
        return EmitConvolution(static_cast<size_t>(fused_into_[n]));
      }
      return Status::Ok();  // a fused activation
    }
    if (plans_[n]) {
      if (plans_[n]->add_node >= 0) return Status::Ok();  // emitted at its add
      return EmitConvolution(n);
    }
    if (node.outputs.size() == 1) {
      ASSIGN_OR_RETURN(bool emitted, EmitBlocked(n));
      if (emitted) return Status::Ok();
    }
    std::vector<Tensor> inputs;
    for (uint32_t e : node.inputs) {
      ASSIGN_OR_RETURN(Tensor t, Plain(e));
      inputs.push_back(t);
    }
    if (node.outputs.size() != 1) {
      return UnimplementedError("operator '" + node.op + "' with " +
                                std::to_string(node.outputs.size()) + " outputs");
    }
    ASSIGN_OR_RETURN(plain_[node.outputs[0]],
                     builder_.Op(node.op, inputs, model_.node_attrs[n], node.name));
    return Status::Ok();
  }

  // Emits node `n` on blocked tensors when its inputs are blocked and the operator keeps the
  // layout; returns false (nothing emitted) otherwise.
  StatusOr<bool> EmitBlocked(size_t n) {
    const GraphNode& node = g_.nodes[n];
    const Attrs& attrs = model_.node_attrs[n];
    const uint32_t out = node.outputs[0];
    const TensorInfo& out_info = g_.entries[out];
    auto emit = [&](const std::string& op, std::vector<uint32_t> inputs,
                    Attrs op_attrs) -> StatusOr<bool> {
      std::vector<Tensor> blocked;
      for (uint32_t e : inputs) {
        ASSIGN_OR_RETURN(Tensor t, Blocked(e));
        blocked.push_back(t);
      }
      ASSIGN_OR_RETURN(blocked_[out], builder_.Op(op, blocked, std::move(op_attrs), node.name));
      return true;
    };
    if (node.inputs.empty() || !IsFloat4d(out_info)) return false;
    const uint32_t first = node.inputs[0];
    if (node.inputs.size() == 1 && HasBlocked(first) &&
        (ChannelsLast() ? IsUnary(node.op) : IsZeroPreservingUnary(node.op, attrs))) {
      return emit(node.op, {first}, attrs);
    }
    if (node.inputs.size() == 2 &&
        (ChannelsLast() ? IsBinary(node.op) : IsZeroPreservingBinary(node.op)) &&
        (HasBlocked(node.inputs[0]) || HasBlocked(node.inputs[1])) &&
        SameOrPerChannel(g_.entries[node.inputs[0]], g_.entries[node.inputs[1]])) {
      return emit(node.op, node.inputs, attrs);
    }
    if (node.op == "concat") {
      const int64_t axis = IntAttrOr(attrs, "axis", 0);
      if (axis != 1 && axis != -3) return false;
      for (uint32_t e : node.inputs) {
        // Channel blocks concatenate whole blocks only.
        if (!HasBlocked(e) || (!ChannelsLast() && g_.entries[e].shape[1] % kChannelBlock != 0)) {
          return false;
        }
      }
      return emit(node.op, node.inputs, {{"axis", int64_t{ChannelsLast() ? 3 : 1}}});
    }
    if (!HasBlocked(first)) return false;
    const std::vector<int64_t>& in = g_.entries[first].shape;
    Attrs pool{{"layout", LayoutAttr()}, {"channels", in[1]}, {"count_include_pad", int64_t{0}}};
    if (node.op == "global_avg_pool2d" || node.op == "global_max_pool2d") {
      pool["is_max"] = int64_t{node.op == "global_max_pool2d"};
      pool["pool_size"] = std::vector<int64_t>{in[2], in[3]};
      return emit("blocked_pool2d", {first}, std::move(pool));
    }
    if (node.op != "max_pool2d" && node.op != "avg_pool2d") return false;
    StatusOr<lowering::Window> w = lowering::GetWindow(attrs);
    StatusOr<std::vector<int64_t>> size = GetIntsAttr(attrs, "pool_size", 2, {});
    if (!w.ok() || !size.ok()) return false;
    const bool include_pad = IntAttrOr(attrs, "count_include_pad", 0) != 0;
    // A ceil-mode pool's extra windows become extra bottom and right padding.
    std::vector<int64_t> padding = w->padding;
    for (int axis = 0; axis < 2; ++axis) {
      const int64_t needed = (out_info.shape[2 + axis] - 1) * w->strides[axis] +
                             ((*size)[axis] - 1) * w->dilation[axis] + 1 - in[2 + axis] -
                             padding[axis];
      if (needed > padding[2 + axis]) {
        // Counted padding would count the extra windows' taps too.
        if (include_pad && node.op == "avg_pool2d") return false;
        padding[2 + axis] = needed;
      }
    }
    pool["is_max"] = int64_t{node.op == "max_pool2d"};
    pool["pool_size"] = *size;
    pool["strides"] = w->strides;
    pool["dilation"] = w->dilation;
    pool["padding"] = padding;
    pool["count_include_pad"] = int64_t{include_pad};
    return emit("blocked_pool2d", {first}, std::move(pool));
  }

  Status EmitConvolution(size_t n) {
    const GraphNode& node = g_.nodes[n];
    const ConvPlan& plan = *plans_[n];
    const kernels::BlockedConv2dAttrs& k = plan.attrs;
    ASSIGN_OR_RETURN(std::vector<NDArray> packed, PackParams(plan));
    ASSIGN_OR_RETURN(Tensor weight, builder_.Param(NewParamName(node.name + ".packed_weight"), packed[0]));
    ASSIGN_OR_RETURN(Tensor bias, builder_.Param(NewParamName(node.name + ".packed_bias"), packed[1]));
    std::vector<Tensor> inputs;
    if (k.blocked_input) {
      ASSIGN_OR_RETURN(Tensor data, Blocked(node.inputs[0]));
      inputs.push_back(data);
    } else {
      ASSIGN_OR_RETURN(Tensor data, Plain(node.inputs[0]));
      inputs.push_back(data);
    }
    inputs.push_back(weight);
    inputs.push_back(bias);
    if (k.residual) {
      ASSIGN_OR_RETURN(Tensor residual, Blocked(plan.residual));
      inputs.push_back(residual);
    }
    const Attrs attrs = {
        {"layout", LayoutAttr()},
        {"channels", k.channels},
        {"out_channels", k.out_channels},
        {"kernel", std::vector<int64_t>{k.kernel[0], k.kernel[1]}},
        {"strides", std::vector<int64_t>{k.strides[0], k.strides[1]}},
        {"padding", std::vector<int64_t>(k.padding, k.padding + 4)},
        {"dilation", std::vector<int64_t>{k.dilation[0], k.dilation[1]}},
        {"groups", k.groups},
        {"blocked_input", int64_t{k.blocked_input}},
        {"residual", int64_t{k.residual}},
        {"activation", static_cast<int64_t>(k.activation)},
        {"clip_min", k.clip_min},
        {"clip_max", k.clip_max}};
    ASSIGN_OR_RETURN(Tensor out, builder_.Op("blocked_conv2d", inputs, attrs, node.name));
    // The fused chain's last result is what later nodes read.
    uint32_t result = node.outputs[0];
    if (plan.add_node >= 0) result = g_.nodes[plan.add_node].outputs[0];
    if (plan.activation_node >= 0) result = g_.nodes[plan.activation_node].outputs[0];
    blocked_[result] = out;
    return Status::Ok();
  }

  // The packed weight and the bias, with the batch norm folded into both.
  StatusOr<std::vector<NDArray>> PackParams(const ConvPlan& plan) const {
    const kernels::BlockedConv2dAttrs& k = plan.attrs;
    const NDArray& weight = ParamArray(plan.weight);
    const int64_t per_output = weight.NumElements() / k.out_channels;
    std::vector<float> w(weight.data_as<float>(), weight.data_as<float>() + weight.NumElements());
    std::vector<float> b(k.out_channels, 0.0f);
    if (plan.bias) {
      const float* bias = ParamArray(*plan.bias).data_as<float>();
      b.assign(bias, bias + k.out_channels);
    }
    if (plan.batch_norm) {
      const float* gamma = ParamArray((*plan.batch_norm)[0]).data_as<float>();
      const float* beta = ParamArray((*plan.batch_norm)[1]).data_as<float>();
      const float* mean = ParamArray((*plan.batch_norm)[2]).data_as<float>();
      const float* var = ParamArray((*plan.batch_norm)[3]).data_as<float>();
      for (int64_t o = 0; o < k.out_channels; ++o) {
        const double scale = gamma[o] / std::sqrt(static_cast<double>(var[o]) + plan.epsilon);
        for (int64_t i = 0; i < per_output; ++i) {
          w[o * per_output + i] = static_cast<float>(w[o * per_output + i] * scale);
        }
        b[o] = static_cast<float>((b[o] - mean[o]) * scale + beta[o]);
      }
    }
    FerryKernelError error{};
    const int64_t size = kernels::PackedConv2dWeightSize(k, &error);
    if (size < 0) return InvalidArgumentError(error.message);
    ASSIGN_OR_RETURN(NDArray packed, NDArray::Empty({size}, DataType::Float32(), Device::Cpu()));
    if (kernels::PackConv2dWeight(k, w.data(), packed.data_as<float>(), &error) != 0) {
      return InternalError(error.message);
    }
    ASSIGN_OR_RETURN(NDArray bias, NDArray::Empty({k.out_channels}, DataType::Float32(), Device::Cpu()));
    RETURN_IF_ERROR(bias.CopyFromBytes(b.data(), b.size() * sizeof(float)));
    return std::vector<NDArray>{packed, bias};
  }

  const Model& model_;
  const kernels::ConvLayout layout_;
  const ExecGraph& g_;
  GraphBuilder builder_;
  std::vector<std::optional<Tensor>> plain_, blocked_;
  std::vector<std::string> name_of_;  // the producing node's (or input's) name
  std::vector<int> readers_, reader_;
  std::set<uint32_t> is_param_;
  std::map<uint32_t, std::string> param_name_;
  std::set<std::string> new_params_;
  std::vector<std::optional<ConvPlan>> plans_;
  std::vector<int> fused_into_;  // add and activation nodes: the convolution fused over them
};

}  // namespace

BlockedLayout ChooseBlockedLayout(const Model& model) {
  if (NeedsChannelsLast(model)) return BlockedLayout::kChannelsLast;
  for (size_t n = 0; n < model.graph.nodes.size(); ++n) {
    const GraphNode& node = model.graph.nodes[n];
    if (node.op == "conv2d" && IntAttrOr(model.node_attrs[n], "groups", 1) > 1) {
      return BlockedLayout::kChannelBlocks;
    }
  }
  return BlockedLayout::kChannelsLast;
}

bool BlockedLayoutsAvailable() { return true; }

StatusOr<Model> ConvertToBlockedLayouts(const Model& model, BlockedLayout layout) {
  if (layout == BlockedLayout::kAuto) layout = ChooseBlockedLayout(model);
  return Converter(model, layout == BlockedLayout::kChannelsLast ? kernels::ConvLayout::kChannelsLast
                                                                 : kernels::ConvLayout::kChannelBlocks)
      .Run();
}

#else

bool BlockedLayoutsAvailable() { return false; }

StatusOr<Model> ConvertToBlockedLayouts(const Model& model, BlockedLayout) { return model; }

#endif

}  // namespace ferry::compiler
