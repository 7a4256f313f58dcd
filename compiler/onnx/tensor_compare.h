// Element-wise comparison of a computed array with an expected one, as ONNX's backend tests
// do it (numpy.testing.assert_allclose).
#ifndef FERRY_COMPILER_ONNX_TENSOR_COMPARE_H_
#define FERRY_COMPILER_ONNX_TENSOR_COMPARE_H_

#include "runtime/ndarray.h"

namespace ferry::compiler::onnx_import {

// OK when dtypes and shapes match and every element satisfies
// |actual - expected| <= atol + rtol * |expected| for float32 / float64 (NaN matches NaN,
// infinities match themselves) or is equal for integers and booleans. Otherwise
// kInvalidArgument naming the mismatch: the dtypes, the shapes, or the worst element (its
// index, both values) and how many elements differ. Both arrays must be on the CPU.
Status CompareArrays(const NDArray& expected, const NDArray& actual, double rtol, double atol);

}  // namespace ferry::compiler::onnx_import

#endif  // FERRY_COMPILER_ONNX_TENSOR_COMPARE_H_
