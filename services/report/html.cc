#include "services/report/html.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vigie::report {

std::string Escape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string Number(std::optional<double> value) {
  if (!value.has_value() || std::isnan(*value)) return "—";
  if (std::isinf(*value)) return *value > 0 ? "∞" : "−∞";
  return absl::StrFormat("%.3g", *value);
}

std::string Percent(std::optional<double> share) {
  if (!share.has_value() || !std::isfinite(*share)) return "—";
  return absl::StrFormat("%.1f%%", 100.0 * *share);
}

std::string Count(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  const size_t lead = digits.size() % 3;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && i >= lead && (i - lead) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string Time(absl::Time t) {
  if (t == absl::InfinitePast()) return "the beginning";
  if (t == absl::InfiniteFuture()) return "now";
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", t, absl::UTCTimeZone());
}

}  // namespace vigie::report
