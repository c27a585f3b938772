#include "cli/search.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>

#include "logship/config.h"
#include "parser/search/clickhouse_search.h"
#include "parser/search/search.h"

namespace logship::cli {
namespace {

struct SearchArgs {
  std::string config;
  std::string data_dir;
  std::string from;
  std::string to;
  size_t limit = 20;
  std::string format = "table";
  std::vector<std::string> query;
};

[[noreturn]] void Fail(const std::string& msg, int code) {
  std::cerr << "logship search: " << msg << "\n";
  throw CLI::RuntimeError(code);
}

void RunSearch(const SearchArgs& a) {
  search::SearchRequest req;
  std::optional<ClickHouseSinkConfig> clickhouse;  // set when the config's sink is ClickHouse
  if (!a.data_dir.empty()) {
    req.data_dir = a.data_dir;
  } else {
    auto c = LoadConfig(a.config);
    if (!c.ok()) Fail(c.status().message(), 1);
    const ParserConfig& p = c.value().parser;
    if (p.sink == "clickhouse") {
      clickhouse = p.clickhouse;
    } else if (p.sink == "elasticsearch") {
      Fail("parser.sink is elasticsearch: search it with Kibana / OpenSearch Dashboards or its _search API "
           "(logship search reads the sqlite and clickhouse sinks)",
           1);
    }
    req.data_dir = p.sqlite.dir;
    if (req.data_dir.empty()) req.data_dir = c.value().data_dir + "/events";
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  if (!a.from.empty()) {
    auto t = search::ParseTimeArg(a.from, now);
    if (!t.ok()) Fail("--from: " + t.status().message(), 1);
    req.from_ns = t.value();
  }
  if (!a.to.empty()) {
    auto t = search::ParseTimeArg(a.to, now);
    if (!t.ok()) Fail("--to: " + t.status().message(), 1);
    req.to_ns = t.value();
  }
  req.limit = a.limit;
  for (const auto& q : a.query) req.query += (req.query.empty() ? "" : " ") + q;
  auto hits = clickhouse ? search::SearchClickHouse(*clickhouse, req) : search::Search(req);
  if (!hits.ok()) {
    Fail(hits.status().message(), hits.status().code() == StatusCode::kInvalidArgument ? 1 : 2);
  }
  std::cout << (a.format == "json" ? search::FormatJsonLines(hits.value()) : search::FormatTable(hits.value()));
  std::cout.flush();
}

}  // namespace

void AddSearchCommand(CLI::App& app) {
  auto args = std::make_shared<SearchArgs>();
  CLI::App* sub = app.add_subcommand("search", "Search stored events (newest first)");
  sub->footer(
      "Query: field:value (JSON field or host/source/type/id; * wildcard), field>=N, field<N,\n"
      "bare words and \"quoted phrases\" over the raw line; all terms ANDed.\n"
      "Example: logship search --data-dir /var/lib/logship/events --from 1h 'response>=500 path:/api/*'");
  auto* cfg = sub->add_option("-c,--config", args->config,
                              "Config file: searches parser.sink (sqlite: parser.sqlite.dir, or clickhouse)");
  auto* dir = sub->add_option("--data-dir", args->data_dir, "The SQLite store's directory (events-*.db)");
  cfg->excludes(dir);
  dir->excludes(cfg);
  sub->add_option("--from", args->from, "Start: RFC 3339 or a duration ago (15m, 2h, 1d)");
  sub->add_option("--to", args->to, "End: RFC 3339 or a duration ago");
  sub->add_option("--limit", args->limit, "Most results to print")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--format", args->format, "Output format")->capture_default_str()->check(
      CLI::IsMember({"table", "json"}));
  sub->add_option("query", args->query, "Query terms");
  sub->callback([args] {
    if (args->config.empty() && args->data_dir.empty()) args->config = "/etc/logship/logship.yaml";
    RunSearch(*args);
  });
}

}  // namespace logship::cli
