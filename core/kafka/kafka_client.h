// Thin RAII wrappers over librdkafka and the one function that decides the outcome of
// every Kafka failure (ClassifyKafkaError). The producer and consumers built on them live
// in core/queue/kafka_stream.h.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "logship/config.h"
#include "logship/status.h"

namespace logship {

// The one function that decides the outcome of every Kafka failure: a delivery report's
// error, a produce/commit/poll return code, an error event.
//   Ok:        RD_KAFKA_RESP_ERR_NO_ERROR (and _NO_OFFSET: nothing to commit).
//   Retryable: the cluster is unreachable, overloaded or moving leadership: local
//              _TRANSPORT, _ALL_BROKERS_DOWN, _MSG_TIMED_OUT, _TIMED_OUT, _QUEUE_FULL,
//              _RESOLVE, _WAIT_COORD, _PURGE_*, ...; broker REQUEST_TIMED_OUT,
//              NOT_ENOUGH_REPLICAS(_AFTER_APPEND), LEADER_NOT_AVAILABLE,
//              NOT_LEADER_FOR_PARTITION, BROKER/REPLICA_NOT_AVAILABLE, NETWORK_EXCEPTION,
//              COORDINATOR_*, NOT_COORDINATOR, REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION,
//              UNKNOWN_MEMBER_ID, KAFKA_STORAGE_ERROR, THROTTLING_QUOTA_EXCEEDED, ...
//   Permanent: everything else: MSG_SIZE_TOO_LARGE, RECORD_LIST_TOO_LARGE,
//              TOPIC/CLUSTER/GROUP_AUTHORIZATION_FAILED, _AUTHENTICATION, _SSL,
//              _INVALID_ARG, UNKNOWN_TOPIC_OR_PART and _UNKNOWN_TOPIC (topics are not
//              created by logship; with auto-creation on the broker the producer never sees
//              them), INVALID_TOPIC_EXCEPTION, and every fatal error (`fatal`, _FATAL,
//              OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH, UNKNOWN_PRODUCER_ID,
//              _FENCED): the idempotent producer's state is gone and its handle unusable.
// `context` prefixes the message ("kafka 127.0.0.1:9092: produce logship.events").
Status ClassifyKafkaError(rd_kafka_resp_err_t err, std::string_view context, bool fatal = false);

// ---- RAII ----

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct KafkaConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct KafkaMessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct KafkaPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct KafkaQueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct KafkaTopicDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
struct KafkaHeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};

using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaConfDeleter>;
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, KafkaMessageDeleter>;
using KafkaPartitionList =
    std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaPartitionListDeleter>;
using KafkaQueue = std::unique_ptr<rd_kafka_queue_t, KafkaQueueDeleter>;
using KafkaHeaders = std::unique_ptr<rd_kafka_headers_t, KafkaHeadersDeleter>;
using KafkaTopic = std::unique_ptr<rd_kafka_topic_t, KafkaTopicDeleter>;

// librdkafka properties, in the order they are applied.
using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

// Properties shared by producers and consumers from the config: bootstrap.servers,
// client.id, sasl.username/password, then the pass-through `properties`.
// InvalidArgument when a pass-through property is one logship sets itself (`reserved`, or
// one of the above), or when the SASL password cannot be resolved (see docs/kafka.md).
Result<KafkaProperties> KafkaBaseProperties(const KafkaConfig& kafka,
                                            const std::vector<std::string>& reserved);

// A new rd_kafka_conf_t with `props` set. InvalidArgument naming the property and
// librdkafka's reason when one is unknown or its value invalid. Values of properties
// whose name contains "password" or "secret" never appear in messages.
Result<KafkaConf> MakeKafkaConf(const KafkaProperties& props);

// Creates a client; InvalidArgument with librdkafka's reason when it refuses the conf.
// Takes ownership of `conf` in every case.
Result<KafkaHandle> MakeKafkaHandle(rd_kafka_type_t type, KafkaConf conf);

// Routes librdkafka's log lines to spdlog (syslog level -> spdlog level), prefixed "kafka".
void SetKafkaLogger(rd_kafka_conf_t* conf);

// The last value of header `name` (logship writes each once), or nullopt when absent. NULL header values read as "".
std::optional<std::string_view> KafkaHeader(rd_kafka_headers_t* headers, const char* name);

}  // namespace logship
