#include "device_agent/file_label.h"

#include <cstdio>
#include <string>

namespace ferry::agent {
namespace {

// The label quoted for an error message: control bytes escaped, long labels shortened, so a
// hostile label cannot garble a log line.
std::string Quote(std::string_view label) {
  constexpr size_t kShown = 64;
  std::string out = "\"";
  for (size_t i = 0; i < label.size() && i < kShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(label[i]);
    if (c < 0x20 || c == 0x7F || c == '"' || c == '\\') {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (label.size() > kShown) out += "...";
  out += '"';
  return out;
}

}  // namespace

Status CheckFileLabel(std::string_view label) {
  if (label.empty()) return InvalidArgumentError("file label is empty");
  if (label.size() > kMaxFileLabelBytes) {
    return InvalidArgumentError("file label is " + std::to_string(label.size()) +
                                " bytes, over the limit of " + std::to_string(kMaxFileLabelBytes) +
                                ": " + Quote(label));
  }
  if (label == "." || label == "..") {
    return InvalidArgumentError("file label " + Quote(label) + " names a directory");
  }
  if (label.front() == '.') {
    return InvalidArgumentError("file label " + Quote(label) +
                                " starts with '.' (reserved for the agent's own files)");
  }
  for (size_t i = 0; i < label.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(label[i]);
    if (c == '/' || c == '\\') {
      return InvalidArgumentError("file label " + Quote(label) +
                                  " contains a path separator; a label is a name, not a path");
    }
    if (c == '\0') {
      return InvalidArgumentError("file label " + Quote(label) + " contains a NUL byte at " +
                                  std::to_string(i));
    }
    if (c < 0x20 || c == 0x7F) {
      return InvalidArgumentError("file label " + Quote(label) +
                                  " contains a control character at " + std::to_string(i));
    }
  }
  return Status::Ok();
}

}  // namespace ferry::agent
