// bench/logship's load: N RFC 5424 lines of ~420 bytes (a JSON message, one in ten at
// level=error) over C TCP connections as fast as the forwarder takes them, then the time until
// Kafka holds all of them (the sum of the topics' high watermarks, polled every 50 ms).
//   logship_gen PORT LINES CONNS BOOTSTRAP TOPIC[,TOPIC...] [RATE]
// RATE (lines/s over all connections; 0 or absent: as fast as the forwarder reads) paces the
// load for the outage case. It waits for arrivals until all came, or until none came for 20 s
// after the last line was sent (a forwarder that lost lines).
// Prints: "sent LINES in S s, arrived A in T s" (T from the first byte sent).
#include <librdkafka/rdkafka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

std::string line(long i) {
  char head[160];
  std::snprintf(head, sizeof head,
                "<134>1 2026-12-07T12:00:00.%06ldZ host-%ld app %ld - [origin ip=\"10.0.%ld.%ld\"] ",
                i % 1000000, i % 16, 1000 + i % 7, (i / 256) % 256, i % 256);
  std::string s = head;
  s += "{\"level\":\"";
  s += (i % 10 == 3) ? "error" : "info";
  s += "\",\"seq\":" + std::to_string(i) + ",\"msg\":\"";
  while (s.size() < 418) s += "abcdefghij"[s.size() % 10];
  s += "\"}\n";
  return s;
}

void send_range(int port, long from, long to, double rate) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  std::string buf;
  const auto t0 = steady::now();
  for (long i = from; i < to; ++i) {
    buf += line(i);
    if (rate > 0 && (i - from) % 50 == 49) {  // paced: in bursts of 50, on schedule
      const auto due = t0 + std::chrono::duration<double>(static_cast<double>(i - from + 1) / rate);
      std::this_thread::sleep_until(std::chrono::time_point_cast<steady::duration>(due));
    }
    if (buf.size() >= 64 * 1024 || i + 1 == to || (rate > 0 && (i - from) % 50 == 49)) {
      std::size_t off = 0;
      while (off < buf.size()) {
        const ssize_t n = send(fd, buf.data() + off, buf.size() - off, MSG_NOSIGNAL);
        if (n <= 0) {
          std::perror("send");
          std::exit(1);
        }
        off += static_cast<std::size_t>(n);
      }
      buf.clear();
    }
  }
  shutdown(fd, SHUT_WR);
  char c;
  while (read(fd, &c, 1) > 0) {
  }
  close(fd);
}

long arrived(rd_kafka_t* rk, const std::vector<std::string>& topics) {
  long sum = 0;
  for (const auto& t : topics) {
    rd_kafka_topic_t* th = rd_kafka_topic_new(rk, t.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, 0, th, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
          int64_t lo = 0, hi = 0;
          if (rd_kafka_query_watermark_offsets(rk, t.c_str(), p, &lo, &hi, 2000) ==
              RD_KAFKA_RESP_ERR_NO_ERROR)
            sum += hi;
        }
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(th);
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::fprintf(stderr, "usage: logship_gen PORT LINES CONNS BOOTSTRAP TOPIC[,TOPIC...] [RATE]\n");
    return 2;
  }
  const double rate = argc == 7 ? std::atof(argv[6]) : 0;
  const int port = std::atoi(argv[1]);
  const long lines = std::atol(argv[2]);
  const int conns = std::atoi(argv[3]);
  std::vector<std::string> topics;
  std::stringstream ts(argv[5]);
  for (std::string t; std::getline(ts, t, ',');) topics.push_back(t);
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", argv[4], err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  const long before = arrived(rk, topics);
  const auto t0 = steady::now();
  std::vector<std::thread> senders;
  for (int c = 0; c < conns; ++c)
    senders.emplace_back(send_range, port, lines * c / conns, lines * (c + 1) / conns,
                         rate / conns);
  for (auto& s : senders) s.join();
  const double sent_s = std::chrono::duration<double>(steady::now() - t0).count();
  long got = 0, last = -1;
  const auto limit = t0 + std::chrono::seconds(600);
  auto progress = steady::now();
  while (steady::now() < limit) {
    got = arrived(rk, topics) - before;
    if (got >= lines) break;
    if (got != last) {
      last = got;
      progress = steady::now();
    } else if (steady::now() - progress > std::chrono::seconds(20)) {
      break;  // nothing more is coming: the rest was lost
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double all_s = std::chrono::duration<double>(steady::now() - t0).count();
  std::printf("sent %ld in %.3f s, arrived %ld in %.3f s\n", lines, sent_s, got, all_s);
  rd_kafka_destroy(rk);
  return got >= lines ? 0 : 1;
}
