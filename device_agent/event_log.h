// Structured logs of the agent: one line per event, `ts=<UTC time> event=<name> key=value ...`,
// on stderr. Values with spaces or quotes are quoted.
#ifndef FERRY_DEVICE_AGENT_EVENT_LOG_H_
#define FERRY_DEVICE_AGENT_EVENT_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace ferry::agent {

using LogField = std::pair<std::string_view, std::string>;

void LogEvent(std::string_view event, std::initializer_list<LogField> fields);

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_EVENT_LOG_H_
