// dist/control_client.h: a rollout worker's connection to the coordinator (blocking Boost.Asio socket):
// hello/welcome, then framed messages both ways, and heartbeats from a thread of its own. Not here: the
// coordinator (control_server.h), generation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dist/wire.h"

namespace zerorl::dist {

class ControlClient {
 public:
  // Connects to `trainer` ("host:port"), sends a hello with `auth_token` and waits for the welcome. Throws
  // zerorl::Error naming the address when the connection is refused or the coordinator drops the worker
  // (wrong token, other protocol version: the coordinator's log says which). A refused connection is retried
  // every 0.25 s for `connect_wait_s` seconds first (a worker started beside its trainer, before it listens).
  // Once welcomed it sends a Heartbeat every welcome().heartbeat_s (when > 0) until destroyed, whatever the
  // caller's thread is doing. `cuda_ipc`: the hello's field of that name (wire::Hello).
  ControlClient(const std::string& trainer, const std::string& auth_token, const std::string& worker_id,
                uint32_t max_body = wire::kDefaultMaxBody, double connect_wait_s = 0,
                const std::string& cuda_ipc = "");
  ~ControlClient();  // stops the heartbeats and closes the connection
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  const wire::Welcome& welcome() const { return welcome_; }
  // Blocks for the next message. An error value (never an exception) when the connection ends or a frame
  // is bad: the caller then exits with that reason.
  wire::Decoded<wire::Message> receive();
  // Whether the next message has started to arrive (bytes wait in the socket), so that receive() would not
  // wait for the trainer. Never blocks.
  bool message_waiting();
  // Sends one message; false when the connection is gone. Safe beside the heartbeat thread (one writer at a
  // time); receive() is for one thread only.
  bool send(const wire::Message& message);
  int64_t heartbeats_sent() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  wire::Welcome welcome_;
};

}  // namespace zerorl::dist
