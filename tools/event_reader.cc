#include "tools/event_reader.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "tools/csv_parser.h"
#include "tools/parsing.h"

namespace vigie::tools {
namespace {

constexpr absl::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Opens `path` for reading and returns its size (0 when it has none, as a
// pipe).
absl::StatusOr<uint64_t> OpenFile(const std::string& path, std::ifstream* in) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return absl::NotFoundError(
        absl::StrCat("cannot open '", path,
                     "': ", ec ? ec.message() : "no such file or directory"));
  }
  if (std::filesystem::is_directory(status)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read '", path, "': it is a directory"));
  }
  in->open(path, std::ios::binary);
  if (!in->is_open()) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open '", path, "' for reading"));
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(size);
}

std::string PredictionIdOf(const v1::Event& event) {
  if (event.has_prediction()) return event.prediction().prediction_id();
  if (event.has_outcome()) return event.outcome().prediction_id();
  return "";
}

// Strips a byte-order mark (line 1 only) and a CR; true if what is left is
// blank. Shared by the counting pass and the reading pass so that they agree.
bool PrepareJsonLine(int64_t number, std::string* line) {
  if (number == 1 && absl::StartsWith(*line, kUtf8Bom)) {
    line->erase(0, kUtf8Bom.size());
  }
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return absl::StripAsciiWhitespace(*line).empty();
}

class JsonLinesReader final : public EventReader {
 public:
  absl::Status Init(const std::string& path) {
    std::ifstream counter;
    RETURN_IF_ERROR(OpenFile(path, &counter).status());
    std::string line;
    for (int64_t n = 1; std::getline(counter, line); ++n) {
      if (!PrepareJsonLine(n, &line)) ++total_records_;
    }
    ASSIGN_OR_RETURN(total_bytes_, OpenFile(path, &in_));
    return absl::OkStatus();
  }

  bool Next(EventRecord* out) override {
    std::string line;
    while (std::getline(in_, line)) {
      bytes_read_ += line.size() + (in_.eof() ? 0 : 1);
      ++line_number_;
      if (PrepareJsonLine(line_number_, &line)) continue;
      ++records_read_;
      out->line = line_number_;
      out->events.clear();
      out->error.reset();
      out->prediction_id.clear();
      v1::Event event;
      google::protobuf::util::JsonParseOptions options;
      options.ignore_unknown_fields = false;
      const auto status =
          google::protobuf::util::JsonStringToMessage(line, &event, options);
      if (!status.ok()) {
        out->error =
            absl::StrCat("invalid JSON event: ", status.message().ToString());
      } else {
        out->prediction_id = PredictionIdOf(event);
        out->events.push_back(std::move(event));
      }
      return true;
    }
    if (in_.bad() && !reported_read_error_) {
      // Said once, as a record, so that the summary shows the file was cut.
      reported_read_error_ = true;
      *out = EventRecord{};
      out->line = line_number_ + 1;
      out->error = "read error: the rest of the file was not read";
      return true;
    }
    return false;
  }

  uint64_t records_read() const override { return records_read_; }
  uint64_t total_records() const override { return total_records_; }
  uint64_t bytes_read() const override { return bytes_read_; }
  uint64_t total_bytes() const override { return total_bytes_; }

 private:
  std::ifstream in_;
  int64_t line_number_ = 0;
  bool reported_read_error_ = false;
  uint64_t records_read_ = 0;
  uint64_t total_records_ = 0;
  uint64_t bytes_read_ = 0;
  uint64_t total_bytes_ = 0;
};

absl::Status ValidateMapping(const CsvMapping& m) {
  if (m.model_id.empty()) {
    return absl::InvalidArgumentError("CSV mapping: model_id is required");
  }
  if (m.time_column.empty()) {
    return absl::InvalidArgumentError("CSV mapping: time_column is required");
  }
  if (m.score_column.empty() && m.decision_column.empty()) {
    return absl::InvalidArgumentError(
        "CSV mapping: set score_column, decision_column or both");
  }
  if (m.decision_threshold.has_value()) {
    if (!m.decision_column.empty() || m.score_column.empty()) {
      return absl::InvalidArgumentError(
          "CSV mapping: decision_threshold needs score_column and no "
          "decision_column");
    }
    if (!std::isfinite(*m.decision_threshold)) {
      return absl::InvalidArgumentError(
          absl::StrCat("CSV mapping: decision_threshold must be finite, got ",
                       *m.decision_threshold));
    }
  }
  if (!std::isfinite(m.score_scale) || m.score_scale <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("CSV mapping: score_scale must be finite and > 0, got ",
                     m.score_scale));
  }
  if (m.outcome_delay < absl::ZeroDuration() ||
      m.outcome_delay == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CSV mapping: outcome_delay must be finite and >= 0, got ",
                     absl::FormatDuration(m.outcome_delay)));
  }
  return absl::OkStatus();
}

class CsvEventReader final : public EventReader {
 public:
  explicit CsvEventReader(CsvMapping mapping)
      : mapping_(std::move(mapping)), parser_(in_) {}

  absl::Status Init(const std::string& path) {
    RETURN_IF_ERROR(ValidateMapping(mapping_));
    ASSIGN_OR_RETURN(total_bytes_, OpenFile(path, &in_));
    CsvParser::Row header;
    if (!parser_.Next(&header)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", path, "' is empty: a header row is expected"));
    }
    if (header.error) {
      return absl::InvalidArgumentError(absl::StrCat(
          "malformed header row in '", path, "': ", *header.error));
    }
    if (absl::StartsWith(header.fields[0], kUtf8Bom)) {
      header.fields[0].erase(0, kUtf8Bom.size());
    }
    for (std::string& name : header.fields) {
      name = std::string(absl::StripAsciiWhitespace(name));
    }
    RETURN_IF_ERROR(ResolveColumns(path, header.fields));
    num_columns_ = header.fields.size();

    std::ifstream counter;
    RETURN_IF_ERROR(OpenFile(path, &counter).status());
    CsvParser counting(counter);
    CsvParser::Row row;
    while (counting.Next(&row)) ++total_records_;
    if (total_records_ > 0) --total_records_;  // The header.
    return absl::OkStatus();
  }

  bool Next(EventRecord* out) override {
    CsvParser::Row row;
    if (!parser_.Next(&row)) return false;
    ++records_read_;
    out->line = row.line;
    out->events.clear();
    out->error.reset();
    out->prediction_id.clear();
    if (absl::Status s = Convert(row, out); !s.ok()) {
      out->events.clear();
      out->error = std::string(s.message());
    }
    return true;
  }

  uint64_t records_read() const override { return records_read_; }
  uint64_t total_records() const override { return total_records_; }
  uint64_t bytes_read() const override { return parser_.bytes_read(); }
  uint64_t total_bytes() const override { return total_bytes_; }

 private:
  struct Column {
    std::string name;
    size_t index = 0;
  };

  absl::Status ResolveColumns(const std::string& path,
                              const std::vector<std::string>& header);
  absl::Status Convert(const CsvParser::Row& row, EventRecord* out) const;

  CsvMapping mapping_;
  std::ifstream in_;  // Before parser_, which reads it.
  CsvParser parser_;
  size_t num_columns_ = 0;
  std::optional<Column> id_, time_, score_, decision_, label_;
  std::optional<Column> energy_, latency_, hardware_class_;
  std::vector<Column> groups_, numeric_, categorical_;
  uint64_t records_read_ = 0;
  uint64_t total_records_ = 0;
  uint64_t total_bytes_ = 0;
};

absl::Status CsvEventReader::ResolveColumns(
    const std::string& path, const std::vector<std::string>& header) {
  std::vector<std::string> missing;
  auto find = [&](const std::string& name) -> std::optional<Column> {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return Column{name, i};
    }
    missing.push_back(absl::StrCat("'", name, "'"));
    return std::nullopt;
  };
  auto find_optional = [&](const std::string& name) -> std::optional<Column> {
    return name.empty() ? std::nullopt : find(name);
  };
  auto find_all = [&](const std::vector<std::string>& names) {
    std::vector<Column> columns;
    for (const std::string& name : names) {
      if (auto column = find(name)) columns.push_back(*std::move(column));
    }
    return columns;
  };
  id_ = find_optional(mapping_.id_column);
  time_ = find_optional(mapping_.time_column);
  score_ = find_optional(mapping_.score_column);
  decision_ = find_optional(mapping_.decision_column);
  label_ = find_optional(mapping_.label_column);
  groups_ = find_all(mapping_.group_columns);
  numeric_ = find_all(mapping_.numeric_feature_columns);
  categorical_ = find_all(mapping_.categorical_feature_columns);
  energy_ = find_optional(mapping_.energy_column);
  latency_ = find_optional(mapping_.latency_column);
  hardware_class_ = find_optional(mapping_.hardware_class_column);
  if (missing.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      missing.size() == 1 ? "column " : "columns ",
      absl::StrJoin(missing, ", "), " not found in the header of '", path,
      "'; available columns: ", absl::StrJoin(header, ", ")));
}

absl::Status CsvEventReader::Convert(const CsvParser::Row& row,
                                     EventRecord* out) const {
  if (row.error) return absl::InvalidArgumentError(*row.error);
  if (row.fields.size() != num_columns_) {
    return absl::InvalidArgumentError(
        absl::StrCat("row has ", row.fields.size(), " fields, the header has ",
                     num_columns_));
  }
  auto value = [&](const Column& c) -> absl::StatusOr<absl::string_view> {
    absl::string_view v = row.fields[c.index];
    if (absl::StripAsciiWhitespace(v).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing value in column '", c.name, "'"));
    }
    return v;
  };
  auto in_column = [](const Column& c, const absl::Status& s) {
    return absl::InvalidArgumentError(
        absl::StrCat("column '", c.name, "': ", s.message()));
  };

  if (id_) {
    ASSIGN_OR_RETURN(absl::string_view id, value(*id_));
    out->prediction_id = std::string(id);
  } else {
    out->prediction_id = absl::StrCat(records_read_);
  }

  v1::Event prediction_event;
  v1::Prediction& prediction = *prediction_event.mutable_prediction();
  prediction.set_model_id(mapping_.model_id);
  prediction.set_model_version(mapping_.model_version);
  prediction.set_prediction_id(out->prediction_id);
  ASSIGN_OR_RETURN(absl::string_view time_text, value(*time_));
  absl::StatusOr<absl::Time> time = ParseTimestamp(time_text);
  if (!time.ok()) return in_column(*time_, time.status());
  *prediction.mutable_event_time() = ToTimestampProto(*time);

  v1::BinaryPrediction& binary = *prediction.mutable_binary();
  if (score_) {
    ASSIGN_OR_RETURN(absl::string_view score_text, value(*score_));
    absl::StatusOr<double> score = ParseDouble(score_text);
    if (!score.ok()) return in_column(*score_, score.status());
    // Out-of-range and non-finite scores go to the server, whose rejection
    // (INVALID_SCORE) names the value.
    binary.set_score(*score * mapping_.score_scale);
    if (mapping_.decision_threshold && std::isfinite(binary.score())) {
      binary.set_decision(binary.score() >= *mapping_.decision_threshold);
    }
  }
  if (decision_) {
    ASSIGN_OR_RETURN(absl::string_view decision_text, value(*decision_));
    absl::StatusOr<bool> decision = ParseBool(decision_text);
    if (!decision.ok()) return in_column(*decision_, decision.status());
    binary.set_decision(*decision);
  }
  for (const Column& c : groups_) {
    ASSIGN_OR_RETURN(absl::string_view group, value(c));
    (*prediction.mutable_groups())[c.name] = std::string(group);
  }
  for (const Column& c : numeric_) {
    if (absl::StripAsciiWhitespace(row.fields[c.index]).empty()) continue;
    absl::StatusOr<double> number = ParseDouble(row.fields[c.index]);
    if (!number.ok()) return in_column(c, number.status());
    (*prediction.mutable_features())[c.name].set_numeric(*number);
  }
  for (const Column& c : categorical_) {
    if (absl::StripAsciiWhitespace(row.fields[c.index]).empty()) continue;
    (*prediction.mutable_features())[c.name].set_categorical(
        row.fields[c.index]);
  }

  // The cost, as features are: an empty value leaves it out. A negative
  // or non-finite one goes to the server, whose rejection names it.
  for (const auto& [column, set] :
       {std::pair{&energy_, &v1::Prediction::set_energy_joules},
        std::pair{&latency_, &v1::Prediction::set_latency_seconds}}) {
    if (!*column ||
        absl::StripAsciiWhitespace(row.fields[(*column)->index]).empty()) {
      continue;
    }
    absl::StatusOr<double> number = ParseDouble(row.fields[(*column)->index]);
    if (!number.ok()) return in_column(**column, number.status());
    (prediction.*set)(*number);
  }
  if (hardware_class_ &&
      !absl::StripAsciiWhitespace(row.fields[hardware_class_->index]).empty()) {
    prediction.set_hardware_class(
        std::string(row.fields[hardware_class_->index]));
  }

  std::optional<v1::Event> outcome_event;
  if (label_) {
    ASSIGN_OR_RETURN(absl::string_view label_text, value(*label_));
    absl::StatusOr<bool> label = ParseBool(label_text);
    if (!label.ok()) return in_column(*label_, label.status());
    v1::Outcome& outcome = *outcome_event.emplace().mutable_outcome();
    outcome.set_model_id(mapping_.model_id);
    outcome.set_prediction_id(out->prediction_id);
    *outcome.mutable_event_time() =
        ToTimestampProto(*time + mapping_.outcome_delay);
    outcome.set_binary(*label);
  }
  out->events.push_back(std::move(prediction_event));
  if (outcome_event) out->events.push_back(*std::move(outcome_event));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventReader>> EventReader::OpenJsonLines(
    const std::string& path) {
  auto reader = std::make_unique<JsonLinesReader>();
  RETURN_IF_ERROR(reader->Init(path));
  return reader;
}

absl::StatusOr<std::unique_ptr<EventReader>> EventReader::OpenCsv(
    const std::string& path, const CsvMapping& mapping) {
  auto reader = std::make_unique<CsvEventReader>(mapping);
  RETURN_IF_ERROR(reader->Init(path));
  return reader;
}

}  // namespace vigie::tools
