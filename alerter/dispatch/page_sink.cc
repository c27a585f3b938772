#include "alerter/dispatch/page_sink.h"

#include <spdlog/spdlog.h>

namespace logship::alerter {

void EvaluationOutput::Append(EvaluationOutput&& other) {
  for (auto& s : other.states) states.push_back(std::move(s));
  for (auto& p : other.progress) progress.push_back(std::move(p));
  for (auto& p : other.pages) pages.push_back(std::move(p));
}

Status DirectPageSink::Submit(const EvaluationOutput& out, std::vector<bool>* failed) {
  failed->assign(out.pages.size(), false);
  for (size_t i = 0; i < out.pages.size(); ++i) {
    const Page& page = out.pages[i];
    for (auto& n : notifiers_) {
      Status st = n->Notify(page);
      if (!st.ok()) {
        (*failed)[i] = true;
        spdlog::error("alerter: page {} ({} {}) not delivered by {}: {}", page.dedup_key, page.alert,
                      PageActionName(page.action), n->name(), st.ToString());
      }
    }
  }
  return Status::Ok();
}

}  // namespace logship::alerter
