// Plain C++ references of the zoo models (compiler/zoo.h), computed in double precision from a
// model's parameter arrays with simple loops: independent of the kernels, the code generator
// and the executors, so the model library tests can check what those compute.
#ifndef FERRY_TESTS_MODEL_REFERENCE_H_
#define FERRY_TESTS_MODEL_REFERENCE_H_

#include <vector>

#include "compiler/model.h"
#include "runtime/ndarray.h"

namespace ferry::testing {

// mlp: `input` float32[1, 784] -> the 10 logits.
std::vector<double> ReferenceMlp(const compiler::Model& mlp, const NDArray& input);

// cnn: `input` float32[1, 3, 32, 32] -> the 10 softmax probabilities.
std::vector<double> ReferenceCnn(const compiler::Model& cnn, const NDArray& input);

}  // namespace ferry::testing

#endif  // FERRY_TESTS_MODEL_REFERENCE_H_
