// File labels: the names a client gives the files it uploads into a session.
//
// A label is a name, never a path: the agent joins it to a directory it chose itself, so a
// label must not be able to reach outside that directory or collide with the agent's own
// hidden files.
#ifndef FERRY_DEVICE_AGENT_FILE_LABEL_H_
#define FERRY_DEVICE_AGENT_FILE_LABEL_H_

#include <string_view>

#include "runtime/status.h"

namespace ferry::agent {

// The longest label accepted, in bytes (the usual NAME_MAX).
inline constexpr size_t kMaxFileLabelBytes = 255;

// Returns OK when `label` is a safe file name: 1 to kMaxFileLabelBytes bytes, no '/', no '\\',
// no NUL or other control character (bytes below 0x20 and 0x7F), and not starting with '.'
// (which also excludes "." and ".."; names starting with '.' are reserved for the agent's
// temporary files). Other bytes, including UTF-8 sequences and a leading '-', are allowed.
// Errors: kInvalidArgument naming the problem.
Status CheckFileLabel(std::string_view label);

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_FILE_LABEL_H_
