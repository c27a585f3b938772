// `logship rules test`: what parse rules do to sample lines (a grok debugger), and a case
// runner for an operator's CI. Reference: docs/grok.md, "Testing rules".
#pragma once

namespace CLI {
class App;
}

namespace logship::cli {

// Adds `rules test` to `app`. It runs in its CLI11 callback: results go to stdout; it
// throws CLI::RuntimeError with exit code 1 when a case fails or a line does not parse
// (with --line/stdin: only with --strict), 2 when rules, patterns or cases do not load.
//
//   logship rules test [-c FILE] [-r RULES]... [-p PATTERNS]... [--ecs-compatibility V]
//                      [--timezone TZ] [--type T] [--source S] [--host H] [--received T]
//                      [-e EXPRESSION] [--format text|json] [--strict]
//                      (--line TEXT... | CASES.yaml... | lines on stdin)
void AddRulesCommand(CLI::App& app);

}  // namespace logship::cli
