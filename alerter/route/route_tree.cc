#include "alerter/route/route_tree.h"

#include <algorithm>

namespace logship::alerter {
namespace {

constexpr Millis kDefaultRepeat{4 * 3600 * 1000};

Status CompileNode(const RouteConfig& c, const RouteNode* parent, const std::vector<std::string>& names,
                   const std::string& path, RouteNode* out) {
  out->path = path;
  for (const auto& [label, text] : c.match) {
    auto m = MakeLabelMatcher(label, text);
    if (!m.ok()) return Status::InvalidArgument(path + ".match: " + m.status().message());
    out->matchers.push_back(std::move(*m));
  }
  out->receivers = c.receivers;
  if (out->receivers.empty()) out->receivers = parent ? parent->receivers : names;
  for (const auto& r : out->receivers) {
    if (std::find(names.begin(), names.end(), r) == names.end()) {
      return Status::InvalidArgument(path + ": unknown receiver \"" + r + "\"");
    }
  }
  out->continue_matching = c.continue_matching;
  out->repeat_interval = c.repeat_interval.count() >= 0 ? c.repeat_interval
                         : parent                        ? parent->repeat_interval
                                                         : kDefaultRepeat;
  out->escalate_after = c.escalate_after.count() >= 0 ? c.escalate_after
                        : parent                       ? parent->escalate_after
                                                       : Millis(0);
  for (size_t i = 0; i < c.routes.size(); ++i) {
    RouteNode child;
    LOGSHIP_RETURN_IF_ERROR(
        CompileNode(c.routes[i], out, names, path + ".routes[" + std::to_string(i) + "]", &child));
    out->children.push_back(std::move(child));
  }
  return Status::Ok();
}

bool NodeMatches(const RouteNode& n, const Labels& labels) {
  for (const auto& m : n.matchers) {
    if (!m.Matches(labels)) return false;
  }
  return true;
}

void MatchInto(const RouteNode& n, const Labels& labels, std::vector<const RouteNode*>& out) {
  bool taken = false;
  for (const auto& child : n.children) {
    if (!NodeMatches(child, labels)) continue;
    MatchInto(child, labels, out);
    taken = true;
    if (!child.continue_matching) break;
  }
  if (!taken) out.push_back(&n);
}

}  // namespace

Result<RouteTree> RouteTree::Compile(const RouteConfig& root, const std::vector<std::string>& receivers) {
  RouteTree t;
  LOGSHIP_RETURN_IF_ERROR(CompileNode(root, nullptr, receivers, "alerter.route", &t.root_));
  return t;
}

std::vector<const RouteNode*> RouteTree::Match(const Labels& labels) const {
  std::vector<const RouteNode*> out;
  MatchInto(root_, labels, out);  // the root's own matchers are ignored: it takes everything
  return out;
}

std::vector<RouteTarget> RouteTree::Targets(const Labels& labels) const {
  std::vector<RouteTarget> out;
  for (const RouteNode* n : Match(labels)) {
    for (size_t i = 0; i < n->receivers.size(); ++i) {
      RouteTarget t{n->receivers[i], n->escalate_after * static_cast<int64_t>(i), n->repeat_interval};
      auto it = std::find_if(out.begin(), out.end(), [&](const RouteTarget& x) { return x.receiver == t.receiver; });
      if (it == out.end()) {
        out.push_back(t);
        continue;
      }
      it->due_after = std::min(it->due_after, t.due_after);
      if (t.repeat_interval.count() > 0 &&
          (it->repeat_interval.count() == 0 || t.repeat_interval < it->repeat_interval)) {
        it->repeat_interval = t.repeat_interval;
      }
    }
  }
  return out;
}

}  // namespace logship::alerter
