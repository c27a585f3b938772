// The one declaration of every key of logship's config file.
#include "logship/config.h"

#include <unistd.h>

#include <cctype>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>


#include "core/config/schema.h"

namespace logship {
namespace {

namespace fs = std::filesystem;
using config::Schema;

// `label: matcher` pairs (the alert-rule matcher syntax: "x", "=x", "!=x", "=~re", "!~re");
// regexes must compile with RE2.
Status ReadMatchers(const YAML::Node& n, const config::Context& c,
                    std::vector<std::pair<std::string, std::string>>* out) {
  out->clear();
  if (!n || n.IsNull()) return Status::Ok();
  if (!n.IsMap()) return config::ErrorAt(n, c, "expected a map of label: matcher");
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string label = it->first.Scalar(), value;
    LOGSHIP_RETURN_IF_ERROR(config::ReadString(it->second, c.Child(label), &value));
    if (label.empty() || !std::all_of(label.begin(), label.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
        })) {
      return config::ErrorAt(it->first, c, "bad label name \"" + label + "\"");
    }
    std::string re;
    if (value.rfind("=~", 0) == 0 || value.rfind("!~", 0) == 0) re = value.substr(2);
    if (value.rfind("re:", 0) == 0) re = value.substr(3);
    if (!re.empty()) {
      RE2 compiled(re, RE2::Quiet);
      if (!compiled.ok()) {
        return config::ErrorAt(it->second, c.Child(label), "invalid RE2 regular expression \"" + re + "\": " +
                                                              compiled.error());
      }
    }
    out->emplace_back(label, value);
  }
  return Status::Ok();
}

// A route node and its children (recursive, at most 16 deep).
Status ReadRoute(const YAML::Node& n, const config::Context& c, RouteConfig* out, int depth) {
  if (depth > 16) return config::ErrorAt(n, c, "routes nested more than 16 deep");
  if (!n || n.IsNull()) return Status::Ok();
  if (!n.IsMap()) return config::ErrorAt(n, c, "expected a route (a map)");
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string key = it->first.Scalar();
    const YAML::Node& v = it->second;
    const config::Context kc = c.Child(key);
    if (key == "match") {
      LOGSHIP_RETURN_IF_ERROR(ReadMatchers(v, kc, &out->match));
    } else if (key == "receivers") {
      LOGSHIP_RETURN_IF_ERROR(config::ReadStringList(v, kc, &out->receivers));
    } else if (key == "receiver") {
      std::string r;
      LOGSHIP_RETURN_IF_ERROR(config::ReadString(v, kc, &r));
      out->receivers = {r};
    } else if (key == "continue") {
      std::string b;
      LOGSHIP_RETURN_IF_ERROR(config::ReadString(v, kc, &b));
      if (b != "true" && b != "false") return config::ErrorAt(v, kc, "expected true or false");
      out->continue_matching = b == "true";
    } else if (key == "repeat_interval" || key == "escalate_after") {
      Millis d;
      LOGSHIP_RETURN_IF_ERROR(config::ReadDuration(v, kc, &d));
      (key == "repeat_interval" ? out->repeat_interval : out->escalate_after) = d;
    } else if (key == "routes") {
      if (!v.IsSequence()) return config::ErrorAt(v, kc, "expected a list of routes");
      out->routes.clear();
      for (size_t i = 0; i < v.size(); ++i) {
        RouteConfig child;
        LOGSHIP_RETURN_IF_ERROR(ReadRoute(v[i], kc.Index(i), &child, depth + 1));
        out->routes.push_back(std::move(child));
      }
    } else {
      return config::ErrorAt(it->first, c,
                             "unknown key \"" + key +
                                 "\"; expected one of: match, receivers, receiver, continue, repeat_interval, "
                                 "escalate_after, routes");
    }
  }
  return Status::Ok();
}

Status CheckRouteReceivers(const RouteConfig& r, const std::vector<NotifierConfig>& notify, const std::string& key) {
  for (const auto& name : r.receivers) {
    bool found = false;
    for (const auto& n : notify) found = found || n.name == name;
    if (!found) return Status::InvalidArgument(key + ": unknown receiver \"" + name + "\" (not in alerter.notify)");
  }
  for (size_t i = 0; i < r.routes.size(); ++i) {
    LOGSHIP_RETURN_IF_ERROR(CheckRouteReceivers(r.routes[i], notify, key + ".routes[" + std::to_string(i) + "]"));
  }
  return Status::Ok();
}

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
        .Duration("timeout", &RedisConfig::timeout, "Connect and command timeout.", Millis(10))
        .Integer("events_per_entry", &RedisConfig::events_per_entry,
                 "Producers: more than 1 packs up to this many events in one zlib-compressed v2 entry "
                 "(docs/wire-format.md; parsers must be of this version or later); 1 writes one wire v1 "
                 "entry per event (for consumers that read only v1, at a third of the rate).",
                 1, 10'000)
        .Duration("claim_idle", &RedisConfig::claim_idle,
                  "Consumers: pending entries idle this long on another (dead) consumer are claimed with "
                  "XAUTOCLAIM; 0 disables claiming. Keep it above the longest time a live parser holds a batch.",
                  Millis(0))
        .Duration("claim_interval", &RedisConfig::claim_interval, "Consumers: how often idle entries are claimed.",
                  Millis(10))
        .Integer("max_deliveries", &RedisConfig::max_deliveries,
                 "Consumers: an entry delivered more often than this without acknowledgement is moved to the "
                 "dead-letter stream; 0 never dead-letters.",
                 0, 1'000'000)
        .String("dead_letter_stream", &RedisConfig::dead_letter_stream,
                "Consumers: dead-letter stream (default \"<stream>:dead\").")
        .Duration("consumer_expiry", &RedisConfig::consumer_expiry,
                  "Consumers: other consumers idle this long with nothing pending are removed from the group "
                  "(XGROUP DELCONSUMER); 0 never removes them.",
                  Millis(0))
        .StringList("import_lists", &RedisConfig::import_lists,
                    "Parsers: Redis lists filled by rsyslog's omhiredis (mode \"queue\"); their items are moved "
                    "into the events stream as plain-text entries.")
        .String("import_push", &RedisConfig::import_push,
                "How omhiredis pushes onto import_lists (lpush, its default, or rpush with userpush=\"on\").",
                {"lpush", "rpush"});

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
        .Size("max_held_bytes", &ShipperConfig::max_held_bytes,
              "Most disk space deleted files still being read may keep in use (their descriptors hold it); "
              "beyond it the longest held are released unfinished with an error and a counter. 0: no bound.",
              0, 1ULL << 50)
        .Bool("inotify", &ShipperConfig::inotify,
              "Watch the inputs' directories with inotify to notice new files and growth at once; "
              "polling stays the fallback.");

    Schema<SqliteSinkConfig> sqlite;
    sqlite.String("dir", &SqliteSinkConfig::dir, "Directory of the daily SQLite files (default <data_dir>/events).")
        .Integer("retention_days", &SqliteSinkConfig::retention_days, "Days of events kept.", 1, 36500);

    // ClickHouse and Elasticsearch sinks (docs/sinks.md).
    auto http_url_check = [](const std::string& url) -> std::string {
      return url.starts_with("http://") || url.starts_with("https://")
                 ? ""
                 : "url \"" + url + "\" must start with http:// or https://";
    };
    auto identifier_check = [](const std::string& what, const std::string& name) -> std::string {
      bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
      for (char ch : name) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
      return ok ? "" : what + " \"" + name + "\" must be letters, digits and _ (not starting with a digit)";
    };
    Schema<ClickHouseSinkConfig> clickhouse;
    clickhouse.String("url", &ClickHouseSinkConfig::url, "HTTP interface URL; https:// for TLS.")
        .String("database", &ClickHouseSinkConfig::database, "Database (created when missing).")
        .String("table", &ClickHouseSinkConfig::table,
                "Table (created when missing: ReplacingMergeTree on (host, id), partitioned by day).")
        .String("user", &ClickHouseSinkConfig::user, "User name (HTTP basic auth).")
        .SecretRef("password", &ClickHouseSinkConfig::password, "Password of user.")
        .Integer("retention_days", &ClickHouseSinkConfig::retention_days,
                 "Day partitions older than this are dropped (ALTER TABLE DROP PARTITION); 0 keeps all.", 0, 36500)
        .Size("batch_max_bytes", &ClickHouseSinkConfig::batch_max_bytes,
              "Most bytes of one INSERT body; a larger write is split into several INSERTs.", 4096, 1ULL << 30)
        .Duration("flush_interval", &ClickHouseSinkConfig::flush_interval,
                  "The parser gathers events this long (or until parser.batch_max_events) before an INSERT; "
                  "ClickHouse prefers about one INSERT a second.",
                  Millis(0))
        .Duration("timeout", &ClickHouseSinkConfig::timeout, "Timeout of one HTTP request.", Millis(100))
        .Bool("compress", &ClickHouseSinkConfig::compress, "gzip the INSERT bodies (Content-Encoding: gzip).")
        .String("ca_file", &ClickHouseSinkConfig::ca_file, "PEM CA bundle for https (default: the system store).")
        .Bool("verify_tls", &ClickHouseSinkConfig::verify_tls, "Verify the server's TLS certificate and name.")
        .Check([=](const ClickHouseSinkConfig& c) {
          std::string err = http_url_check(c.url);
          if (err.empty()) err = identifier_check("database", c.database);
          if (err.empty()) err = identifier_check("table", c.table);
          return err;
        });

    Schema<ElasticsearchSinkConfig> elasticsearch;
    elasticsearch.String("url", &ElasticsearchSinkConfig::url, "Cluster URL; https:// for TLS.")
        .String("index", &ElasticsearchSinkConfig::index,
                "Index name; %Y %m %d %H are replaced from the event's UTC time (%% is a %).")
        .String("user", &ElasticsearchSinkConfig::user, "Basic auth user (with password).")
        .SecretRef("password", &ElasticsearchSinkConfig::password, "Basic auth password.")
        .SecretRef("api_key", &ElasticsearchSinkConfig::api_key,
                   "API key, sent as \"Authorization: ApiKey <value>\" (the base64 \"encoded\" form).")
        .Size("batch_max_bytes", &ElasticsearchSinkConfig::batch_max_bytes,
              "Most bytes of one _bulk body; a larger write is split into several requests.", 4096, 1ULL << 30)
        .Duration("flush_interval", &ElasticsearchSinkConfig::flush_interval,
                  "The parser gathers events this long (or until parser.batch_max_events) before a _bulk request.",
                  Millis(0))
        .Duration("timeout", &ElasticsearchSinkConfig::timeout, "Timeout of one HTTP request.", Millis(100))
        .Integer("max_retries", &ElasticsearchSinkConfig::max_retries,
                 "Retries of 429/5xx items (or whole requests) within one write, with exponential backoff; "
                 "then the parser retries the batch.",
                 0, 100)
        .Duration("retry_backoff", &ElasticsearchSinkConfig::retry_backoff,
                  "First retry delay; doubled on each retry (at most 10s).", Millis(1))
        .String("dead_letter_path", &ElasticsearchSinkConfig::dead_letter_path,
                "JSON lines file for events rejected with a 4xx other than 409/429 "
                "(default <data_dir>/elasticsearch-dead-letter.jsonl).")
        .Size("dead_letter_max_bytes", &ElasticsearchSinkConfig::dead_letter_max_bytes,
              "Largest size of the dead-letter file; rejected events beyond it are counted and logged, not written.",
              4096, 1ULL << 40)
        .String("ca_file", &ElasticsearchSinkConfig::ca_file, "PEM CA bundle for https (default: the system store).")
        .Bool("verify_tls", &ElasticsearchSinkConfig::verify_tls, "Verify the server's TLS certificate and name.")
        .Check([=](const ElasticsearchSinkConfig& c) -> std::string {
          std::string err = http_url_check(c.url);
          if (!err.empty()) return err;
          if (c.index.empty()) return "index must not be empty";
          for (size_t i = 0; i < c.index.size(); ++i) {
            const char ch = c.index[i];
            if (ch == '%') {  // %Y, %m, %d, %H, %%
              ++i;
              continue;
            }
            if (std::isupper(static_cast<unsigned char>(ch)) || std::string_view("\\/*?\"<>| ,#:").find(ch) !=
                                                                     std::string_view::npos) {
              return "index \"" + c.index + "\": Elasticsearch index names are lowercase, without \\ / * ? \" < > | "
                     "space , # :";
            }
          }
          if (!c.user.empty() && !c.api_key.origin.empty()) return "give user/password or api_key, not both";
          return "";
        });

    Schema<ParserConfig> parser;
    parser.StringList("rules", &ParserConfig::rule_files,
                      "Parse rule files (YAML), or directories of them (*.yaml, *.yml; docs/grok.md).")
        .StringList("patterns", &ParserConfig::pattern_dirs,
                    "Grok pattern directories; each may hold legacy/ and ecs-v1/ subdirectories (docs/grok.md).")
        .String("ecs_compatibility", &ParserConfig::ecs_compatibility,
                "Field names the pattern library gives, as Logstash's option: disabled (legacy: clientip, "
                "response), v1 or v8 (ECS: source.address, http.response.status_code). A rule may override it.",
                {"disabled", "v1", "v8"})
        .String("timezone", &ParserConfig::timezone,
                "Time zone of timestamps written without an offset (IANA name such as Europe/Berlin, UTC, or "
                "+02:00). A rule's timestamp.timezone overrides it.")
        .String("sink", &ParserConfig::sink, "Where parsed events are stored (docs/sinks.md).",
                {"sqlite", "clickhouse", "elasticsearch"})
        .Section("sqlite", &ParserConfig::sqlite, sqlite, "Embedded SQLite store.")
        .Section("clickhouse", &ParserConfig::clickhouse, clickhouse, "ClickHouse store (sink: clickhouse).")
        .Section("elasticsearch", &ParserConfig::elasticsearch, elasticsearch,
                 "Elasticsearch/OpenSearch store (sink: elasticsearch).")
        .Integer("batch_max_events", &ParserConfig::batch_max_events, "Most events per sink batch.", 1, 1'000'000)
        .Duration("batch_wait", &ParserConfig::batch_wait, "Longest wait for a batch to fill.", Millis(1))
        .Duration("metrics_flush", &ParserConfig::metrics_flush, "How often derived counters are published.",
                  Millis(100))
        .String("consumer", &ParserConfig::consumer, "Consumer name in the group (default <host>-<pid>); keep it "
                                                     "stable across restarts so pending events are resumed.");

    Schema<NotifierConfig> notifier;
    notifier.String("name", &NotifierConfig::name, "Name used in logs, metrics and routes (default <type>-<index>).")
        .String("type", &NotifierConfig::type, "Receiver kind (docs/alerting.md).",
                {"webhook", "log", "pagerduty", "alertmanager", "opsgenie", "slack"})
        .Required()
        .String("url", &NotifierConfig::url,
                "webhook: URL the page is POSTed to; pagerduty: Events API v2 endpoint (default "
                "https://events.pagerduty.com/v2/enqueue); alertmanager: base URL, e.g. http://127.0.0.1:9093; "
                "opsgenie: API base (default https://api.opsgenie.com); slack: incoming webhook URL.")
        .SecretRef("url_secret", &NotifierConfig::url_secret,
                   "The URL as a secret instead of `url` (Slack webhook URLs embed their token).")
        .SecretRef("token", &NotifierConfig::token,
                   "webhook: bearer token (also sent as routing_key); pagerduty: routing key; opsgenie: API key "
                   "(GenieKey); alertmanager: optional bearer token.")
        .String("path", &NotifierConfig::path, "log: JSON lines file (default <data_dir>/pages.jsonl).")
        .Duration("timeout", &NotifierConfig::timeout, "Request timeout.", Millis(10))
        .Integer("max_attempts", &NotifierConfig::max_attempts,
                 "Attempts per delivery (429/5xx/network errors, with backoff honouring Retry-After); after "
                 "them the page stays in the outbox and is retried later, never dropped.",
                 1, 20)
        .Duration("resend_interval", &NotifierConfig::resend_interval,
                  "alertmanager: active alerts are re-sent this often (their endsAt is 4x this ahead).",
                  Millis(100));

    Schema<AlerterApiConfig> api;
    api.String("listen", &AlerterApiConfig::listen,
               "host:port of the alerter API (list, acknowledge, silence); empty disables it. Loopback by default.")
        .SecretRef("token", &AlerterApiConfig::token,
                   "Bearer token the API requires; unset: a random one is written to <data_dir>/alerter/api-token "
                   "(mode 0600).")
        .Bool("open_reads", &AlerterApiConfig::open_reads, "Allow GET calls without the token.");

    Schema<FlapConfig> flap;
    flap.Duration("window", &FlapConfig::window, "Flips (fire/resolve) are counted over this window.", Millis(1000))
        .Integer("start", &FlapConfig::start, "Flips in the window at which a series starts flapping; 0 disables.",
                 0, 1000)
        .Integer("stop", &FlapConfig::stop, "Flips in the window at or below which flapping stops (< start).", 0,
                 1000)
        .Check([](const FlapConfig& f) -> std::string {
          return f.start > 0 && f.stop >= f.start ? "flap.stop must be below flap.start (hysteresis)" : "";
        });

    Schema<InhibitRuleConfig> inhibit;
    inhibit.Custom("source_match", "map of label: matcher", "Alerts that mute (e.g. {severity: critical}).",
                   [](const YAML::Node& n, const config::Context& c, InhibitRuleConfig& r) {
                     return ReadMatchers(n, c, &r.source_match);
                   })
        .Custom("target_match", "map of label: matcher", "Alerts that are muted (e.g. {severity: warning}).",
                [](const YAML::Node& n, const config::Context& c, InhibitRuleConfig& r) {
                  return ReadMatchers(n, c, &r.target_match);
                })
        .StringList("equal", &InhibitRuleConfig::equal, "Labels that must have the same value in both.")
        .Bool("same_series", &InhibitRuleConfig::same_series,
              "Both must also agree on every label but alertname and severity (the same series).");

    Schema<ScrapeTargetConfig> scrape_target;
    scrape_target.String("job", &ScrapeTargetConfig::job, "The `job` label of the target's samples.")
        .Required()
        .String("url", &ScrapeTargetConfig::url,
                "http(s) URL of a Prometheus text-format page, e.g. http://127.0.0.1:9100/metrics; its host:port "
                "is the `instance` label.")
        .Required()
        .Duration("interval", &ScrapeTargetConfig::interval, "How often the target is scraped.", Millis(1000))
        .Duration("timeout", &ScrapeTargetConfig::timeout, "Longest scrape (at most interval).", Millis(10))
        .Custom("labels", "map of string",
                "Extra labels on the target's samples (target labels win over scraped ones, which are kept as "
                "exported_<name>); `instance` here replaces the URL's host:port.",
                [](const YAML::Node& n, const config::Context& c, ScrapeTargetConfig& t) -> Status {
                  if (!n || n.IsNull()) return Status::Ok();
                  if (!n.IsMap()) return config::ErrorAt(n, c, "expected a map of label: value");
                  t.labels.clear();
                  for (auto it = n.begin(); it != n.end(); ++it) {
                    std::string key = it->first.Scalar(), value;
                    static const RE2 kLabel("[A-Za-z_][A-Za-z0-9_]*");
                    if (!RE2::FullMatch(key, kLabel) || key.starts_with("__") || key == "job") {
                      return config::ErrorAt(it->first, c, "bad label name \"" + key +
                                                               "\" (expected [A-Za-z_][A-Za-z0-9_]*, not job or __*)");
                    }
                    LOGSHIP_RETURN_IF_ERROR(config::ReadString(it->second, c.Child(key), &value));
                    t.labels.emplace_back(key, value);
                  }
                  std::sort(t.labels.begin(), t.labels.end());
                  return Status::Ok();
                })
        .SecretRef("bearer_token", &ScrapeTargetConfig::bearer_token, "Sent as `Authorization: Bearer <token>`.")
        .String("ca_file", &ScrapeTargetConfig::ca_file, "PEM CA bundle for https (default: the system store).")
        .String("cert_file", &ScrapeTargetConfig::cert_file, "Client certificate (PEM) for mutual TLS.")
        .String("key_file", &ScrapeTargetConfig::key_file, "Key of cert_file (PEM).")
        .Bool("tls_verify", &ScrapeTargetConfig::tls_verify,
              "Verify the server's certificate and host name (false only for testing).")
        .Size("max_body_bytes", &ScrapeTargetConfig::max_body_bytes,
              "A longer page (after decompression) fails the scrape (errors kind body_too_large).", 1024,
              1ull << 30)
        .Integer("sample_limit", &ScrapeTargetConfig::sample_limit,
                 "More samples than this fail the scrape (errors kind sample_limit); 0: no limit.", 0,
                 1'000'000'000)
        .Check([](const ScrapeTargetConfig& t) -> std::string {
          if (!t.url.starts_with("http://") && !t.url.starts_with("https://")) {
            return "url must start with http:// or https://, got \"" + t.url + "\"";
          }
          if (t.timeout > t.interval) return "timeout must be at most interval";
          if (t.cert_file.empty() != t.key_file.empty()) return "give both cert_file and key_file, or neither";
          return "";
        });

    Schema<AlerterConfig> alerter;
    alerter.StringList("rules", &AlerterConfig::rule_files, "Alert rule files (YAML).")
        .List("notify", &AlerterConfig::notify, notifier, "The receivers: where pages go.")
        .String("consumer", &AlerterConfig::consumer, "Consumer name in the alerter group (default <host>-<pid>).")
        .String("state_path", &AlerterConfig::state_path,
                "SQLite file of alert states, incidents, the notification outbox, silences and acknowledgements "
                "(default <data_dir>/alerter/state.db).")
        .Custom("route", "route tree",
                "Routing of pages to receivers by labels. Keys: match (label: matcher), receivers (names, in "
                "escalation order), continue, repeat_interval, escalate_after, routes (child routes, same keys). "
                "Default: every receiver, repeat_interval 4h, escalate_after 0s.",
                [](const YAML::Node& n, const config::Context& c, AlerterConfig& a) {
                  return ReadRoute(n, c, &a.route, 0);
                })
        .List("inhibit_rules", &AlerterConfig::inhibit_rules, inhibit,
              "Inhibition; setting it replaces the default rule (a critical mutes the warning of the same "
              "series: source_match {severity: critical}, target_match {severity: warning}, same_series true).")
        .Section("api", &AlerterConfig::api, api, "The alerter API (docs/alerting.md, \"API\").")
        .String("external_url", &AlerterConfig::external_url,
                "Base URL of links in pages (generatorURL, client_url); default http://<api.listen>.")
        .Section("flap", &AlerterConfig::flap, flap, "Flap detection (docs/alerting.md, \"Flapping\").")
        .Duration("lateness", &AlerterConfig::lateness,
                  "How far the evaluation clock trails the newest sample of a metric: samples later than this "
                  "for a step already evaluated are dropped (counted). Raise it when shippers or parsers "
                  "deliver unevenly (docs/alerting.md, \"Time: evaluation follows the data\").",
                  Millis(0))
        .List("scrape", &AlerterConfig::scrape, scrape_target,
              "Prometheus text-format endpoints (node_exporter, ...) scraped into the alert rules "
              "(docs/alerting.md, \"Scrape targets\").");

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
  c.parser.clickhouse.ca_file = Absolute(base_dir, c.parser.clickhouse.ca_file);
  c.parser.elasticsearch.ca_file = Absolute(base_dir, c.parser.elasticsearch.ca_file);
  c.parser.elasticsearch.dead_letter_path = c.parser.elasticsearch.dead_letter_path.empty()
                                                ? c.data_dir + "/elasticsearch-dead-letter.jsonl"
                                                : Absolute(base_dir, c.parser.elasticsearch.dead_letter_path);
  LOGSHIP_RETURN_IF_ERROR(ResolveSecret(c.parser.clickhouse.password, "parser.clickhouse.password"));
  LOGSHIP_RETURN_IF_ERROR(ResolveSecret(c.parser.elasticsearch.password, "parser.elasticsearch.password"));
  LOGSHIP_RETURN_IF_ERROR(ResolveSecret(c.parser.elasticsearch.api_key, "parser.elasticsearch.api_key"));
  for (auto& p : c.alerter.rule_files) p = Absolute(base_dir, p);
  for (size_t i = 0; i < c.alerter.notify.size(); ++i) {
    NotifierConfig& n = c.alerter.notify[i];
    std::string key = "alerter.notify[" + std::to_string(i) + "]";
    if (n.name.empty()) n.name = n.type + "-" + std::to_string(i);
    for (size_t j = 0; j < i; ++j) {
      if (c.alerter.notify[j].name == n.name) return Status::InvalidArgument(key + ": receiver name \"" + n.name + "\" used twice");
    }
    if (!n.url.empty() && !n.url_secret.origin.empty()) return Status::InvalidArgument(key + ": give url or url_secret, not both");
    bool has_url = !n.url.empty() || !n.url_secret.origin.empty();
    if ((n.type == "webhook" || n.type == "alertmanager" || n.type == "slack") && !has_url) {
      return Status::InvalidArgument(key + ": a " + n.type + " receiver needs url (or url_secret)");
    }
    if ((n.type == "pagerduty" || n.type == "opsgenie") && n.token.origin.empty()) {
      return Status::InvalidArgument(key + ": a " + n.type + " receiver needs token (" +
                                     (n.type == "pagerduty" ? "the routing key" : "the API key") + ")");
    }
    if (n.type == "log") n.path = n.path.empty() ? c.data_dir + "/pages.jsonl" : Absolute(base_dir, n.path);
    LOGSHIP_RETURN_IF_ERROR(ResolveSecret(n.token, key + ".token"));
    LOGSHIP_RETURN_IF_ERROR(ResolveSecret(n.url_secret, key + ".url_secret"));
  }
  if (c.alerter.state_path.empty()) c.alerter.state_path = c.data_dir + "/alerter/state.db";
  c.alerter.state_path = Absolute(base_dir, c.alerter.state_path);
  LOGSHIP_RETURN_IF_ERROR(CheckRouteReceivers(c.alerter.route, c.alerter.notify, "alerter.route"));
  LOGSHIP_RETURN_IF_ERROR(ResolveSecret(c.alerter.api.token, "alerter.api.token"));
  for (size_t i = 0; i < c.alerter.scrape.size(); ++i) {
    ScrapeTargetConfig& t = c.alerter.scrape[i];
    std::string key = "alerter.scrape[" + std::to_string(i) + "]";
    for (std::string* f : {&t.ca_file, &t.cert_file, &t.key_file}) *f = Absolute(base_dir, *f);
    for (size_t j = 0; j < i; ++j) {
      if (c.alerter.scrape[j].job == t.job && c.alerter.scrape[j].url == t.url) {
        return Status::InvalidArgument(key + ": job \"" + t.job + "\" scrapes " + t.url + " twice");
      }
    }
    LOGSHIP_RETURN_IF_ERROR(ResolveSecret(t.bearer_token, key + ".bearer_token"));
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
