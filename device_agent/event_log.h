// The agent logs through util/event_log.h; its code calls it unqualified.
#ifndef FERRY_DEVICE_AGENT_EVENT_LOG_H_
#define FERRY_DEVICE_AGENT_EVENT_LOG_H_

#include "util/event_log.h"

namespace ferry::agent {

using util::LogEvent;
using util::LogField;

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_EVENT_LOG_H_
