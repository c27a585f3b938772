#include "core/kafka/kafka_client.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace logship {
namespace {

TEST(ClassifyKafkaErrorTest, NoErrorIsOk) {
  EXPECT_TRUE(ClassifyKafkaError(RD_KAFKA_RESP_ERR_NO_ERROR, "ctx").ok());
  EXPECT_TRUE(ClassifyKafkaError(RD_KAFKA_RESP_ERR__NO_OFFSET, "ctx").ok());  // nothing to commit
}

TEST(ClassifyKafkaErrorTest, UnreachableOrOverloadedClusterIsRetryable) {
  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TIMED_OUT,
        RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__RESOLVE,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID,
        RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR, RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED}) {
    EXPECT_EQ(ClassifyKafkaError(err, "").code(), StatusCode::kRetryable) << rd_kafka_err2name(err);
  }
}

TEST(ClassifyKafkaErrorTest, RejectionsArePermanent) {
  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED,
        RD_KAFKA_RESP_ERR__AUTHENTICATION, RD_KAFKA_RESP_ERR__SSL, RD_KAFKA_RESP_ERR__INVALID_ARG,
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC,
        RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION, RD_KAFKA_RESP_ERR_UNSUPPORTED_COMPRESSION_TYPE,
        RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS}) {
    EXPECT_EQ(ClassifyKafkaError(err, "").code(), StatusCode::kPermanent) << rd_kafka_err2name(err);
  }
}

TEST(ClassifyKafkaErrorTest, FatalIdempotenceErrorsArePermanent) {
  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR__FATAL, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
        RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH, RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID,
        RD_KAFKA_RESP_ERR__GAPLESS_GUARANTEE, RD_KAFKA_RESP_ERR__FENCED}) {
    EXPECT_EQ(ClassifyKafkaError(err, "").code(), StatusCode::kPermanent) << rd_kafka_err2name(err);
  }
  // A retryable code raised as a fatal error (rd_kafka_fatal_error) is still Permanent.
  EXPECT_EQ(ClassifyKafkaError(RD_KAFKA_RESP_ERR__TRANSPORT, "", /*fatal=*/true).code(),
            StatusCode::kPermanent);
}

TEST(ClassifyKafkaErrorTest, MessageNamesContextAndError) {
  Status st = ClassifyKafkaError(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "kafka h:9092: produce t");
  EXPECT_EQ(st.message().rfind("kafka h:9092: produce t: MSG_SIZE_TOO_LARGE (", 0), 0u) << st.message();
}

TEST(KafkaPropertiesTest, BaseAndPassThroughProperties) {
  KafkaConfig k;
  k.brokers = "b1:9092,b2:9092";
  k.properties = {{"security.protocol", "sasl_ssl"}, {"sasl.mechanism", "SCRAM-SHA-512"}};
  k.sasl_username = "shipper";
  k.sasl_password.value = "hunter2";
  k.sasl_password.origin = "env:X";
  auto props = KafkaBaseProperties(k, {"acks"});
  ASSERT_TRUE(props.ok()) << props.status().message();
  KafkaProperties want = {{"bootstrap.servers", "b1:9092,b2:9092"}, {"client.id", "logship"},
                          {"sasl.username", "shipper"},            {"sasl.password", "hunter2"},
                          {"sasl.mechanism", "SCRAM-SHA-512"},     {"security.protocol", "sasl_ssl"}};
  EXPECT_EQ(*props, want);
}

TEST(KafkaPropertiesTest, OwnedPropertiesAndInlinePasswordsAreRejected) {
  KafkaConfig k;
  k.properties = {{"acks", "1"}};
  EXPECT_EQ(KafkaBaseProperties(k, {"acks"}).status().code(), StatusCode::kInvalidArgument);
  k.properties = {{"bootstrap.servers", "x:1"}};
  EXPECT_EQ(KafkaBaseProperties(k, {}).status().code(), StatusCode::kInvalidArgument);
  k.properties = {{"sasl.password", "p4ssw0rd"}};
  Status st = KafkaBaseProperties(k, {}).status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message().find("p4ssw0rd"), std::string::npos) << "the value must not be echoed";
}

TEST(KafkaPropertiesTest, SecretIsResolvedFromTheEnvironmentWhenNotYetResolved) {
  ::setenv("LOGSHIP_TEST_KAFKA_PW", "s3cret", 1);
  KafkaConfig k;
  k.sasl_password.origin = "env:LOGSHIP_TEST_KAFKA_PW";
  auto props = KafkaBaseProperties(k, {});
  ASSERT_TRUE(props.ok());
  EXPECT_EQ(props->back(), (std::pair<std::string, std::string>{"sasl.password", "s3cret"}));
  k.sasl_password.origin = "env:LOGSHIP_TEST_KAFKA_PW_UNSET";
  EXPECT_EQ(KafkaBaseProperties(k, {}).status().code(), StatusCode::kInvalidArgument);
}

TEST(KafkaPropertiesTest, UnknownPropertyOrBadValueNamesTheProperty) {
  auto conf = MakeKafkaConf({{"no.such.property", "1"}});
  ASSERT_FALSE(conf.ok());
  EXPECT_NE(conf.status().message().find("no.such.property"), std::string::npos);
  auto bad = MakeKafkaConf({{"compression.codec", "brotli"}});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto secret = MakeKafkaConf({{"no.such.password", "p4ssw0rd"}});
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().message().find("p4ssw0rd"), std::string::npos) << secret.status().message();
  EXPECT_TRUE(MakeKafkaConf({{"security.protocol", "ssl"}, {"linger.ms", "20"}}).ok());
}

}  // namespace
}  // namespace logship
