// dist/control_client.cpp: blocking framed I/O for a rollout worker on one TCP connection.
// Not here: the worker's loop (rollout/worker.h), the coordinator (control_server.cpp).
#include "dist/control_client.h"

#include <boost/asio.hpp>

#include "core/error.h"
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
                             const std::string& worker_id, uint32_t max_body)
    : impl_(std::make_unique<Impl>()) {
  impl_->max_body = max_body;
  const auto [host, port] = parse_host_port(trainer, "--trainer");
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  ZRL_CHECK(!ec, "--trainer {}: cannot resolve '{}': {}", trainer, host, ec.message());
  asio::connect(impl_->socket, endpoints, ec);
  ZRL_CHECK(!ec, "--trainer {}: cannot connect: {} (is `zerorl train` with rollout.mode: workers running?)",
            trainer, ec.message());
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
