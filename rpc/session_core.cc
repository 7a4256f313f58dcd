#include "rpc/session_core.h"

#include "rpc/remote_objects.h"

namespace ferry::rpc {

SessionCore::SessionCore(std::unique_ptr<Channel> worker, std::unique_ptr<Channel> agent,
                         std::string session_id, std::chrono::milliseconds timeout,
                         std::unique_ptr<SealedChannel> bulk)
    : endpoint_(std::move(worker), std::move(agent), std::move(session_id), timeout,
                std::move(bulk)),
      device_api_(std::make_unique<RemoteDeviceApi>(this)),
      codec_(this, endpoint_, device_api_.get()) {}

}  // namespace ferry::rpc
