// logship's configuration: one YAML file for all daemons. Each key is declared once, with
// its type, default and description, in core/config/config.cc; that table validates the
// file and prints docs/config-reference.md (`logship config reference`).
//
// Loading is three steps: parse (YAML -> nodes, syntax errors name file:line), validate
// (pure: unknown keys, types, ranges -> file:line, key and what was expected), build (the
// structs below, secrets resolved from env or files).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "logship/status.h"

namespace logship {

using Millis = std::chrono::milliseconds;

// A secret is given in the file as {env: NAME} or {file: /path}; the value itself never
// appears in logs or in `config check` output.
struct Secret {
  std::string value;
  std::string origin;  // "env:NAME", "file:/path", "inline" or "" when unset
  bool empty() const { return value.empty(); }
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error
  std::string format = "text";  // text or json
};

struct MetricsEndpointConfig {
  std::string listen = "127.0.0.1:9464";  // "" disables the endpoint
};

struct RedisConfig {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;  // ACL user; empty for the default user
  Secret password;
  int db = 0;
  Millis timeout{5000};
};

// Kafka connection and producer/consumer settings (docs/kafka.md). Topics are
// QueueConfig::events_stream and metrics_stream; the consumer group QueueConfig::group.
struct KafkaConfig {
  std::string brokers = "127.0.0.1:9092";  // bootstrap.servers
  std::string client_id = "logship";
  std::string compression = "lz4";  // none, gzip, lz4, zstd (compression.codec)
  // Longest wait for a Publish's delivery reports (message.timeout.ms).
  Millis timeout{30000};
  std::string sasl_username;  // sasl.username, when set
  Secret sasl_password;       // sasl.password
  // Extra librdkafka properties passed through as they are (security.protocol, ssl.*,
  // sasl.mechanism, ...). Properties logship sets itself are rejected.
  std::map<std::string, std::string> properties;
};

struct QueueConfig {
  std::string type = "redis";  // redis or kafka; `logship run` always uses the in-process queue
  RedisConfig redis;
  KafkaConfig kafka;
  std::string events_stream = "logship:events";
  std::string metrics_stream = "logship:metrics";
  std::string group = "logship-parsers";      // consumer group of the parsers
  std::string alerter_group = "logship-alerters";
};

// Joins the lines of one multi-line record (a stack trace) into one event. Exactly one of
// `start` and `continuation` is set (RE2 syntax, compiled when the config is validated).
struct MultilineConfig {
  std::string start;         // a line matching begins a new event; other lines are appended
  std::string continuation;  // a line matching is appended to the previous one
  Millis flush_after{1000};  // an event is emitted once no line arrived for this long
  size_t max_lines = 500;    // more lines, or more bytes, split the event (counted)
  uint64_t max_bytes = 1 << 20;
  bool enabled() const { return !start.empty() || !continuation.empty(); }
};

struct FileInputConfig {
  std::vector<std::string> paths;    // files or globs
  std::vector<std::string> exclude;  // globs matched against the full path and the basename
  std::string type = "file";         // type tag stored with each event, selects parse rules
  uint64_t max_line_bytes = 1 << 20;
  MultilineConfig multiline;
};

// A custom check (docs/shipper-metrics.md): a command run on its own interval whose
// stdout is Prometheus text (or "name value" lines).
struct HostCheckConfig {
  std::string name;                  // the `check` label
  std::vector<std::string> command;  // argv; no shell; argv[0] is looked up in PATH
  Millis interval{10000};
  Millis timeout{5000};  // the command's process group is killed past it
  uint64_t max_output_bytes = 64 << 10;
};

struct HostMetricsConfig {
  bool enabled = true;
  Millis interval{10000};
  std::string proc_root = "/proc";
  bool per_cpu = false;
  bool filesystems = true;
  bool filesystem_tmpfs = false;  // report tmpfs mounts too
  // node_exporter's default ignored fstypes (collector/filesystem_linux.go).
  std::vector<std::string> filesystem_exclude_types = {
      "autofs",  "binfmt_misc", "bpf",       "cgroup",     "cgroup2",    "configfs", "debugfs",
      "devpts",  "devtmpfs",    "fusectl",   "hugetlbfs",  "iso9660",    "mqueue",   "nsfs",
      "overlay", "proc",        "procfs",    "pstore",     "rpc_pipefs", "securityfs", "selinuxfs",
      "squashfs", "sysfs",      "tracefs"};
  std::string filesystem_exclude_mounts =
      "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
  bool disks = true;
  std::string disk_exclude = R"(^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$)";
  bool network = true;
  std::string network_exclude = "^lo$";
  std::vector<HostCheckConfig> checks;
};

struct ShipperConfig {
  std::vector<FileInputConfig> files;
  HostMetricsConfig host_metrics;
  size_t batch_max_events = 2000;
  uint64_t batch_max_bytes = 4 << 20;
  Millis poll_interval{200};  // how often files are checked for growth and rotation
  Millis checkpoint_interval{1000};  // longest time the saved checkpoint lags delivery under load
  size_t max_open_files = 1024;  // beyond it new files wait until idle ones are closed
  Millis max_hold{3600 * 1000};  // longest a rotated or deleted file is held open to drain it
  bool inotify = true;           // wake on directory events; polling remains the fallback
};

struct SqliteSinkConfig {
  std::string dir;  // default: <data_dir>/events
  int retention_days = 7;
};

struct ParserConfig {
  std::vector<std::string> rule_files;    // YAML parse rules (rules/parse/*.yaml)
  std::vector<std::string> pattern_dirs;  // grok pattern libraries (rules/patterns)
  SqliteSinkConfig sqlite;
  size_t batch_max_events = 5000;
  Millis batch_wait{200};
  Millis metrics_flush{2000};  // how often derived counters are published
  std::string consumer;        // consumer name in the group; default <host>-<pid>
};

struct NotifierConfig {
  std::string name;
  std::string type;  // webhook or log
  std::string url;   // webhook
  Secret token;      // webhook: sent as "Authorization: Bearer <token>" when set
  std::string path;  // log: JSON lines file; default <data_dir>/pages.jsonl
  Millis timeout{5000};
};

struct AlerterConfig {
  std::vector<std::string> rule_files;  // YAML alert rules (rules/alerts/*.yaml)
  std::vector<NotifierConfig> notify;
  std::string consumer;  // consumer name in the alerter group; default <host>-<pid>
};

struct Config {
  std::string host;      // default: this machine's hostname
  std::string data_dir;  // checkpoints, SQLite files, pages; default /var/lib/logship
  LogConfig log;
  MetricsEndpointConfig metrics;
  QueueConfig queue;
  ShipperConfig shipper;
  ParserConfig parser;
  AlerterConfig alerter;
  std::string source_path;  // the file this config was loaded from
};

// Loads, validates and builds the config in `path`. Relative paths inside the file are
// resolved against the file's directory.
Result<Config> LoadConfig(const std::string& path);
// The same for text already in memory; `name` is used in error messages.
Result<Config> ParseConfig(const std::string& text, const std::string& name,
                           const std::string& base_dir = ".");
// Reads a secret's value from its origin ({env: NAME} or {file: PATH}) unless it already
// has one; the build step does this for every secret in the config.
Status ResolveSecret(Secret& secret, const std::string& key);
// Markdown reference of every key, generated from the declarations.
std::string ConfigReference();

}  // namespace logship
