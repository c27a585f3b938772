// RouteTree: which receivers get a page, by its labels (RoutingLabels(): the page's labels
// plus `severity`). Shaped like Alertmanager's route tree (alerter.route in the config):
//
//   - A node matches when all its `match` matchers hold (the root matches everything).
//   - Of a matching node, the children are tried in order; the first matching child takes
//     the page (recursively) and the rest are skipped, unless that child has `continue`,
//     in which case the following siblings are tried too. When no child takes it, the
//     node itself does.
//   - Each taking node contributes its `receivers`, in escalation order: with
//     escalate_after E > 0, receiver i is due E x i after the incident opened (if still
//     unacknowledged); with E = 0 all are due at once. Receivers that do not escalate by
//     themselves get the trigger again every repeat_interval until acknowledged (0: never).
//   - Unset receivers / repeat_interval / escalate_after are inherited from the parent;
//     the root's defaults are every receiver, 4h and 0s.
#pragma once

#include <string>
#include <vector>

#include "alerter/rules/alert_rules.h"
#include "logship/config.h"
#include "logship/event.h"
#include "logship/status.h"

namespace logship::alerter {

struct RouteNode {
  std::string path;  // "route", "route.routes[1]", ... for messages and the API
  std::vector<LabelMatcher> matchers;
  std::vector<std::string> receivers;
  bool continue_matching = false;
  Millis repeat_interval{0};
  Millis escalate_after{0};
  std::vector<RouteNode> children;
};

// One receiver an incident goes to.
struct RouteTarget {
  std::string receiver;
  Millis due_after{0};        // after the incident opened (escalation level x escalate_after)
  Millis repeat_interval{0};  // 0: never repeated
};

class RouteTree {
 public:
  // `receivers`: the configured receiver names (the root's default list; every name a
  // route uses must be among them).
  static Result<RouteTree> Compile(const RouteConfig& root, const std::vector<std::string>& receivers);

  // The nodes that take a page with these labels, in tree order.
  std::vector<const RouteNode*> Match(const Labels& labels) const;
  // Every receiver of those nodes, once: a receiver named by several takes the earliest
  // due_after and the shortest non-zero repeat_interval. In first-seen order.
  std::vector<RouteTarget> Targets(const Labels& labels) const;

  const RouteNode& root() const { return root_; }

 private:
  RouteNode root_;
};

}  // namespace logship::alerter
