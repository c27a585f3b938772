#include "cli/daemons.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <iostream>

#include "alerter/alerter.h"
#include "alerter/alerter_service.h"
#include "alerter/scrape/scraper.h"
#include "alerter/worker/alerter_worker.h"
#include "cli/signals.h"
#include "core/log/log.h"
#include "core/queue/in_process.h"
#include "core/queue/queue_factory.h"
#include "core/util/fs.h"
#include "logship/metrics.h"
#include "parser/rules/rule_set.h"
#include "parser/sinks/sink_factory.h"
#include "parser/sinks/sqlite/sqlite_sink.h"
#include "parser/worker/parser_worker.h"
#include "shipper/shipper.h"

namespace logship::cli {
namespace {

// Loads the config and starts logging and the metrics endpoint; nullopt after printing
// the reason.
struct Common {
  Config config;
  std::unique_ptr<MetricsEndpoint> metrics;
};

std::optional<Common> Setup(const std::string& path, const char* daemon) {
  auto config = LoadConfig(path);
  if (!config.ok()) {
    std::cerr << "logship " << daemon << ": " << config.status().message() << "\n";
    return std::nullopt;
  }
  if (Status s = InitLogging(config->log); !s.ok()) {
    std::cerr << "logship " << daemon << ": " << s.message() << "\n";
    return std::nullopt;
  }
  Common c{std::move(*config), nullptr};
  if (!c.config.metrics.listen.empty()) {
    auto ep = MetricsEndpoint::Start(c.config.metrics.listen);
    if (!ep.ok()) {
      spdlog::error("{}: {}", daemon, ep.status().ToString());
      return std::nullopt;
    }
    c.metrics = std::move(*ep);
    spdlog::info("{}: metrics on http://{}/metrics (port {})", daemon, c.config.metrics.listen, c.metrics->port());
  }
  if (Status s = MakeDirs(c.config.data_dir); !s.ok()) {
    spdlog::error("{}: {}", daemon, s.ToString());
    return std::nullopt;
  }
  return c;
}

// logship_config_reloads_total{result="ok"|"rejected"}
prometheus::Counter& ReloadCounter(const char* result) {
  static auto& family = prometheus::BuildCounter()
                            .Name("logship_config_reloads_total")
                            .Help("SIGHUP reloads by result (rejected: the file was invalid; the running config stays)")
                            .Register(MetricsRegistry());
  return family.Add({{"result", result}});
}

// Re-reads the config on SIGHUP; the caller applies what it can. Keeps the old config
// when the new one is invalid.
std::optional<Config> Reload(const std::string& path, const char* daemon) {
  auto config = LoadConfig(path);
  if (!config.ok()) {
    ReloadCounter("rejected").Increment();
    spdlog::error("{}: reload rejected, keeping the running config: {}", daemon, config.status().message());
    return std::nullopt;
  }
  ReloadCounter("ok").Increment();
  (void)InitLogging(config->log);
  spdlog::info("{}: reloaded {}", daemon, path);
  return std::move(*config);
}

Result<std::shared_ptr<const rules::RuleSet>> LoadRules(const Config& c) {
  rules::RuleOptions options;
  options.naming = grok::PatternNamingFromName(c.parser.ecs_compatibility).value_or(grok::PatternNaming::kLegacy);
  options.timezone = c.parser.timezone;
  return rules::LoadRuleSet(c.parser.rule_files, c.parser.pattern_dirs, options);
}

template <class T>
T Must(Result<T> r, const char* daemon, const char* what) {
  if (!r.ok()) {
    spdlog::critical("{}: {}: {}", daemon, what, r.status().ToString());
    std::exit(1);
  }
  return std::move(r).value();
}

}  // namespace

int CheckConfig(const std::string& path) {
  auto c = LoadConfig(path);
  if (!c.ok()) {
    std::cerr << c.status().message() << "\n";
    return 1;
  }
  // The files the config points to are part of what a daemon would refuse at start: parse
  // rules with the patterns they use, and alert rules. Each error names file:line.
  int failed = 0;
  auto parse_rules = LoadRules(*c);
  if (!parse_rules.ok()) {
    std::cerr << "parser rules: " << parse_rules.status().message() << "\n";
    ++failed;
  }
  auto alert_rules = alerter::LoadAlertRules(c->alerter.rule_files);
  if (!alert_rules.ok()) {
    std::cerr << "alert rules: " << alert_rules.status().message() << "\n";
    ++failed;
  }
  if (failed) return 1;
  std::cout << path << ": ok (" << c->parser.rule_files.size() << " parse rule files, "
            << c->alerter.rule_files.size() << " alert rule files with " << (*alert_rules)->rules.size()
            << " rules)\n";
  return 0;
}

int RunShipper(const std::string& path) {
  auto common = Setup(path, "shipper");
  if (!common) return 1;
  Config& c = common->config;
  auto events = Must(MakeEventProducer(c.queue), "shipper", "queue");
  auto samples = Must(MakeSampleProducer(c.queue), "shipper", "queue");
  auto shipper = std::make_unique<Shipper>(c, events.get(), samples.get());
  if (Status s = shipper->Start(); !s.ok()) {
    spdlog::critical("shipper: {}", s.ToString());
    return 1;
  }
  spdlog::info("shipper: running as host {}, {} file inputs, queue {}", c.host, c.shipper.files.size(),
               c.queue.type);
  for (;;) {
    SignalEvent ev = WaitForSignal(Millis(500));
    if (ev == SignalEvent::kStop) break;
    if (ev == SignalEvent::kReload) {
      if (auto next = Reload(path, "shipper")) {
        // Inputs and batching take effect by restarting the tail loop; checkpoints make
        // this lossless.
        shipper->Stop();
        c = std::move(*next);
        shipper = std::make_unique<Shipper>(c, events.get(), samples.get());
        if (Status s = shipper->Start(); !s.ok()) spdlog::error("shipper: {}", s.ToString());
      }
    }
  }
  shipper->Stop();
  ShipperStats st = shipper->stats();
  spdlog::info("shipper: stopped; {} events sent, {} publish retries", st.events_sent, st.publish_retries);
  return 0;
}

int RunParser(const std::string& path) {
  auto common = Setup(path, "parser");
  if (!common) return 1;
  Config& c = common->config;
  auto rules = Must(LoadRules(c), "parser", "rules");
  auto sink = Must(MakeEventSink(c.parser), "parser", "sink");
  // An empty write creates a remote sink's table: bad credentials or a rejected schema
  // stop the daemon here with the store's reason; an unreachable store is retried later.
  if (Status s = sink->Write({}); !s.ok()) {
    if (!s.retryable()) {
      spdlog::critical("parser: sink {}: {}", DescribeSink(c.parser), s.ToString());
      return 1;
    }
    spdlog::warn("parser: sink {} not ready yet ({}); the parser retries", DescribeSink(c.parser), s.ToString());
  }
  auto input = Must(MakeEventConsumer(c.queue, c.queue.group, c.parser.consumer), "parser", "queue");
  auto samples = Must(MakeSampleProducer(c.queue), "parser", "queue");
  ParserWorker worker(c.parser, rules, input.get(), sink.get(), samples.get());
  worker.Start();
  spdlog::info("parser: consumer {} in group {} on {}", c.parser.consumer, c.queue.group, c.queue.events_stream);
  for (;;) {
    SignalEvent ev = WaitForSignal(Millis(500));
    if (ev == SignalEvent::kStop) break;
    if (ev == SignalEvent::kReload) {
      if (auto next = Reload(path, "parser")) {
        auto reloaded = LoadRules(*next);
        if (reloaded.ok()) {
          worker.SetRules(*reloaded);
          spdlog::info("parser: {} rules loaded", (*reloaded)->rules().size());
        } else {
          spdlog::error("parser: rules not reloaded: {}", reloaded.status().ToString());
        }
      }
    }
  }
  worker.Stop();
  ParserStats st = worker.stats();
  spdlog::info("parser: stopped; {} events committed ({} unparsed)", st.committed, st.unparsed);
  return 0;
}

int RunAlerter(const std::string& path) {
  auto common = Setup(path, "alerter");
  if (!common) return 1;
  Config& c = common->config;
  auto service = Must(alerter::AlerterService::Start(c), "alerter", "alerter");
  alerter::Alerter* engine = service->alerter();
  auto input = Must(MakeSampleConsumer(c.queue, c.queue.alerter_group, c.alerter.consumer), "alerter", "queue");
  auto scraper = Must(alerter::Scraper::Create(c.alerter.scrape), "alerter", "scrape");
  AlerterWorker worker(engine, input.get(), scraper.get());
  worker.Start();
  scraper->Start();
  spdlog::info("alerter: {} rules, consumer {} on {}, {} scrape targets", engine->rules().rules.size(),
               c.alerter.consumer, c.queue.metrics_stream, scraper->target_count());
  for (;;) {
    SignalEvent ev = WaitForSignal(Millis(500));
    if (ev == SignalEvent::kStop) break;
    if (ev == SignalEvent::kReload) {
      // Alert state lives in the engine; reloading rules keeps it only when the engine
      // supports it, so for now a reload re-validates and asks for a restart.
      if (Reload(path, "alerter")) spdlog::warn("alerter: rule changes take effect after a restart");
    }
  }
  scraper->Stop();
  worker.Stop();
  service->Stop();  // delivers what the last evaluation queued
  auto st = worker.stats();
  spdlog::info("alerter: stopped; {} warning and {} critical pages, {} resolved", st.triggers_warning,
               st.triggers_critical, st.resolves);
  return 0;
}

int RunAll(const std::string& path, const RunOptions& options) {
  auto common = Setup(path, "run");
  if (!common) return 1;
  Config& c = common->config;
  auto rules = Must(LoadRules(c), "run", "rules");
  auto sink = Must(MakeEventSink(c.parser), "run", "sink");
  auto service = Must(alerter::AlerterService::Start(c), "run", "alerter");
  alerter::Alerter* engine = service->alerter();

  // Events: the shipper's Publish returns only after the parser's sink committed them, so
  // the file offsets are the buffer. Samples: enqueue and go.
  InProcessQueue<Event> events(InProcessQueueOptions{static_cast<size_t>(c.shipper.batch_max_events) * 2, true});
  InProcessQueue<Sample> samples(InProcessQueueOptions{100000, false});

  auto scraper = Must(alerter::Scraper::Create(c.alerter.scrape), "run", "scrape");
  AlerterWorker alerter_worker(engine, &samples.consumer(), scraper.get());
  ParserWorker parser_worker(c.parser, rules, &events.consumer(), sink.get(), &samples.producer());
  Shipper shipper(c, &events.producer(), &samples.producer());
  alerter_worker.Start();
  scraper->Start();
  parser_worker.Start();
  if (Status s = shipper.Start(); !s.ok()) {
    spdlog::critical("run: {}", s.ToString());
    return 1;
  }
  spdlog::info("run: pipeline started ({} file inputs, store {})", c.shipper.files.size(), DescribeSink(c.parser));
  int64_t idle_since_ms = -1;
  for (;;) {
    SignalEvent ev = WaitForSignal(Millis(250));
    if (ev == SignalEvent::kStop) break;
    if (ev == SignalEvent::kReload) {
      if (auto next = Reload(path, "run")) {
        if (auto reloaded = LoadRules(*next); reloaded.ok()) parser_worker.SetRules(*reloaded);
      }
    }
    if (options.exit_when_idle.count() > 0) {
      // Host metrics keep arriving while idle; idle means every sample so far was handled.
      bool idle = shipper.CaughtUp() && parser_worker.Idle() && events.in_flight() == 0 && samples.in_flight() == 0;
      int64_t now = SystemClock().NowMs();
      if (!idle) {
        idle_since_ms = -1;
      } else if (idle_since_ms < 0) {
        idle_since_ms = now;
      } else if (now - idle_since_ms >= options.exit_when_idle.count()) {
        spdlog::info("run: idle for {} ms; stopping", options.exit_when_idle.count());
        break;
      }
    }
  }
  // Drain in pipeline order: stop reading, let the parser finish and flush its counters,
  // then let the alerter evaluate what arrived. The shipper's batch in flight waits for
  // the sink; if the sink is stuck (disk full) give up after a grace period by closing
  // the queue: that batch's checkpoint did not advance, so it is read again next start.
  std::atomic<bool> shipper_stopped{false};
  std::thread grace([&] {
    for (int i = 0; i < 100 && !shipper_stopped.load(); ++i) std::this_thread::sleep_for(Millis(100));
    if (!shipper_stopped.load()) {
      spdlog::warn("run: the store has not taken the last batch in 10 s; it will be read again on the next start");
      events.Close();
    }
  });
  shipper.Stop();
  shipper_stopped.store(true);
  grace.join();
  parser_worker.Stop();
  events.Close();
  for (int i = 0; i < 20 && samples.queued() > 0; ++i) std::this_thread::sleep_for(Millis(50));
  scraper->Stop();
  alerter_worker.Stop();
  service->Stop();  // delivers what the last evaluation queued
  samples.Close();

  if (options.print_summary) {
    ShipperStats ss = shipper.stats();
    ParserStats ps = parser_worker.stats();
    auto as = alerter_worker.stats();
    std::printf("logship run summary\n");
    std::printf("  events read and delivered   %llu\n", static_cast<unsigned long long>(ss.events_sent));
    std::printf("  events parsed               %llu\n", static_cast<unsigned long long>(ps.parsed));
    std::printf("  events kept raw (no match)  %llu\n", static_cast<unsigned long long>(ps.unparsed));
    if (const auto* sqlite = dynamic_cast<const SqliteSink*>(sink.get())) {
      std::printf("  events indexed (new rows)   %llu\n", static_cast<unsigned long long>(sqlite->inserted_total()));
    }
    std::printf("  store                       %s\n", DescribeSink(c.parser).c_str());
    std::printf("  pages                       %llu warning, %llu critical, %llu escalated, %llu resolved\n",
                static_cast<unsigned long long>(as.triggers_warning),
                static_cast<unsigned long long>(as.triggers_critical),
                static_cast<unsigned long long>(as.escalations), static_cast<unsigned long long>(as.resolves));
    for (const auto& rec : alerter_worker.pages()) {
      std::printf("    %s %-8s %-8s %s\n", alerter::FormatTimestamp(rec.page.time_ms).c_str(),
                  alerter::PageActionName(rec.page.action), alerter::SeverityName(rec.page.severity),
                  alerter::PageSummary(rec.page).c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace logship::cli
