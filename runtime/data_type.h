// DataType: element type of a tensor (DLPack's code, bits, lanes) with names like "float32".
#ifndef FERRY_RUNTIME_DATA_TYPE_H_
#define FERRY_RUNTIME_DATA_TYPE_H_

#include <dlpack/dlpack.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/status.h"

namespace ferry {

// DLPack's type code for booleans (kDLBool in DLPack 0.8+; Debian 12 ships DLPack 0.6).
inline constexpr uint8_t kBoolTypeCode = 6;

struct DataType {
  uint8_t code = kDLFloat;
  uint8_t bits = 32;
  uint16_t lanes = 1;

  static DataType Float32() { return {kDLFloat, 32, 1}; }
  static DataType Float64() { return {kDLFloat, 64, 1}; }
  static DataType Float16() { return {kDLFloat, 16, 1}; }
  static DataType Int32() { return {kDLInt, 32, 1}; }
  static DataType Int64() { return {kDLInt, 64, 1}; }
  static DataType Int8() { return {kDLInt, 8, 1}; }
  static DataType UInt8() { return {kDLUInt, 8, 1}; }
  static DataType Bool() { return {kBoolTypeCode, 8, 1}; }

  DLDataType ToDL() const { return DLDataType{code, bits, lanes}; }
  static DataType FromDL(DLDataType t) { return DataType{t.code, t.bits, t.lanes}; }

  // Bytes per element, rounding sub-byte types up.
  size_t bytes() const { return (static_cast<size_t>(bits) * lanes + 7) / 8; }

  // "float32", "int64", "uint8", "bool", "float32x4".
  std::string ToString() const;

  friend bool operator==(const DataType& a, const DataType& b) {
    return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
  }
};

// Inverse of ToString for the names it produces. Unknown: kInvalidArgument.
StatusOr<DataType> ParseDataType(const std::string& text);

}  // namespace ferry

#endif  // FERRY_RUNTIME_DATA_TYPE_H_
