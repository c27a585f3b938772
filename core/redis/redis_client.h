// A small synchronous Redis client on hiredis: connect, AUTH, SELECT, reconnect on demand,
// pipelined binary-safe commands. Every failure is turned into Ok / Retryable / Permanent
// by ClassifyRedisError(), the one place that decides it for Redis.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "logship/config.h"
#include "logship/status.h"

struct redisContext;

namespace logship {

// A reply, copied out of hiredis. Arrays hold their elements; strings, statuses and errors
// their text; integers their value. Nil is its own type (XREADGROUP timeout, deleted entry).
struct RedisReply {
  enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<RedisReply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  bool is_string() const { return type == Type::kString || type == Type::kStatus; }
  bool is_array() const { return type == Type::kArray; }
};

// The one function that decides the outcome of every Redis failure.
// `hiredis_err` is the context error (REDIS_ERR_IO, _EOF, _PROTOCOL, _OOM, _OTHER) of a
// connection-level failure, or 0 when `message` is an error reply from the server.
//   Retryable: every connection-level failure (refused, reset, timeout, EOF, protocol
//              desync), and the replies LOADING, BUSY, TRYAGAIN, MASTERDOWN, CLUSTERDOWN,
//              OOM, READONLY, NOREPLICAS, NOTREADY.
//   Permanent: every other error reply (WRONGTYPE, NOAUTH, WRONGPASS, NOPERM, ERR ...,
//              NOGROUP, BUSYGROUP: callers that expect those test for them first, see
//              RedisErrorIs()).
// `context` prefixes the message ("redis 127.0.0.1:6379: XADD").
Status ClassifyRedisError(int hiredis_err, std::string_view message, std::string_view context);

// True when the error reply `message` starts with the error code `code` ("NOGROUP").
bool RedisErrorIs(std::string_view message, std::string_view code);

// One command: its arguments, binary safe. The views must outlive the call they are passed to.
using RedisArgs = std::vector<std::string_view>;

// The Redis protocol (RESP) encoding of a command, appended to `out`: AppendRespArrayHeader
// with the number of arguments, then AppendRespBulk for each. What RedisClient::Send takes.
void AppendRespArrayHeader(std::string& out, size_t count);
void AppendRespBulk(std::string& out, std::string_view arg);

// Thread-compatible: one thread at a time. Construction does no I/O; the first command
// connects, and a command after a connection failure reconnects (connect, AUTH, SELECT).
class RedisClient {
 public:
  explicit RedisClient(RedisConfig config);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Connects (and authenticates, selects the db) unless already connected.
  // Retryable when Redis is unreachable, Permanent when it rejects AUTH or SELECT.
  Status Connect();
  // Drops the connection; the next command reconnects.
  void Disconnect();
  bool connected() const { return ctx_ != nullptr; }

  // Sends all `commands` in one write and reads one reply per command, in order.
  // An error reply is returned as a RedisReply of type kError (classify it with
  // ClassifyRedisError); the Status is not Ok only for connection-level failures, after
  // which the connection is dropped (some of the commands may have been executed).
  // `extra_wait` is added to the read timeout (for BLOCK commands).
  Result<std::vector<RedisReply>> Pipeline(std::span<const RedisArgs> commands,
                                           std::chrono::milliseconds extra_wait = {});
  // One command; same contract as Pipeline.
  Result<RedisReply> Command(const RedisArgs& args, std::chrono::milliseconds extra_wait = {});

  // Split pipelining, for callers that keep several groups of commands in flight on one
  // connection: Send writes `resp` (commands already in the Redis protocol, see
  // AppendRespCommand) and returns once the kernel took every byte, without reading;
  // Receive reads the next `count` replies in order, calling on_reply(reply) for each
  // (`reply` is valid only during the call). Both connect first when needed; a failure
  // of either is connection-level (Retryable), drops the connection, and so fails every
  // reply still unread: callers compare connects() before and after to tell which sent
  // commands can still be answered. Error replies are replies, not failures.
  Status Send(std::string_view resp, std::string_view what);
  Status Receive(size_t count, std::string_view what, const std::function<void(const RedisReply&)>& on_reply);

  // "redis 127.0.0.1:6379": used as context in messages. Never contains the password.
  const std::string& endpoint() const { return endpoint_; }
  // Number of successful connects so far (tests and metrics).
  uint64_t connects() const { return connects_; }

 private:
  Status ConnectionError(std::string_view what);
  Status SetReadTimeout(std::chrono::milliseconds timeout);

  const RedisConfig config_;
  const std::string endpoint_;
  redisContext* ctx_ = nullptr;
  std::chrono::milliseconds current_timeout_{0};
  uint64_t connects_ = 0;
};

}  // namespace logship
