// SessionCore: the client's side of one open session, as two parts: its endpoint
// (session_endpoint.h: channels, request ids, deadlines, pipelining, handle releases) and its
// value codec (client_value_codec.h: arguments out, results back as remote objects), with the
// DeviceApi of its remote arrays and the digests of the files it uploaded.
//
// RemoteSession (client_session.h) is the public handle; every remote object (module,
// function, array) holds an ObjectPtr to the core, so the session stays open while any of
// them lives, and their destructors queue handle releases that go out with the next request.
// Calls are serialised by the endpoint's call lock, so remote objects may be used from several
// threads, one call at a time.
#ifndef FERRY_RPC_SESSION_CORE_H_
#define FERRY_RPC_SESSION_CORE_H_

#include <chrono>
#include <memory>
#include <string>

#include "rpc/channel.h"
#include "rpc/client_value_codec.h"
#include "rpc/file_digest_cache.h"
#include "rpc/sealed_channel.h"
#include "rpc/session_endpoint.h"
#include "runtime/device_api.h"
#include "runtime/object.h"

namespace ferry::rpc {

class SessionCore final : public Object {
 public:
  // As SessionEndpoint's constructor. The session closes when the core goes (the endpoint's
  // destructor).
  SessionCore(std::unique_ptr<Channel> worker, std::unique_ptr<Channel> agent,
              std::string session_id, std::chrono::milliseconds timeout,
              std::unique_ptr<SealedChannel> bulk = nullptr);

  SessionEndpoint& endpoint() { return endpoint_; }
  ClientValueCodec& codec() { return codec_; }
  // The DeviceApi of the session's remote arrays (RemoteDeviceApi).
  DeviceApi* device_api() const { return device_api_.get(); }
  FileDigestCache& digest_cache() { return digest_cache_; }

 private:
  SessionEndpoint endpoint_;
  std::unique_ptr<DeviceApi> device_api_;
  ClientValueCodec codec_;
  FileDigestCache digest_cache_;
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_SESSION_CORE_H_
