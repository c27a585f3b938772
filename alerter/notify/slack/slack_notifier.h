// SlackNotifier (type: slack): a Slack incoming webhook. The URL embeds its token, so it is
// treated as a secret (give it as url_secret: {env: ...}) and never appears in logs.
// One message per page: {text, attachments: [{color, title, title_link, text, fields,
// footer, ts}]} with text
//   trigger      ":rotating_light: [CRITICAL] <summary>" (":warning: [WARNING] ..."),
//                "(repeat N)" appended on repeats, "(flapping)" when flapping
//   acknowledge  ":eyes: [ACKNOWLEDGED by <who>] <summary>"
//   resolve      ":white_check_mark: [RESOLVED] <summary>"
// Slack does not escalate: the dispatcher repeats triggers until acknowledged and
// escalates to the next receiver of the route.
#pragma once

#include <string>

#include "alerter/notify/http_delivery.h"
#include "alerter/notify/notifier.h"

namespace logship::alerter {

class SlackNotifier final : public Notifier {
 public:
  SlackNotifier(const NotifierConfig& config, HttpDeliveryOptions options);
  explicit SlackNotifier(const NotifierConfig& config);

  Status Notify(const Page& page) override;
  const std::string& name() const override { return name_; }
  std::string type() const override { return "slack"; }
  NotifierTraits traits() const override { return {false, true, Millis(0)}; }
  Millis last_retry_after() const override { return delivery_.last_retry_after(); }

  static std::string Body(const Page& page);

 private:
  std::string name_;
  std::string url_;  // secret
  Millis timeout_;
  HttpDelivery delivery_;
};

}  // namespace logship::alerter
