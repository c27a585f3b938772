// logship: one binary, a subcommand per daemon and tool.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/alerts.h"
#include "cli/backtest.h"
#include "cli/daemons.h"
#include "cli/rules_cmd.h"
#include "cli/search.h"
#include "cli/signals.h"
#include "core/config/schema.h"
#include "logship/config.h"

int main(int argc, char** argv) {
  logship::cli::BlockDaemonSignals();
  CLI::App app{"logship: ships logs, parses them, indexes them, and pages people"};
  app.set_version_flag("--version", "logship 0.1.0");
  app.require_subcommand(1);
  std::string config_path = "/etc/logship/logship.yaml";
  auto add_daemon = [&](const char* name, const char* help) {
    CLI::App* sub = app.add_subcommand(name, help);
    sub->add_option("-c,--config", config_path, "Config file")->capture_default_str();
    return sub;
  };
  CLI::App* shipper = add_daemon("shipper", "Tail files and collect host metrics; forward them to the queue");
  CLI::App* parser = add_daemon("parser", "Parse events from the queue and index them");
  CLI::App* alerter = add_daemon("alerter", "Evaluate alert rules over metric samples and send pages");
  logship::cli::AddBacktestCommand(*alerter);  // logship alerter backtest
  CLI::App* run = add_daemon("run", "The whole pipeline in one process (in-process queue, SQLite)");
  std::string idle_text;
  run->add_option("--exit-when-idle", idle_text,
                  "Exit once everything was read, indexed and evaluated and stayed idle this long (e.g. 3s)");
  logship::cli::AddSearchCommand(app);
  logship::cli::AddRulesCommand(app);   // logship rules test
  logship::cli::AddAlertsCommand(app);  // logship alerts list|ack|silence|silences|expire

  CLI::App* config = app.add_subcommand("config", "Check a config file or print the reference");
  config->require_subcommand(1);
  CLI::App* check = config->add_subcommand("check", "Validate a config file and the rule files it names; errors name file:line");
  check->add_option("-c,--config", config_path, "Config file")->capture_default_str();
  CLI::App* reference = config->add_subcommand("reference", "Print every config key as Markdown");

  CLI11_PARSE(app, argc, argv);

  if (shipper->parsed()) return logship::cli::RunShipper(config_path);
  if (parser->parsed()) return logship::cli::RunParser(config_path);
  if (alerter->parsed()) return logship::cli::RunAlerter(config_path);
  if (run->parsed()) {
    logship::cli::RunOptions options;
    if (!idle_text.empty()) {
      auto d = logship::config::ParseDuration(idle_text);
      if (!d.ok()) {
        std::cerr << "--exit-when-idle: " << d.status().message() << "\n";
        return 2;
      }
      options.exit_when_idle = *d;
    }
    return logship::cli::RunAll(config_path, options);
  }
  if (check->parsed()) return logship::cli::CheckConfig(config_path);
  if (reference->parsed()) {
    std::cout << logship::ConfigReference();
    return 0;
  }
  return 0;  // search, alerts and rules ran in their callbacks
}
