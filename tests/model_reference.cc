#include "tests/model_reference.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace ferry::testing {
namespace {

const float* Param(const compiler::Model& model, const std::string& name,
                   const std::vector<int64_t>& shape) {
  auto it = model.params.find(name);
  if (it == model.params.end()) throw std::runtime_error("reference: no parameter " + name);
  if (it->second.shape() != shape) throw std::runtime_error("reference: shape of " + name);
  return it->second.data_as<const float>();
}

// y = W x + b with W [n, k].
std::vector<double> Dense(const compiler::Model& m, const std::string& name,
                          const std::vector<double>& x, int64_t n) {
  const int64_t k = static_cast<int64_t>(x.size());
  const float* w = Param(m, name + ".weight", {n, k});
  const float* b = Param(m, name + ".bias", {n});
  std::vector<double> y(n);
  for (int64_t i = 0; i < n; ++i) {
    double sum = b[i];
    for (int64_t j = 0; j < k; ++j) sum += static_cast<double>(w[i * k + j]) * x[j];
    y[i] = sum;
  }
  return y;
}

void Relu(std::vector<double>& x) {
  for (double& v : x) v = std::max(v, 0.0);
}

// A [c, h, w] feature map (batch 1).
struct Map {
  int64_t c, h, w;
  std::vector<double> v;
  double& at(int64_t ci, int64_t y, int64_t x) { return v[(ci * h + y) * w + x]; }
  double at(int64_t ci, int64_t y, int64_t x) const { return v[(ci * h + y) * w + x]; }
};

Map Zeros(int64_t c, int64_t h, int64_t w) { return Map{c, h, w, std::vector<double>(c * h * w)}; }

// 3x3 convolution, stride 1, padding 1, no bias.
Map Conv3x3(const compiler::Model& m, const std::string& name, const Map& in, int64_t out_c) {
  const float* wt = Param(m, name + ".weight", {out_c, in.c, 3, 3});
  Map out = Zeros(out_c, in.h, in.w);
  for (int64_t o = 0; o < out_c; ++o) {
    for (int64_t y = 0; y < in.h; ++y) {
      for (int64_t x = 0; x < in.w; ++x) {
        double sum = 0;
        for (int64_t c = 0; c < in.c; ++c) {
          for (int64_t ky = 0; ky < 3; ++ky) {
            for (int64_t kx = 0; kx < 3; ++kx) {
              const int64_t iy = y + ky - 1, ix = x + kx - 1;
              if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
              sum += static_cast<double>(wt[((o * in.c + c) * 3 + ky) * 3 + kx]) * in.at(c, iy, ix);
            }
          }
        }
        out.at(o, y, x) = sum;
      }
    }
  }
  return out;
}

void BatchNorm(const compiler::Model& m, const std::string& name, Map& x) {
  const float* gamma = Param(m, name + ".gamma", {x.c});
  const float* beta = Param(m, name + ".beta", {x.c});
  const float* mean = Param(m, name + ".mean", {x.c});
  const float* var = Param(m, name + ".var", {x.c});
  for (int64_t c = 0; c < x.c; ++c) {
    const double scale = gamma[c] / std::sqrt(static_cast<double>(var[c]) + 1e-5);
    for (int64_t i = 0; i < x.h * x.w; ++i) {
      double& v = x.v[c * x.h * x.w + i];
      v = (v - mean[c]) * scale + beta[c];
    }
  }
}

void Relu(Map& x) { Relu(x.v); }

Map MaxPool2x2(const Map& in) {
  Map out = Zeros(in.c, in.h / 2, in.w / 2);
  for (int64_t c = 0; c < in.c; ++c) {
    for (int64_t y = 0; y < out.h; ++y) {
      for (int64_t x = 0; x < out.w; ++x) {
        out.at(c, y, x) = std::max({in.at(c, 2 * y, 2 * x), in.at(c, 2 * y, 2 * x + 1),
                                    in.at(c, 2 * y + 1, 2 * x), in.at(c, 2 * y + 1, 2 * x + 1)});
      }
    }
  }
  return out;
}

}  // namespace

std::vector<double> ReferenceMlp(const compiler::Model& mlp, const NDArray& input) {
  if (input.shape() != std::vector<int64_t>{1, 784}) throw std::runtime_error("mlp input shape");
  std::vector<double> x(input.data_as<float>(), input.data_as<float>() + 784);
  x = Dense(mlp, "fc1", x, 128);
  Relu(x);
  x = Dense(mlp, "fc2", x, 64);
  Relu(x);
  return Dense(mlp, "fc3", x, 10);
}

std::vector<double> ReferenceCnn(const compiler::Model& cnn, const NDArray& input) {
  if (input.shape() != std::vector<int64_t>{1, 3, 32, 32}) {
    throw std::runtime_error("cnn input shape");
  }
  Map x{3, 32, 32, std::vector<double>(input.data_as<float>(), input.data_as<float>() + 3072)};
  x = Conv3x3(cnn, "stem.conv", x, 16);
  BatchNorm(cnn, "stem.bn", x);
  Relu(x);
  Map y = Conv3x3(cnn, "block.conv1", x, 16);
  BatchNorm(cnn, "block.bn1", y);
  Relu(y);
  y = Conv3x3(cnn, "block.conv2", y, 16);
  BatchNorm(cnn, "block.bn2", y);
  for (size_t i = 0; i < y.v.size(); ++i) y.v[i] += x.v[i];
  Relu(y);
  x = MaxPool2x2(y);
  x = Conv3x3(cnn, "head.conv", x, 32);
  const float* bias = Param(cnn, "head.conv.bias", {32});
  std::vector<double> pooled(32);
  for (int64_t c = 0; c < 32; ++c) {
    double sum = 0;
    for (int64_t i = 0; i < x.h * x.w; ++i) {
      sum += std::max(x.v[c * x.h * x.w + i] + bias[c], 0.0);
    }
    pooled[c] = sum / static_cast<double>(x.h * x.w);
  }
  std::vector<double> logits = Dense(cnn, "head.fc", pooled, 10);
  const double top = *std::max_element(logits.begin(), logits.end());
  double total = 0;
  for (double& v : logits) total += (v = std::exp(v - top));
  for (double& v : logits) v /= total;
  return logits;
}

}  // namespace ferry::testing
