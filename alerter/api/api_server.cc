#include "alerter/api/api_server.h"

#include <civetweb.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

namespace logship::alerter {
namespace {

ApiServer::Response Json(int status, const nlohmann::json& j) { return {status, j.dump()}; }
ApiServer::Response Error(int status, const std::string& message) { return Json(status, {{"error", message}}); }

ApiServer::Response FromStatus(const Status& st) {
  switch (st.code()) {
    case StatusCode::kNotFound: return Error(404, st.message());
    case StatusCode::kInvalidArgument: return Error(400, st.message());
    default: return Error(500, st.message());
  }
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

bool QueryFlag(const std::string& query, const std::string& name) {
  size_t p = 0;
  while (p <= query.size()) {
    size_t amp = query.find('&', p);
    std::string kv = query.substr(p, amp == std::string::npos ? std::string::npos : amp - p);
    if (kv == name || kv == name + "=1" || kv == name + "=true") return true;
    if (amp == std::string::npos) break;
    p = amp + 1;
  }
  return false;
}

bool TokenMatches(const std::string& header, const std::string& token) {
  const std::string prefix = "Bearer ";
  if (header.size() != prefix.size() + token.size() || header.compare(0, prefix.size(), prefix) != 0) return false;
  return CRYPTO_memcmp(header.data() + prefix.size(), token.data(), token.size()) == 0;
}

std::mutex g_start_error_mu;
std::string g_start_error;  // GUARDED_BY(g_start_error_mu): civetweb's last message while starting

int LogMessage(const mg_connection* conn, const char* message) {
  if (conn == nullptr) {
    std::lock_guard<std::mutex> lock(g_start_error_mu);
    g_start_error = message;
  } else {
    spdlog::debug("alerter API: {}", message);
  }
  return 1;  // handled: civetweb prints nothing
}

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::Start(ApiServerOptions options, PageDispatcher* dispatcher) {
  if (options.token.empty()) return Status::InvalidArgument("alerter API: no token");
  std::unique_ptr<ApiServer> s(new ApiServer(std::move(options), dispatcher));
  const std::string ports = s->options_.listen;
  const char* mg_options[] = {"listening_ports", ports.c_str(), "num_threads", "2", "request_timeout_ms", "10000",
                              "enable_keep_alive", "no", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = &LogMessage;
  {
    std::lock_guard<std::mutex> lock(g_start_error_mu);
    g_start_error.clear();
  }
  s->ctx_ = mg_start(&callbacks, s.get(), mg_options);
  if (s->ctx_ == nullptr) {
    std::lock_guard<std::mutex> lock(g_start_error_mu);
    return Status::IOError("alerter API on " + ports + ": " + (g_start_error.empty() ? "cannot listen" : g_start_error));
  }
  mg_set_request_handler(s->ctx_, "/api", &ApiServer::OnRequest, s.get());
  mg_server_port p[4];
  int n = mg_get_server_ports(s->ctx_, 4, p);
  s->port_ = n > 0 ? p[0].port : 0;
  return s;
}

ApiServer::~ApiServer() {
  if (ctx_ != nullptr) mg_stop(ctx_);
}

int ApiServer::OnRequest(mg_connection* conn, void* self_ptr) {
  auto* self = static_cast<ApiServer*>(self_ptr);
  const mg_request_info* info = mg_get_request_info(conn);
  Request req;
  req.method = info->request_method ? info->request_method : "";
  req.path = info->local_uri ? info->local_uri : "";
  req.query = info->query_string ? info->query_string : "";
  if (const char* auth = mg_get_header(conn, "Authorization")) req.authorization = auth;
  Response resp;
  if (info->content_length > static_cast<long long>(self->options_.max_body_bytes)) {
    resp = Error(413, "request body too large");
  } else {
    char buf[4096];
    int n;
    while (req.body.size() <= self->options_.max_body_bytes && (n = mg_read(conn, buf, sizeof buf)) > 0) {
      req.body.append(buf, static_cast<size_t>(n));
    }
    resp = req.body.size() > self->options_.max_body_bytes ? Error(413, "request body too large") : self->Handle(req);
  }
  const char* reason = resp.status == 200 ? "OK" : resp.status == 201 ? "Created" : "Error";
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n%s"
            "Connection: close\r\n\r\n",
            resp.status, reason, resp.body.size(),
            resp.status == 401 ? "WWW-Authenticate: Bearer realm=\"logship alerter\"\r\n" : "");
  mg_write(conn, resp.body.data(), resp.body.size());
  return resp.status;
}

ApiServer::Response ApiServer::Handle(const Request& req) {
  const std::vector<std::string> parts = Split(req.path);
  if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1") return Error(404, "not found: " + req.path);
  const std::string& what = parts[2];
  const bool read = req.method == "GET";
  if (what == "health" && parts.size() == 3) {
    return read ? Json(200, {{"status", "ok"}}) : Error(405, "use GET");
  }
  if (!(read && options_.open_reads) && !TokenMatches(req.authorization, options_.token)) {
    return Error(401, "missing or wrong bearer token");
  }
  nlohmann::json body;
  if (!read && !req.body.empty()) {
    body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return Error(400, "the body must be a JSON object");
  }
  auto str = [&](const char* key) {
    return body.is_object() && body.contains(key) && body[key].is_string() ? body[key].get<std::string>() : "";
  };

  if (what == "alerts") {
    if (parts.size() == 3) {
      if (!read) return Error(405, "use GET");
      nlohmann::json list = nlohmann::json::array();
      for (auto& j : dispatcher_->ListIncidents(QueryFlag(req.query, "all"))) list.push_back(std::move(j));
      return Json(200, {{"alerts", list}});
    }
    if (parts.size() == 4) {
      if (!read) return Error(405, "use GET");
      auto j = dispatcher_->GetIncident(parts[3]);
      return j.ok() ? Json(200, *j) : FromStatus(j.status());
    }
    if (parts.size() == 5 && (parts[4] == "ack" || parts[4] == "acknowledge")) {
      if (req.method != "POST") return Error(405, "use POST");
      auto j = dispatcher_->Acknowledge(parts[3], str("by"), str("comment"));
      if (!j.ok() && j.status().code() == StatusCode::kInvalidArgument &&
          j.status().message().find("resolved") != std::string::npos) {
        return Error(409, j.status().message());
      }
      return j.ok() ? Json(200, *j) : FromStatus(j.status());
    }
    return Error(404, "not found: " + req.path);
  }
  if (what == "silences") {
    const int64_t now = dispatcher_->now_ms();
    if (parts.size() == 3 && read) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& s : dispatcher_->ListSilences(QueryFlag(req.query, "all"))) list.push_back(SilenceToJson(s, now));
      return Json(200, {{"silences", list}});
    }
    if (parts.size() == 3 && req.method == "POST") {
      Silence s;
      if (!body.contains("matchers") || !body["matchers"].is_array() || body["matchers"].empty()) {
        return Error(400, "\"matchers\" must be a non-empty list like [\"host=web-1\", \"alertname=~Cpu.*\"]");
      }
      for (const auto& m : body["matchers"]) {
        if (!m.is_string()) return Error(400, "each matcher must be a string like \"host=web-1\"");
        auto parsed = ParseMatcherExpression(m.get<std::string>());
        if (!parsed.ok()) return Error(400, parsed.status().message());
        s.matchers.push_back(*parsed);
      }
      s.created_by = str("createdBy");
      s.comment = str("comment");
      if (s.created_by.empty()) return Error(400, "\"createdBy\" is required");
      if (s.comment.empty()) return Error(400, "\"comment\" is required");
      if (body.contains("startsAt")) {
        if (!body["startsAt"].is_number_integer()) return Error(400, "\"startsAt\" must be ms since the epoch");
        s.starts_ms = body["startsAt"].get<int64_t>();
      }
      const int64_t start = s.starts_ms ? s.starts_ms : now;
      if (body.contains("endsAt")) {
        if (!body["endsAt"].is_number_integer()) return Error(400, "\"endsAt\" must be ms since the epoch");
        s.ends_ms = body["endsAt"].get<int64_t>();
      } else if (!str("duration").empty()) {
        auto d = ParseDuration(str("duration"));
        if (!d.ok()) return Error(400, "\"duration\": " + d.status().message());
        s.ends_ms = start + d->count();
      } else {
        return Error(400, "give \"duration\" (e.g. \"2h\") or \"endsAt\"");
      }
      auto added = dispatcher_->AddSilence(std::move(s));
      return added.ok() ? Json(201, SilenceToJson(*added, now)) : FromStatus(added.status());
    }
    if ((parts.size() == 5 && parts[4] == "expire" && req.method == "POST") ||
        (parts.size() == 4 && req.method == "DELETE")) {
      auto expired = dispatcher_->ExpireSilence(parts[3]);
      return expired.ok() ? Json(200, SilenceToJson(*expired, now)) : FromStatus(expired.status());
    }
    return parts.size() <= 5 ? Error(405, "method not allowed") : Error(404, "not found: " + req.path);
  }
  return Error(404, "not found: " + req.path);
}

}  // namespace logship::alerter
