// dist/control_client.cpp: blocking framed I/O for a rollout worker on one TCP connection.
// Not here: the worker's loop (rollout/worker.h), the coordinator (control_server.cpp).
#include "dist/control_client.h"

#include <boost/asio.hpp>
#include <chrono>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "dist/control_server.h"

namespace zerorl::dist {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct ControlClient::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  uint32_t max_body = wire::kDefaultMaxBody;
};

ControlClient::ControlClient(const std::string& trainer, const std::string& auth_token,
                             const std::string& worker_id, uint32_t max_body, double connect_wait_s)
    : impl_(std::make_unique<Impl>()) {
  impl_->max_body = max_body;
  const auto [host, port] = parse_host_port(trainer, "--trainer");
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  ZRL_CHECK(!ec, "--trainer {}: cannot resolve '{}': {}", trainer, host, ec.message());
  // A worker may start before its trainer listens (an MPMD mpirun, a Slurm hetjob): retry until the deadline.
  const auto start = std::chrono::steady_clock::now();
  double waited = 0;
  for (asio::connect(impl_->socket, endpoints, ec); ec && waited < connect_wait_s;
       asio::connect(impl_->socket, endpoints, ec)) {
    if (waited == 0)
      ZRL_INFO("--trainer {}: {}; retrying for up to {} s", trainer, ec.message(), connect_wait_s);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  ZRL_CHECK(!ec,
            "--trainer {}: cannot connect: {} after {:.0f} s (is `zerorl train` with rollout.mode: workers "
            "running there?)",
            trainer, ec.message(), waited);
  impl_->socket.set_option(tcp::no_delay(true), ec);
  ZRL_CHECK(send(wire::Hello{auth_token, worker_id, wire::kVersion}), "--trainer {}: connection lost",
            trainer);
  wire::Decoded<wire::Message> reply = receive();
  ZRL_CHECK(
      reply.ok(),
      "--trainer {}: the coordinator did not admit this worker ({}); check that rollout.auth_token_file "
      "holds the trainer's secret",
      trainer, reply.error);
  const auto* welcome = std::get_if<wire::Welcome>(&reply.value);
  ZRL_CHECK(welcome, "--trainer {}: expected a welcome, got {}", trainer,
            wire::type_name(wire::type_of(reply.value)));
  welcome_ = *welcome;
}

ControlClient::~ControlClient() {
  boost::system::error_code ignored;
  impl_->socket.shutdown(tcp::socket::shutdown_both, ignored);
  impl_->socket.close(ignored);
}

wire::Decoded<wire::Message> ControlClient::receive() {
  wire::Decoded<wire::Message> out;
  uint8_t header[wire::kHeaderBytes];
  boost::system::error_code ec;
  asio::read(impl_->socket, asio::buffer(header), ec);
  if (ec) {
    out.error = ec == asio::error::eof ? "the trainer closed the connection" : ec.message();
    return out;
  }
  wire::Decoded<wire::Header> head = wire::decode_header(header, sizeof header, impl_->max_body);
  if (!head.ok()) {
    out.error = "bad frame from the trainer: " + head.error;
    return out;
  }
  std::vector<uint8_t> body(head.value.body_bytes);
  asio::read(impl_->socket, asio::buffer(body), ec);
  if (ec) {
    out.error = "the trainer's connection ended mid-frame: " + ec.message();
    return out;
  }
  return wire::decode_body(head.value, body.data(), body.size());
}

bool ControlClient::send(const wire::Message& message) {
  const std::vector<uint8_t> frame = wire::encode(message, impl_->max_body);
  boost::system::error_code ec;
  asio::write(impl_->socket, asio::buffer(frame), ec);
  return !ec;
}

}  // namespace zerorl::dist
