// logship-kafka-mock: librdkafka's in-memory mock Kafka cluster as its own process, for
// tests and demos where no Kafka broker package exists (docs/kafka.md, "Testing").
//
//   logship-kafka-mock [--brokers N] [--topic NAME:PARTITIONS]...
//
// Every broker listens on 127.0.0.1 on a port the kernel picks. The first line on stdout is
// "bootstrap=127.0.0.1:PORT[,127.0.0.1:PORT...]", followed by "ready" once the topics
// exist. Control lines on stdin:
//   down <broker_id|-1>   disconnect the broker(s) and refuse new connections (an outage)
//   up <broker_id|-1>     accept connections again
// Each control line is answered by "ok" or "error: ..." on stdout. Serves until SIGTERM,
// SIGINT; end of stdin only ends the control channel.
//
// The mock keeps each partition's log in memory and trims its oldest message sets past a
// size/count cap: keep test volumes small, or consume while producing.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

struct TopicSpec {
  std::string name;
  int partitions = 1;
};

int Usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--brokers N] [--topic NAME:PARTITIONS]...\n", argv0);
  return 2;
}

void Reply(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void HandleCommand(rd_kafka_mock_cluster_t* mcluster, const std::string& line) {
  std::istringstream in(line);
  std::string verb;
  int id = 0;
  if (!(in >> verb)) return;  // blank line
  if (!(in >> id) || (verb != "down" && verb != "up")) {
    Reply("error: expected \"down <broker_id>\" or \"up <broker_id>\"");
    return;
  }
  rd_kafka_resp_err_t err = verb == "down" ? rd_kafka_mock_broker_set_down(mcluster, id)
                                           : rd_kafka_mock_broker_set_up(mcluster, id);
  Reply(err ? std::string("error: ") + rd_kafka_err2str(err) : "ok");
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  std::vector<TopicSpec> topics;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--brokers" && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
      if (brokers < 1) return Usage(argv[0]);
    } else if (a == "--topic" && i + 1 < argc) {
      std::string spec = argv[++i];
      TopicSpec t;
      size_t colon = spec.rfind(':');
      t.name = spec.substr(0, colon);
      if (colon != std::string::npos) t.partitions = std::atoi(spec.c_str() + colon + 1);
      if (t.name.empty() || t.partitions < 1) return Usage(argv[0]);
      topics.push_back(t);
    } else {
      return Usage(argv[0]);
    }
  }

  // The mock cluster needs a client instance for its bookkeeping; it is never used to produce.
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    std::fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 1;
  }
  // Brokers bind 127.0.0.1:0 (loopback, an ephemeral port).
  rd_kafka_mock_cluster_t* mcluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (mcluster == nullptr) {
    std::fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  Reply(std::string("bootstrap=") + rd_kafka_mock_cluster_bootstraps(mcluster));
  for (const TopicSpec& t : topics) {
    int replication = brokers < 3 ? brokers : 3;
    rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(mcluster, t.name.c_str(), t.partitions, replication);
    if (err) {
      std::fprintf(stderr, "topic %s: %s\n", t.name.c_str(), rd_kafka_err2str(err));
      rd_kafka_mock_cluster_destroy(mcluster);
      rd_kafka_destroy(rk);
      return 1;
    }
  }
  Reply("ready");

  struct sigaction sa{};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string buf;
  bool stdin_open = true;
  while (!g_stop) {
    if (!stdin_open) {
      pause();  // until a signal
      continue;
    }
    pollfd pfd{STDIN_FILENO, POLLIN, 0};
    int n = poll(&pfd, 1, 500);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) continue;
    char chunk[512];
    ssize_t r = read(STDIN_FILENO, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      // End of stdin (e.g. started with </dev/null): no more control lines; serve on.
      stdin_open = false;
      continue;
    }
    buf.append(chunk, static_cast<size_t>(r));
    for (size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
      HandleCommand(mcluster, buf.substr(0, nl));
      buf.erase(0, nl + 1);
    }
  }
  rd_kafka_mock_cluster_destroy(mcluster);
  rd_kafka_destroy(rk);
  return 0;
}
