#include "core/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <charconv>
#include <array>
#include <utility>

namespace logship {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  if (ms.count() <= 0) ms = std::chrono::milliseconds(1);
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

RedisReply Convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

}  // namespace

bool RedisErrorIs(std::string_view message, std::string_view code) {
  if (message.size() < code.size() || message.substr(0, code.size()) != code) return false;
  return message.size() == code.size() || message[code.size()] == ' ';
}

Status ClassifyRedisError(int hiredis_err, std::string_view message, std::string_view context) {
  std::string msg;
  msg.reserve(context.size() + message.size() + 2);
  msg.append(context);
  if (!context.empty()) msg.append(": ");
  msg.append(message);
  if (hiredis_err != 0) {
    // Refused, reset, timed out, EOF, a desynchronised stream, out of memory in the client,
    // an unresolvable host: the connection is unusable, a new one may work.
    return Status::Retryable(std::move(msg));
  }
  static constexpr std::array<std::string_view, 9> kRetryable = {
      "LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN",
      "OOM",     "READONLY", "NOREPLICAS", "NOTREADY"};
  for (std::string_view code : kRetryable) {
    if (RedisErrorIs(message, code)) return Status::Retryable(std::move(msg));
  }
  return Status::Permanent(std::move(msg));
}

RedisClient::RedisClient(RedisConfig config)
    : config_(std::move(config)),
      endpoint_("redis " + config_.host + ":" + std::to_string(config_.port)) {}

RedisClient::~RedisClient() { Disconnect(); }

void RedisClient::Disconnect() {
  if (ctx_ != nullptr) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
}

Status RedisClient::ConnectionError(std::string_view what) {
  int err = REDIS_ERR_OTHER;
  std::string detail = "connection lost";
  if (ctx_ != nullptr && ctx_->err != 0) {
    err = ctx_->err;
    detail = ctx_->errstr;
    if (err == REDIS_ERR_EOF) detail = "connection closed by server";
    if (err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) detail = "timeout";
  }
  Disconnect();
  std::string context = endpoint_;
  if (!what.empty()) context.append(": ").append(what);
  return ClassifyRedisError(err, detail, context);
}

Status RedisClient::SetReadTimeout(std::chrono::milliseconds timeout) {
  if (timeout == current_timeout_) return Status::Ok();
  if (redisSetTimeout(ctx_, ToTimeval(timeout)) != REDIS_OK) {
    return ConnectionError("set timeout");
  }
  current_timeout_ = timeout;
  return Status::Ok();
}

Status RedisClient::Connect() {
  if (ctx_ != nullptr) return Status::Ok();
  ctx_ = redisConnectWithTimeout(config_.host.c_str(), config_.port, ToTimeval(config_.timeout));
  if (ctx_ == nullptr) {
    return ClassifyRedisError(REDIS_ERR_OOM, "cannot allocate context", endpoint_);
  }
  if (ctx_->err != 0) return ConnectionError("connect");
  current_timeout_ = std::chrono::milliseconds(-1);
  LOGSHIP_RETURN_IF_ERROR(SetReadTimeout(config_.timeout));
  redisEnableKeepAlive(ctx_);

  // AUTH and SELECT are sent in one round trip. The password is passed as an argument and
  // never formatted into a message.
  std::vector<RedisArgs> setup;
  std::string db = std::to_string(config_.db);
  if (!config_.user.empty()) {
    setup.push_back({"AUTH", config_.user, config_.password.value});
  } else if (!config_.password.empty()) {
    setup.push_back({"AUTH", config_.password.value});
  }
  if (config_.db != 0) setup.push_back({"SELECT", db});
  if (!setup.empty()) {
    // Pipeline() would reconnect through Connect(); the context is ready, so it will not.
    auto replies = Pipeline(setup);
    if (!replies.ok()) return replies.status();
    for (size_t i = 0; i < replies->size(); ++i) {
      const RedisReply& r = (*replies)[i];
      if (r.is_error()) {
        Status st = ClassifyRedisError(0, r.str, endpoint_ + ": " + std::string(setup[i][0]));
        Disconnect();
        return st;
      }
    }
  }
  ++connects_;
  return Status::Ok();
}

Result<std::vector<RedisReply>> RedisClient::Pipeline(std::span<const RedisArgs> commands,
                                                      std::chrono::milliseconds extra_wait) {
  LOGSHIP_RETURN_IF_ERROR(Connect());
  LOGSHIP_RETURN_IF_ERROR(SetReadTimeout(config_.timeout + extra_wait));
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  for (const RedisArgs& args : commands) {
    argv.clear();
    argvlen.clear();
    for (std::string_view a : args) {
      argv.push_back(a.data());
      argvlen.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(),
                               argvlen.data()) != REDIS_OK) {
      return ConnectionError(commands.empty() ? "" : std::string(args.empty() ? "" : args[0]));
    }
  }
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      std::string what = commands[i].empty() ? "" : std::string(commands[i][0]);
      return ConnectionError(what);
    }
    auto* reply = static_cast<redisReply*>(raw);
    replies.push_back(Convert(reply));
    freeReplyObject(reply);
  }
  return replies;
}

void AppendRespArrayHeader(std::string& out, size_t count) {
  char buf[24];
  buf[0] = '*';
  char* end = std::to_chars(buf + 1, buf + sizeof buf, count).ptr;
  out.append(buf, end).append("\r\n", 2);
}

void AppendRespBulk(std::string& out, std::string_view arg) {
  char buf[24];
  buf[0] = '$';
  char* end = std::to_chars(buf + 1, buf + sizeof buf, arg.size()).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out.append(buf, end).append(arg).append("\r\n", 2);
}

Status RedisClient::Send(std::string_view resp, std::string_view what) {
  LOGSHIP_RETURN_IF_ERROR(Connect());
  LOGSHIP_RETURN_IF_ERROR(SetReadTimeout(config_.timeout));
  if (resp.empty()) return Status::Ok();
  if (redisAppendFormattedCommand(ctx_, resp.data(), resp.size()) != REDIS_OK) return ConnectionError(what);
  int done = 0;
  while (done == 0) {
    // Blocking socket: each call writes what the kernel takes, waiting at most the timeout.
    if (redisBufferWrite(ctx_, &done) != REDIS_OK) return ConnectionError(what);
  }
  return Status::Ok();
}

Status RedisClient::Receive(size_t count, std::string_view what,
                            const std::function<void(const RedisReply&)>& on_reply) {
  if (ctx_ == nullptr) return ClassifyRedisError(REDIS_ERR_EOF, "connection lost", endpoint_ + ": " + std::string(what));
  RedisReply converted;
  for (size_t i = 0; i < count; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) return ConnectionError(what);
    auto* reply = static_cast<redisReply*>(raw);
    if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS ||
        reply->type == REDIS_REPLY_ERROR) {
      // The common case (an XADD id) reuses one reply's string: no allocation per reply.
      converted.type = reply->type == REDIS_REPLY_STRING   ? RedisReply::Type::kString
                       : reply->type == REDIS_REPLY_STATUS ? RedisReply::Type::kStatus
                                                           : RedisReply::Type::kError;
      converted.str.assign(reply->str, reply->len);
      converted.integer = 0;
      converted.elements.clear();
      on_reply(converted);
    } else {
      on_reply(Convert(reply));
    }
    freeReplyObject(reply);
  }
  return Status::Ok();
}

Result<RedisReply> RedisClient::Command(const RedisArgs& args, std::chrono::milliseconds extra_wait) {
  auto replies = Pipeline(std::span<const RedisArgs>(&args, 1), extra_wait);
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

}  // namespace logship
