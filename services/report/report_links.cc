#include "services/report/report_links.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace vigie::report {
namespace {

bool Unreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string ModelReportPath(absl::string_view model_id) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string path = "/models/";
  for (const char c : model_id) {
    if (Unreserved(c)) {
      path.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      path.push_back('%');
      path.push_back(kHex[byte >> 4]);
      path.push_back(kHex[byte & 0xF]);
    }
  }
  return path;
}

std::string ModelReportUrl(absl::string_view base_url,
                           absl::string_view model_id) {
  return absl::StrCat(absl::StripSuffix(base_url, "/"),
                      ModelReportPath(model_id));
}

bool DecodePathSegment(absl::string_view segment, std::string* out) {
  out->clear();
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out->push_back(segment[i]);
      continue;
    }
    if (i + 2 >= segment.size()) return false;  // "%" or "%A" at the end.
    const int high = HexValue(segment[i + 1]);
    const int low = HexValue(segment[i + 2]);
    if (high < 0 || low < 0) return false;
    out->push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

}  // namespace vigie::report
