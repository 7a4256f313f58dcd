#include "compiler/attrs.h"

#include <algorithm>

namespace ferry::compiler {
namespace {

Status WrongKind(const std::string& name, std::string_view expected) {
  return InvalidArgumentError("attribute '" + name + "' must be " + std::string(expected));
}

}  // namespace

StatusOr<int64_t> GetIntAttr(const Attrs& attrs, const std::string& name, int64_t fallback) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return fallback;
  if (auto* v = std::get_if<int64_t>(&it->second)) return *v;
  return WrongKind(name, "an int");
}

StatusOr<double> GetFloatAttr(const Attrs& attrs, const std::string& name, double fallback) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return fallback;
  if (auto* v = std::get_if<double>(&it->second)) return *v;
  if (auto* v = std::get_if<int64_t>(&it->second)) return static_cast<double>(*v);
  return WrongKind(name, "a float");
}

StatusOr<std::vector<int64_t>> GetIntsAttr(const Attrs& attrs, const std::string& name,
                                           size_t length, std::vector<int64_t> fallback) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return fallback;
  if (auto* v = std::get_if<int64_t>(&it->second)) return std::vector<int64_t>(length, *v);
  if (auto* v = std::get_if<std::vector<int64_t>>(&it->second)) {
    if (v->size() == length) return *v;
  }
  return WrongKind(name, "an int or a list of " + std::to_string(length) + " ints");
}

StatusOr<std::vector<int64_t>> GetIntListAttr(const Attrs& attrs, const std::string& name,
                                              std::vector<int64_t> fallback) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return fallback;
  if (auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  return WrongKind(name, "a list of ints");
}

StatusOr<std::vector<double>> GetFloatListAttr(const Attrs& attrs, const std::string& name,
                                               std::vector<double> fallback) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return fallback;
  if (auto* v = std::get_if<std::vector<double>>(&it->second)) return *v;
  if (auto* v = std::get_if<std::vector<int64_t>>(&it->second)) {
    return std::vector<double>(v->begin(), v->end());
  }
  return WrongKind(name, "a list of floats");
}

Status CheckKnownAttrs(const Attrs& attrs, std::span<const std::string_view> known) {
  for (const auto& [name, value] : attrs) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return InvalidArgumentError("unknown attribute '" + name + "' (known: " +
                                  (list.empty() ? "none" : list) + ")");
    }
  }
  return Status::Ok();
}

int64_t IntAttrOr(const Attrs& attrs, const std::string& name, int64_t fallback) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return fallback;
  const int64_t* v = std::get_if<int64_t>(&it->second);
  return v ? *v : fallback;
}

double FloatAttrOr(const Attrs& attrs, const std::string& name, double fallback) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return fallback;
  if (const double* v = std::get_if<double>(&it->second)) return *v;
  if (const int64_t* v = std::get_if<int64_t>(&it->second)) return static_cast<double>(*v);
  return fallback;
}

}  // namespace ferry::compiler
