// tests/dist/test_control.cpp: the rollout coordinator and worker client over real sockets on 127.0.0.1 (the
// test opens every listener): admission, message flow, and bad peers dropped while the coordinator keeps
// serving. Not here: the byte format (test_wire.cpp).
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <random>

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
  worker.write(wire::encode(wire::Hello{"correct horse battery staple", "raw", wire::kVersion}));
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
      wire::encode(wire::Hello{"correct horse battery staple", "fuzz", wire::kVersion});
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

TEST(ControlPlane, WorkerSeesTheTrainerGo) {
  auto server = std::make_unique<ControlServer>(options());
  ControlClient client("127.0.0.1:" + std::to_string(server->port()), "correct horse battery staple", "w");
  server.reset();
  wire::Decoded<wire::Message> got = client.receive();
  EXPECT_FALSE(got.ok());
  EXPECT_FALSE(got.error.empty());
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

}  // namespace
}  // namespace zerorl::dist
