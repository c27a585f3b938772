// `logship alerter backtest`: replays a recorded series through alert rules (the same
// Alerter code as live, on DATA time) and prints the alert timeline, or scores rules on a
// labelled NAB-style corpus.
#pragma once

namespace CLI {
class App;
}

namespace logship::cli {

// Adds the `backtest` subcommand to `parent` (the `alerter` subcommand, or the app).
// The work happens in the subcommand's CLI11 callback; on success it throws CLI::Success
// (exit code 0) so the parent's own action (e.g. running the alerter daemon) is skipped;
// on an error it prints the reason to stderr and throws CLI::RuntimeError (1: bad input
// or rules).
//
//   logship alerter backtest --rules FILE --input FILE [--metric NAME] [--format table|json]
//   logship alerter backtest --nab DIR --rules [GLOB=]FILE... [--alert NAME] [--format table|json]
void AddBacktestCommand(CLI::App& parent);

}  // namespace logship::cli
