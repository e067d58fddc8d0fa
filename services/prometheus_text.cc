#include "services/prometheus_text.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace vigie::services {

void PrometheusText::Family(absl::string_view name, Type type,
                            absl::string_view help) {
  for (const Block& block : blocks_) {
    if (block.name == name) return;
  }
  blocks_.push_back({std::string(name), type, std::string(help), ""});
}

bool PrometheusText::Add(absl::string_view family, const Labels& labels,
                         double value) {
  Block* block = nullptr;
  for (Block& b : blocks_) {
    if (b.name == family) block = &b;
  }
  if (block == nullptr) return false;
  if (series_ >= max_series_) {
    ++dropped_;
    return false;
  }
  ++series_;
  std::string& out = block->samples;
  absl::StrAppend(&out, family);
  if (!labels.empty()) {
    out.push_back('{');
    for (size_t i = 0; i < labels.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", labels[i].first, "=\"",
                      EscapeLabel(labels[i].second), "\"");
    }
    out.push_back('}');
  }
  absl::StrAppend(&out, " ", FormatValue(value), "\n");
  return true;
}

std::string PrometheusText::Render() const {
  std::string out;
  for (const Block& block : blocks_) {
    std::string help;
    for (char c : block.help) {
      if (c == '\\') {
        help += "\\\\";
      } else if (c == '\n') {
        help += "\\n";
      } else {
        help.push_back(c);
      }
    }
    absl::StrAppend(&out, "# HELP ", block.name, " ", help, "\n# TYPE ",
                    block.name, " ",
                    block.type == Type::kCounter ? "counter" : "gauge", "\n",
                    block.samples);
  }
  return out;
}

std::string PrometheusText::FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  // Shortest round trip, so that a scraped value reads back exactly.
  const std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::string PrometheusText::EscapeLabel(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace vigie::services
