#include "runtime/data_type.h"

#include <charconv>

namespace ferry {

std::string DataType::ToString() const {
  std::string base;
  switch (code) {
    case kDLInt:
      base = "int";
      break;
    case kDLUInt:
      base = "uint";
      break;
    case kDLFloat:
      base = "float";
      break;
    case kDLBfloat:
      base = "bfloat";
      break;
    case kBoolTypeCode:
      return lanes == 1 ? "bool" : "boolx" + std::to_string(lanes);
    default:
      base = "code" + std::to_string(code) + "_";
  }
  base += std::to_string(bits);
  if (lanes != 1) base += "x" + std::to_string(lanes);
  return base;
}

StatusOr<DataType> ParseDataType(const std::string& text) {
  auto fail = [&] { return InvalidArgumentError("unknown data type '" + text + "'"); };
  std::string body = text;
  uint16_t lanes = 1;
  size_t x = body.find('x');
  if (x != std::string::npos) {
    std::string lane_text = body.substr(x + 1);
    auto [p, ec] = std::from_chars(lane_text.data(), lane_text.data() + lane_text.size(), lanes);
    if (ec != std::errc() || p != lane_text.data() + lane_text.size() || lanes == 0) return fail();
    body = body.substr(0, x);
  }
  if (body == "bool") return DataType{kBoolTypeCode, 8, lanes};
  struct Prefix {
    const char* name;
    uint8_t code;
  };
  for (Prefix prefix : {Prefix{"uint", kDLUInt}, Prefix{"int", kDLInt}, Prefix{"float", kDLFloat},
                        Prefix{"bfloat", kDLBfloat}}) {
    std::string_view name(prefix.name);
    if (body.rfind(name, 0) != 0) continue;
    std::string bits_text = body.substr(name.size());
    unsigned bits = 0;
    auto [p, ec] = std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
    if (ec != std::errc() || p != bits_text.data() + bits_text.size()) return fail();
    if (bits != 8 && bits != 16 && bits != 32 && bits != 64) return fail();
    return DataType{prefix.code, static_cast<uint8_t>(bits), lanes};
  }
  return fail();
}

}  // namespace ferry
