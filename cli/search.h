// `logship search`: queries the event store (parser/search): SQLite, or ClickHouse when the
// config's parser.sink is clickhouse.
#pragma once

namespace CLI {
class App;
}

namespace logship::cli {

// Adds the `search` subcommand to `app`. The subcommand does its work in its CLI11
// callback: results go to stdout; on an error it prints the reason to stderr and throws
// CLI::RuntimeError (exit code 1 for a bad query or config, 2 for a store failure), which
// CLI11_PARSE / app.exit() turns into the process exit code.
//
//   logship search [--config FILE | --data-dir DIR] [--from T] [--to T] [--limit N]
//                  [--format table|json] QUERY...
void AddSearchCommand(CLI::App& app);

}  // namespace logship::cli
