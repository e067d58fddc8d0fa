#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "monitors/category_table.h"
#include "monitors/prediction_view.h"
#include "monitors/quantile_sketch.h"

namespace vigie::v1 {
class Outcome;
}  // namespace vigie::v1

namespace vigie::state::v1 {
class DriftState;
}  // namespace vigie::state::v1

namespace vigie::monitors {

// Names under which the prediction and the label are kept beside the input
// features: drift of the score (D1) and of the labels are measured as those
// of any feature.
inline constexpr absl::string_view kPredictionFeature = "@prediction";
inline constexpr absl::string_view kLabelFeature = "@label";

// The values one feature took: a mergeable sample of its distribution.
struct FeatureSample {
  enum class Kind { kNumeric = 1, kCategorical = 2 };
  std::string name;
  Kind kind = Kind::kNumeric;
  uint64_t observed = 0;        // Values kept.
  uint64_t missing = 0;         // No value, or a number that is not finite.
  uint64_t type_conflicts = 0;  // Values of the other kind, ignored.
  // Numeric.
  QuantileSketch sketch;
  double sum = 0;
  double sum_squares = 0;
  // Categorical: by category, at most max_categories; the rest untracked.
  CategoryTable categories;
  uint64_t untracked = 0;
};

// The distributions of a model's input features, of its prediction (the
// binary score, else the decision as 0/1; the regression value; the
// multiclass predicted class) and of its labels (binary as 0/1, regression
// values, class labels), over one pane or a merge of panes: what drift is
// measured on, against a reference profile built from the same monitor
// over a reference sample (reference_profile.h).
//
// A feature's kind is that of its first value: numbers make it numeric (a
// QuantileSketch, exact up to its exact_capacity, plus the exact sum and
// sum of squares), strings categorical (counts by category). A value of the
// other kind is ignored and counted. Memory is bounded: at most
// max_features input features (values of further ones are counted, not
// kept), max_categories categories per feature, and the sketches' bound.
//
// Cost per prediction: when its features have the same names as the last
// prediction's, as a model's events mostly do, one comparison of each name
// with that of the sample found for it then; else one walk of its
// features, sorted by name, beside the monitor's features, also sorted. No
// hashing. Mergeable (exactly, except for the sketches' documented
// compaction). Thread-compatible.
class DriftMonitor {
 public:
  struct Options {
    // Input features kept. Range: [1, 10000]. Default: 100.
    uint32_t max_features = 100;
    // Categories kept per categorical feature. Range: [1, 100000].
    // Default: 200.
    uint32_t max_categories = 200;
    // Options of every feature's QuantileSketch (quantile_sketch.h).
    uint32_t sketch_k = 200;
    uint32_t sketch_exact_capacity = 1024;
  };

  // kInvalidArgument if `options` is out of range.
  static absl::StatusOr<DriftMonitor> Create(const Options& options);

  // The prediction's input features and its output.
  void ObservePrediction(const PredictionView& prediction);
  // The label of a joined outcome (ignored when it has none the monitor
  // reads: a recommendation's feedback).
  void ObserveLabel(const vigie::v1::Outcome& outcome);

  // kInvalidArgument if `other` was built with other options; *this is then
  // unchanged. A feature numeric in one and categorical in the other keeps
  // this monitor's kind; the other's values count as type conflicts.
  absl::Status Merge(const DriftMonitor& other);

  const Options& options() const { return options_; }
  uint64_t predictions() const { return predictions_; }
  uint64_t labels() const { return labels_; }
  uint64_t features_dropped() const { return features_dropped_; }
  // Sorted by name, the prediction and the label included.
  const std::vector<FeatureSample>& features() const { return features_; }
  // Null when the feature was never seen.
  const FeatureSample* Find(absl::string_view name) const;
  bool empty() const { return predictions_ == 0 && labels_ == 0; }

  void ToProto(state::v1::DriftState* state) const;
  // kDataLoss for an inconsistent state, or one built with options other
  // than `options`.
  static absl::StatusOr<DriftMonitor> FromProto(
      const state::v1::DriftState& state, const Options& options);

 private:
  explicit DriftMonitor(const Options& options);
  // The sample of `name`, created (sorted in) when new and allowed; null
  // when the model already has max_features input features.
  FeatureSample* SampleFor(absl::string_view name, FeatureSample::Kind kind,
                           bool input);
  void AddNumeric(FeatureSample& sample, double value) const;
  void AddCategory(FeatureSample& sample, absl::string_view value) const;
  void AddValue(FeatureSample& sample, const FeatureView& value) const;
  [[gnu::noinline]] void AddRareValue(FeatureSample& sample,
                                      const FeatureView& value) const;
  FeatureSample NewSample(absl::string_view name,
                          FeatureSample::Kind kind) const;
  // Rebuilds inputs_, prediction_at_ and label_at_ after features_
  // changed: they are read for every event, and a search by name would
  // cost as much as the update. Empties layout_, whose pointers the change
  // left dangling or shifted.
  void Reindex();
  // The sample of input feature `name` when it is not the one expected
  // (inputs_[next]): found or added, with the position in inputs_ past it;
  // null when the name is reserved or the model has max_features already.
  // Returned rather than written through a reference, so that the walk
  // keeps its position in a register.
  struct Found {
    FeatureSample* sample;
    size_t next;
  };
  Found SlowFind(absl::string_view name, const FeatureView& value, size_t next);
  // The sample at `at` (prediction_at_ or label_at_), created when -1.
  FeatureSample& Special(int64_t at, absl::string_view name,
                         FeatureSample::Kind kind);
  // An event's input features, as PredictionView holds them.
  using Features = absl::Span<const std::pair<absl::string_view, FeatureView>>;
  // For features [from, end) of an event whose features before `from`
  // matched layout_ (and were added): finds each feature's sample by name,
  // adds its value, and records the event's layout.
  void ObserveByName(Features features, size_t from);
  // The prediction's output, as the feature kPredictionFeature.
  void ObserveOutput(const PredictionView& prediction);

  // The samples of the last event's input features, in its order, when
  // each one had a sample. Events of a model mostly carry the same
  // features: the next event's names are compared with these samples'
  // position by position, which costs neither a walk of inputs_ nor a
  // search. Pointers into features_, so emptied whenever it changes
  // (Reindex), and not copied with the monitor: a copy would point into
  // the original's samples.
  class Layout {
   public:
    Layout() = default;
    Layout(const Layout&) {}
    Layout& operator=(const Layout&) {
      samples.clear();
      return *this;
    }
    Layout(Layout&&) = default;
    Layout& operator=(Layout&&) = default;

    std::vector<FeatureSample*> samples;
  };

  Options options_;
  uint64_t predictions_ = 0;
  uint64_t labels_ = 0;
  uint64_t features_dropped_ = 0;
  uint32_t input_features_ = 0;  // Of features_, those not '@'-named.
  std::vector<FeatureSample> features_;
  // Positions in features_ of the input features, in name order; of
  // kPredictionFeature and kLabelFeature (-1 when absent).
  std::vector<uint32_t> inputs_;
  int64_t prediction_at_ = -1;
  int64_t label_at_ = -1;
  Layout layout_;
};

}  // namespace vigie::monitors
