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
  // Redis Streams queue (docs/redis-streams.md). Producers: events per entry; 1 writes one
  // wire v1 entry per event, more packs up to that many in one zlib-compressed v2 entry.
  size_t events_per_entry = 100;
  // Consumers: pending entries idle this long on another consumer are claimed
  // (XAUTOCLAIM), checked every claim_interval; 0 disables claiming.
  Millis claim_idle{60000};
  Millis claim_interval{10000};
  // An entry delivered more than this many times without acknowledgement goes to the
  // dead-letter stream (default "<stream>:dead") instead; 0 never dead-letters.
  int max_deliveries = 5;
  std::string dead_letter_stream;
  // Consumers idle this long with nothing pending are removed from the group; 0: never.
  Millis consumer_expiry{24 * 3600 * 1000};
  // Lists filled by rsyslog's omhiredis (mode "queue"), moved into the events stream by the
  // parsers; import_push names the omhiredis push command (lpush default, rpush with userpush).
  std::vector<std::string> import_lists;
  std::string import_push = "lpush";
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
  uint64_t max_held_bytes = 2ULL << 30;  // most disk deleted-but-unread files may keep in use; 0: no bound
  bool inotify = true;           // wake on directory events; polling remains the fallback
};

struct SqliteSinkConfig {
  std::string dir;  // default: <data_dir>/events
  int retention_days = 7;
};

// ClickHouse over HTTP(S) (docs/sinks.md): JSONEachRow inserts into a ReplacingMergeTree
// partitioned by day, created on first use.
struct ClickHouseSinkConfig {
  std::string url = "http://127.0.0.1:8123";  // http:// or https:// (TLS), optional path prefix
  std::string database = "logship";           // created when missing
  std::string table = "events";               // created when missing
  std::string user = "default";
  Secret password;
  int retention_days = 30;              // day partitions older than this are dropped; 0 keeps all
  uint64_t batch_max_bytes = 16 << 20;  // most bytes of one INSERT body (before gzip)
  Millis flush_interval{1000};  // the parser gathers events this long before writing
  Millis timeout{30000};        // per HTTP request
  bool compress = true;         // gzip the INSERT bodies
  std::string ca_file;          // PEM bundle for https; "" uses the system store
  bool verify_tls = true;
};

// Elasticsearch / OpenSearch `_bulk` (docs/sinks.md).
struct ElasticsearchSinkConfig {
  std::string url = "http://127.0.0.1:9200";
  std::string index = "logs-%Y.%m.%d";  // strftime-like on the event's UTC time: %Y %m %d %H %%
  std::string user;                     // basic auth with password, when set
  Secret password;
  Secret api_key;  // sent as "Authorization: ApiKey <value>" (the "encoded" key)
  uint64_t batch_max_bytes = 8 << 20;   // most bytes of one _bulk body
  Millis flush_interval{1000};
  Millis timeout{30000};
  int max_retries = 5;         // retries of 429/5xx items and requests within one write
  Millis retry_backoff{200};   // first retry delay, doubled each time (cap 10 s)
  std::string dead_letter_path;  // default <data_dir>/elasticsearch-dead-letter.jsonl
  uint64_t dead_letter_max_bytes = 100 << 20;
  std::string ca_file;
  bool verify_tls = true;
};

struct ParserConfig {
  std::vector<std::string> rule_files;    // YAML parse rules (rules/parse/*.yaml)
  std::vector<std::string> pattern_dirs;  // grok pattern libraries (rules/patterns)
  std::string ecs_compatibility = "disabled";  // field names of the shipped patterns: disabled, v1, v8
  std::string timezone = "UTC";           // zone of timestamps written without an offset
  std::string sink = "sqlite";            // sqlite, clickhouse or elasticsearch
  SqliteSinkConfig sqlite;
  ClickHouseSinkConfig clickhouse;
  ElasticsearchSinkConfig elasticsearch;
  size_t batch_max_events = 5000;
  Millis batch_wait{200};
  Millis metrics_flush{2000};  // how often derived counters are published
  std::string consumer;        // consumer name in the group; default <host>-<pid>
};

// One receiver (alerter.notify[]): where pages go. docs/alerting.md describes each type.
struct NotifierConfig {
  std::string name;
  std::string type;  // webhook, log, pagerduty, alertmanager, opsgenie, slack
  // webhook: the URL; pagerduty: the Events API v2 endpoint; alertmanager: the base URL
  // (http://am:9093); opsgenie: the API base; slack: the incoming webhook URL (or url_secret).
  std::string url;
  Secret url_secret;  // the URL as a secret (Slack webhook URLs embed their token)
  // webhook: bearer token (also the routing_key); pagerduty: the routing (integration)
  // key; opsgenie: the API key (GenieKey); alertmanager: optional bearer token.
  Secret token;
  std::string path;  // log: JSON lines file; default <data_dir>/pages.jsonl
  Millis timeout{5000};
  int max_attempts = 3;            // attempts per delivery (then the outbox retries later)
  Millis resend_interval{60000};   // alertmanager: active alerts are re-sent this often
};

// A node of the route tree (like Alertmanager's). A page goes down the tree: the first
// child whose `match` holds takes it (and its children are tried), unless that child has
// `continue`, in which case the following siblings are tried too. When no child matches,
// the node itself takes it. Unset durations and an empty receiver list are inherited.
struct RouteConfig {
  std::vector<std::pair<std::string, std::string>> match;  // label -> matcher ("x", "!=x", "=~re", "!~re")
  std::vector<std::string> receivers;  // in escalation order when escalate_after > 0
  bool continue_matching = false;      // `continue`
  Millis repeat_interval{-1};  // -1: inherited; 0: never repeat
  Millis escalate_after{-1};   // -1: inherited; 0: every receiver at once
  std::vector<RouteConfig> routes;
};

// A firing alert matching `source_match` mutes alerts matching `target_match` that have
// the same values of the `equal` labels (and, with same_series, of every label but
// alertname and severity).
struct InhibitRuleConfig {
  std::vector<std::pair<std::string, std::string>> source_match;
  std::vector<std::pair<std::string, std::string>> target_match;
  std::vector<std::string> equal;
  bool same_series = false;
};

struct AlerterApiConfig {
  std::string listen = "127.0.0.1:9465";  // "" disables the API
  // Bearer token; unset: a random one is generated into <data_dir>/alerter/api-token.
  Secret token;
  bool open_reads = false;  // GET calls without the token
};

struct FlapConfig {
  Millis window{3'600'000};
  int start = 6;  // flips in the window that start flapping; 0 disables
  int stop = 2;   // flips in the window at or below which flapping stops
};

// A Prometheus text-format endpoint the alerter scrapes (alerter/scrape/, docs/alerting.md).
struct ScrapeTargetConfig {
  std::string job;  // the `job` label of every sample
  std::string url;  // http(s)://host:port/metrics; its host:port is the `instance` label
  Millis interval{15000};
  Millis timeout{10000};  // at most `interval`
  std::vector<std::pair<std::string, std::string>> labels;  // extra target labels
  Secret bearer_token;    // sent as "Authorization: Bearer <token>" when set
  std::string ca_file;    // PEM CA bundle; "" uses the system store
  std::string cert_file;  // client certificate (PEM) for mutual TLS
  std::string key_file;   // its key
  bool tls_verify = true;  // verify the server's certificate and name
  uint64_t max_body_bytes = 10u << 20;  // a longer body fails the scrape
  uint64_t sample_limit = 0;            // more samples fail the scrape; 0: no limit
};

struct AlerterConfig {
  std::vector<std::string> rule_files;  // YAML alert rules (rules/alerts/*.yaml)
  std::vector<NotifierConfig> notify;   // the receivers
  std::string consumer;  // consumer name in the alerter group; default <host>-<pid>
  std::string state_path;  // SQLite state; default <data_dir>/alerter/state.db
  RouteConfig route;       // default: every receiver, repeat 4h, no escalation
  std::vector<InhibitRuleConfig> inhibit_rules = {
      InhibitRuleConfig{{{"severity", "critical"}}, {{"severity", "warning"}}, {}, true}};
  AlerterApiConfig api;
  std::string external_url;  // base of links in pages; default http://<api.listen>
  FlapConfig flap;
  std::vector<ScrapeTargetConfig> scrape;  // Prometheus endpoints scraped into the rules
  Millis lateness{10000};  // the evaluation clock trails the newest sample by this much
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
