#include "core/log/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace logship {

Status InitLogging(const LogConfig& config) {
  auto level = spdlog::level::from_str(config.level);
  if (level == spdlog::level::off && config.level != "off") {
    return Status::InvalidArgument("log.level: unknown level \"" + config.level + "\"");
  }
  spdlog::drop("logship");  // a reload (SIGHUP) re-creates it
  auto logger = spdlog::stderr_logger_mt("logship");
  if (config.format == "json") {
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace logship
