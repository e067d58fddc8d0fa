// Log lines in both formats; the JSON one read back by protobuf's JSON
// parser, not by the code that wrote it.

#include "common/log.h"

#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace vigie::common {
namespace {

const absl::Time kAt = absl::FromUnixMillis(1'767'607'200'123);  // 2026-01-05

TEST(LogTest, TextLine) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, LogLevel::kWarning,
                          "/src/services/server.cc", 42, "disk full", kAt),
            "2026-01-05T10:00:00.123Z WARN server.cc:42] disk full");
}

TEST(LogTest, JsonLineParsesBackWithEveryCharacter) {
  const std::string message = "a \"quoted\" back\\slash\nnew line\ttab \x01 é";
  const std::string line =
      FormatLogLine(LogFormat::kJson, LogLevel::kError, "services/pipeline.cc",
                    7, message, kAt);
  EXPECT_EQ(line.find('\n'), std::string::npos);  // One line.
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &parsed).ok())
      << line;
  const auto& fields = parsed.fields();
  EXPECT_EQ(fields.at("time").string_value(), "2026-01-05T10:00:00.123Z");
  EXPECT_EQ(fields.at("level").string_value(), "error");
  EXPECT_EQ(fields.at("source").string_value(), "pipeline.cc:7");
  EXPECT_EQ(fields.at("message").string_value(), message);
}

}  // namespace
}  // namespace vigie::common
