// dist/control_server.cpp: the coordinator's Asio sessions: registration deadline, hello check, framed reads
// with the size limit checked before allocation, a write queue per worker. Not here: scheduling (trainer/).
#include "dist/control_server.h"

#include <boost/asio.hpp>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/log.h"

namespace zerorl::dist {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::string endpoint_text(const tcp::socket& socket) {
  boost::system::error_code ec;
  const tcp::endpoint ep = socket.remote_endpoint(ec);
  return ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

// Sessions and handlers point at Impl with a raw pointer: it outlives them (its io_context destroys the
// handlers still queued), and a shared pointer would make a cycle through that queue.
struct ControlServer::Impl {
  struct Session;

  ControlOptions options;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::map<uint64_t, std::shared_ptr<Session>> sessions;  // registered; I/O thread only
  uint64_t next_id = 1;
  bool stopping = false;            // I/O thread only: the destructor is closing every connection
  asio::steady_timer liveness{io};  // checks the registered workers' last sign of life

  mutable std::mutex mutex;  // guards the fields below
  std::condition_variable cv;
  std::deque<ControlEvent> events;
  std::set<uint64_t> registered;
  uint64_t weight_version = 0;

  void push(ControlEvent event) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      events.push_back(std::move(event));
    }
    cv.notify_all();
  }
  void accept();
  void check_liveness();
};

struct ControlServer::Impl::Session : std::enable_shared_from_this<Session> {
  Session(Impl* owner, tcp::socket s)
      : impl(owner), socket(std::move(s)), timer(owner->io), peer(endpoint_text(socket)) {}

  Impl* impl;
  tcp::socket socket;
  asio::steady_timer timer;
  std::string peer;
  uint64_t id = 0;  // 0 until registered
  bool closed = false;
  bool saying_bye = false;  // shutting down: half-close once `out` is written, then wait for the peer's EOF
  std::chrono::steady_clock::time_point heard = std::chrono::steady_clock::now();  // last byte from the peer
  uint8_t header[wire::kHeaderBytes] = {};
  wire::Header head;
  std::vector<uint8_t> body;
  std::deque<std::vector<uint8_t>> out;

  void start() {
    timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(impl->options.register_timeout_s)));
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && self->id == 0) {
        self->close("no hello within " + std::to_string(self->impl->options.register_timeout_s) + " s");
      }
    });
    read_header();
  }

  void read_header() {
    asio::async_read(socket, asio::buffer(header), [self = shared_from_this()](auto ec, std::size_t) {
      if (ec) return self->close(ec == asio::error::eof ? "connection closed" : ec.message());
      self->heard = std::chrono::steady_clock::now();
      const uint32_t limit = self->id == 0 ? kHelloMaxBody : self->impl->options.max_body;
      wire::Decoded<wire::Header> h = wire::decode_header(self->header, wire::kHeaderBytes, limit);
      if (!h.ok()) return self->close("bad frame: " + h.error);
      self->head = h.value;
      self->body.assign(h.value.body_bytes, 0);  // bounded by `limit`
      self->read_body();
    });
  }

  void read_body() {
    asio::async_read(socket, asio::buffer(body), [self = shared_from_this()](auto ec, std::size_t) {
      if (ec) return self->close(ec == asio::error::eof ? "connection closed mid-frame" : ec.message());
      self->heard = std::chrono::steady_clock::now();
      wire::Decoded<wire::Message> m = wire::decode_body(self->head, self->body.data(), self->body.size());
      self->body = {};
      if (!m.ok()) return self->close("bad frame: " + m.error);
      if (self->handle(std::move(m.value))) self->read_header();
    });
  }

  // Returns whether to keep reading.
  bool handle(wire::Message message) {
    if (id == 0) return handle_hello(message);
    if (std::holds_alternative<wire::Heartbeat>(message)) return true;  // `heard` is all it carries
    if (auto* bye = std::get_if<wire::Bye>(&message)) {
      close("said bye: " + bye->reason);
      return false;
    }
    if (!std::holds_alternative<wire::Result>(message)) {
      close(std::string("unexpected ") + wire::type_name(wire::type_of(message)) + " from a worker");
      return false;
    }
    impl->push({ControlEvent::Kind::kMessage, id, peer, "", std::move(message)});
    return true;
  }

  bool handle_hello(const wire::Message& message) {
    const auto* hello = std::get_if<wire::Hello>(&message);
    if (!hello) {
      close(std::string("first frame is ") + wire::type_name(wire::type_of(message)) + ", not hello");
    } else if (hello->version != wire::kVersion) {
      close("worker speaks protocol " + std::to_string(hello->version));
    } else if (!wire::secrets_equal(impl->options.auth_token, hello->auth_token)) {
      close("wrong auth token (rollout.auth_token_file differs)");
    } else {
      timer.cancel();
      id = impl->next_id++;
      impl->sessions[id] = shared_from_this();
      uint64_t version = 0;
      {
        std::lock_guard<std::mutex> lock(impl->mutex);
        impl->registered.insert(id);
        version = impl->weight_version;
      }
      ZRL_INFO("rollout coordinator: worker {} ({}, {}) joined", id, hello->worker_id, peer);
      write(wire::encode(wire::Welcome{id, version, impl->options.heartbeat_s}));
      impl->push({ControlEvent::Kind::kJoined, id, peer, hello->worker_id, *hello});
      return true;
    }
    return false;
  }

  void write(std::vector<uint8_t> frame) {
    if (closed) return;
    out.push_back(std::move(frame));
    if (out.size() == 1) write_next();
  }

  void write_next() {
    asio::async_write(socket, asio::buffer(out.front()), [self = shared_from_this()](auto ec, std::size_t) {
      if (self->closed) return;  // the write may have completed just before close(): nothing more to send
      if (ec) return self->close("write failed: " + ec.message());
      self->out.pop_front();
      if (!self->out.empty()) return self->write_next();
      if (self->saying_bye) {
        boost::system::error_code ignored;
        self->socket.shutdown(tcp::socket::shutdown_send, ignored);
      }
    });
  }

  // The coordinator is going: a Bye after whatever is queued, then half-close; the read loop closes the
  // session at the worker's EOF (or the destructor does, after kShutdownFlushS).
  void say_bye(const std::string& reason) {
    if (closed || saying_bye) return;
    write(wire::encode(wire::Bye{reason}));
    saying_bye = true;
  }

  void close(const std::string& reason) {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    timer.cancel();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);  // `out` stays: a write in flight still points into its front frame
    if (id == 0) {
      ZRL_WARN("rollout coordinator: dropped peer {}: {}", peer, reason);
      impl->push({ControlEvent::Kind::kRejected, 0, peer, reason, {}});
      return;
    }
    if (impl->stopping) {
      ZRL_INFO("rollout coordinator: closed worker {} ({}): {}", id, peer, reason);
    } else {
      ZRL_WARN("rollout coordinator: worker {} ({}) left: {}", id, peer, reason);
    }
    impl->sessions.erase(id);
    {
      std::lock_guard<std::mutex> lock(impl->mutex);
      impl->registered.erase(id);
    }
    impl->push({ControlEvent::Kind::kLeft, id, peer, reason, {}});
  }
};

void ControlServer::Impl::check_liveness() {
  const double timeout_s = kHeartbeatTimeoutPeriods * options.heartbeat_s;
  liveness.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options.heartbeat_s / 2)));
  liveness.async_wait([self = this, timeout_s](const boost::system::error_code& ec) {
    if (ec || self->stopping) return;
    const auto now = std::chrono::steady_clock::now();
    auto sessions = self->sessions;  // close() erases from the map
    for (auto& [id, session] : sessions) {
      const double silent_s = std::chrono::duration<double>(now - session->heard).count();
      if (silent_s > timeout_s) {
        session->close(fmt::format("no heartbeat for {:.1f} s (rollout.heartbeat_s = {} s; hung or stopped?)",
                                   silent_s, self->options.heartbeat_s));
      }
    }
    self->check_liveness();
  });
}

void ControlServer::Impl::accept() {
  acceptor.async_accept([self = this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
    if (!ec) std::make_shared<Session>(self, std::move(socket))->start();
    self->accept();
  });
}

ControlServer::ControlServer(ControlOptions options) : impl_(std::make_unique<Impl>()) {
  ZRL_CHECK(!options.auth_token.empty(),
            "rollout coordinator: empty auth token (set rollout.auth_token_file)");
  impl_->options = std::move(options);
  ZRL_CHECK(impl_->options.heartbeat_s >= 0, "rollout.heartbeat_s: {} is negative (0 = off)",
            impl_->options.heartbeat_s);
  const auto [host, port] = parse_host_port(impl_->options.listen, "rollout.listen");
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  ZRL_CHECK(!ec, "rollout.listen: '{}' is not an IP address ({}); use e.g. 127.0.0.1:0 or 0.0.0.0:5555",
            impl_->options.listen, ec.message());
  const tcp::endpoint endpoint(ip, port);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  ZRL_CHECK(!ec, "rollout.listen: cannot listen on {}: {}", impl_->options.listen, ec.message());
  impl_->accept();
  if (impl_->options.heartbeat_s > 0) impl_->check_liveness();
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
  ZRL_INFO("rollout coordinator: listening on {}", this->address());
}

ControlServer::~ControlServer() {
  asio::post(impl_->io, [impl = impl_.get()] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    impl->liveness.cancel();
    impl->stopping = true;
    for (auto& [id, session] : impl->sessions) session->say_bye("the coordinator is shutting down");
  });
  {
    std::unique_lock<std::mutex> lock(impl_->mutex);  // each close() notifies (its kLeft event)
    impl_->cv.wait_for(lock, std::chrono::duration<double>(kShutdownFlushS),
                       [&] { return impl_->registered.empty(); });
  }
  asio::post(impl_->io, [impl = impl_.get()] {
    auto sessions = impl->sessions;
    for (auto& [id, session] : sessions) session->close("coordinator shutting down");
    impl->io.stop();
  });
  impl_->thread.join();
}

uint16_t ControlServer::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string ControlServer::address() const {
  const tcp::endpoint ep = impl_->acceptor.local_endpoint();
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::optional<ControlEvent> ControlServer::next_event(double timeout_s) {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  const bool any = impl_->cv.wait_for(lock, std::chrono::duration<double>(timeout_s),
                                      [&] { return !impl_->events.empty(); });
  if (!any) return std::nullopt;
  ControlEvent event = std::move(impl_->events.front());
  impl_->events.pop_front();
  return event;
}

bool ControlServer::send(uint64_t worker, const wire::Message& message) {
  return send_frame(worker, wire::encode(message, impl_->options.max_body));
}

bool ControlServer::send(uint64_t worker, const wire::Weights& weights) {
  return send_frame(worker, wire::encode(weights, impl_->options.max_body));
}

bool ControlServer::send_frame(uint64_t worker, std::vector<uint8_t> bytes) {
  auto frame = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (!impl_->registered.count(worker)) return false;
  }
  asio::post(impl_->io, [impl = impl_.get(), worker, frame] {
    auto it = impl->sessions.find(worker);
    if (it != impl->sessions.end()) it->second->write(std::move(*frame));
  });
  return true;
}

void ControlServer::drop(uint64_t worker, const std::string& reason) {
  asio::post(impl_->io, [impl = impl_.get(), worker, reason] {
    auto it = impl->sessions.find(worker);
    if (it != impl->sessions.end()) it->second->close(reason);
  });
}

std::vector<uint64_t> ControlServer::workers() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return {impl_->registered.begin(), impl_->registered.end()};
}

void ControlServer::set_weight_version(uint64_t version) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->weight_version = version;
}

std::pair<std::string, uint16_t> parse_host_port(const std::string& value, const std::string& what) {
  const size_t colon = value.rfind(':');
  ZRL_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < value.size(),
            "{}: '{}' is not host:port (e.g. 127.0.0.1:5555)", what, value);
  const std::string port_text = value.substr(colon + 1);
  ZRL_CHECK(port_text.find_first_not_of("0123456789") == std::string::npos && port_text.size() <= 5 &&
                std::stoul(port_text) <= 65535,
            "{}: port '{}' of '{}' is not a number in 0..65535", what, port_text, value);
  return {value.substr(0, colon), static_cast<uint16_t>(std::stoul(port_text))};
}

std::string load_auth_token(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ZRL_CHECK(in.good(),
            "rollout.auth_token_file: cannot read '{}' (write a secret into it, e.g. "
            "`head -c 32 /dev/urandom | base64 > {}`)",
            path, path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  ZRL_CHECK(!token.empty(), "rollout.auth_token_file: '{}' is empty", path);
  return token;
}

}  // namespace zerorl::dist
