// HttpReceiver: a small threaded HTTP/1.1 server for tests. Binds 127.0.0.1 on an
// ephemeral port, records every request and answers with canned responses (a queue, then a
// default), so tests can check what a client sent and how it reacts to 5xx/429/timeouts.
// Supports keep-alive, Content-Length bodies and "Expect: 100-continue"; not chunked bodies.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "logship/status.h"

namespace logship::testing {

struct ReceivedRequest {
  std::string method;
  std::string path;  // request target as sent, e.g. "/v2/enqueue?x=1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header named `name` (case-insensitive), "" when absent.
  std::string Header(std::string_view name) const;
};

struct CannedResponse {
  int status = 200;
  std::string body = "{}";
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"Retry-After", "1"}
  std::chrono::milliseconds delay{0};  // wait before answering (timeout tests)
};

// Thread-safe. The destructor stops the server and joins its threads.
class HttpReceiver {
 public:
  static Result<std::unique_ptr<HttpReceiver>> Start();
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port><path>"
  std::string url(const std::string& path = "/") const;

  // Responses are taken from the queue in order; when it is empty the default is used.
  void SetDefaultResponse(CannedResponse response);
  void EnqueueResponse(CannedResponse response);
  void EnqueueStatuses(const std::vector<int>& statuses);  // e.g. {500, 200}
  // When set, answers every request the queue does not (instead of the default): for
  // servers whose reply depends on the request, e.g. one status per item of a bulk body.
  // Called on the connection's thread, without the receiver's lock held.
  void SetHandler(std::function<CannedResponse(const ReceivedRequest&)> handler);

  // Blocks until at least `n` requests were recorded or `timeout` passed; returns whether
  // `n` were recorded.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout);
  std::vector<ReceivedRequest> requests() const;
  size_t request_count() const;
  size_t connections_accepted() const { return connections_accepted_.load(); }

 private:
  HttpReceiver() = default;
  void AcceptLoop();
  void ServeConnection(int fd);
  CannedResponse NextResponse(const ReceivedRequest& request);

  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};  // written on shutdown to wake poll()
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> connections_accepted_{0};
  std::thread accept_thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReceivedRequest> requests_;  // GUARDED_BY(mu_)
  std::deque<CannedResponse> queued_;      // GUARDED_BY(mu_)
  CannedResponse default_response_;        // GUARDED_BY(mu_)
  std::function<CannedResponse(const ReceivedRequest&)> handler_;  // GUARDED_BY(mu_)
  std::vector<std::thread> connection_threads_;  // GUARDED_BY(mu_)
  std::vector<int> open_fds_;                    // GUARDED_BY(mu_)
};

}  // namespace logship::testing
