#include "tests/support/http_receiver.h"

#include "core/util/strings.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace logship::testing {
namespace {


const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string ReceivedRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

Result<std::unique_ptr<HttpReceiver>> HttpReceiver::Start() {
  std::unique_ptr<HttpReceiver> r(new HttpReceiver());
  if (::pipe(r->wake_pipe_) != 0) return Status::IOError(std::string("pipe: ") + strerror(errno));
  r->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (r->listen_fd_ < 0) return Status::IOError(std::string("socket: ") + strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(r->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(r->listen_fd_, 64) != 0) {
    return Status::IOError(std::string("bind/listen 127.0.0.1:0: ") + strerror(errno));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(r->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  r->port_ = ntohs(addr.sin_port);
  r->accept_thread_ = std::thread([p = r.get()] { p->AcceptLoop(); });
  return r;
}

HttpReceiver::~HttpReceiver() {
  stopping_ = true;
  if (wake_pipe_[1] >= 0) {
    char c = 'x';
    (void)!::write(wake_pipe_[1], &c, 1);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(connection_threads_);
  }
  for (auto& t : threads) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

std::string HttpReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void HttpReceiver::SetDefaultResponse(CannedResponse response) {
  std::lock_guard<std::mutex> lock(mu_);
  default_response_ = std::move(response);
}

void HttpReceiver::EnqueueResponse(CannedResponse response) {
  std::lock_guard<std::mutex> lock(mu_);
  queued_.push_back(std::move(response));
}

void HttpReceiver::EnqueueStatuses(const std::vector<int>& statuses) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int s : statuses) {
    CannedResponse r;
    r.status = s;
    queued_.push_back(std::move(r));
  }
}

bool HttpReceiver::WaitForRequests(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

std::vector<ReceivedRequest> HttpReceiver::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t HttpReceiver::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

void HttpReceiver::SetHandler(std::function<CannedResponse(const ReceivedRequest&)> handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handler_ = std::move(handler);
}

CannedResponse HttpReceiver::NextResponse(const ReceivedRequest& request) {
  std::function<CannedResponse(const ReceivedRequest&)> handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!queued_.empty()) {
      CannedResponse r = std::move(queued_.front());
      queued_.pop_front();
      return r;
    }
    if (!handler_) return default_response_;
    handler = handler_;
  }
  return handler(request);
}

void HttpReceiver::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN) || stopping_) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    connections_accepted_++;
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.push_back(fd);
    connection_threads_.emplace_back([this, fd] { ServeConnection(fd); });
  }
}

void HttpReceiver::ServeConnection(int fd) {
  std::string buf;
  char chunk[8192];
  // Reads more bytes into buf; false on EOF, error or shutdown.
  auto read_more = [&]() -> bool {
    while (!stopping_) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
      int n = ::poll(fds, 2, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || (fds[1].revents & POLLIN)) return false;
      ssize_t got = ::recv(fd, chunk, sizeof(chunk), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      buf.append(chunk, static_cast<size_t>(got));
      return true;
    }
    return false;
  };

  bool keep_alive = true;
  while (keep_alive && !stopping_) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more()) goto done;
    }
    {
      ReceivedRequest req;
      std::string_view head(buf.data(), end);
      size_t line_end = head.find("\r\n");
      std::string_view request_line = head.substr(0, line_end);
      size_t sp1 = request_line.find(' ');
      size_t sp2 = request_line.find(' ', sp1 + 1);
      if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) goto done;
      req.method = std::string(request_line.substr(0, sp1));
      req.path = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
      std::string_view rest =
          line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
      while (!rest.empty()) {
        size_t e = rest.find("\r\n");
        std::string_view line = rest.substr(0, e);
        size_t colon = line.find(':');
        if (colon != std::string_view::npos) {
          req.headers.emplace_back(std::string(Trim(line.substr(0, colon))), std::string(Trim(line.substr(colon + 1))));
        }
        if (e == std::string_view::npos) break;
        rest.remove_prefix(e + 2);
      }
      size_t content_length = 0;
      std::string cl = req.Header("Content-Length");
      if (!cl.empty()) content_length = std::strtoul(cl.c_str(), nullptr, 10);
      if (EqualsIgnoreCase(req.Header("Connection"), "close")) keep_alive = false;
      if (EqualsIgnoreCase(req.Header("Expect"), "100-continue")) {
        if (!SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")) goto done;
      }
      buf.erase(0, end + 4);
      while (buf.size() < content_length) {
        if (!read_more()) goto done;
      }
      req.body = buf.substr(0, content_length);
      buf.erase(0, content_length);

      CannedResponse resp = NextResponse(req);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(std::move(req));
      }
      cv_.notify_all();
      if (resp.delay.count() > 0) {
        pollfd wake = {wake_pipe_[0], POLLIN, 0};
        ::poll(&wake, 1, static_cast<int>(resp.delay.count()));
        if (stopping_) goto done;
      }
      std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + Reason(resp.status) +
                        "\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(resp.body.size()) + "\r\n";
      for (const auto& [k, v] : resp.headers) out += k + ": " + v + "\r\n";
      if (!keep_alive) out += "Connection: close\r\n";
      out += "\r\n" + resp.body;
      if (!SendAll(fd, out)) goto done;
    }
  }
done:
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    ::close(fd);
  }
}

}  // namespace logship::testing
