#include "layers.hpp"

#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>

#include <cstdio>

namespace netstack {

using weir::result;
using weir::task;
using weir::unexpected;
using namespace std::chrono_literals;

void counters::write(weir::metrics::prometheus_writer& w) const {
  using weir::metrics::family;
  using weir::metrics::type;
  static const family sent{"netstack_tx_sent_total", "Sends that completed, by layer"};
  static const family waited{"netstack_tx_waited_total",
                             "Sends that suspended because something below was full, by layer"};
  static const family errors{"netstack_tx_errors_total",
                             "Sends that returned an error to their caller (no route, no ARP "
                             "answer, too big), by layer"};
  static const family in_send{"netstack_tx_in_progress", "Sends in progress, by layer",
                              type::gauge};
  const std::pair<const char*, const tx_stats*> layers[] = {{"socket", &socket},
                                                            {"udp", &udp},
                                                            {"ipv4", &ipv4},
                                                            {"ethernet", &ethernet},
                                                            {"link", &link}};
  for (auto [name, s] : layers) {
    w.write(sent, {{"layer", name}}, s->sent);
    w.write(waited, {{"layer", name}}, s->waited);
    w.write(errors, {{"layer", name}}, s->errors);
    w.write(in_send, {{"layer", name}}, s->in_send);
  }
  static const family rx{"netstack_rx_total", "Received frames and packets taken, by layer"};
  w.write(rx, {{"layer", "link"}}, rx_frames);
  w.write(rx, {{"layer", "arp"}}, rx_arp);
  w.write(rx, {{"layer", "ipv4"}}, rx_ipv4);
  w.write(rx, {{"layer", "icmp"}}, rx_icmp);
  w.write(rx, {{"layer", "udp"}}, rx_udp);
  static const family dropped{"netstack_dropped_total",
                              "Received frames not taken, by layer and reason (the send path "
                              "drops nothing)"};
  w.declare(dropped);
  for (std::size_t i = 1; i < drop_count; ++i)
    w.write(dropped,
            {{"layer", drop_layer(static_cast<drop>(i))},
             {"reason", drop_reason(static_cast<drop>(i))}},
            drops[i]);
  static const family arp_f{"netstack_arp_total", "ARP events"};
  w.write(arp_f, {{"event", "request_sent"}}, arp_requests_sent);
  w.write(arp_f, {{"event", "reply_sent"}}, arp_replies_sent);
  w.write(arp_f, {{"event", "resolved"}}, arp_resolved);
  w.write(arp_f, {{"event", "failed"}}, arp_failed);
  static const family echo{"netstack_icmp_echo_replies_total", "ICMP echo replies sent"};
  w.write(echo, {}, icmp_echo_replies);
}

// ---- Ethernet ---------------------------------------------------------------------------------

task<result<void>> ethernet::send(packet& p, const mac& dst, std::uint16_t type) {
  counting k(c_.ethernet, p);
  write_eth(p.prepend(eth_header_size), dst, self_, type);
  auto r = co_await link_.send_frame(p);
  k.done(r.has_value());
  co_return r;
}

void ethernet::receive(bytes frame) noexcept {
  ++c_.rx_frames;
  eth_view e;
  if (drop d = parse_eth(frame, e); d != drop::none) return c_.count(d);
  if (e.dst != self_ && !e.dst.is_broadcast()) return c_.count(drop::eth_not_for_us);
  if (e.type == ethertype_ipv4) {
    if (ip_) ip_->receive(e.payload);
  } else if (e.type == ethertype_arp) {
    arp_view a;
    if (drop d = parse_arp(e.payload, a); d != drop::none) return c_.count(d);
    ++c_.rx_arp;
    if (arp_) arp_->receive(a);
  } else {
    c_.count(drop::eth_ethertype);
  }
}

// ---- ARP --------------------------------------------------------------------------------------

arp::arp(l2_tx& l2, mac self_mac, ipv4 self_ip, counters& c, arp_options o)
    : l2_(l2), self_mac_(self_mac), self_ip_(self_ip), c_(c), o_(o) {
  pending_.reserve(o_.max_pending);
  for (std::size_t i = 0; i < o_.max_pending; ++i) pending_.push_back(std::make_unique<pending>());
  std::snprintf(slot_label_, sizeof slot_label_, "arp pending table full, %zu destinations",
                o_.max_pending);
  slot_freed_.set_label(slot_label_);
  replies_.reserve(o_.reply_queue);
}

arp::~arp() = default;

void arp::learn(ipv4 ip, const mac& m) noexcept {
  table_[ip.v] = {m, std::chrono::steady_clock::now() + o_.entry_ttl};
  for (auto& s : pending_)
    if (s->waiters && s->ip == ip) s->answered.notify_all();
}

void arp::receive(const arp_view& v) noexcept {
  // RFC 826: merge the sender when known; add it when the packet is for us.
  const bool for_us = v.tpa == self_ip_;
  if (v.spa.v != 0 && (for_us || table_.contains(v.spa.v))) learn(v.spa, v.sha);
  if (v.op == 1 && for_us) {
    if (replies_.size() >= o_.reply_queue) return c_.count(drop::arp_reply_queue_full);
    replies_.push_back({v.sha, v.spa});
    replies_ready_.notify_one();
  }
}

void arp::expire() noexcept {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(table_, [now](const auto& kv) { return kv.second.expires <= now; });
}

task<result<mac>> arp::resolve(ipv4 ip, packet& p) {
  p.waited = true;
  pending* slot = nullptr;
  for (;;) {
    for (auto& s : pending_)
      if (s->waiters && s->ip == ip) slot = s.get();
    if (!slot)
      for (auto& s : pending_)
        if (!s->waiters) {
          slot = s.get();
          slot->ip = ip;
          std::snprintf(slot->label, sizeof slot->label, "arp resolve %s", ip.to_string().c_str());
          slot->answered.set_label(slot->label);
          break;
        }
    if (slot) break;
    auto freed = co_await slot_freed_.notified();
    if (!freed) co_return unexpected(freed.error());
  }
  const bool leader = slot->waiters++ == 0;
  std::error_code failure;
  packet req;
  for (int attempt = 0; attempt < o_.attempts && !lookup(ip); ++attempt) {
    if (leader) {
      write_arp(req.payload(), 1, self_mac_, self_ip_, mac{}, ip);
      std::memset(req.payload() + arp_size, 0, 46 - arp_size);  // Ethernet's minimum payload
      req.set_payload(46);
      auto sent = co_await l2_.send(req, mac::broadcast(), ethertype_arp);
      if (!sent) {
        failure = sent.error();
        break;
      }
      ++c_.arp_requests_sent;
    }
    auto a = co_await weir::with_timeout(o_.retry_interval, slot->answered.notified());
    if (!a && a.error() != weir::errc::timed_out) {
      failure = a.error();
      break;
    }
  }
  if (--slot->waiters == 0) slot_freed_.notify_one();
  if (const mac* m = lookup(ip)) {
    if (leader) ++c_.arp_resolved;
    co_return *m;
  }
  if (failure) co_return unexpected(failure);
  if (leader) ++c_.arp_failed;
  co_return unexpected(weir::error(std::make_error_code(std::errc::host_unreachable),
                                   "no ARP answer from " + ip.to_string()));
}

task<> arp::run() {
  for (;;) {
    while (!replies_.empty()) {
      const reply r = replies_.front();
      replies_.erase(replies_.begin());
      write_arp(out_.payload(), 2, self_mac_, self_ip_, r.to, r.ip);
      std::memset(out_.payload() + arp_size, 0, 46 - arp_size);
      out_.set_payload(46);
      auto sent = co_await l2_.send(out_, r.to, ethertype_arp);
      if (!sent) co_return;  // the link is gone
      ++c_.arp_replies_sent;
    }
    expire();
    auto woken = co_await weir::with_timeout(1s, replies_ready_.notified());
    if (!woken && woken.error() != weir::errc::timed_out) co_return;
  }
}

// ---- IPv4 -------------------------------------------------------------------------------------

task<result<void>> ipv4_layer::send(packet& p, ipv4 dst, std::uint8_t proto) {
  counting k(c_.ipv4, p);
  if (p.len > mtu - ipv4_header_size) {
    k.done(false);
    co_return unexpected(weir::error(std::make_error_code(std::errc::message_size),
                                     "an IPv4 packet over the MTU (we never fragment)"));
  }
  mac to;
  if (dst == net_.addr) {
    to = self_mac_;
  } else if (dst == net_.broadcast() || dst.v == 0xffffffff) {
    to = mac::broadcast();
  } else {
    const ipv4 hop = net_.contains(dst) ? dst : gateway_;
    if (hop.v == 0) {
      k.done(false);
      co_return unexpected(weir::error(std::make_error_code(std::errc::network_unreachable),
                                       "no route to " + dst.to_string()));
    }
    if (const mac* m = arp_.lookup(hop)) {
      to = *m;
    } else {
      auto r = co_await arp_.resolve(hop, p);
      if (!r) {
        k.done(false);
        co_return unexpected(r.error());
      }
      to = *r;
    }
  }
  const std::size_t n = p.len;  // (before prepend: argument order is unspecified)
  write_ipv4(p.prepend(ipv4_header_size), n, next_id_++, 64, proto, net_.addr, dst);
  auto r = co_await l2_.send(p, to, ethertype_ipv4);
  k.done(r.has_value());
  co_return r;
}

void ipv4_layer::receive(bytes b) noexcept {
  ipv4_view v;
  if (drop d = parse_ipv4(b, v); d != drop::none) return c_.count(d);
  if (v.dst != net_.addr && v.dst != net_.broadcast() && v.dst.v != 0xffffffff)
    return c_.count(drop::ipv4_not_for_us);
  ++c_.rx_ipv4;
  if (v.proto == proto_icmp && icmp_)
    icmp_->receive(v);
  else if (v.proto == proto_udp && udp_)
    udp_->receive(v);
  else
    c_.count(drop::ipv4_protocol);
}

// ---- ICMP -------------------------------------------------------------------------------------

icmp_layer::icmp_layer(l3_tx& l3, counters& c, std::size_t queue) : l3_(l3), c_(c), ring_(queue) {
  ready_.set_label("icmp echo requests: none queued");
}

void icmp_layer::receive(const ipv4_view& ip) noexcept {
  icmp_view m;
  if (drop d = parse_icmp(ip.payload, m); d != drop::none) return c_.count(d);
  if (m.type != 8 || m.code != 0) return c_.count(drop::icmp_type);
  // (parse_eth bounds a frame to the MTU, so a message always fits a slot: 1500 - 20 bytes)
  static_assert(sizeof(request::msg) >= mtu - ipv4_header_size);
  if (count_ == ring_.size()) return c_.count(drop::icmp_queue_full);
  ++c_.rx_icmp;
  request& r = ring_[(head_ + count_++) % ring_.size()];
  r.from = ip.src;
  r.size = static_cast<std::uint16_t>(m.message.size());
  std::memcpy(r.msg.data(), m.message.data(), r.size);
  ready_.notify_one();
}

task<> icmp_layer::run() {
  for (;;) {
    while (count_) {
      const request& r = ring_[head_];
      std::memcpy(out_.payload(), r.msg.data(), r.size);
      out_.set_payload(r.size);
      const ipv4 to = r.from;
      head_ = (head_ + 1) % ring_.size();
      --count_;
      make_echo_reply(out_.payload(), out_.len);
      auto sent = co_await l3_.send(out_, to, proto_icmp);
      if (sent)
        ++c_.icmp_echo_replies;
      else if (sent.error() == weir::condition::cancellation)
        co_return;
      // other errors (no ARP answer for the asker) are counted by the layer that met them
    }
    auto woken = co_await ready_.notified();
    if (!woken) co_return;
  }
}

// ---- UDP --------------------------------------------------------------------------------------

task<result<void>> udp_layer::send(packet& p, std::uint16_t src_port, ipv4 dst,
                                   std::uint16_t dst_port) {
  counting k(c_.udp, p);
  const std::size_t n = p.len;
  write_udp(p.prepend(udp_header_size), src_port, dst_port, n, self_, dst);
  auto r = co_await l3_.send(p, dst, proto_udp);
  k.done(r.has_value());
  co_return r;
}

void udp_layer::receive(const ipv4_view& ip) noexcept {
  udp_view u;
  if (drop d = parse_udp(ip.payload, ip.src, ip.dst, u); d != drop::none) return c_.count(d);
  auto it = ports_.find(u.dst_port);
  if (it == ports_.end()) return c_.count(drop::udp_no_port);
  ++c_.rx_udp;
  it->second->deliver({ip.src, u.src_port}, u.payload);
}

weir::result<std::unique_ptr<udp_socket>> udp_socket::bind(udp_layer& u, std::uint16_t port,
                                                           l4_tx* tx, std::size_t queue) {
  if (port == 0) {
    for (int i = 0; i < 16384 && !port; ++i) {
      const std::uint16_t p = u.next_ephemeral_;
      u.next_ephemeral_ = p == 65535 ? 49152 : p + 1;
      if (!u.ports_.contains(p)) port = p;
    }
    if (!port) return unexpected(std::errc::address_in_use);
  } else if (u.ports_.contains(port)) {
    return unexpected(weir::error(std::make_error_code(std::errc::address_in_use),
                                  "udp port " + std::to_string(port)));
  }
  std::unique_ptr<udp_socket> s(new udp_socket(u, tx ? *tx : u, port, queue ? queue : 1));
  u.ports_[port] = s.get();
  return s;
}

udp_socket::udp_socket(udp_layer& u, l4_tx& tx, std::uint16_t port, std::size_t queue)
    : u_(u), tx_(tx), port_(port), ring_(queue) {
  std::snprintf(label_, sizeof label_, "udp recv port %u: queue empty", unsigned{port});
  readable_.set_label(label_);
}

udp_socket::~udp_socket() { u_.ports_.erase(port_); }

void udp_socket::deliver(endpoint from, bytes payload) noexcept {
  if (count_ == ring_.size()) return u_.c_.count(drop::udp_rcvbuf_full);
  slot& s = ring_[(head_ + count_++) % ring_.size()];
  s.from = from;
  s.size = static_cast<std::uint16_t>(std::min(payload.size(), s.data.size()));
  std::memcpy(s.data.data(), payload.data(), s.size);
  readable_.notify_one();
}

task<result<void>> udp_socket::send_to(bytes payload, endpoint to) {
  if (payload.size() > max_udp_payload)
    co_return unexpected(weir::error(std::make_error_code(std::errc::message_size),
                                     "a UDP payload over 1472 bytes"));
  packet p;
  p.assign(payload);
  co_return co_await send_to(p, to);
}

task<result<void>> udp_socket::send_to(packet& p, endpoint to) {
  counting k(u_.c_.socket, p);
  auto r = co_await tx_.send(p, port_, to.addr, to.port);
  k.done(r.has_value());
  co_return r;
}

task<result<datagram>> udp_socket::recv_from(std::span<std::byte> buf,
                                             std::chrono::nanoseconds timeout) {
  while (count_ == 0) {
    auto woken = co_await weir::with_timeout(timeout, readable_.notified());
    if (!woken) co_return unexpected(woken.error());
  }
  const slot& s = ring_[head_];
  datagram d;
  d.from = s.from;
  d.size = std::min<std::size_t>(s.size, buf.size());
  d.truncated = d.size < s.size;
  std::memcpy(buf.data(), s.data.data(), d.size);
  head_ = (head_ + 1) % ring_.size();
  --count_;
  co_return d;
}

// ---- the stack --------------------------------------------------------------------------------

stack::stack(link_tx& link, const stack_options& o, counters& counts)
    : c(counts),
      eth(link, o.self_mac, c),
      arp(eth, o.self_mac, o.addr.addr, c, o.arp),
      ip(eth, arp, o.self_mac, o.addr, o.gateway, c),
      icmp(ip, c),
      udp(ip, o.addr.addr, c) {
  eth.attach(arp, ip);
  ip.attach(icmp, udp);
}

task<> stack::run() { co_await weir::when_all(arp.run(), icmp.run()); }

}  // namespace netstack
