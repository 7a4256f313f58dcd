// The built-in model zoo: small models with seeded random weights, for trying Ferry before
// an importer exists and for tests.
//   mlp: data float32[1, 784] -> dense 128, relu -> dense 64, relu -> dense 10 -> [1, 10]
//   cnn: data float32[1, 3, 32, 32] -> conv 3x3/16, batch norm, relu -> a residual block
//        (conv, bn, relu, conv, bn, add, relu) -> max pool 2x2 -> conv 3x3/32 + bias, relu
//        -> global average pool -> flatten -> dense 10 -> softmax -> [1, 10]
// The same seed gives the same weights on every machine (std::mt19937 and a portable
// normal transform).
#ifndef FERRY_COMPILER_ZOO_H_
#define FERRY_COMPILER_ZOO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/model.h"

namespace ferry::compiler {

inline constexpr uint32_t kDefaultZooSeed = 20261125;

// Errors: kNotFound naming the known models.
StatusOr<Model> BuildZooModel(const std::string& name, uint32_t seed = kDefaultZooSeed);
std::vector<std::string> ListZooModels();

}  // namespace ferry::compiler

#endif  // FERRY_COMPILER_ZOO_H_
