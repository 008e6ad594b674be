// bench/logship: librdkafka's mock cluster (3 brokers) in a process of its own, shared by the
// forwarders under test. Prints "bootstrap HOST:PORT,..." and serves until SIGTERM / SIGINT;
// SIGUSR1 takes every broker down, SIGUSR2 brings them back (the outage case).
#include "kafka.hpp"

#include <csignal>
#include <cstdio>

int main() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before librdkafka's threads start
  auto m = logship::mock_cluster::start(3);
  if (!m) {
    std::fprintf(stderr, "mock cluster: %s\n", m.error().message().c_str());
    return 1;
  }
  std::printf("bootstrap %s\n", (*m)->bootstrap().c_str());
  std::fflush(stdout);
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != SIGUSR1 && sig != SIGUSR2) return 0;
    for (int b = 1; b <= (*m)->brokers(); ++b) (*m)->set_down(b, sig == SIGUSR1);
    std::fprintf(stderr, "mock cluster: brokers %s\n", sig == SIGUSR1 ? "down" : "up");
  }
}
