#include "parser/sinks/sink_factory.h"

#include "parser/sinks/clickhouse/clickhouse_sink.h"
#include "parser/sinks/elasticsearch/elasticsearch_sink.h"
#include "parser/sinks/sqlite/sqlite_sink.h"

namespace logship {
namespace {

template <class T>
Result<std::unique_ptr<EventSink>> Upcast(Result<std::unique_ptr<T>> r) {
  if (!r.ok()) return r.status();
  return std::unique_ptr<EventSink>(std::move(r).value());
}

}  // namespace

Result<std::unique_ptr<EventSink>> MakeEventSink(const ParserConfig& config, const Clock& clock) {
  if (config.sink == "sqlite") return Upcast(SqliteSink::Open(config.sqlite, clock));
  if (config.sink == "clickhouse") return Upcast(ClickHouseSink::Create(config.clickhouse, clock));
  if (config.sink == "elasticsearch") return Upcast(ElasticsearchSink::Create(config.elasticsearch, clock));
  return Status::InvalidArgument("parser.sink: unknown sink \"" + config.sink +
                                 "\"; expected sqlite, clickhouse or elasticsearch");
}

std::string DescribeSink(const ParserConfig& config) {
  if (config.sink == "clickhouse") {
    return "clickhouse " + config.clickhouse.url + " " + config.clickhouse.database + "." + config.clickhouse.table;
  }
  if (config.sink == "elasticsearch") return "elasticsearch " + config.elasticsearch.url + " " + config.elasticsearch.index;
  return "sqlite " + config.sqlite.dir;
}

}  // namespace logship
