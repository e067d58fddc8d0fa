#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/event_source.h"

namespace vigie::tools {

// How the columns of a CSV file become events. Each CSV row gives one
// prediction, plus its outcome when `label_column` is set. Column names are
// those of the header row, matched exactly.
struct CsvMapping {
  // Model id of every event. Required.
  std::string model_id;
  // Model version of every prediction. Default: none.
  std::string model_version;
  // Column of the prediction id. Default: none, and the id is the row's
  // 1-based number among data rows ("1", "2", ...).
  std::string id_column;
  // Column of the prediction's event time (see ParseTimestamp). Required.
  std::string time_column;
  // Column of the score; required unless `decision_column` is set.
  std::string score_column;
  // Factor applied to the score, e.g. 0.1 for a 1-10 decile. Default: 1.
  double score_scale = 1.0;
  // Column of the decision (0/1/true/false). Default: none.
  std::string decision_column;
  // When there is no decision column: decision = scaled score >= threshold.
  // When neither is set, the server applies the model's threshold.
  std::optional<double> decision_threshold;
  // Column of the observed label (0/1/true/false). When set, each row also
  // gives an outcome event. Default: none.
  std::string label_column;
  // Columns copied to the prediction's groups, named after the column.
  std::vector<std::string> group_columns;
  // Columns copied to the prediction's features. An empty value leaves the
  // feature out: inputs often have gaps, and drift ignores them.
  std::vector<std::string> numeric_feature_columns;
  std::vector<std::string> categorical_feature_columns;
  // Columns of the prediction's cost (rule E1): its energy in joules, its
  // latency in seconds, its hardware class. An empty value leaves it out.
  // Default: none.
  std::string energy_column;
  std::string latency_column;
  std::string hardware_class_column;
  // Outcome event time = prediction event time + outcome_delay. Default: 0.
  absl::Duration outcome_delay = absl::ZeroDuration();
};

// Reads events from a file, one record (line or row) at a time, never
// stopping at a bad record: a record that cannot be parsed comes back as an
// error record with its line and reason, and reading goes on.
//
// Open*() read the file once to count its records for progress reports, so
// opening costs a pass over the file. Not thread-safe: one owner reads.
class EventReader : public EventSource {
 public:
  // JSON lines: each non-blank line is Protocol Buffers' JSON mapping of one
  // vigie.v1.Event. Unknown fields are errors, so that a misspelt field name
  // is reported rather than silently dropped.
  // kNotFound or kPermissionDenied when the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<EventReader>> OpenJsonLines(
      const std::string& path);

  // CSV with a header row, mapped to events by `mapping`. kInvalidArgument
  // when the mapping is inconsistent or names a column the header lacks (the
  // message lists the header's columns), or when the header is missing.
  static absl::StatusOr<std::unique_ptr<EventReader>> OpenCsv(
      const std::string& path, const CsvMapping& mapping);

  // Bytes of the file consumed so far, and its size.
  virtual uint64_t bytes_read() const = 0;
  virtual uint64_t total_bytes() const = 0;
};

}  // namespace vigie::tools
