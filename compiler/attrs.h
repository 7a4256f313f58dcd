// Operator attributes as the compiler receives them (from the graph builder or, later, an
// importer): a name -> value map with typed, checked accessors.
#ifndef FERRY_COMPILER_ATTRS_H_
#define FERRY_COMPILER_ATTRS_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/status.h"

namespace ferry::compiler {

using AttrValue = std::variant<int64_t, double, std::vector<int64_t>, std::vector<double>>;
using Attrs = std::map<std::string, AttrValue>;

// "op 'conv1' (conv2d)" style context is added by the caller; these return kInvalidArgument
// naming the attribute for a wrong kind or length.
StatusOr<int64_t> GetIntAttr(const Attrs& attrs, const std::string& name, int64_t fallback);
// Accepts an int too.
StatusOr<double> GetFloatAttr(const Attrs& attrs, const std::string& name, double fallback);
// A list of exactly `length` ints (a single int is repeated `length` times).
StatusOr<std::vector<int64_t>> GetIntsAttr(const Attrs& attrs, const std::string& name,
                                           size_t length, std::vector<int64_t> fallback);
// Any-length list of ints.
StatusOr<std::vector<int64_t>> GetIntListAttr(const Attrs& attrs, const std::string& name,
                                              std::vector<int64_t> fallback);
// Any-length list of floats (a list of ints is converted).
StatusOr<std::vector<double>> GetFloatListAttr(const Attrs& attrs, const std::string& name,
                                               std::vector<double> fallback);
// kInvalidArgument naming the first attribute not in `known`.
// The attribute's value, or `fallback` when it is absent or of another type: for passes that
// only inspect attributes (the lowerings validate them).
int64_t IntAttrOr(const Attrs& attrs, const std::string& name, int64_t fallback);
double FloatAttrOr(const Attrs& attrs, const std::string& name, double fallback);
Status CheckKnownAttrs(const Attrs& attrs, std::span<const std::string_view> known);

}  // namespace ferry::compiler

#endif  // FERRY_COMPILER_ATTRS_H_
