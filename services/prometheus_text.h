#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace vigie::services {

// Prometheus's text exposition format (version 0.0.4): each family's HELP
// and TYPE lines, then its samples, label values and help escaped as the
// format says. At most `max_series` samples are kept, so that a scrape
// stays bounded whatever the labels' cardinality: the rest are counted
// (dropped()) and left out. Families are written in the order they were
// declared, each sample under its family. Not thread-safe.
class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  enum class Type { kGauge, kCounter };

  explicit PrometheusText(size_t max_series) : max_series_(max_series) {}

  // Declares the family `name` (again: no-op). `name` must follow
  // Prometheus's naming rules (the caller's constants do).
  void Family(absl::string_view name, Type type, absl::string_view help);
  // A sample of the declared family `family`; false when it was dropped
  // (the cap was reached) or the family was not declared.
  bool Add(absl::string_view family, const Labels& labels, double value);

  size_t series() const { return series_; }
  size_t dropped() const { return dropped_; }
  std::string Render() const;

  // A value as the format writes it: NaN, +Inf, -Inf, or the shortest
  // decimal that reads back as the same double.
  static std::string FormatValue(double value);
  // A label value with backslash, double quote and newline escaped.
  static std::string EscapeLabel(absl::string_view value);

 private:
  struct Block {
    std::string name;
    Type type;
    std::string help;
    std::string samples;  // Lines, each ending with a newline.
  };

  const size_t max_series_;
  std::vector<Block> blocks_;
  size_t series_ = 0;
  size_t dropped_ = 0;
};

}  // namespace vigie::services
