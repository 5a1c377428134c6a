// dist/control_client.cpp: blocking framed I/O for a rollout worker on one TCP connection.
// Not here: the worker's loop (rollout/worker.h), the coordinator (control_server.cpp).
#include "dist/control_client.h"

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
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
  std::mutex write_mutex;  // send() and the heartbeat thread write whole frames, one at a time
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stop = false;  // guarded by stop_mutex
  std::atomic<int64_t> heartbeats{0};
  std::thread heartbeat;

  bool write(const std::vector<uint8_t>& frame) {
    std::lock_guard<std::mutex> lock(write_mutex);
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(frame), ec);
    return !ec;
  }

  // Until stopped or a write fails (the connection is gone: receive() will say so).
  void beat(double period_s) {
    std::unique_lock<std::mutex> lock(stop_mutex);
    for (uint64_t sequence = 1;; ++sequence) {
      if (stop_cv.wait_for(lock, std::chrono::duration<double>(period_s), [&] { return stop; })) return;
      lock.unlock();
      const bool ok = write(wire::encode(wire::Heartbeat{sequence}, max_body));
      lock.lock();
      if (!ok) return;
      ++heartbeats;
    }
  }
};

ControlClient::ControlClient(const std::string& trainer, const std::string& auth_token,
                             const std::string& worker_id, uint32_t max_body, double connect_wait_s,
                             const std::string& cuda_ipc)
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
  ZRL_CHECK(send(wire::Hello{auth_token, worker_id, wire::kVersion, cuda_ipc}),
            "--trainer {}: connection lost", trainer);
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
  if (welcome_.heartbeat_s > 0) {
    impl_->heartbeat =
        std::thread([impl = impl_.get(), period = welcome_.heartbeat_s] { impl->beat(period); });
  }
}

ControlClient::~ControlClient() {
  {
    std::lock_guard<std::mutex> lock(impl_->stop_mutex);
    impl_->stop = true;
  }
  impl_->stop_cv.notify_all();
  boost::system::error_code ignored;
  // Shutting the socket down also ends a heartbeat write blocked on a full send buffer.
  impl_->socket.shutdown(tcp::socket::shutdown_both, ignored);
  if (impl_->heartbeat.joinable()) impl_->heartbeat.join();
  impl_->socket.close(ignored);
}

int64_t ControlClient::heartbeats_sent() const { return impl_->heartbeats; }

wire::Decoded<wire::Message> ControlClient::receive() {
  wire::Decoded<wire::Message> out;
  uint8_t header[wire::kHeaderBytes];
  boost::system::error_code ec;
  asio::read(impl_->socket, asio::buffer(header), ec);
  if (ec) {
    out.error = ec == asio::error::eof ? "the trainer closed the connection without a bye" : ec.message();
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

bool ControlClient::message_waiting() {
  boost::system::error_code ec;
  const size_t bytes = impl_->socket.available(ec);
  return !ec && bytes > 0;
}

bool ControlClient::send(const wire::Message& message) {
  return impl_->write(wire::encode(message, impl_->max_body));
}

}  // namespace zerorl::dist
