// The one declaration of every key of logship's config file.
#include "logship/config.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>


#include "core/config/schema.h"

namespace logship {
namespace {

namespace fs = std::filesystem;
using config::Schema;

const Schema<Config>& ConfigSchema() {
  static const Schema<Config> schema = [] {
    Schema<LogConfig> log;
    log.String("level", &LogConfig::level, "Least severe level logged.",
               {"trace", "debug", "info", "warn", "error", "off"})
        .String("format", &LogConfig::format, "Log line format on stderr.", {"text", "json"});

    Schema<MetricsEndpointConfig> metrics;
    metrics.String("listen", &MetricsEndpointConfig::listen,
                   "host:port of the Prometheus /metrics endpoint; empty disables it. Loopback by "
                   "default; port 0 picks a free port.");

    Schema<RedisConfig> redis;
    redis.String("host", &RedisConfig::host, "Redis server host.")
        .Integer("port", &RedisConfig::port, "Redis server port.", 1, 65535)
        .String("user", &RedisConfig::user, "ACL user name (empty: the default user).")
        .SecretRef("password", &RedisConfig::password, "Password for AUTH.")
        .Integer("db", &RedisConfig::db, "Database number (SELECT).", 0, 15)
        .Duration("timeout", &RedisConfig::timeout, "Connect and command timeout.", Millis(10));

    Schema<KafkaConfig> kafka;
    kafka.String("brokers", &KafkaConfig::brokers, "Bootstrap servers, host:port[,host:port...].")
        .String("client_id", &KafkaConfig::client_id, "client.id sent to the brokers.")
        .String("compression", &KafkaConfig::compression, "Producer compression codec.",
                {"none", "gzip", "lz4", "zstd"})
        .Duration("timeout", &KafkaConfig::timeout,
                  "Longest wait for a batch's delivery reports (message.timeout.ms); past it the batch is "
                  "Retryable.",
                  Millis(100))
        .String("sasl_username", &KafkaConfig::sasl_username, "SASL user name (sasl.username).")
        .SecretRef("sasl_password", &KafkaConfig::sasl_password, "SASL password (sasl.password).")
        .Custom("properties", "map of string", "Extra librdkafka properties passed through (security.protocol, "
                "ssl.*, sasl.mechanism, ...); properties logship sets itself are rejected.",
                [](const YAML::Node& n, const config::Context& c, KafkaConfig& k) -> Status {
                  if (!n || n.IsNull()) return Status::Ok();
                  if (!n.IsMap()) return config::ErrorAt(n, c, "expected a map of librdkafka property: value");
                  k.properties.clear();
                  for (auto it = n.begin(); it != n.end(); ++it) {
                    std::string key = it->first.Scalar(), value;
                    LOGSHIP_RETURN_IF_ERROR(config::ReadString(it->second, c.Child(key), &value));
                    k.properties[key] = value;
                  }
                  return Status::Ok();
                });

    Schema<QueueConfig> queue;
    queue.String("type", &QueueConfig::type, "Queue between the tiers (`logship run` uses an in-process queue).",
                 {"redis", "kafka"})
        .Section("redis", &QueueConfig::redis, redis, "Redis connection.")
        .Section("kafka", &QueueConfig::kafka, kafka, "Kafka connection (docs/kafka.md).")
        .String("events_stream", &QueueConfig::events_stream, "Stream (topic) that carries log events.")
        .String("metrics_stream", &QueueConfig::metrics_stream, "Stream (topic) that carries metric samples.")
        .String("group", &QueueConfig::group, "Consumer group shared by all parsers.")
        .String("alerter_group", &QueueConfig::alerter_group, "Consumer group of the alerters.");

    Schema<MultilineConfig> multiline;
    multiline
        .Regex("start", &MultilineConfig::start,
               "A line matching begins a new event; other lines are appended with a newline.")
        .Regex("continuation", &MultilineConfig::continuation,
               "A line matching is appended to the previous one (instead of start).")
        .Duration("flush_after", &MultilineConfig::flush_after,
                  "An event is emitted once no new line arrived for this long.", Millis(10))
        .Integer("max_lines", &MultilineConfig::max_lines,
                 "Most lines in one event; beyond it the event is split and counted.", 1, 100'000)
        .Size("max_bytes", &MultilineConfig::max_bytes,
              "Most bytes in one event; beyond it the event is split and counted.", 256, 64ULL << 20)
        .Check([](const MultilineConfig& ml) -> std::string {
          return !ml.start.empty() && !ml.continuation.empty() ? "give either start or continuation, not both" : "";
        });

    Schema<FileInputConfig> file;
    file.StringList("paths", &FileInputConfig::paths, "Files or glob patterns to tail.")
        .Required()
        .String("type", &FileInputConfig::type, "Type tag stored with each event; selects the parse rules.")
        .Size("max_line_bytes", &FileInputConfig::max_line_bytes,
              "Longest line kept whole; longer lines are split into pieces of this size and counted.",
              256, 64ULL << 20)
        .StringList("exclude", &FileInputConfig::exclude,
                    "Glob patterns of files not to tail (matched against the full path and the file name), "
                    "e.g. ['*.gz', '*.1'].")
        .Section("multiline", &FileInputConfig::multiline, multiline,
                 "Join multi-line records (stack traces) into one event; absent: one event per line.");

    Schema<HostCheckConfig> check;
    check.String("name", &HostCheckConfig::name, "Check name, the `check` label of its samples.")
        .Required()
        .Custom("command", "list of strings", "argv of the command (no shell; argv[0] is looked up in PATH).",
                [](const YAML::Node& n, const config::Context& c, HostCheckConfig& k) -> Status {
                  LOGSHIP_RETURN_IF_ERROR(config::ReadStringList(n, c, &k.command));
                  if (k.command.empty() || k.command[0].empty()) {
                    return config::ErrorAt(n, c, "expected a non-empty argv list, e.g. [/usr/bin/check, --flag]");
                  }
                  return Status::Ok();
                })
        .Required()
        .Duration("interval", &HostCheckConfig::interval, "How often the command runs.", Millis(100))
        .Duration("timeout", &HostCheckConfig::timeout,
                  "Longest run; past it the command's process group is killed and an error counted.", Millis(10))
        .Size("max_output_bytes", &HostCheckConfig::max_output_bytes,
              "Most stdout bytes read; a longer output is an error (the command is killed).", 64, 16ULL << 20);

    Schema<HostMetricsConfig> host_metrics;
    host_metrics.Bool("enabled", &HostMetricsConfig::enabled, "Collect host metrics and run the checks.")
        .Duration("interval", &HostMetricsConfig::interval, "Collection interval of the /proc collectors.",
                  Millis(100))
        .String("proc_root", &HostMetricsConfig::proc_root, "Where procfs is mounted (e.g. /host/proc in a container).")
        .Bool("per_cpu", &HostMetricsConfig::per_cpu, "Also report host_cpu_core_utilisation per CPU.")
        .Bool("filesystems", &HostMetricsConfig::filesystems, "Report disk usage of mounted filesystems.")
        .Bool("filesystem_tmpfs", &HostMetricsConfig::filesystem_tmpfs, "Report tmpfs mounts too.")
        .StringList("filesystem_exclude_types", &HostMetricsConfig::filesystem_exclude_types,
                    "Filesystem types not reported (node_exporter's defaults).")
        .Regex("filesystem_exclude_mounts", &HostMetricsConfig::filesystem_exclude_mounts,
               "Mount points not reported (node_exporter's default).", true)
        .Bool("disks", &HostMetricsConfig::disks, "Report disk I/O from /proc/diskstats.")
        .Regex("disk_exclude", &HostMetricsConfig::disk_exclude,
               "Block devices not reported (partitions, loop, ram; node_exporter's default).", true)
        .Bool("network", &HostMetricsConfig::network, "Report network I/O from /proc/net/dev.")
        .Regex("network_exclude", &HostMetricsConfig::network_exclude, "Interfaces not reported.", true)
        .List("checks", &HostMetricsConfig::checks, check, "Custom check commands (docs/shipper-metrics.md).");

    Schema<ShipperConfig> shipper;
    shipper.List("files", &ShipperConfig::files, file, "File inputs.")
        .Section("host_metrics", &ShipperConfig::host_metrics, host_metrics, "Host metrics input.")
        .Integer("batch_max_events", &ShipperConfig::batch_max_events,
                 "Most events sent to the queue in one batch.", 1, 1'000'000)
        .Size("batch_max_bytes", &ShipperConfig::batch_max_bytes, "Most bytes read into one batch.",
              4096, 1ULL << 30)
        .Duration("poll_interval", &ShipperConfig::poll_interval,
                  "How often idle files are checked for growth and rotation (with inotify: the fallback "
                  "rescan).",
                  Millis(10))
        .Duration("checkpoint_interval", &ShipperConfig::checkpoint_interval,
                  "Under load the checkpoint file is saved (fsync, rename) at most this often; caught-up files "
                  "save at once. After a crash at most this much is sent again (and deduplicated by id).",
                  Millis(0))
        .Integer("max_open_files", &ShipperConfig::max_open_files,
                 "Most files held open; beyond it new files wait (counted) until idle files are closed.", 1,
                 1'000'000)
        .Duration("max_hold", &ShipperConfig::max_hold,
                  "Longest a rotated or deleted file is kept open to read it to its end; then it is released "
                  "unfinished with an error and a counter.",
                  Millis(1000))
        .Bool("inotify", &ShipperConfig::inotify,
              "Watch the inputs' directories with inotify to notice new files and growth at once; "
              "polling stays the fallback.");

    Schema<SqliteSinkConfig> sqlite;
    sqlite.String("dir", &SqliteSinkConfig::dir, "Directory of the daily SQLite files (default <data_dir>/events).")
        .Integer("retention_days", &SqliteSinkConfig::retention_days, "Days of events kept.", 1, 36500);

    Schema<ParserConfig> parser;
    parser.StringList("rules", &ParserConfig::rule_files, "Parse rule files (YAML).")
        .StringList("patterns", &ParserConfig::pattern_dirs, "Grok pattern directories.")
        .Section("sqlite", &ParserConfig::sqlite, sqlite, "Embedded SQLite store.")
        .Integer("batch_max_events", &ParserConfig::batch_max_events, "Most events per sink batch.", 1, 1'000'000)
        .Duration("batch_wait", &ParserConfig::batch_wait, "Longest wait for a batch to fill.", Millis(1))
        .Duration("metrics_flush", &ParserConfig::metrics_flush, "How often derived counters are published.",
                  Millis(100))
        .String("consumer", &ParserConfig::consumer, "Consumer name in the group (default <host>-<pid>); keep it "
                                                     "stable across restarts so pending events are resumed.");

    Schema<NotifierConfig> notifier;
    notifier.String("name", &NotifierConfig::name, "Name used in logs and routing.")
        .String("type", &NotifierConfig::type, "Receiver kind.", {"webhook", "log"})
        .Required()
        .String("url", &NotifierConfig::url, "webhook: URL the page is POSTed to.")
        .SecretRef("token", &NotifierConfig::token, "webhook: bearer token / routing key.")
        .String("path", &NotifierConfig::path, "log: JSON lines file (default <data_dir>/pages.jsonl).")
        .Duration("timeout", &NotifierConfig::timeout, "Request timeout.", Millis(10));

    Schema<AlerterConfig> alerter;
    alerter.StringList("rules", &AlerterConfig::rule_files, "Alert rule files (YAML).")
        .List("notify", &AlerterConfig::notify, notifier, "Where pages go.")
        .String("consumer", &AlerterConfig::consumer, "Consumer name in the alerter group (default <host>-<pid>).");

    Schema<Config> root;
    root.String("host", &Config::host, "Host name stamped on events (default: the machine's hostname).")
        .String("data_dir", &Config::data_dir, "Checkpoints, SQLite files and pages (default /var/lib/logship).")
        .Section("log", &Config::log, log, "Logging.")
        .Section("metrics", &Config::metrics, metrics, "Prometheus endpoint.")
        .Section("queue", &Config::queue, queue, "The queue between tiers.")
        .Section("shipper", &Config::shipper, shipper, "`logship shipper`.")
        .Section("parser", &Config::parser, parser, "`logship parser`.")
        .Section("alerter", &Config::alerter, alerter, "`logship alerter`.");
    return root;
  }();
  return schema;
}

std::string Absolute(const std::string& base_dir, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(base_dir) / p).lexically_normal().string();
}

// The build step: defaults that depend on other keys, paths, secrets.
Status Build(Config& c, const std::string& base_dir) {
  if (c.host.empty()) {
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    c.host = buf;
  }
  if (c.data_dir.empty()) c.data_dir = "/var/lib/logship";
  c.data_dir = Absolute(base_dir, c.data_dir);
  for (auto& f : c.shipper.files) {
    for (auto& p : f.paths) p = Absolute(base_dir, p);
  }
  for (auto& p : c.parser.rule_files) p = Absolute(base_dir, p);
  for (auto& p : c.parser.pattern_dirs) p = Absolute(base_dir, p);
  c.parser.sqlite.dir = c.parser.sqlite.dir.empty() ? c.data_dir + "/events" : Absolute(base_dir, c.parser.sqlite.dir);
  for (auto& p : c.alerter.rule_files) p = Absolute(base_dir, p);
  for (size_t i = 0; i < c.alerter.notify.size(); ++i) {
    NotifierConfig& n = c.alerter.notify[i];
    std::string key = "alerter.notify[" + std::to_string(i) + "]";
    if (n.name.empty()) n.name = n.type + "-" + std::to_string(i);
    if (n.type == "webhook" && n.url.empty()) return Status::InvalidArgument(key + ": a webhook needs url");
    if (n.type == "log") n.path = n.path.empty() ? c.data_dir + "/pages.jsonl" : Absolute(base_dir, n.path);
    LOGSHIP_RETURN_IF_ERROR(ResolveSecret(n.token, key + ".token"));
  }
  LOGSHIP_RETURN_IF_ERROR(ResolveSecret(c.queue.redis.password, "queue.redis.password"));
  LOGSHIP_RETURN_IF_ERROR(ResolveSecret(c.queue.kafka.sasl_password, "queue.kafka.sasl_password"));
  std::string pid = std::to_string(getpid());
  if (c.parser.consumer.empty()) c.parser.consumer = c.host + "-" + pid;
  if (c.alerter.consumer.empty()) c.alerter.consumer = c.host + "-" + pid;
  return Status::Ok();
}

}  // namespace

Result<Config> ParseConfig(const std::string& text, const std::string& name, const std::string& base_dir) {
  auto node = config::ParseYaml(text, name);
  if (!node.ok()) return node.status();
  Config c;
  LOGSHIP_RETURN_IF_ERROR(ConfigSchema().Apply(*node, config::Context{name, ""}, c));
  LOGSHIP_RETURN_IF_ERROR(Build(c, base_dir).Annotate(name));
  c.source_path = name;
  return c;
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open config file");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string dir = fs::absolute(fs::path(path)).parent_path().string();
  return ParseConfig(ss.str(), path, dir);
}

Status ResolveSecret(Secret& s, const std::string& key) {
  if (!s.value.empty() || s.origin.empty()) return Status::Ok();
  if (s.origin.rfind("env:", 0) == 0) {
    const char* v = std::getenv(s.origin.c_str() + 4);
    if (v == nullptr) return Status::InvalidArgument(key + ": environment variable " + s.origin.substr(4) + " is not set");
    s.value = v;
  } else if (s.origin.rfind("file:", 0) == 0) {
    std::ifstream in(s.origin.substr(5), std::ios::binary);
    if (!in) return Status::InvalidArgument(key + ": cannot read secret file " + s.origin.substr(5));
    std::stringstream ss;
    ss << in.rdbuf();
    s.value = ss.str();
    while (!s.value.empty() && (s.value.back() == '\n' || s.value.back() == '\r')) s.value.pop_back();
  }
  return Status::Ok();
}

std::string ConfigReference() {
  std::string out =
      "# Configuration reference\n\n"
      "Generated by `logship config reference` from the declarations in core/config/config.cc.\n"
      "Unknown keys are errors. Relative paths are resolved against the config file's directory.\n"
      "Secrets are given as `{env: NAME}` or `{file: PATH}` and never logged.\n\n"
      "| key | type | default | description |\n|---|---|---|---|\n";
  ConfigSchema().Document(out, "");
  return out;
}

}  // namespace logship
