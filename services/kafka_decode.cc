#include "services/kafka_decode.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "services/event_bytes.h"

namespace vigie::services {

absl::StatusOr<PayloadFormat> ParsePayloadFormat(absl::string_view name) {
  if (name == "protobuf") return PayloadFormat::kProtobuf;
  if (name == "json") return PayloadFormat::kJson;
  return absl::InvalidArgumentError(absl::StrCat(
      "format must be \"protobuf\" or \"json\", got \"", name, "\""));
}

const char* PayloadFormatName(PayloadFormat format) {
  return format == PayloadFormat::kJson ? "json" : "protobuf";
}

absl::StatusOr<std::optional<PayloadFormat>> FormatOfContentType(
    std::optional<absl::string_view> content_type) {
  if (!content_type.has_value()) return std::nullopt;
  absl::string_view type = *content_type;
  if (const size_t semicolon = type.find(';');
      semicolon != absl::string_view::npos) {
    type = type.substr(0, semicolon);
  }
  const std::string lower =
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(type));
  if (lower == "application/json") return PayloadFormat::kJson;
  if (lower == "application/x-protobuf" || lower == "application/protobuf" ||
      lower == "application/vnd.google.protobuf") {
    return PayloadFormat::kProtobuf;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("content-type \"", *content_type,
                   "\" is neither application/json nor "
                   "application/x-protobuf"));
}

namespace {

// DecodeEvent's work; with `scratch`, through ParseEvent.
absl::Status Decode(absl::string_view value, PayloadFormat format,
                    std::string* scratch, vigie::v1::Event* event,
                    bool* without_features) {
  if (without_features != nullptr) *without_features = false;
  if (value.empty()) {
    return absl::InvalidArgumentError("the message has no value");
  }
  if (format == PayloadFormat::kProtobuf) {
    const bool parsed =
        scratch != nullptr ? ParseEvent(value, event, without_features, scratch)
                           : event->ParseFromArray(
                                 value.data(), static_cast<int>(value.size()));
    if (!parsed) {
      return absl::InvalidArgumentError(
          absl::StrCat("the value (", value.size(),
                       " bytes) is not a vigie.v1.Event in protobuf's binary "
                       "format"));
    }
  } else {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const auto parsed = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(value.data(), value.size()), event,
        options);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the value is not a vigie.v1.Event in protobuf's JSON "
                       "mapping: ",
                       std::string(parsed.message())));
    }
  }
  if (event->kind_case() == vigie::v1::Event::KIND_NOT_SET) {
    return absl::InvalidArgumentError(
        "the event has neither a prediction nor an outcome");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<vigie::v1::Event> DecodeEvent(absl::string_view value,
                                             PayloadFormat format) {
  vigie::v1::Event event;
  RETURN_IF_ERROR(Decode(value, format, /*scratch=*/nullptr, &event,
                         /*without_features=*/nullptr));
  return event;
}

absl::Status DecodeEventInto(absl::string_view value, PayloadFormat format,
                             vigie::v1::Event* event, bool* without_features,
                             std::string* scratch) {
  return Decode(value, format, scratch, event, without_features);
}

}  // namespace vigie::services
