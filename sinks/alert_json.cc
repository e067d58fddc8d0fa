#include "sinks/alert_json.h"

#include <string>

#include "google/protobuf/util/json_util.h"

namespace vigie::sinks {

std::string AlertToJson(const vigie::v1::Alert& alert) {
  std::string json;
  // Printing fails only on an Any of unknown type or a Timestamp out of
  // range; an Alert has no Any and its times come from the server's clock.
  (void)google::protobuf::util::MessageToJsonString(alert, &json);
  return json;
}

}  // namespace vigie::sinks
