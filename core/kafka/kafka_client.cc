#include "core/kafka/kafka_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace logship {
namespace {

bool IsRetryable(rd_kafka_resp_err_t err) {
  switch (err) {
    // Local: the cluster is unreachable or slow, or the client is busy.
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__WAIT_CACHE:
    case RD_KAFKA_RESP_ERR__IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__RETRY:
    case RD_KAFKA_RESP_ERR__NODE_UPDATE:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__ISR_INSUFF:
    case RD_KAFKA_RESP_ERR__UNKNOWN_BROKER:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
    case RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED:
    case RD_KAFKA_RESP_ERR__INTR:
    // Broker: transient, leadership moving, coordinator moving, group rebalancing.
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:  // CORRUPT_MESSAGE, a CRC mismatch on the way: Kafka retries it
    case RD_KAFKA_RESP_ERR_FETCH_SESSION_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_INVALID_FETCH_SESSION_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_PREFERRED_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
      return true;
    default:
      return false;
  }
}

bool IsFatal(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR__GAPLESS_GUARANTEE:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
      return true;
    default:
      return false;
  }
}

bool IsReserved(const std::string& key, const std::vector<std::string>& reserved) {
  return std::find(reserved.begin(), reserved.end(), key) != reserved.end();
}

bool IsSecretProperty(std::string_view key) {
  return key.find("password") != std::string_view::npos ||
         key.find("secret") != std::string_view::npos;
}

void LogLine(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  spdlog::level::level_enum l = level <= 3   ? spdlog::level::err
                                : level == 4 ? spdlog::level::warn
                                : level <= 6 ? spdlog::level::info
                                             : spdlog::level::debug;
  spdlog::log(l, "kafka {}: {}: {}", rk ? rd_kafka_name(rk) : "", fac, buf);
}

}  // namespace

Status ClassifyKafkaError(rd_kafka_resp_err_t err, std::string_view context, bool fatal) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
    return Status::Ok();
  }
  std::string msg(context);
  if (!msg.empty()) msg += ": ";
  msg += rd_kafka_err2name(err);
  msg += " (";
  msg += rd_kafka_err2str(err);
  msg += ")";
  if (fatal || IsFatal(err)) return Status::Permanent(msg + " [fatal]");
  if (IsRetryable(err)) return Status::Retryable(msg);
  return Status::Permanent(msg);
}

Result<KafkaProperties> KafkaBaseProperties(const KafkaConfig& kafka,
                                            const std::vector<std::string>& reserved) {
  if (kafka.brokers.empty()) return Status::InvalidArgument("queue.kafka.brokers is empty");
  std::vector<std::string> own = reserved;
  own.insert(own.end(), {"bootstrap.servers", "metadata.broker.list", "client.id"});
  KafkaProperties props = {{"bootstrap.servers", kafka.brokers}, {"client.id", kafka.client_id}};
  if (!kafka.sasl_username.empty()) {
    own.push_back("sasl.username");
    props.emplace_back("sasl.username", kafka.sasl_username);
  }
  if (!kafka.sasl_password.origin.empty() || !kafka.sasl_password.value.empty()) {
    own.push_back("sasl.password");
    Secret password = kafka.sasl_password;  // resolved by the config's build step, or here
    LOGSHIP_RETURN_IF_ERROR(ResolveSecret(password, "queue.kafka.sasl_password"));
    props.emplace_back("sasl.password", std::move(password.value));
  }
  for (const auto& [key, value] : kafka.properties) {
    if (IsReserved(key, own)) {
      return Status::InvalidArgument("queue.kafka.properties: \"" + key +
                                     "\" is set by logship (see docs/kafka.md); remove it");
    }
    if (key == "sasl.password") {
      return Status::InvalidArgument(
          "queue.kafka.properties: give the SASL password as queue.kafka.sasl_password "
          "({env: NAME} or {file: PATH}), not inline");
    }
    props.emplace_back(key, value);
  }
  return props;
}

Result<KafkaConf> MakeKafkaConf(const KafkaProperties& props) {
  KafkaConf conf(rd_kafka_conf_new());
  char errstr[512];
  for (const auto& [key, value] : props) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      std::string shown = IsSecretProperty(key) ? "(secret)" : "\"" + value + "\"";
      return Status::InvalidArgument("kafka property " + key + "=" + shown + ": " + errstr);
    }
  }
  return conf;
}

Result<KafkaHandle> MakeKafkaHandle(rd_kafka_type_t type, KafkaConf conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (rk == nullptr) return Status::InvalidArgument(std::string("kafka client: ") + errstr);
  conf.release();  // rd_kafka_new took it
  return KafkaHandle(rk);
}

void SetKafkaLogger(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, LogLine); }

std::optional<std::string_view> KafkaHeader(rd_kafka_headers_t* headers, const char* name) {
  if (headers == nullptr) return std::nullopt;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  if (value == nullptr) return std::string_view();
  return std::string_view(static_cast<const char*>(value), size);
}

}  // namespace logship
