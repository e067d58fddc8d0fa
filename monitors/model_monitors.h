#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "monitors/calibration.h"
#include "monitors/change_episode.h"
#include "monitors/conformal.h"
#include "monitors/drift.h"
#include "monitors/fairness.h"
#include "monitors/footprint.h"
#include "monitors/item_catalogue.h"
#include "monitors/item_interactions.h"
#include "monitors/performance_estimate.h"
#include "monitors/prediction_view.h"
#include "monitors/recommendation.h"

namespace vigie::v1 {
class Prediction;
class Outcome;
}  // namespace vigie::v1

namespace vigie::state::v1 {
class PaneState;
}

namespace vigie::monitors {

// Metrics of all monitors of one model over one window.
struct ModelMetrics {
  // Binary models: fairness by group attribute name (an intersection is
  // named by its attributes joined with '&', e.g. "race&sex").
  std::map<std::string, FairnessMetrics> fairness;
  // Multiclass models: fairness of each class against the rest, by class
  // label, then by attribute.
  std::map<std::string, std::map<std::string, FairnessMetrics>>
      fairness_by_class;
  // Calibration of the joined pairs whose prediction has a probability:
  // binary, the score against the label; multiclass, the predicted class's
  // probability against whether it was the right class (top-label). Empty
  // until such a pair was joined.
  std::optional<CalibrationMetrics> calibration;
  // The same per group: by attribute, then group label.
  std::map<std::string, std::map<std::string, CalibrationMetrics>>
      calibration_by_group;
  // Predictions lacking a monitored attribute, by attribute name.
  std::map<std::string, uint64_t> missing;
  // Conformal coverage of the joined pairs whose prediction carried an
  // interval (regression) or a prediction set (multiclass) with its alpha;
  // empty until one was joined. Its groups are empty: see the next.
  std::optional<ConformalMetrics> conformal;
  // The same per group (Mondrian view), by attribute (and intersection).
  std::map<std::string, ConformalMetrics> conformal_by_attribute;
  // Recommendation lists and their feedback; empty until a list came.
  std::optional<RecommendationMetrics> recommendation;
  // Energy and carbon of the predictions; empty until one carried a cost
  // (or, with Options::footprint set, until the first prediction).
  std::optional<FootprintMetrics> footprint;
};

// The monitors of one model over one pane (or a merge of panes): per group
// attribute (and intersection of attributes), a FairnessMonitor (binary
// models) or one per class, one class against the rest (multiclass), and a
// CalibrationMonitor per group; and one CalibrationMonitor for the whole
// model; and a DriftMonitor of its features; and the ErrorTally of the
// errors of its joined pairs (the caller computes them); a ConformalMonitor
// of the model's conformal intervals or sets, and one per attribute for its
// groups; and a RecommendationMonitor of its recommendation lists. Routes
// events to them.
//
// Observed: binary predictions with a decision (the pipeline fills it in
// from the score before) and multiclass predictions with a predicted class
// among Options::classes; calibration needs the score, or the predicted
// class's probability. Other events are ignored.
//
// Intersections: a prediction belongs to the group of an intersection when
// it carries every attribute of it; the group's label joins the values with
// '&', each '&' within a value doubled, so that distinct combinations never
// share a label ("a&b" + "c" is "a&&b&c", "a" + "b&c" is "a&b&&c").
//
// Exact and mergeable, as its monitors are. Thread-compatible.
class ModelMonitors {
 public:
  struct Options {
    // Group attributes monitored. Empty: every attribute the predictions
    // carry, up to max_attributes (later ones are ignored). Default: empty.
    std::vector<std::string> group_attributes;
    // Intersections monitored besides, each of 2 or more distinct
    // attributes, e.g. {{"race", "sex"}}. Default: none. At most 100.
    std::vector<std::vector<std::string>> intersections;
    // Attributes kept when group_attributes is empty. Default: 32.
    // Range: [1, 1000].
    uint32_t max_attributes = 32;
    // Options of every FairnessMonitor. max_groups also bounds the groups
    // whose calibration is kept per attribute. Its reference_group is
    // ignored: see reference_groups.
    FairnessMonitor::Options fairness;
    // The group each attribute's (or intersection's) ratios are taken
    // against, by attribute name; an attribute not listed uses the group
    // with the most predictions. A reporting choice: not part of the state,
    // and free to differ between merged monitors.
    std::map<std::string, std::string> reference_groups;
    // Options of every CalibrationMonitor.
    CalibrationMonitor::Options calibration;
    // The class labels of a multiclass model, whose fairness is measured
    // one class against the rest; empty for a binary model.
    std::vector<std::string> classes;
    // Options of the DriftMonitor of the model's features, prediction and
    // label.
    DriftMonitor::Options drift;
    // Options of every ConformalMonitor; their kind is the model's (sets
    // when `classes` is set, else intervals), whatever this one says.
    ConformalMonitor::Options conformal;
    // Options of the RecommendationMonitor.
    RecommendationMonitor::Options recommendation;
    // Options of the PerformanceEstimateMonitor of a binary model's scores.
    PerformanceEstimateMonitor::Options performance_estimate;
    // How a prediction's cost becomes energy and carbon (footprint.h): the
    // model's declared footprint. Set, every prediction is counted from the
    // first (so that cost coverage is exact); null, predictions are counted
    // from the first that carries an energy, with neither carbon nor
    // latency estimates. Shared and immutable, since every pane of a model
    // holds its options and a dated intensity series may be long. Used when
    // observing only: not part of the state, and free to differ between
    // merged monitors (a new intensity applies from then on).
    std::shared_ptr<const FootprintCosting> footprint;
  };

  // kInvalidArgument if `options` is out of range.
  static absl::StatusOr<ModelMonitors> Create(const Options& options);

  // Label-free monitors: O(attributes x classes). A recommendation list is
  // resolved against `catalogue` (null: none, so that only its count,
  // personalisation is not measured either, and its feedback's hit rate
  // and MRR are). A pane's lists are measured against one catalogue: a
  // list against another (the model's catalogue was replaced) restarts the
  // recommendation metrics with it.
  void ObservePrediction(const PredictionView& prediction,
                         const ItemCatalogue* catalogue = nullptr);
  // Label-needing monitors, on a prediction joined with its outcome;
  // `catalogue` as above, for the serendipity of recommendation feedback.
  void ObserveJoined(const PredictionView& prediction,
                     const vigie::v1::Outcome& outcome,
                     const ItemCatalogue* catalogue = nullptr);
  // Counts a recommendation outcome's relevant items for the model's
  // learned popularity (item_interactions.h). The caller asks this only of
  // the panes of the period popularity is learned from, so that other
  // panes carry no counts. Other outcomes are ignored.
  void CountInteractions(const vigie::v1::Outcome& outcome,
                         const ItemCatalogue& catalogue);
  // The error of a joined pair (0/1 misclassification, or absolute error),
  // as the caller computes it for the change detectors: O(1). Out-of-range
  // errors are ignored (ErrorTally::Observe).
  void ObserveError(double error) { errors_.Observe(error); }
  // The same, for a parsed prediction: PredictionView::Of(prediction).
  void ObservePrediction(const vigie::v1::Prediction& prediction);
  void ObserveJoined(const vigie::v1::Prediction& prediction,
                     const vigie::v1::Outcome& outcome);

  // kInvalidArgument if `other` was built with other options; *this is then
  // unchanged. Recommendation monitors bound to different catalogues do not
  // merge: `other`'s (the later pane's, as windows merge them) is kept.
  absl::Status Merge(const ModelMonitors& other);

  ModelMetrics Snapshot() const;
  // The distributions of the features, the prediction and the label, which
  // drift is measured on (drift_report.h). Every prediction feeds it,
  // whatever the model's task.
  const DriftMonitor& drift() const { return drift_; }
  // The errors ObserveError saw.
  const ErrorTally& errors() const { return errors_; }
  // The recommendation lists' monitor; null before the first list.
  const RecommendationMonitor* recommendation() const {
    return recommendation_.has_value() ? &*recommendation_ : nullptr;
  }
  // Binary models: the scored predictions and pairs counted for
  // confidence-based performance estimation, whose Estimate takes the
  // reference's (performance_estimate.h); null before the first one.
  const PerformanceEstimateMonitor* performance_estimate() const {
    return performance_.has_value() ? &*performance_ : nullptr;
  }
  // The footprint monitor; null before the first prediction it counted.
  const FootprintMonitor* footprint() const {
    return footprint_.has_value() ? &*footprint_ : nullptr;
  }
  // The feedback CountInteractions counted; null when it counted none.
  const ItemInteractions* interactions() const {
    return interactions_.has_value() ? &*interactions_ : nullptr;
  }
  // What a conformal prediction joined with its outcome is to the
  // ConformalMonitors: covered, size, full, alpha, n_cal and score. Empty
  // when the prediction has no interval or set with an alpha, or the
  // outcome's label is not of its kind.
  std::optional<ConformalObservation> ConformalOf(
      const PredictionView& prediction,
      const vigie::v1::Outcome& outcome) const;
  bool empty() const;

  std::string Serialize() const;  // A vigie.state.v1.PaneState.
  // kDataLoss for bytes that are not a valid PaneState, or whose monitors'
  // options differ from `options` (state written under another
  // configuration).
  static absl::StatusOr<ModelMonitors> Deserialize(absl::string_view bytes,
                                                   const Options& options);

  // The name of an intersection: its attributes joined with '&'.
  static std::string IntersectionName(const std::vector<std::string>& parts);

 private:
  // What one attribute (or intersection) keeps.
  struct Attribute {
    // One monitor for a binary model; one per class, in Options::classes
    // order, for a multiclass one.
    std::vector<FairnessMonitor> fairness;
    // By group label, at most fairness.max_groups of them; later groups go
    // to FairnessMonitor::kOverflowGroup.
    absl::flat_hash_map<std::string, CalibrationMonitor> calibration;
  };
  // What the monitors read of a prediction, found once per event.
  struct Output {
    bool decision = false;     // Binary.
    int predicted_class = -1;  // Multiclass: index in Options::classes.
    std::optional<double> probability;  // For calibration.
  };

  explicit ModelMonitors(const Options& options);
  // Empty when the prediction is not one the monitors observe.
  std::optional<Output> OutputOf(const PredictionView& prediction) const;
  // The monitors of `attribute`, created if new and allowed; null otherwise.
  Attribute* AttributeFor(absl::string_view attribute);
  Attribute NewAttribute() const;
  // Whether attribute `name` may be monitored beside the `plain` attributes
  // (not intersections) already kept by a family.
  bool Admits(absl::string_view name, size_t plain) const;
  // The number of plain attributes among a family's keys.
  template <typename Map>
  size_t PlainAttributes(const Map& by_attribute) const {
    size_t plain = by_attribute.size();
    for (const std::string& name : intersection_names_) {
      plain -= by_attribute.contains(name) ? 1 : 0;
    }
    return plain;
  }
  ConformalMonitor NewConformal() const;
  // The ConformalMonitor of `attribute`, created if new and allowed; null
  // otherwise.
  ConformalMonitor* ConformalFor(absl::string_view attribute);
  void ObserveConformal(const PredictionView& prediction,
                        const ConformalObservation& observation);
  void ObserveList(const PredictionView& prediction,
                   const ItemCatalogue* catalogue);
  void ObserveFeedback(const PredictionView& prediction,
                       const vigie::v1::Outcome& outcome,
                       const ItemCatalogue* catalogue);
  // Merge, Snapshot and state of the conformal and recommendation monitors.
  void MergeQuality(const ModelMonitors& other);
  // The footprint monitor's part of each verb (model_monitors_footprint.cc).
  void ObserveFootprint(const PredictionView& prediction);
  void MergeFootprint(const ModelMonitors& other);
  void FootprintToProto(state::v1::PaneState* state) const;
  absl::Status FootprintFromProto(const state::v1::PaneState& state);
  void SnapshotQuality(ModelMetrics& metrics) const;
  void QualityToProto(state::v1::PaneState* state) const;
  absl::Status QualityFromProto(const state::v1::PaneState& state);
  // The performance estimate's share of each verb
  // (model_monitors_performance.cc). ObservePerformance takes the outcome
  // when joined; `attribute` empty is the model.
  void ObservePerformance(absl::string_view attribute, absl::string_view group,
                          const Output& output,
                          const std::optional<bool>& outcome);
  void MergePerformance(const ModelMonitors& other);
  void PerformanceToProto(state::v1::PaneState* state) const;
  absl::Status PerformanceFromProto(const state::v1::PaneState& state);
  std::string ReferenceGroup(const std::string& attribute) const;
  CalibrationMonitor* CalibrationFor(Attribute& attribute,
                                     absl::string_view group);
  // Calls observe(attribute, group) for each monitored attribute and
  // intersection `prediction` carries (the caller admits it to its family);
  // counts the listed ones it lacks in missing_ if asked.
  void ForEachGroup(
      const PredictionView& prediction, bool count_missing,
      absl::FunctionRef<void(absl::string_view, absl::string_view)> observe);
  bool IsIntersection(absl::string_view name) const;
  void CountMissing(const std::string& attribute);
  void ToProto(state::v1::PaneState* state) const;
  absl::Status FromProto(const state::v1::PaneState& state);

  Options options_;
  std::vector<std::string> intersection_names_;  // Parallel to intersections.
  // Transparent, so that an attribute is found by the view's string_view.
  std::map<std::string, Attribute, std::less<>> attributes_;
  std::optional<CalibrationMonitor> calibration_;
  std::map<std::string, uint64_t> missing_;
  DriftMonitor drift_;
  ErrorTally errors_;
  // Created with their first observation, so that other models' panes
  // carry none.
  std::optional<ConformalMonitor> conformal_;
  std::map<std::string, ConformalMonitor, std::less<>> conformal_by_attribute_;
  std::optional<RecommendationMonitor> recommendation_;
  std::optional<ItemInteractions> interactions_;
  std::optional<PerformanceEstimateMonitor> performance_;
  std::optional<FootprintMonitor> footprint_;
  std::string scratch_;  // Intersection labels, built without allocating.
};

}  // namespace vigie::monitors
