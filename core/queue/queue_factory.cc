#include "core/queue/queue_factory.h"

#include "core/queue/kafka_stream.h"
#include "core/queue/redis_stream.h"

namespace logship {

Result<std::unique_ptr<EventProducer>> MakeEventProducer(const QueueConfig& q) {
  return q.type == "kafka" ? MakeKafkaEventProducer(q) : MakeRedisEventProducer(q);
}

Result<std::unique_ptr<SampleProducer>> MakeSampleProducer(const QueueConfig& q) {
  return q.type == "kafka" ? MakeKafkaSampleProducer(q) : MakeRedisSampleProducer(q);
}

Result<std::unique_ptr<EventConsumer>> MakeEventConsumer(const QueueConfig& q, const std::string& group,
                                                         const std::string& consumer) {
  return q.type == "kafka" ? MakeKafkaEventConsumer(q, group, consumer) : MakeRedisEventConsumer(q, group, consumer);
}

Result<std::unique_ptr<SampleConsumer>> MakeSampleConsumer(const QueueConfig& q, const std::string& group,
                                                           const std::string& consumer) {
  return q.type == "kafka" ? MakeKafkaSampleConsumer(q, group, consumer)
                           : MakeRedisSampleConsumer(q, group, consumer);
}

}  // namespace logship
