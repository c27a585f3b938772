// ApiServer: the alerter's HTTP API (docs/alerting.md, "API"), served by civetweb (the
// server prometheus-cpp uses for /metrics; its C API lets us register our own handlers) on
// alerter.api.listen, loopback by default.
//
//   GET  /api/v1/health                      {"status": "ok"} (no token needed)
//   GET  /api/v1/alerts[?all=1]              {"alerts": [incident...]} (all: resolved too)
//   GET  /api/v1/alerts/<id>                 one incident (id or a unique prefix)
//   POST /api/v1/alerts/<id>/ack             {"by": "...", "comment": "..."} -> the incident
//   GET  /api/v1/silences[?all=1]            {"silences": [...]} (all: expired too)
//   POST /api/v1/silences                    {"matchers": ["k=v", "k=~re"], "createdBy", "comment",
//                                             "duration": "2h" | "endsAt": ms, "startsAt": ms}
//   POST /api/v1/silences/<id>/expire        (also DELETE /api/v1/silences/<id>)
//
// Every call but health needs "Authorization: Bearer <token>" (compared in constant time),
// GET calls too unless open_reads. Errors are {"error": "..."} with 400, 401, 404, 405, 409.
// The token is never logged; no access log is written.
#pragma once

#include <memory>
#include <string>

#include "alerter/dispatch/page_dispatcher.h"
#include "logship/status.h"

struct mg_context;
struct mg_connection;

namespace logship::alerter {

struct ApiServerOptions {
  std::string listen = "127.0.0.1:9465";  // host:port; port 0 picks a free one
  std::string token;                      // required (non-empty)
  bool open_reads = false;
  size_t max_body_bytes = 64 << 10;
};

class ApiServer {
 public:
  struct Request {
    std::string method;
    std::string path;   // without the query
    std::string query;  // "all=1"
    std::string authorization;
    std::string body;
  };
  struct Response {
    int status = 200;
    std::string body;  // JSON
  };

  // `dispatcher` (not owned) outlives the server.
  static Result<std::unique_ptr<ApiServer>> Start(ApiServerOptions options, PageDispatcher* dispatcher);
  ~ApiServer();  // stops serving (waits for requests in flight)

  int port() const { return port_; }
  // The routing and handling, without the socket (also what the server calls).
  Response Handle(const Request& request);

 private:
  ApiServer(ApiServerOptions options, PageDispatcher* dispatcher)
      : options_(std::move(options)), dispatcher_(dispatcher) {}
  static int OnRequest(mg_connection* conn, void* self);

  ApiServerOptions options_;
  PageDispatcher* dispatcher_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
};

}  // namespace logship::alerter
