// One HTTP/1.1 connection of weir::http::server: the request loop, request bodies, responses.
#include <weir/core/registry.hpp>
#include <weir/http/detail/connection.hpp>

#include <weir/core/cancel_scope.hpp>
#include <weir/core/detail/fork.hpp>
#include <weir/core/detail/waiter.hpp>
#include <weir/core/error.hpp>
#include <weir/core/log.hpp>
#include <weir/core/time.hpp>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <type_traits>

namespace weir::http::detail {

namespace {

std::string_view as_sv(io::transport::bytes b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

void append_status_line(std::string& out, int status) {
  if (status == 200) {
    out += "HTTP/1.1 200 OK\r\n";
    return;
  }
  char num[8];
  auto r = std::to_chars(num, num + sizeof num, status);
  out += "HTTP/1.1 ";
  out.append(num, r.ptr);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
}

void append_number(std::string& out, std::uint64_t n) {
  char num[24];
  auto r = std::to_chars(num, num + sizeof num, n);
  out.append(num, r.ptr);
}

// Rate-limited report of a handler's exception (one line per second per shard).
void report_handler_error(std::string_view route, std::string_view what) {
  thread_local std::time_t last = 0;
  thread_local unsigned suppressed = 0;
  std::time_t now = std::time(nullptr);
  if (now == last) {
    ++suppressed;
    return;
  }
  log::error(
      "http handler threw",
      {{"route", route}, {"error", what}, {"since_last_report", std::to_string(suppressed)}});
  last = now;
  suppressed = 0;
}

}  // namespace

class connection {
 public:
  connection(io::byte_stream& s, shard_state& st, std::string peer)
      : st_(st),
        opt_(st.srv.options()),
        t_(s, {.read_buffer = opt_.read_buffer,
               .read_buffer_max = opt_.limits.header_bytes + 8 * 1024,
               .write_buffer = opt_.write_buffer}),
        parser_(opt_.limits),
        peer_(std::move(peer)),
        chunked_(opt_.limits) {}

  task<void> run();

  // --- request side (see request) ---
  const request_head& head() const noexcept { return *head_; }
  std::string_view param(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < nparams_; ++i)
      if (params_[i].name == name) return params_[i].value;
    return {};
  }
  std::string_view peer() const noexcept { return peer_; }
  task<result<std::string_view>> body();
  task<result<std::string_view>> read_some();
  std::span<const std::pair<std::string, std::string>> trailers() const noexcept {
    return trailers_;
  }

  // --- response side (see response) ---
  int status_ = 200;
  void header(std::string_view name, std::string_view value);
  void content_type(std::string_view v) {
    check_not_started();
    if (!is_field_value(v))
      throw std::invalid_argument("weir::http::response: a control byte in the Content-Type");
    fields_ += "Content-Type: ";
    fields_.append(v);
    fields_ += "\r\n";
  }
  void set_body(std::string_view b) {
    check_not_started();
    body_.assign(b);
  }
  void set_body(std::string&& b) {
    check_not_started();
    body_ = std::move(b);
  }
  void content_length(std::uint64_t n) {
    check_not_started();
    length_ = n;
    has_length_ = true;
  }
  task<result<void>> write(std::string_view data);
  task<result<void>> finish();
  bool started() const noexcept { return started_; }

 private:
  template <class T>
  task<T> timed(timed_slot& slot, phase p, task<T> t);
  task<result<void>> send_response();
  bool buffer_whole_response();                  // the common case, without a coroutine
  std::string_view whole_body() const noexcept;  // what a body() response sends (none for HEAD)
  task<result<void>> send_continue();
  task<void> linger();
  void begin_request();
  void stabilize_head();
  void simple_response(int status, std::string_view text);
  void build_head(bool chunked, std::uint64_t length);
  bool next_request_buffered() const noexcept;
  void record(std::size_t route, std::chrono::steady_clock::time_point t0);
  // A failed write of a streamed response: the connection cannot be used again.
  result<void> write_failed(result<void> r) {
    keep_alive_ = false;
    finished_ = true;
    if (node_.inner.fired) ++st_.c.write_to;
    return r;
  }
  void check_not_started() const {
    if (started_) throw std::logic_error("weir::http::response: the head was already sent");
  }
  // Answers the error of a request whose framing is lost, then the connection closes.
  void fail_request(int status, std::string_view text) {
    simple_response(status, text);
    keep_alive_ = false;
  }

  shard_state& st_;
  const server_options& opt_;
  io::transport t_;
  request_parser parser_;
  conn_node node_;
  std::string peer_;

  // request
  const request_head* head_ = nullptr;
  const char* head_base_ = nullptr;  // where the head's bytes are (transport buffer or copy)
  std::size_t head_size_ = 0;
  bool head_stable_ = false;
  std::string head_copy_;
  std::optional<request_parser> stable_parser_;
  std::array<path_param, max_path_params> params_;
  std::size_t nparams_ = 0;
  std::uint64_t body_left_ = 0;  // framing::length: bytes not yet read
  bool body_done_ = true;
  int body_status_ = 0;  // a body error that decides the response (400, 408, 413)
  bool continue_sent_ = false;
  chunked_decoder chunked_;
  std::string body_buf_;
  std::vector<std::pair<std::string, std::string>> trailers_;

  // response
  std::string fields_, body_, out_;
  bool has_length_ = false, started_ = false, chunked_out_ = false, finished_ = false;
  bool keep_alive_ = true;
  std::uint64_t length_ = 0, body_sent_ = 0;
};

// --- timed phases ---------------------------------------------------------------------------

template <class T>
task<T> connection::timed(timed_slot& slot, phase p, task<T> t) {
  cancel_scope scope;  // the sweep cancels it when the phase's time is up
  co_await scope.enter();
  st_.arm(slot, scope.state(), p);
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> out;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      out.emplace(true);
    } else {
      out.emplace(co_await std::move(t));
    }
  } catch (...) {
    error = std::current_exception();
  }
  st_.disarm(slot);
  co_await scope.leave();
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*out);
}

// --- request --------------------------------------------------------------------------------

void connection::begin_request() {
  head_stable_ = false;
  nparams_ = 0;
  body_status_ = 0;
  continue_sent_ = false;
  trailers_.clear();
  const request_head& h = *head_;
  body_done_ = h.body == framing::none;
  body_left_ = h.body == framing::length ? h.content_length : 0;
  if (h.body == framing::chunked) chunked_.reset();
  status_ = 200;
  fields_.clear();
  body_.clear();
  has_length_ = started_ = chunked_out_ = finished_ = false;
  length_ = body_sent_ = 0;
  keep_alive_ = h.keep_alive;
}

// Before the first read of the transport during a request, the head's bytes move out of its
// buffer (a read may compact or grow it); the head is parsed again over the copy.
void connection::stabilize_head() {
  if (head_stable_) return;
  head_stable_ = true;
  head_copy_.assign(head_base_, head_size_);
  if (!stable_parser_) stable_parser_.emplace(opt_.limits);
  stable_parser_->reset();
  stable_parser_->parse(head_copy_);
  for (std::size_t i = 0; i < nparams_; ++i) {
    auto& v = params_[i].value;
    v = {head_copy_.data() + (v.data() - head_base_), v.size()};
  }
  head_base_ = head_copy_.data();
  head_ = &stable_parser_->head();
}

task<result<void>> connection::send_continue() {
  continue_sent_ = true;
  if (!t_.try_write(std::string_view("HTTP/1.1 100 Continue\r\n\r\n")))
    co_return unexpected(make_error_code(errc::limit_exceeded));
  co_return co_await t_.flush();
}

task<result<std::string_view>> connection::read_some() {
  const request_head& h = *head_;
  if (body_done_) co_return std::string_view{};
  if (h.expect_continue && !continue_sent_ && !started_ && h.version_minor == 1) {
    WEIR_CO_TRY(co_await timed(node_.inner, phase::write, send_continue()));
  }
  for (;;) {
    auto buf = as_sv(t_.buffered());
    if (h.body == framing::length) {
      if (!buf.empty()) {
        std::size_t n = buf.size() < body_left_ ? buf.size() : std::size_t(body_left_);
        body_left_ -= n;
        body_done_ = body_left_ == 0;
        t_.consume(n);
        co_return buf.substr(0, n);
      }
    } else {
      auto s = chunked_.decode(buf);
      switch (s.kind) {
        case chunk_event::data: t_.consume(s.consumed); co_return s.data;
        case chunk_event::trailer:
          trailers_.emplace_back(std::string(s.field.name), std::string(s.field.value));
          t_.consume(s.consumed);
          continue;
        case chunk_event::done:
          t_.consume(s.consumed);
          body_done_ = true;
          co_return std::string_view{};
        case chunk_event::error:
          body_status_ = chunked_.error().status;
          co_return unexpected(body_status_ == 413 ? make_error_code(errc::limit_exceeded)
                                                   : std::make_error_code(std::errc::bad_message));
        case chunk_event::more: t_.consume(s.consumed); break;
      }
    }
    // Needs more bytes from the peer.
    stabilize_head();
    const std::size_t have = t_.buffered().size();
    auto r = co_await timed(node_.inner, phase::body, t_.fill(have + 1));
    if (!r) {
      if (r.error() == errc::timed_out && node_.inner.fired) {
        ++st_.c.body_to;
        body_status_ = 408;
      }
      keep_alive_ = false;
      co_return unexpected(r.error());
    }
    if (r->size() <= have) {  // the peer closed in the middle of the body
      keep_alive_ = false;
      co_return unexpected(make_error_code(errc::truncated));
    }
  }
}

task<result<std::string_view>> connection::body() {
  const request_head& h = *head_;
  if (h.body == framing::none) co_return std::string_view{};
  // The whole body already buffered: a view, no copy.
  if (h.body == framing::length && !body_done_ && body_left_ == h.content_length &&
      t_.buffered().size() >= body_left_) {
    auto r = co_await read_some();
    co_return r;
  }
  body_buf_.clear();
  for (;;) {
    auto r = co_await read_some();
    if (!r) co_return r;
    if (r->empty()) break;
    body_buf_.append(*r);
  }
  co_return std::string_view(body_buf_);
}

// --- response -------------------------------------------------------------------------------

[[noreturn]] void reserved_field(std::string_view name) {
  throw std::invalid_argument("weir::http::response: " + std::string(name) +
                              " is set by the server (use body() or content_length())");
}

void connection::header(std::string_view name, std::string_view value) {
  check_not_started();
  if (!is_token(name))
    throw std::invalid_argument("weir::http::response: invalid field name \"" + std::string(name) +
                                "\"");
  if (!is_field_value(value))
    throw std::invalid_argument(
        "weir::http::response: a control byte (CR, LF, NUL, ...) in the "
        "value of " +
        std::string(name));
  switch (name.size()) {
    case 4:
      if (iequals(name, "date")) reserved_field(name);
      break;
    case 10:
      if (iequals(name, "connection")) {
        if (iequals(value, "close")) keep_alive_ = false;
        return;
      }
      break;
    case 14:
      if (iequals(name, "content-length")) reserved_field(name);
      break;
    case 17:
      if (iequals(name, "transfer-encoding")) reserved_field(name);
      break;
  }
  fields_.append(name);
  fields_ += ": ";
  fields_.append(value);
  fields_ += "\r\n";
}

void connection::simple_response(int status, std::string_view text) {
  status_ = status;
  fields_.clear();
  fields_ += "Content-Type: text/plain; charset=utf-8\r\n";
  body_.assign(text);
  body_ += '\n';
}

void connection::build_head(bool chunked, std::uint64_t length) {
  if (st_.draining) keep_alive_ = false;
  out_.clear();
  append_status_line(out_, status_);
  out_ += st_.date_field();  // with the Server field
  const bool no_body = status_ < 200 || status_ == 204 || status_ == 304;
  if (chunked) {
    out_ += "Transfer-Encoding: chunked\r\n";
  } else if (!no_body && (has_length_ || !started_)) {
    out_ += "Content-Length: ";
    append_number(out_, length);
    out_ += "\r\n";
  }
  out_ += fields_;
  if (status_ == 503 && opt_.retry_after_seconds) {
    out_ += "Retry-After: ";
    append_number(out_, opt_.retry_after_seconds);
    out_ += "\r\n";
  }
  if (!keep_alive_)
    out_ += "Connection: close\r\n";
  else if (head_->version_minor == 0)
    out_ += "Connection: keep-alive\r\n";
  out_ += "\r\n";
}

task<result<void>> connection::write(std::string_view data) {
  const bool head_only = head_->verb == method::head;
  if (!started_) {
    started_ = true;
    chunked_out_ = !has_length_ && head_->version_minor == 1;
    if (!has_length_ && !chunked_out_) keep_alive_ = false;  // HTTP/1.0: the body ends at close
    build_head(chunked_out_, length_);
    auto h = co_await timed(node_.inner, phase::write, t_.write(std::string_view(out_)));
    if (!h) co_return write_failed(h);
  }
  if (has_length_ && body_sent_ + data.size() > length_)
    throw std::logic_error("weir::http::response::write: more bytes than content_length()");
  body_sent_ += data.size();
  if (head_only || data.empty()) co_return result<void>{};
  if (chunked_out_) {
    char size[24];
    auto e = std::to_chars(size, size + 20, data.size(), 16);
    *e.ptr++ = '\r';
    *e.ptr++ = '\n';
    const std::string_view crlf("\r\n");
    std::array<io::transport::bytes, 3> parts = {
        io::transport::bytes(reinterpret_cast<const std::byte*>(size), std::size_t(e.ptr - size)),
        io::transport::bytes(reinterpret_cast<const std::byte*>(data.data()), data.size()),
        io::transport::bytes(reinterpret_cast<const std::byte*>(crlf.data()), crlf.size())};
    auto r = co_await timed(node_.inner, phase::write, t_.write_gather(parts));
    if (!r) co_return write_failed(r);
  } else {
    auto r = co_await timed(node_.inner, phase::write, t_.write(data));
    if (!r) co_return write_failed(r);
  }
  auto r = co_await timed(node_.inner, phase::write, t_.flush());
  if (!r) co_return write_failed(r);
  co_return r;
}

task<result<void>> connection::finish() {
  if (finished_) co_return result<void>{};
  if (!started_) {
    has_length_ = true;
    length_ = 0;
    auto r = co_await write({});
    if (!r) co_return r;
  }
  finished_ = true;
  if (has_length_ && body_sent_ < length_) {  // the handler promised more than it sent
    keep_alive_ = false;
    co_return unexpected(make_error_code(errc::truncated));
  }
  if (chunked_out_ && head_->verb != method::head) {
    if (!t_.try_write(std::string_view("0\r\n\r\n"))) {
      auto r = co_await timed(node_.inner, phase::write, t_.write(std::string_view("0\r\n\r\n")));
      if (!r) co_return r;
    }
  }
  co_return result<void>{};
}

std::string_view connection::whole_body() const noexcept {
  const bool none =
      head_->verb == method::head || status_ < 200 || status_ == 204 || status_ == 304;
  return none ? std::string_view{} : std::string_view(body_);
}

bool connection::buffer_whole_response() {
  if (started_) return false;
  const std::string_view b = whole_body();
  build_head(false, body_.size());
  if (t_.write_buffered() + out_.size() + b.size() > opt_.write_buffer) return false;
  (void)t_.try_write(std::string_view(out_));  // both fit: checked above
  (void)t_.try_write(b);
  started_ = finished_ = true;
  return true;
}

// Puts the whole response (head and body given with body()) into the transport, or ends a
// streamed one, then writes it unless the next request is already buffered (pipelining: the
// answers leave together).
task<result<void>> connection::send_response() {
  if (!started_) {
    const std::string_view b = whole_body();
    build_head(false, body_.size());
    started_ = finished_ = true;
    // Copied into the write buffer when it fits, else one gathering write.
    std::array<io::transport::bytes, 2> parts = {
        io::transport::bytes(reinterpret_cast<const std::byte*>(out_.data()), out_.size()),
        io::transport::bytes(reinterpret_cast<const std::byte*>(b.data()), b.size())};
    auto r = co_await t_.write_gather(parts);
    if (!r) co_return r;
  } else if (!finished_) {
    auto r = co_await finish();
    if (!r) co_return r;
  }
  if (keep_alive_ && next_request_buffered()) co_return result<void>{};
  co_return co_await t_.flush();
}

bool connection::next_request_buffered() const noexcept {
  auto b = as_sv(t_.buffered());
  return b.size() >= 4 && b.find("\r\n\r\n") != std::string_view::npos;
}

void connection::record(std::size_t route, std::chrono::steady_clock::time_point t0) {
  ++st_.c.requests;
  if (status_ >= 500) ++st_.c.r5xx;
  std::chrono::nanoseconds took{0};
  if (opt_.route_metrics || opt_.access_log) took = std::chrono::steady_clock::now() - t0;
  if (opt_.route_metrics && route < st_.routes.size()) {
    route_meter& m = st_.routes[route];
    m.latency.observe(took);
    if (const unsigned cls = static_cast<unsigned>(status_ / 100 - 2); cls < 4)
      m.responses.inc(cls);
  }
  if (opt_.access_log) {
    access_record a;
    a.peer = peer_;
    a.method = head_->method_name;
    a.target = head_->target;
    a.status = status_;
    a.body_bytes = started_ && !has_length_ && chunked_out_ ? body_sent_
                   : has_length_                            ? length_
                                                            : body_.size();
    a.duration = took;
    a.version_minor = head_->version_minor;
    opt_.access_log(a);
  }
}

// After the last response: half-close, then read and drop what the peer still sends for a
// moment, so that its unread requests do not make the kernel reset the connection before the
// peer has read the response (RFC 9112 §9.6, "lingering close").
task<void> connection::linger() {
  if (auto r = co_await with_timeout(std::chrono::seconds(1), t_.shutdown_write()); !r) co_return;
  std::size_t dropped = 0;
  while (dropped < 256 * 1024) {
    t_.consume(t_.buffered().size());
    auto r = co_await with_timeout(std::chrono::milliseconds(500), t_.read_some());
    if (!r || r->empty()) co_return;
    dropped += r->size();
  }
}

task<void> connection::run() {
  st_.conn_started(node_);
#if WEIR_REGISTRY
  // The task's context in dumps and `weir top`: who asked (here, once) for what (each request,
  // below). Seed 002 grepped logs for socket addresses to find its hung requests.
  weir::set_task_context(peer_);
#endif
  bool linger_needed = false;
  for (;;) {
    // --- the next request's head ---------------------------------------------------------
    parser_.reset();
    if (t_.buffered().empty()) {
      // Draining: the last answer allowed another request (or this connection was just taken
      // from the backlog), so one may be on its way: wait for it the idle grace (the sweep
      // closes the connection then) rather than close now and have the kernel reset it.
      cancel_scope ps;  // the sweep cancels it when the phase is over time
      co_await ps.enter();
      st_.arm(node_.outer, ps.state(), phase::idle);
      auto r = co_await t_.fill(1);
      st_.disarm(node_.outer);
      co_await ps.leave();
      if (!r || r->empty()) {
        if (node_.outer.fired)
          ++st_.c.idle_to;
        else if (st_.draining)
          ++st_.c.drained;
        break;
      }
    }
    parse_status ps = parser_.parse(as_sv(t_.buffered()));
    bool header_timeout = false;
    while (ps == parse_status::more) {
      const std::size_t have = t_.buffered().size();
      auto r = co_await timed(node_.outer, phase::header, t_.fill(have + 1));
      if (!r) {
        header_timeout = node_.outer.fired;
        break;
      }
      if (r->size() <= have) break;  // closed in the middle of a head
      ps = parser_.parse(as_sv(t_.buffered()));
    }
    if (ps == parse_status::more) {
      if (!header_timeout) break;
      ++st_.c.header_to;
      head_ = &parser_.head();  // an empty head: HTTP/1.1 defaults for the answer
      begin_request();
      fail_request(408, "request header timeout");
      linger_needed = true;
      (void)co_await timed(node_.outer, phase::write, send_response());
      break;
    }
    head_ = &parser_.head();
    head_base_ = reinterpret_cast<const char*>(t_.buffered().data());
    head_size_ = parser_.head_size();
    if (ps == parse_status::error) {
      ++st_.c.bad;
      begin_request();
      fail_request(parser_.error().status, parser_.error().reason);
      linger_needed = true;
      (void)co_await timed(node_.outer, phase::write, send_response());
      break;
    }
    t_.consume(head_size_);
    begin_request();
#if WEIR_REGISTRY
    // Copied into the task's record as they are; "peer METHOD target" is made only for a dump.
    weir::set_task_context_detail(to_string(head_->verb), head_->target);
#endif
    const auto t0 = opt_.route_metrics || opt_.access_log ? std::chrono::steady_clock::now()
                                                          : std::chrono::steady_clock::time_point{};

    // --- route and handle ----------------------------------------------------------------
    auto m = st_.srv.routes().find(head_->verb, head_->path, params_);
    nparams_ = m.param_count;
    if (m.status == 404) {
      simple_response(404, "not found");
    } else if (m.status == 405) {
      simple_response(405, "method not allowed");
      header("Allow", m.allow);
    } else if (st_.inflight >= opt_.max_inflight) {
      ++st_.c.overloaded;
      simple_response(503, "overloaded, retry later");
    } else {
      request req(this);
      response res(this);
      ++st_.inflight;
      bool threw = false;
      {
        cancel_scope ps;  // the sweep cancels it when the phase is over time
        co_await ps.enter();
        st_.arm(node_.outer, ps.state(), phase::handler);
        try {
          co_await (*m.fn)(req, res);
        } catch (const std::exception& e) {
          threw = true;
          report_handler_error(st_.srv.routes().route_name(m.route), e.what());
        } catch (...) {
          threw = true;
          report_handler_error(st_.srv.routes().route_name(m.route), "unknown exception");
        }
        st_.disarm(node_.outer);
        co_await ps.leave();
      }
      --st_.inflight;
      if (node_.killed) {
        if (!started_) simple_response(503, "server shutting down");
        keep_alive_ = false;
        finished_ = true;
      } else if (node_.outer.fired) {
        ++st_.c.handler_to;
        if (!started_) {
          simple_response(opt_.handler_timeout_status, "handler timed out");
          keep_alive_ = false;
        } else {
          keep_alive_ = false;
          finished_ = true;  // a streamed body cut short: the peer sees the connection close
        }
      } else if (threw) {
        ++st_.c.handler_err;
        if (!started_)
          simple_response(500, "internal server error");
        else
          finished_ = true, keep_alive_ = false;
      }
      if (body_status_ && !started_)
        fail_request(body_status_, body_status_ == 408   ? "request body timeout"
                                   : body_status_ == 413 ? "request body too large"
                                                         : "malformed request body");
    }

    // --- what is left of the request body ---------------------------------------------------
    // Up to 64 KiB are read and dropped to keep the connection; past that, or when the
    // client waits for a 100 Continue it did not get, the connection closes after the answer.
    if (!body_done_) {
      constexpr std::size_t max_drain = 64 * 1024;
      const bool unsent_continue = head_->expect_continue && !continue_sent_;
      if (unsent_continue || body_status_ ||
          (head_->body == framing::length && body_left_ > max_drain)) {
        keep_alive_ = false;
        linger_needed = !unsent_continue;
      } else {
        std::size_t drained = 0;
        while (!body_done_ && drained <= max_drain) {
          auto r = co_await read_some();
          if (!r) break;
          drained += r->size();
        }
        if (!body_done_) {
          keep_alive_ = false;
          linger_needed = true;
        }
      }
    }

    // --- answer -------------------------------------------------------------------------------
    result<void> w;
    {
      cancel_scope ps;  // the sweep cancels it when the phase is over time
      co_await ps.enter();
      st_.arm(node_.outer, ps.state(), phase::write);
      if (!buffer_whole_response())
        w = co_await send_response();
      else if (!keep_alive_ || !next_request_buffered())
        w = co_await t_.flush();
      st_.disarm(node_.outer);
      co_await ps.leave();
    }
    record(m.route, t0);
    if (!w) {
      if (node_.outer.fired) ++st_.c.write_to;
      break;
    }
    if (!keep_alive_) {
      linger_needed = true;
      break;
    }
  }
  if (linger_needed) co_await linger();
  st_.conn_ended(node_);
}

task<void> serve_stream(io::byte_stream& s, shard_state& st, std::string peer) {
  connection c(s, st, std::move(peer));
  co_await c.run();
}

}  // namespace weir::http::detail

namespace weir::http {

using detail::connection;

const request_head& request::head() const noexcept { return c_->head(); }
std::string_view request::param(std::string_view name) const noexcept { return c_->param(name); }
std::string_view request::query_param(std::string_view name, std::string_view fallback) const {
  std::string_view v;
  return http::query_param(query(), name, v) ? v : fallback;
}
std::string_view request::peer() const noexcept { return c_->peer(); }
task<result<std::string_view>> request::body() { return c_->body(); }
task<result<std::string_view>> request::read_some() { return c_->read_some(); }
std::span<const std::pair<std::string, std::string>> request::trailers() const noexcept {
  return c_->trailers();
}

void response::status(int code) noexcept { c_->status_ = code; }
int response::status() const noexcept { return c_->status_; }
void response::header(std::string_view name, std::string_view value) { c_->header(name, value); }
void response::content_type(std::string_view v) { c_->content_type(v); }
void response::body(std::string_view data) { c_->set_body(data); }
void response::body(std::string&& data) { c_->set_body(std::move(data)); }
void response::content_length(std::uint64_t n) { c_->content_length(n); }
task<result<void>> response::write(std::string_view data) { return c_->write(data); }
task<result<void>> response::finish() { return c_->finish(); }
bool response::started() const noexcept { return c_->started(); }

}  // namespace weir::http
