// Builds the event sink a config names (parser.sink: sqlite, clickhouse, elasticsearch).
#pragma once

#include <memory>
#include <string>

#include "logship/clock.h"
#include "logship/config.h"
#include "logship/sink.h"

namespace logship {

// SQLite opens its directory (creating it, applying retention); ClickHouse and
// Elasticsearch do no I/O until the first Write.
Result<std::unique_ptr<EventSink>> MakeEventSink(const ParserConfig& config, const Clock& clock = SystemClock());

// "sqlite /var/lib/logship/events", "clickhouse http://ch:8123 logship.events",
// "elasticsearch https://es:9200 logs-%Y.%m.%d": for log lines and summaries.
std::string DescribeSink(const ParserConfig& config);

}  // namespace logship
