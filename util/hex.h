// Lowercase hexadecimal encoding of bytes (digests, tokens, routing ids).
#ifndef FERRY_UTIL_HEX_H_
#define FERRY_UTIL_HEX_H_

#include <string>
#include <string_view>

namespace ferry::util {

inline std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace ferry::util

#endif  // FERRY_UTIL_HEX_H_
