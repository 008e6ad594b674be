// logship's inputs: TCP and TLS streams (framing.hpp per connection), UDP and Unix datagram
// sockets, each feeding the pipeline.
//
//   auto in = logship::inputs::bind(specs, limits, pipeline);   // errors name the input
//   auto running = weir::spawn(in->run(), "inputs");
//   ...
//   in->stop();                      // SIGTERM: stop accepting, read what was sent, close
//   co_await running;                // every connection closed, every frame in the pipeline
//
// Each connection is a task whose registry context is "INPUT PEER" (weir top and /debug/tasks
// show what it waits on: the socket, or the memory budget when the pipeline is full). A stream
// connection reads only when the pipeline took its last batch, so a full memory budget stops
// the reading and the kernel's window pushes back on the sender. Datagrams cannot be pushed
// back: over the budget they are dropped and counted; the kernel's own drops (SO_RXQ_OVFL) are
// counted too.
// Limits: max_message (longer frames are cut and flagged truncated), max_connections (per
// stream input: more are closed at once, counted), idle_timeout (a connection silent that long
// is closed).
// TLS certificates are read again by reload_tls() (SIGHUP): new connections use the new ones,
// open ones keep theirs.
//
// Thread safety: one shard.
#pragma once

#include "framing.hpp"
#include "pipeline.hpp"

#include <weir/core/result.hpp>
#include <weir/core/task.hpp>
#include <weir/core/time.hpp>

#include <memory>
#include <string>
#include <vector>

namespace logship {

struct input_spec {
  enum class kind_t : std::uint8_t { tcp, tls, udp, unix_datagram } kind = kind_t::tcp;
  std::string address;  // "127.0.0.1:5140"; a path for unix_datagram
  logship::framing framing = logship::framing::detect;
  // TLS
  std::string cert_file, key_file, client_ca_file;
  bool require_client_cert = false;
};
const char* kind_name(input_spec::kind_t k) noexcept;

struct input_limits {
  std::size_t max_message = 64 * 1024;
  std::size_t max_connections = 10000;  // per stream input
  weir::clock::duration idle_timeout = std::chrono::minutes(10);
  std::size_t batch_records = 256;  // records per shipment
};

class inputs {
 public:
  static weir::result<std::unique_ptr<inputs>> bind(const std::vector<input_spec>& specs,
                                                    input_limits limits, pipeline& p);
  ~inputs();
  // "tcp 127.0.0.1:5140" for each input, with the port bound.
  std::vector<std::string> names() const;
  weir::task<void> run();
  void stop() noexcept;
  // Reads every TLS input's certificate files again; an error leaves that input's old ones.
  weir::result<void> reload_tls();

  struct state;

 private:
  explicit inputs(std::unique_ptr<state> s) noexcept;
  std::unique_ptr<state> s_;
};

}  // namespace logship
