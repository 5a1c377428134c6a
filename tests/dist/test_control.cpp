// tests/dist/test_control.cpp: the rollout coordinator and worker client over real sockets on 127.0.0.1 (the
// test opens every listener): admission, message flow, and bad peers dropped while the coordinator keeps
// serving. Not here: the byte format (test_wire.cpp).
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <random>
#include <thread>

#include "core/error.h"
#include "dist/control_client.h"
#include "dist/control_server.h"

namespace zerorl::dist {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Kind = ControlEvent::Kind;

ControlOptions options(double register_timeout_s = 5.0) {
  ControlOptions o;
  o.listen = "127.0.0.1:0";
  o.auth_token = "correct horse battery staple";
  o.register_timeout_s = register_timeout_s;
  o.max_body = 1 << 20;
  return o;
}

// Waits for the next event; it must be of `kind`, with `reason` containing `what`.
ControlEvent expect_event(ControlServer& server, Kind kind, const std::string& what = "") {
  std::optional<ControlEvent> e = server.next_event(20.0);
  EXPECT_TRUE(e.has_value()) << "no event within 20 s (expected '" << what << "')";
  if (!e) return {};
  EXPECT_EQ(int(e->kind), int(kind)) << e->reason;
  EXPECT_NE(e->reason.find(what), std::string::npos) << "reason: " << e->reason;
  return *e;
}

// A raw peer: sends bytes of its choosing and reports whether the coordinator closed the connection.
struct RawPeer {
  asio::io_context io;
  tcp::socket socket{io};
  explicit RawPeer(uint16_t port) { socket.connect({asio::ip::make_address("127.0.0.1"), port}); }
  void write(const std::vector<uint8_t>& bytes) {
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(bytes),
                ec);  // the coordinator may already have closed: not an error here
  }
  bool closed_by_peer() {  // blocks until the coordinator closes (or sends something)
    uint8_t byte;
    boost::system::error_code ec;
    socket.read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
  bool closed_after(size_t* bytes_read) {  // reads what the coordinator sent (a welcome) until it closes
    uint8_t buffer[256];
    boost::system::error_code ec;
    while (!ec) *bytes_read += socket.read_some(asio::buffer(buffer), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
};

wire::Work some_work() {
  wire::Work w;
  w.group_id = 11;
  w.step = 2;
  w.seed = 99;
  w.group_size = 2;
  w.max_new_tokens = 8;
  w.prompt_keys = {4};
  w.prompts = {{1, 2, 3}};
  return w;
}

TEST(ControlPlane, WorkerJoinsReceivesWorkAndReturnsResults) {
  ControlServer server(options());
  server.set_weight_version(5);
  const std::string address = "127.0.0.1:" + std::to_string(server.port());
  auto client = std::make_unique<ControlClient>(address, "correct horse battery staple", "test-worker");
  ControlEvent joined = expect_event(server, Kind::kJoined, "test-worker");
  EXPECT_EQ(client->welcome().worker_index, joined.worker);
  EXPECT_EQ(client->welcome().weight_version, 5u);
  EXPECT_EQ(server.workers(), std::vector<uint64_t>{joined.worker});

  ASSERT_TRUE(server.send(joined.worker, some_work()));
  wire::Decoded<wire::Message> got = client->receive();
  ASSERT_TRUE(got.ok()) << got.error;
  EXPECT_EQ(std::get<wire::Work>(got.value).prompts, some_work().prompts);

  wire::Weights bucket;  // sent through send(worker, const Weights&): encoded without a Message copy
  bucket.version = 5;
  bucket.data = {1, 2, 3, 4, 5, 6, 7, 8};
  bucket.tensors = {{"w", "bfloat16", {2, 2}, 0, 8}};
  ASSERT_TRUE(server.send(joined.worker, bucket));
  got = client->receive();
  ASSERT_TRUE(got.ok()) << got.error;
  EXPECT_EQ(std::get<wire::Weights>(got.value).data, bucket.data);
  EXPECT_EQ(std::get<wire::Weights>(got.value).tensors.at(0).shape, (std::vector<int64_t>{2, 2}));

  wire::Result result;
  result.group_id = 11;
  result.samples.push_back({0, 1, {7, 8}, {-0.5f, -0.25f}, {-0.5f, -0.25f}, 1, "x"});
  ASSERT_TRUE(client->send(result));
  ControlEvent message = expect_event(server, Kind::kMessage);
  EXPECT_EQ(message.worker, joined.worker);
  EXPECT_EQ(std::get<wire::Result>(message.message).samples.at(0).tokens, (std::vector<int32_t>{7, 8}));

  client.reset();  // the worker goes away: the coordinator notices and forgets it
  expect_event(server, Kind::kLeft, "closed");
  EXPECT_TRUE(server.workers().empty());
  EXPECT_FALSE(server.send(joined.worker, some_work()));
}

TEST(ControlPlane, BadPeersAreDroppedAndTheCoordinatorKeepsServing) {
  ControlServer server(options(/*register_timeout_s=*/0.5));
  const uint16_t port = server.port();
  const std::string address = "127.0.0.1:" + std::to_string(port);

  EXPECT_THROW(ControlClient(address, "wrong token", "intruder"), zerorl::Error);
  expect_event(server, Kind::kRejected, "wrong auth token");

  RawPeer garbage(port);
  garbage.write(
      {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1', '.', '1', '\r', '\n', '\r', '\n'});
  expect_event(server, Kind::kRejected, "bad magic");
  EXPECT_TRUE(garbage.closed_by_peer());

  RawPeer oversized(port);  // a hello header claiming 1 GiB: refused from the header, nothing allocated
  oversized.write({'Z', 'R', 'L', 'W', uint8_t(wire::kVersion), 0, 1, 0, 0, 0, 0, 0x40});
  expect_event(server, Kind::kRejected, "exceeds the limit");
  EXPECT_TRUE(oversized.closed_by_peer());

  RawPeer not_hello(port);  // a well-formed frame, but work before any hello
  not_hello.write(wire::encode(some_work()));
  expect_event(server, Kind::kRejected, "not hello");

  RawPeer silent(port);  // connects and says nothing
  expect_event(server, Kind::kRejected, "no hello within");
  EXPECT_TRUE(silent.closed_by_peer());

  RawPeer half(port);  // half a header, then silence: the same deadline
  half.write({'Z', 'R', 'L'});
  expect_event(server, Kind::kRejected, "no hello within");

  // A registered worker is held to the frame limit and to the message types a worker may send.
  RawPeer worker(port);
  worker.write(wire::encode(wire::Hello{"correct horse battery staple", "raw", wire::kVersion, ""}));
  const uint64_t id = expect_event(server, Kind::kJoined).worker;
  worker.write(
      {'Z', 'R', 'L', 'W', uint8_t(wire::kVersion), 0, 5, 0, 0, 0, 0x20, 0});  // 2 MiB > max_body (1 MiB)
  EXPECT_EQ(expect_event(server, Kind::kLeft, "exceeds the limit").worker, id);

  ControlClient good(address, "correct horse battery staple", "good");
  expect_event(server, Kind::kJoined, "good");
  EXPECT_EQ(server.workers().size(), 1u);
}

// Random bytes and mutated hellos on many connections: every one ends (rejected, or admitted then closed) and
// the coordinator still admits a good worker afterwards.
TEST(ControlPlane, FuzzedConnectionsNeverStopTheCoordinator) {
  ControlServer server(options(/*register_timeout_s=*/2.0));
  const uint16_t port = server.port();
  std::mt19937_64 rng(77);
  const std::vector<uint8_t> hello =
      wire::encode(wire::Hello{"correct horse battery staple", "fuzz", wire::kVersion, ""});
  const int kConnections = 60;
  for (int i = 0; i < kConnections; ++i) {
    RawPeer peer(port);
    std::vector<uint8_t> bytes = hello;
    if (i % 2 == 0) {
      bytes.resize(1 + rng() % 64);
      for (auto& b : bytes) b = uint8_t(rng());
    } else {
      for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] ^= uint8_t(1 + rng() % 255);
    }
    peer.write(bytes);
  }  // each peer closes here
  int ended = 0;
  while (ended < kConnections) {
    std::optional<ControlEvent> e = server.next_event(20.0);
    ASSERT_TRUE(e.has_value()) << "only " << ended << " of " << kConnections << " connections ended";
    if (e->kind == Kind::kRejected || e->kind == Kind::kLeft) ++ended;
  }
  ControlClient good("127.0.0.1:" + std::to_string(port), "correct horse battery staple", "after-fuzz");
  EXPECT_EQ(expect_event(server, Kind::kJoined, "after-fuzz").worker, good.welcome().worker_index);
}

// A coordinator that shuts down says bye first (the worker then knows the run ended, not the trainer died).
TEST(ControlPlane, WorkerSeesTheTrainerGo) {
  auto server = std::make_unique<ControlServer>(options());
  auto client = std::make_unique<ControlClient>("127.0.0.1:" + std::to_string(server->port()),
                                                "correct horse battery staple", "w");
  std::thread closer([&] { server.reset(); });  // waits up to kShutdownFlushS for this worker's EOF
  wire::Decoded<wire::Message> got = client->receive();
  EXPECT_TRUE(got.ok()) << got.error;
  EXPECT_TRUE(std::holds_alternative<wire::Bye>(got.value));
  if (got.ok()) {
    EXPECT_NE(std::get<wire::Bye>(got.value).reason.find("shutting down"), std::string::npos);
  }
  got = client->receive();
  EXPECT_FALSE(got.ok());
  EXPECT_FALSE(got.error.empty());
  client.reset();  // the coordinator's destructor returns at this EOF
  closer.join();
}

// A trainer that dies (here: a raw coordinator that welcomes, then closes without a bye) is told apart from
// one that said bye.
TEST(ControlPlane, WorkerTellsALostTrainerFromABye) {
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::thread trainer([&] {
    tcp::socket socket(io);
    acceptor.accept(socket);
    uint8_t header[wire::kHeaderBytes];
    asio::read(socket, asio::buffer(header));
    wire::Decoded<wire::Header> h = wire::decode_header(header, sizeof header);
    std::vector<uint8_t> body(h.value.body_bytes);
    asio::read(socket, asio::buffer(body));
    asio::write(socket, asio::buffer(wire::encode(wire::Welcome{1, 0, 0.0})));
  });  // the socket closes here, with no bye
  ControlClient client("127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()), "x", "w");
  trainer.join();
  EXPECT_EQ(client.welcome().heartbeat_s, 0.0);
  wire::Decoded<wire::Message> got = client.receive();
  EXPECT_FALSE(got.ok());
  EXPECT_NE(got.error.find("without a bye"), std::string::npos) << got.error;
}

// Liveness: a registered peer that goes silent (a hung or SIGSTOPped worker) is dropped after
// kHeartbeatTimeoutPeriods heartbeat periods, not before; a ControlClient that never sends anything itself
// (its loop blocked in generation) stays registered on its heartbeats alone.
TEST(ControlPlane, SilentWorkerIsDroppedAndAHeartbeatingOneIsKept) {
  ControlOptions o = options();
  o.heartbeat_s = 0.2;
  const double timeout_s = kHeartbeatTimeoutPeriods * o.heartbeat_s;
  ControlServer server(o);
  const std::string address = "127.0.0.1:" + std::to_string(server.port());
  ControlClient alive(address, "correct horse battery staple", "alive");
  EXPECT_EQ(alive.welcome().heartbeat_s, 0.2);
  const uint64_t alive_id = expect_event(server, Kind::kJoined, "alive").worker;

  RawPeer hung(server.port());  // registers, then never sends another byte
  const auto registered = std::chrono::steady_clock::now();
  hung.write(wire::encode(wire::Hello{"correct horse battery staple", "hung", wire::kVersion, ""}));
  const uint64_t hung_id = expect_event(server, Kind::kJoined, "hung").worker;
  ControlEvent left = expect_event(server, Kind::kLeft, "no heartbeat for");
  const double after_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - registered).count();
  EXPECT_EQ(left.worker, hung_id);
  EXPECT_GE(after_s, timeout_s);
  // The check runs every heartbeat_s / 2; the rest is slack for a loaded 2-core machine.
  EXPECT_LT(after_s, timeout_s + 5.0);
  size_t welcome_bytes = 0;
  EXPECT_TRUE(hung.closed_after(&welcome_bytes));
  EXPECT_GT(welcome_bytes, wire::kHeaderBytes);

  // Several more timeouts: the heartbeating client is still there and nothing else happened.
  EXPECT_FALSE(server.next_event(4 * timeout_s).has_value());
  EXPECT_EQ(server.workers(), std::vector<uint64_t>{alive_id});
  EXPECT_GE(alive.heartbeats_sent(), 5);
}

TEST(ControlPlane, ClearErrorsForBadSettings) {
  auto message_of = [](auto&& f) {
    try {
      f();
    } catch (const zerorl::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message_of([] { parse_host_port("localhost", "rollout.listen"); }).find("not host:port"),
            std::string::npos);
  EXPECT_NE(message_of([] { parse_host_port("h:99999", "--trainer"); }).find("0..65535"), std::string::npos);
  ControlOptions o = options();
  o.auth_token = "";
  EXPECT_NE(message_of([&] { ControlServer s(o); }).find("empty auth token"), std::string::npos);
  o = options();
  o.listen = "not-an-ip:0";
  EXPECT_NE(message_of([&] { ControlServer s(o); }).find("rollout.listen"), std::string::npos);
  EXPECT_NE(message_of([] { load_auth_token("/nonexistent/zerorl-token"); }).find("cannot read"),
            std::string::npos);
  // Connection refused names the address: bind a port, close it, connect there.
  uint16_t dead_port = 0;
  {
    ControlServer s(options());
    dead_port = s.port();
  }
  EXPECT_NE(message_of([&] {
              ControlClient c("127.0.0.1:" + std::to_string(dead_port), "x", "w");
            }).find("cannot connect"),
            std::string::npos);
}

// A worker started before its trainer (an MPMD mpirun, a Slurm hetjob) retries a refused connection until
// the coordinator listens on that port, then registers; with a deadline that passes, the error says how long
// it tried.
TEST(ControlPlane, AWorkerStartedFirstConnectsOnceTheCoordinatorListens) {
  uint16_t port = 0;
  {
    ControlServer s(options());
    port = s.port();
  }
  const std::string address = "127.0.0.1:" + std::to_string(port);
  std::unique_ptr<ControlClient> client;
  std::string error;
  std::thread worker([&] {
    try {
      client = std::make_unique<ControlClient>(address, "correct horse battery staple", "early-worker",
                                               wire::kDefaultMaxBody, 30.0);
    } catch (const Error& e) {
      error = e.what();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // the worker's first tries are refused
  ControlOptions o = options();
  o.listen = address;
  std::unique_ptr<ControlServer> server;
  try {
    server = std::make_unique<ControlServer>(o);
  } catch (const Error& e) {
    error = e.what();  // the worker then gives up after its 30 s
  }
  const ControlEvent joined = server ? expect_event(*server, Kind::kJoined, "early-worker") : ControlEvent{};
  worker.join();
  ASSERT_TRUE(server) << error;
  ASSERT_TRUE(client) << error;
  EXPECT_EQ(client->welcome().worker_index, joined.worker);

  uint16_t dead_port = 0;
  {
    ControlServer s(options());
    dead_port = s.port();
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    ControlClient c("127.0.0.1:" + std::to_string(dead_port), "x", "w", wire::kDefaultMaxBody, 1.0);
    ADD_FAILURE() << "connected to a closed port";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("after 1 s"), std::string::npos) << e.what();
  }
  EXPECT_GE(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
}

}  // namespace
}  // namespace zerorl::dist
