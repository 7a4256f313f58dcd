// The tracker's log: one line per event on stderr, `ts=<UTC time> event=<name> key=value ...`,
// the format of the agent's log (device_agent/event_log.h). Values with spaces, quotes or '='
// are quoted. Thread-safe (one write per line).
#ifndef FERRY_TRACKER_TRACKER_LOG_H_
#define FERRY_TRACKER_TRACKER_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace ferry::tracker {

using LogField = std::pair<std::string_view, std::string>;

void LogTrackerEvent(std::string_view event, std::initializer_list<LogField> fields);

}  // namespace ferry::tracker

#endif  // FERRY_TRACKER_TRACKER_LOG_H_
