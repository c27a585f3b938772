// Status and Result: how every module boundary in logship reports failure. No exceptions
// cross a module boundary; libraries that throw are caught in their adapter.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace logship {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller's input (config, rule, query) is wrong; fix and retry
  kNotFound,
  kIOError,          // local filesystem or OS failure
  kCorruption,       // stored data does not decode (checkpoint, spool, frame)
  kRetryable,        // a downstream is unavailable or overloaded: back off, never drop
  kPermanent,        // a downstream rejected the request; retrying cannot succeed
  kCancelled,        // shutdown was requested while waiting
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // Ok
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status Retryable(std::string msg) { return {StatusCode::kRetryable, std::move(msg)}; }
  static Status Permanent(std::string msg) { return {StatusCode::kPermanent, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  bool retryable() const { return code_ == StatusCode::kRetryable; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "retryable: redis 127.0.0.1:6379: connection refused"
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>"; Ok stays Ok.
  Status Annotate(const std::string& context) const;

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

const char* StatusCodeName(StatusCode code);

// Result<T>: a value or a non-Ok Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: REQUIRES !status.ok()

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

#define LOGSHIP_RETURN_IF_ERROR(expr)        \
  do {                                       \
    ::logship::Status _st = (expr);          \
    if (!_st.ok()) return _st;               \
  } while (0)

}  // namespace logship
