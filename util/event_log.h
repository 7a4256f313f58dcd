// Structured logs of the agent and the tracker: one line per event on stderr,
// `ts=<UTC time> event=<name> key=value ...`. Values with spaces, quotes, tabs, newlines, `=`
// or a backslash are quoted. Thread-safe (one write per line).
#ifndef FERRY_UTIL_EVENT_LOG_H_
#define FERRY_UTIL_EVENT_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace ferry::util {

using LogField = std::pair<std::string_view, std::string>;

void LogEvent(std::string_view event, std::initializer_list<LogField> fields);

}  // namespace ferry::util

#endif  // FERRY_UTIL_EVENT_LOG_H_
