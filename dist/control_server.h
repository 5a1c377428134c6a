// dist/control_server.h: the rollout coordinator's TCP endpoint (Boost.Asio, one I/O thread): admits workers
// that present the shared secret, drops bad peers with a logged reason, and turns traffic into events. Not
// here: which worker gets which group (trainer/), the frame format (dist/wire.h), the worker side
// (control_client.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dist/wire.h"

namespace zerorl::dist {

struct ControlOptions {
  std::string listen = "127.0.0.1:0";  // host:port to bind; port 0 = any free port (see ControlServer::port)
  std::string auth_token;              // the shared secret a worker's hello must carry (non-empty)
  double register_timeout_s = 10.0;    // a peer that has not sent a good hello by then is dropped
  uint32_t max_body = wire::kDefaultMaxBody;  // frame body limit once registered (before: kHelloMaxBody)
  // Workers send a heartbeat this often (announced in the Welcome); a registered worker silent for
  // kHeartbeatTimeoutPeriods of them is dropped (kLeft, "no heartbeat for N s"). 0 = no liveness check.
  double heartbeat_s = 0;
};

// Heartbeat periods a worker may miss before it counts as hung (SIGSTOP, deadlock, a dead host): more than 3,
// so one late heartbeat on a loaded machine is not a death, few enough that its groups soon go elsewhere.
constexpr double kHeartbeatTimeoutPeriods = 3.5;
// How long ~ControlServer waits for workers to take their Bye and close before it cuts the connections.
constexpr double kShutdownFlushS = 2.0;

// Before a peer is registered its frames may be at most this long: an unauthenticated peer cannot make the
// coordinator allocate more.
constexpr uint32_t kHelloMaxBody = 4096;

struct ControlEvent {
  enum class Kind {
    kJoined,    // a worker registered (welcome sent)
    kMessage,   // a registered worker sent `message` (result, bye)
    kLeft,      // a registered worker is gone (closed, bye, bad frame): `reason` says which
    kRejected,  // a peer was dropped before registering: `reason` says why
  };
  Kind kind = Kind::kJoined;
  uint64_t worker = 0;    // kJoined, kMessage, kLeft
  std::string peer;       // remote address:port
  std::string reason;     // kLeft, kRejected; kJoined: the worker id of its hello
  wire::Message message;  // kMessage; kJoined: the worker's Hello
};

class ControlServer {
 public:
  // Binds options.listen and starts serving on its own thread. Throws zerorl::Error naming the address when
  // it cannot bind, or when the token is empty.
  explicit ControlServer(ControlOptions options);
  // Sends every worker a Bye, gives them kShutdownFlushS to close their end, then closes every connection
  // and joins the I/O thread. A worker that reads EOF without a Bye therefore lost its trainer.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  uint16_t port() const;
  std::string address() const;  // "host:port" actually bound

  // The next event, waiting at most timeout_s; nullopt on timeout.
  std::optional<ControlEvent> next_event(double timeout_s);
  // Queues a frame to a registered worker; false when that worker is not (or no longer) connected.
  // Throws zerorl::Error for a message over max_body (a bug of the caller).
  bool send(uint64_t worker, const wire::Message& message);
  // The same for a weights bucket, encoded straight from `weights` (no copy into a Message first).
  bool send(uint64_t worker, const wire::Weights& weights);
  // Closes a worker's connection (a kLeft event with `reason` follows).
  void drop(uint64_t worker, const std::string& reason);
  std::vector<uint64_t> workers() const;  // registered and connected, ascending
  // The version a Welcome announces (the weights a new worker will receive first).
  void set_weight_version(uint64_t version);

 private:
  bool send_frame(uint64_t worker, std::vector<uint8_t> bytes);  // queues one encoded frame
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "host:port" -> (host, port); `what` names the setting in the error ("rollout.listen", "--trainer").
std::pair<std::string, uint16_t> parse_host_port(const std::string& value, const std::string& what);

// The shared secret of rollout.auth_token_file: the file's content without trailing whitespace. Throws
// naming the file when it is missing, unreadable or empty.
std::string load_auth_token(const std::string& path);

}  // namespace zerorl::dist
