// librdkafka's mock Kafka cluster (tools/kafka_mock_broker.cc, logship-kafka-mock) as a
// child process, on free loopback ports chosen by the kernel, for tests.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "logship/status.h"

namespace logship::testing {

struct KafkaBrokerOptions {
  // Empty: dirname($LOGSHIP_BIN)/logship-kafka-mock (built next to the logship binary).
  std::string binary;
  int brokers = 1;
  // Topics created at start, "name:partitions".
  std::vector<std::string> topics;
};

// Not thread-safe. The destructor stops the cluster; the child also dies with the test
// process (PR_SET_PDEATHSIG), so a crashed test leaves nothing behind.
class KafkaBroker {
 public:
  explicit KafkaBroker(KafkaBrokerOptions options = {});
  ~KafkaBroker();
  KafkaBroker(const KafkaBroker&) = delete;
  KafkaBroker& operator=(const KafkaBroker&) = delete;

  // Spawns the mock cluster and waits (10 s deadline) for its bootstrap line and for the
  // topics to exist.
  Status Start();
  // SIGTERM, then waits for the process to exit. The cluster's logs are gone with it.
  void Stop();

  // An outage: the broker (-1: every broker) drops its connections and refuses new ones,
  // keeping its log; BrokerUp() ends it. Both wait for the mock to confirm.
  Status BrokerDown(int broker_id = -1);
  Status BrokerUp(int broker_id = -1);

  bool running() const { return pid_ > 0; }
  // "127.0.0.1:PORT[,...]": bootstrap.servers for clients.
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  Status Command(const std::string& line);
  // Reads one line from the child's stdout, waiting at most `timeout_ms`.
  Status ReadLine(std::string* line, int timeout_ms);

  KafkaBrokerOptions options_;
  std::string bootstrap_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;   // the child's control channel
  int stdout_fd_ = -1;  // the child's replies
  std::string buffered_;
};

}  // namespace logship::testing
