#pragma once

#include <string>

#include "vigie/v1/vigie.pb.h"

namespace vigie::sinks {

// `alert` in protobuf's JSON mapping (lowerCamelCase names, enums by name,
// timestamps in RFC 3339, default values left out), on one line: what the
// webhook, Kafka and dead-letter sinks all carry, so that a consumer parses
// any of them with one JsonStringToMessage.
std::string AlertToJson(const vigie::v1::Alert& alert);

}  // namespace vigie::sinks
