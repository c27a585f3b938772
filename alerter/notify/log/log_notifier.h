// LogNotifier (type: log): appends one JSON line per page (trigger, acknowledge, resolve) to
// a file, fsync'd before Notify returns, and logs the page through spdlog. The embedded
// default pager of `logship run`. Triggers are repeated until acknowledged like a webhook's.
#pragma once

#include <string>

#include "alerter/notify/notifier.h"

namespace logship::alerter {

class LogNotifier final : public Notifier {
 public:
  // Creates the file's directory if needed; the file is opened O_APPEND per page, so
  // logrotate can move it at any time.
  static Result<std::unique_ptr<LogNotifier>> Create(const std::string& name,
                                                     const std::string& path);
  Status Notify(const Page& page) override;
  const std::string& name() const override { return name_; }
  std::string type() const override { return "log"; }
  NotifierTraits traits() const override { return {false, true, Millis(0)}; }
  const std::string& path() const { return path_; }

 private:
  LogNotifier(std::string name, std::string path) : name_(std::move(name)), path_(std::move(path)) {}
  std::string name_;
  std::string path_;
};

}  // namespace logship::alerter
