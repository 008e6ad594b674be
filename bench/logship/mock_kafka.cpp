// bench/logship: librdkafka's mock cluster (3 brokers) in a process of its own, shared by the
// forwarders under test. Prints "bootstrap HOST:PORT,..." and serves until SIGTERM / SIGINT.
#include "kafka.hpp"

#include <csignal>
#include <cstdio>

int main() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before librdkafka's threads start
  auto m = logship::mock_cluster::start(3);
  if (!m) {
    std::fprintf(stderr, "mock cluster: %s\n", m.error().message().c_str());
    return 1;
  }
  std::printf("bootstrap %s\n", (*m)->bootstrap().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  return 0;
}
