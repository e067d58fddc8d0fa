#include "tools/parsing.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proto/proto_time.h"

namespace vigie::tools {
namespace {

bool IsAllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Unix seconds, "[+-]digits[.digits]", parsed as integers so that
// sub-second digits are kept exactly (a double would round nanoseconds of
// present-day times).
bool ParseUnixSeconds(absl::string_view s, absl::Time* out) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  absl::string_view whole = s;
  absl::string_view fraction;
  if (const size_t dot = s.find('.'); dot != absl::string_view::npos) {
    whole = s.substr(0, dot);
    fraction = s.substr(dot + 1);
    if (!IsAllDigits(fraction)) return false;
  }
  int64_t seconds = 0;
  if (!IsAllDigits(whole) || !absl::SimpleAtoi(whole, &seconds)) return false;
  int64_t nanos = 0;
  for (size_t i = 0; i < 9; ++i) {
    nanos = nanos * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
  }
  absl::Duration since_epoch =
      absl::Seconds(seconds) + absl::Nanoseconds(nanos);
  *out = absl::UnixEpoch() + (negative ? -since_epoch : since_epoch);
  return true;
}

}  // namespace

absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text) {
  const absl::string_view s = absl::StripAsciiWhitespace(text);
  absl::Time t;
  if (ParseUnixSeconds(s, &t)) return t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return t;
  // Naive forms are read as UTC: input files rarely say their zone, and a
  // fixed answer beats the machine's local zone.
  for (const char* format :
       {"%Y-%m-%d %H:%M:%E*S", "%Y-%m-%dT%H:%M:%E*S", "%Y-%m-%d"}) {
    if (absl::ParseTime(format, s, absl::UTCTimeZone(), &t, &err)) return t;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "cannot parse time '", s,
      "': expected RFC 3339, YYYY-MM-DD [HH:MM:SS] (UTC) or unix seconds"));
}

absl::StatusOr<absl::Duration> ParseDurationWithDays(absl::string_view text) {
  const absl::string_view s = absl::StripAsciiWhitespace(text);
  absl::Duration result = absl::ZeroDuration();
  absl::string_view rest = s;
  if (const size_t d = s.find('d'); d != absl::string_view::npos) {
    double days = 0;
    if (!absl::SimpleAtod(s.substr(0, d), &days) || !std::isfinite(days)) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot parse duration '", s, "'"));
    }
    result = absl::Hours(24 * days);
    rest = s.substr(d + 1);
    if (rest.empty()) return result;
    // "1d-2h" would otherwise mean 22 hours.
    if (rest.front() == '-' || rest.front() == '+') {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot parse duration '", s, "'"));
    }
  }
  absl::Duration part;
  if (!absl::ParseDuration(rest, &part)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot parse duration '", s,
                     "': expected e.g. 730d, 1d12h, 90m, 3600s"));
  }
  return result < absl::ZeroDuration() ? result - part : result + part;
}

std::string FormatDurationWithDays(absl::Duration d) {
  const absl::Duration day = absl::Hours(24);
  if (d < day || d == absl::InfiniteDuration()) return absl::FormatDuration(d);
  absl::Duration rest;
  const int64_t days = absl::IDivDuration(d, day, &rest);
  return rest == absl::ZeroDuration()
             ? absl::StrCat(days, "d")
             : absl::StrCat(days, "d", absl::FormatDuration(rest));
}

absl::StatusOr<bool> ParseBool(absl::string_view text) {
  const absl::string_view s = absl::StripAsciiWhitespace(text);
  if (absl::EqualsIgnoreCase(s, "true")) return true;
  if (absl::EqualsIgnoreCase(s, "false")) return false;
  double number = 0;
  if (absl::SimpleAtod(s, &number)) {
    if (number == 1.0) return true;
    if (number == 0.0) return false;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "cannot parse boolean '", s, "': expected 0, 1, true or false"));
}

absl::StatusOr<double> ParseDouble(absl::string_view text) {
  double value = 0;
  if (!absl::SimpleAtod(text, &value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot parse number '", absl::StripAsciiWhitespace(text), "'"));
  }
  return value;
}

google::protobuf::Timestamp ToTimestampProto(absl::Time t) {
  return ToTimestamp(t);
}

absl::Time FromTimestampProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

}  // namespace vigie::tools
