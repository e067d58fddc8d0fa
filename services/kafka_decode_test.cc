#include "services/kafka_decode.h"

#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace vigie::services {
namespace {

using ::testing::HasSubstr;

vigie::v1::Event Prediction() {
  vigie::v1::Event event;
  vigie::v1::Prediction& p = *event.mutable_prediction();
  p.set_model_id("m");
  p.set_prediction_id("p1");
  p.mutable_event_time()->set_seconds(1'767'571'200);
  p.mutable_binary()->set_score(0.25);
  (*p.mutable_groups())["sex"] = "female";
  return event;
}

TEST(KafkaDecodeTest, BothFormatsDecodeToTheSameEvent) {
  const vigie::v1::Event event = Prediction();
  ASSERT_OK_AND_ASSIGN(
      vigie::v1::Event binary,
      DecodeEvent(event.SerializeAsString(), PayloadFormat::kProtobuf));
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(binary, event));
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(event, &json).ok());
  ASSERT_OK_AND_ASSIGN(vigie::v1::Event parsed,
                       DecodeEvent(json, PayloadFormat::kJson));
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(parsed, event));
}

TEST(KafkaDecodeTest, WhatIsNotAnEventSaysWhy) {
  auto error = [](absl::string_view value, PayloadFormat format) {
    absl::StatusOr<vigie::v1::Event> decoded = DecodeEvent(value, format);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(decoded.status().message());
  };
  EXPECT_THAT(error("", PayloadFormat::kProtobuf), HasSubstr("no value"));
  EXPECT_THAT(error(std::string("\xff\xff\xff", 3), PayloadFormat::kProtobuf),
              HasSubstr("not a vigie.v1.Event in protobuf's binary"));
  EXPECT_THAT(
      error("{\"prediction\": {}, \"colour\": 1}", PayloadFormat::kJson),
      HasSubstr("JSON mapping"));
  EXPECT_THAT(error("{}", PayloadFormat::kJson),
              HasSubstr("neither a prediction nor an outcome"));
  // Binary that is valid protobuf of another shape: no prediction or outcome.
  EXPECT_THAT(error(std::string("\x78\x01", 2), PayloadFormat::kProtobuf),
              HasSubstr("neither a prediction nor an outcome"));
}

TEST(KafkaDecodeTest, ContentTypeChoosesTheFormat) {
  EXPECT_EQ(*FormatOfContentType(std::nullopt), std::nullopt);
  EXPECT_EQ(*FormatOfContentType("application/json"), PayloadFormat::kJson);
  EXPECT_EQ(*FormatOfContentType(" Application/JSON ; charset=utf-8"),
            PayloadFormat::kJson);
  EXPECT_EQ(*FormatOfContentType("application/x-protobuf"),
            PayloadFormat::kProtobuf);
  EXPECT_EQ(*FormatOfContentType("application/vnd.google.protobuf"),
            PayloadFormat::kProtobuf);
  const auto csv = FormatOfContentType("text/csv");
  EXPECT_EQ(csv.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(csv.status().message(), HasSubstr("\"text/csv\""));
  EXPECT_EQ(*ParsePayloadFormat("json"), PayloadFormat::kJson);
  EXPECT_FALSE(ParsePayloadFormat("avro").ok());
}

}  // namespace
}  // namespace vigie::services
