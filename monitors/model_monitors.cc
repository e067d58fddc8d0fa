#include "monitors/model_monitors.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kMinAttributes = 1;
constexpr uint32_t kMaxAttributes = 1000;
constexpr size_t kMaxIntersections = 100;

// Appends `value` to an intersection label, doubling each '&'.
void AppendEscaped(std::string* label, absl::string_view value) {
  for (char c : value) {
    label->push_back(c);
    if (c == '&') label->push_back('&');
  }
}

absl::Status CheckNames(const std::vector<std::string>& names,
                        absl::string_view what) {
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " has an empty name"));
    }
    if (i > 0 && sorted[i] == sorted[i - 1]) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " lists '", sorted[i], "' twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string ModelMonitors::IntersectionName(
    const std::vector<std::string>& parts) {
  return absl::StrJoin(parts, "&");
}

ModelMonitors::ModelMonitors(const Options& options)
    : options_(options),
      // Create validated the options.
      drift_(*DriftMonitor::Create(options.drift)) {
  for (const std::vector<std::string>& parts : options_.intersections) {
    intersection_names_.push_back(IntersectionName(parts));
  }
}

absl::StatusOr<ModelMonitors> ModelMonitors::Create(const Options& options) {
  if (options.max_attributes < kMinAttributes ||
      options.max_attributes > kMaxAttributes) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_attributes must be in [", kMinAttributes, ", ",
                     kMaxAttributes, "], got ", options.max_attributes));
  }
  if (absl::Status s = CheckNames(options.group_attributes, "group_attributes");
      !s.ok()) {
    return s;
  }
  if (options.intersections.size() > kMaxIntersections) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxIntersections, " intersections, got ",
                     options.intersections.size()));
  }
  std::vector<std::string> names;
  for (const std::vector<std::string>& parts : options.intersections) {
    if (parts.size() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("an intersection has 2 or more attributes, got [",
                       absl::StrJoin(parts, ", "), "]"));
    }
    if (absl::Status s = CheckNames(parts, "an intersection"); !s.ok()) {
      return s;
    }
    for (const std::string& part : parts) {
      if (part.find('&') != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "attribute '", part, "' of an intersection contains '&'"));
      }
    }
    names.push_back(IntersectionName(parts));
  }
  if (absl::Status s = CheckNames(names, "intersections"); !s.ok()) return s;
  if (!options.classes.empty()) {
    if (options.classes.size() < 2) {
      return absl::InvalidArgumentError(
          "a multiclass model has 2 or more classes");
    }
    if (absl::Status s = CheckNames(options.classes, "classes"); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = FairnessMonitor::Create(options.fairness).status();
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CalibrationMonitor::Create(options.calibration).status();
      !s.ok()) {
    return s;
  }
  if (absl::Status s = DriftMonitor::Create(options.drift).status(); !s.ok()) {
    return s;
  }
  if (absl::Status s = ConformalMonitor::Create(options.conformal).status();
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          RecommendationMonitor::Create(options.recommendation).status();
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          PerformanceEstimateMonitor::Create(options.performance_estimate)
              .status();
      !s.ok()) {
    return s;
  }
  return ModelMonitors(options);
}

bool ModelMonitors::IsIntersection(absl::string_view name) const {
  return std::find(intersection_names_.begin(), intersection_names_.end(),
                   name) != intersection_names_.end();
}

ModelMonitors::Attribute ModelMonitors::NewAttribute() const {
  Attribute attribute;
  const size_t monitors =
      options_.classes.empty() ? 1 : options_.classes.size();
  // Create cannot fail: Create or Deserialize validated the options.
  attribute.fairness.assign(monitors,
                            *FairnessMonitor::Create(options_.fairness));
  return attribute;
}

std::string ModelMonitors::ReferenceGroup(const std::string& attribute) const {
  auto it = options_.reference_groups.find(attribute);
  return it == options_.reference_groups.end() ? "" : it->second;
}

bool ModelMonitors::Admits(absl::string_view name, size_t plain) const {
  if (IsIntersection(name)) return true;
  if (options_.group_attributes.empty()) {
    return plain < options_.max_attributes;
  }
  return std::find(options_.group_attributes.begin(),
                   options_.group_attributes.end(),
                   name) != options_.group_attributes.end();
}

ModelMonitors::Attribute* ModelMonitors::AttributeFor(
    absl::string_view attribute) {
  if (auto it = attributes_.find(attribute); it != attributes_.end()) {
    return &it->second;
  }
  if (!Admits(attribute, PlainAttributes(attributes_))) return nullptr;
  const std::string name(attribute);
  Attribute& added = attributes_.emplace(name, NewAttribute()).first->second;
  for (FairnessMonitor& monitor : added.fairness) {
    monitor.set_reference_group(ReferenceGroup(name));
  }
  return &added;
}

CalibrationMonitor* ModelMonitors::CalibrationFor(Attribute& attribute,
                                                  absl::string_view group) {
  if (auto it = attribute.calibration.find(group);
      it != attribute.calibration.end()) {
    return &it->second;
  }
  // The same bound as the fairness monitors': one slot is the overflow.
  std::string label(group);
  if (attribute.calibration.size() >= options_.fairness.max_groups) {
    label = std::string(FairnessMonitor::kOverflowGroup);
    if (auto it = attribute.calibration.find(label);
        it != attribute.calibration.end()) {
      return &it->second;
    }
  }
  return &attribute.calibration
              .emplace(std::move(label),
                       *CalibrationMonitor::Create(options_.calibration))
              .first->second;
}

void ModelMonitors::CountMissing(const std::string& attribute) {
  uint64_t& missing = missing_[attribute];
  missing = SaturatingAdd(missing, 1);
}

void ModelMonitors::ForEachGroup(
    const PredictionView& prediction, bool count_missing,
    absl::FunctionRef<void(absl::string_view, absl::string_view)> observe) {
  if (!options_.group_attributes.empty()) {
    for (const std::string& attribute : options_.group_attributes) {
      const absl::string_view* group = prediction.Group(attribute);
      // An empty value names no group: it is as missing as an absent one.
      if (group == nullptr || group->empty()) {
        if (count_missing) CountMissing(attribute);
        continue;
      }
      observe(attribute, *group);
    }
  } else {
    // Every attribute is monitored, up to max_attributes, in name order (the
    // view's), so that which attributes are kept when room runs out does
    // not depend on the order the client sent them in.
    for (const auto& [attribute, group] : prediction.groups) {
      if (attribute.empty() || group.empty()) continue;
      observe(attribute, group);
    }
  }
  for (size_t i = 0; i < options_.intersections.size(); ++i) {
    scratch_.clear();
    bool complete = true;
    for (const std::string& part : options_.intersections[i]) {
      const absl::string_view* group = prediction.Group(part);
      if (group == nullptr || group->empty()) {
        complete = false;
        break;
      }
      if (!scratch_.empty()) scratch_.push_back('&');
      AppendEscaped(&scratch_, *group);
    }
    if (!complete) {
      if (count_missing) CountMissing(intersection_names_[i]);
      continue;
    }
    observe(intersection_names_[i], scratch_);
  }
}

std::optional<ModelMonitors::Output> ModelMonitors::OutputOf(
    const PredictionView& prediction) const {
  Output output;
  if (options_.classes.empty()) {
    if (prediction.output != PredictionView::Output::kBinary ||
        !prediction.decision.has_value()) {
      return std::nullopt;
    }
    output.decision = *prediction.decision;
    output.probability = prediction.score;
    return output;
  }
  if (prediction.output != PredictionView::Output::kMulticlass) {
    return std::nullopt;
  }
  const auto found = std::find(options_.classes.begin(), options_.classes.end(),
                               prediction.predicted_class);
  if (found == options_.classes.end()) return std::nullopt;
  output.predicted_class = static_cast<int>(found - options_.classes.begin());
  output.probability = prediction.predicted_probability;
  return output;
}

void ModelMonitors::ObservePrediction(const v1::Prediction& prediction) {
  ObservePrediction(PredictionView::Of(prediction));
}

void ModelMonitors::ObservePrediction(const PredictionView& prediction,
                                      const ItemCatalogue* catalogue) {
  drift_.ObservePrediction(prediction);
  ObserveFootprint(prediction);
  if (prediction.output == PredictionView::Output::kRecommendation) {
    ObserveList(prediction, catalogue);
    return;
  }
  const std::optional<Output> output = OutputOf(prediction);
  if (!output.has_value()) return;
  ObservePerformance("", "", *output, std::nullopt);
  ForEachGroup(prediction, /*count_missing=*/true,
               [&](absl::string_view name, absl::string_view group) {
                 Attribute* found = AttributeFor(name);
                 if (found == nullptr) return;
                 Attribute& attribute = *found;
                 if (options_.classes.empty()) {
                   attribute.fairness[0].ObservePrediction(group,
                                                           output->decision);
                   ObservePerformance(name, group, *output, std::nullopt);
                   return;
                 }
                 for (size_t c = 0; c < attribute.fairness.size(); ++c) {
                   attribute.fairness[c].ObservePrediction(
                       group, static_cast<int>(c) == output->predicted_class);
                 }
               });
}

void ModelMonitors::ObserveJoined(const v1::Prediction& prediction,
                                  const v1::Outcome& outcome) {
  ObserveJoined(PredictionView::Of(prediction), outcome);
}

void ModelMonitors::ObserveJoined(const PredictionView& prediction,
                                  const v1::Outcome& outcome,
                                  const ItemCatalogue* catalogue) {
  drift_.ObserveLabel(outcome);
  if (prediction.output == PredictionView::Output::kRecommendation) {
    ObserveFeedback(prediction, outcome, catalogue);
    return;
  }
  if (const std::optional<ConformalObservation> conformal =
          ConformalOf(prediction, outcome)) {
    ObserveConformal(prediction, *conformal);
  }
  const std::optional<Output> output = OutputOf(prediction);
  if (!output.has_value()) return;
  bool label = false;  // Binary: the outcome; multiclass: top-label correct.
  int label_class = -1;
  if (options_.classes.empty()) {
    if (outcome.label_case() != v1::Outcome::kBinary) return;
    label = outcome.binary();
  } else {
    if (outcome.label_case() != v1::Outcome::kClassLabel) return;
    const auto found = std::find(options_.classes.begin(),
                                 options_.classes.end(), outcome.class_label());
    if (found == options_.classes.end()) return;
    label_class = static_cast<int>(found - options_.classes.begin());
    label = label_class == output->predicted_class;
  }
  if (output->probability.has_value()) {
    if (!calibration_.has_value()) {
      calibration_ = *CalibrationMonitor::Create(options_.calibration);
    }
    calibration_->Observe(*output->probability, label);
  }
  ObservePerformance("", "", *output, label);
  ForEachGroup(prediction, /*count_missing=*/false,
               [&](absl::string_view name, absl::string_view group) {
                 Attribute* found = AttributeFor(name);
                 if (found == nullptr) return;
                 Attribute& attribute = *found;
                 if (options_.classes.empty()) {
                   attribute.fairness[0].ObserveOutcome(group, output->decision,
                                                        label);
                   ObservePerformance(name, group, *output, label);
                 } else {
                   for (size_t c = 0; c < attribute.fairness.size(); ++c) {
                     const int k = static_cast<int>(c);
                     attribute.fairness[c].ObserveOutcome(
                         group, k == output->predicted_class, k == label_class);
                   }
                 }
                 if (output->probability.has_value()) {
                   CalibrationFor(attribute, group)
                       ->Observe(*output->probability, label);
                 }
               });
}

absl::Status ModelMonitors::Merge(const ModelMonitors& other) {
  const Options& a = options_;
  const Options& b = other.options_;
  if (a.group_attributes != b.group_attributes ||
      a.intersections != b.intersections ||
      a.max_attributes != b.max_attributes ||
      a.fairness.max_groups != b.fairness.max_groups ||
      a.fairness.min_group_size != b.fairness.min_group_size ||
      a.calibration.num_bins != b.calibration.num_bins ||
      a.classes != b.classes || a.drift.max_features != b.drift.max_features ||
      a.drift.max_categories != b.drift.max_categories ||
      a.drift.sketch_k != b.drift.sketch_k ||
      a.drift.sketch_exact_capacity != b.drift.sketch_exact_capacity ||
      a.conformal != b.conformal || a.recommendation != b.recommendation ||
      !(a.performance_estimate == b.performance_estimate)) {
    const auto describe = [](const Options& o) {
      return absl::StrCat(
          "group_attributes [", absl::StrJoin(o.group_attributes, ", "), "], ",
          o.intersections.size(), " intersections, max_attributes ",
          o.max_attributes, ", max_groups ", o.fairness.max_groups,
          ", min_group_size ", o.fairness.min_group_size, ", num_bins ",
          o.calibration.num_bins, ", ", o.classes.size(), " classes");
    };
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot merge model monitors with different options: ", describe(a),
        " vs ", describe(b)));
  }
  if (&other == this) {
    // The copy is the point: `other` is *this, which Merge modifies.
    // NOLINTNEXTLINE(performance-unnecessary-copy-initialization)
    const ModelMonitors copy = other;
    return Merge(copy);
  }
  // The drift monitor first: it is the only one whose merge can fail (its
  // sketches check their state), and then nothing has changed yet.
  if (absl::Status s = drift_.Merge(other.drift_); !s.ok()) return s;
  // Nothing below can fail: every monitor of both was built with the same
  // options.
  for (const auto& [name, theirs] : other.attributes_) {
    Attribute* mine = nullptr;
    if (auto it = attributes_.find(name); it != attributes_.end()) {
      mine = &it->second;
    } else {
      // Past max_attributes, as when observing, later attributes are
      // ignored (std::map order makes "later" deterministic).
      mine = AttributeFor(name);
      if (mine == nullptr) continue;
    }
    for (size_t c = 0; c < mine->fairness.size(); ++c) {
      mine->fairness[c].Merge(theirs.fairness[c]).IgnoreError();
    }
    // In label order, so that which groups overflow does not depend on the
    // hash map's order.
    std::map<absl::string_view, const CalibrationMonitor*> sorted;
    for (const auto& [group, monitor] : theirs.calibration) {
      sorted.emplace(group, &monitor);
    }
    for (const auto& [group, monitor] : sorted) {
      CalibrationFor(*mine, group)->Merge(*monitor).IgnoreError();
    }
  }
  if (other.calibration_.has_value()) {
    if (!calibration_.has_value()) {
      calibration_ = other.calibration_;
    } else {
      calibration_->Merge(*other.calibration_).IgnoreError();
    }
  }
  for (const auto& [attribute, count] : other.missing_) {
    uint64_t& missing = missing_[attribute];
    missing = SaturatingAdd(missing, count);
  }
  errors_.Merge(other.errors_);
  MergeQuality(other);
  MergePerformance(other);
  MergeFootprint(other);
  return absl::OkStatus();
}

ModelMetrics ModelMonitors::Snapshot() const {
  ModelMetrics metrics;
  for (const auto& [name, attribute] : attributes_) {
    if (options_.classes.empty()) {
      metrics.fairness.emplace(name, attribute.fairness[0].Snapshot());
    } else {
      for (size_t c = 0; c < attribute.fairness.size(); ++c) {
        metrics.fairness_by_class[options_.classes[c]].emplace(
            name, attribute.fairness[c].Snapshot());
      }
    }
    for (const auto& [group, monitor] : attribute.calibration) {
      metrics.calibration_by_group[name].emplace(group, monitor.Snapshot());
    }
  }
  if (calibration_.has_value()) metrics.calibration = calibration_->Snapshot();
  metrics.missing = missing_;
  SnapshotQuality(metrics);
  if (footprint_.has_value()) metrics.footprint = footprint_->Snapshot();
  return metrics;
}

bool ModelMonitors::empty() const {
  // A monitor is only added with an observation, and Deserialize drops
  // empty ones, so any monitor or missing count means an observation.
  return attributes_.empty() && !calibration_.has_value() && missing_.empty() &&
         drift_.empty() && errors_.count == 0 && !conformal_.has_value() &&
         conformal_by_attribute_.empty() && !recommendation_.has_value() &&
         !interactions_.has_value() && !performance_.has_value() &&
         !footprint_.has_value();
}

}  // namespace vigie::monitors
