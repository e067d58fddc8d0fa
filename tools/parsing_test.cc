#include "tools/parsing.h"

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace vigie::tools {
namespace {

absl::Time Utc(int y, int m, int d, int hh = 0, int mm = 0, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss),
                         absl::UTCTimeZone());
}

TEST(ParseTimestampTest, AcceptsRfc3339DatesNaiveTimesAndUnixSeconds) {
  ASSERT_OK_AND_ASSIGN(absl::Time rfc, ParseTimestamp("2026-01-05T00:00:00Z"));
  EXPECT_EQ(rfc, Utc(2026, 1, 5));
  ASSERT_OK_AND_ASSIGN(absl::Time offset,
                       ParseTimestamp("2026-01-05T01:00:00.5+01:00"));
  EXPECT_EQ(offset, Utc(2026, 1, 5) + absl::Milliseconds(500));
  ASSERT_OK_AND_ASSIGN(absl::Time date, ParseTimestamp(" 2013-08-14 "));
  EXPECT_EQ(date, Utc(2013, 8, 14));
  ASSERT_OK_AND_ASSIGN(absl::Time naive, ParseTimestamp("2013-08-13 06:03:42"));
  EXPECT_EQ(naive, Utc(2013, 8, 13, 6, 3, 42));
  ASSERT_OK_AND_ASSIGN(absl::Time unix_seconds, ParseTimestamp("1767571200"));
  EXPECT_EQ(unix_seconds, Utc(2026, 1, 5));
  ASSERT_OK_AND_ASSIGN(absl::Time fraction, ParseTimestamp("1767571200.25"));
  EXPECT_EQ(fraction, Utc(2026, 1, 5) + absl::Milliseconds(250));
  ASSERT_OK_AND_ASSIGN(absl::Time negative, ParseTimestamp("-1.5"));
  EXPECT_EQ(negative, absl::UnixEpoch() - absl::Milliseconds(1500));
}

TEST(ParseTimestampTest, RejectsOtherText) {
  for (const char* text :
       {"", "yesterday", "2026-13-01", "12/08/2013", "1.2.3"}) {
    EXPECT_EQ(ParseTimestamp(text).status().code(),
              absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(ParseDurationWithDaysTest, AcceptsDaysAndAbseilUnits) {
  ASSERT_OK_AND_ASSIGN(absl::Duration d, ParseDurationWithDays("730d"));
  EXPECT_EQ(d, absl::Hours(730 * 24));
  ASSERT_OK_AND_ASSIGN(d, ParseDurationWithDays("1d12h"));
  EXPECT_EQ(d, absl::Hours(36));
  ASSERT_OK_AND_ASSIGN(d, ParseDurationWithDays("1.5d"));
  EXPECT_EQ(d, absl::Hours(36));
  ASSERT_OK_AND_ASSIGN(d, ParseDurationWithDays("90m"));
  EXPECT_EQ(d, absl::Minutes(90));
  ASSERT_OK_AND_ASSIGN(d, ParseDurationWithDays("0"));
  EXPECT_EQ(d, absl::ZeroDuration());
  for (const char* text : {"", "d", "xd", "1d-2h", "1 week", "5"}) {
    EXPECT_FALSE(ParseDurationWithDays(text).ok()) << text;
  }
}

TEST(FormatDurationWithDaysTest, WritesWholeDaysFirst) {
  EXPECT_EQ(FormatDurationWithDays(absl::Hours(24)), "1d");
  EXPECT_EQ(FormatDurationWithDays(absl::Hours(36)), "1d12h");
  EXPECT_EQ(FormatDurationWithDays(absl::Hours(730 * 24)), "730d");
  EXPECT_EQ(FormatDurationWithDays(absl::Hours(2)), "2h");
  EXPECT_EQ(FormatDurationWithDays(absl::Minutes(30)), "30m");
  for (const char* text : {"1d", "1d12h", "2h", "30m", "730d"}) {
    ASSERT_OK_AND_ASSIGN(absl::Duration d, ParseDurationWithDays(text));
    EXPECT_EQ(FormatDurationWithDays(d), text);
  }
}

TEST(ParseBoolTest, AcceptsZeroOneTrueFalse) {
  for (const char* text : {"1", "true", "TRUE", "True", "1.0", " 1 "}) {
    ASSERT_OK_AND_ASSIGN(bool b, ParseBool(text));
    EXPECT_TRUE(b) << text;
  }
  for (const char* text : {"0", "false", "False", "0.0"}) {
    ASSERT_OK_AND_ASSIGN(bool b, ParseBool(text));
    EXPECT_FALSE(b) << text;
  }
  for (const char* text : {"", "2", "yes", "0.5"}) {
    EXPECT_FALSE(ParseBool(text).ok()) << text;
  }
}

TEST(TimestampProtoTest, RoundTripsIncludingBeforeTheEpoch) {
  const absl::Time before = absl::UnixEpoch() - absl::Milliseconds(1500);
  const google::protobuf::Timestamp ts = ToTimestampProto(before);
  EXPECT_EQ(ts.seconds(), -2);
  EXPECT_EQ(ts.nanos(), 500'000'000);
  EXPECT_EQ(FromTimestampProto(ts), before);
  const absl::Time after = Utc(2026, 1, 5) + absl::Nanoseconds(7);
  EXPECT_EQ(FromTimestampProto(ToTimestampProto(after)), after);
}

}  // namespace
}  // namespace vigie::tools
