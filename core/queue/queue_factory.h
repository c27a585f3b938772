// Builds the queue clients the config names (queue.type: redis or kafka). The daemons
// call these; `logship run` uses the in-process queue instead.
#pragma once

#include <memory>
#include <string>

#include "logship/config.h"
#include "logship/queue.h"

namespace logship {

Result<std::unique_ptr<EventProducer>> MakeEventProducer(const QueueConfig& queue);
Result<std::unique_ptr<SampleProducer>> MakeSampleProducer(const QueueConfig& queue);
Result<std::unique_ptr<EventConsumer>> MakeEventConsumer(const QueueConfig& queue, const std::string& group,
                                                         const std::string& consumer);
Result<std::unique_ptr<SampleConsumer>> MakeSampleConsumer(const QueueConfig& queue, const std::string& group,
                                                           const std::string& consumer);

}  // namespace logship
