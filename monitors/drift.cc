#include "monitors/drift.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "monitors/option_range.h"
#include "monitors/stats.h"
#include "vigie/state/v1/drift.pb.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;

inline bool SameName(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && SameBytes(a, b);
}

inline bool IsSpecial(absl::string_view name) {
  return !name.empty() && name[0] == '@' &&
         (name == kPredictionFeature || name == kLabelFeature);
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("drift state: ", what));
}

bool SameOptions(const DriftMonitor::Options& a,
                 const DriftMonitor::Options& b) {
  return a.max_features == b.max_features &&
         a.max_categories == b.max_categories && a.sketch_k == b.sketch_k &&
         a.sketch_exact_capacity == b.sketch_exact_capacity;
}

}  // namespace

DriftMonitor::DriftMonitor(const Options& options) : options_(options) {}

absl::StatusOr<DriftMonitor> DriftMonitor::Create(const Options& options) {
  if (absl::Status s =
          CheckRange("max_features", options.max_features, 1, 10'000);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckRange("max_categories", options.max_categories, 1, 100'000);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = QuantileSketch::Create(options.sketch_k,
                                              options.sketch_exact_capacity)
                           .status();
      !s.ok()) {
    return s;
  }
  return DriftMonitor(options);
}

FeatureSample DriftMonitor::NewSample(absl::string_view name,
                                      FeatureSample::Kind kind) const {
  FeatureSample sample;
  sample.name = std::string(name);
  sample.kind = kind;
  // Create cannot fail: Create or FromProto validated the options.
  sample.sketch = *QuantileSketch::Create(options_.sketch_k,
                                          options_.sketch_exact_capacity);
  return sample;
}

const FeatureSample* DriftMonitor::Find(absl::string_view name) const {
  const auto it =
      std::lower_bound(features_.begin(), features_.end(), name,
                       [](const FeatureSample& f, absl::string_view key) {
                         return f.name < key;
                       });
  if (it == features_.end() || it->name != name) return nullptr;
  return &*it;
}

FeatureSample* DriftMonitor::SampleFor(absl::string_view name,
                                       FeatureSample::Kind kind, bool input) {
  const auto it =
      std::lower_bound(features_.begin(), features_.end(), name,
                       [](const FeatureSample& f, absl::string_view key) {
                         return f.name < key;
                       });
  if (it != features_.end() && it->name == name) return &*it;
  if (input) {
    if (input_features_ >= options_.max_features) return nullptr;
    ++input_features_;
  }
  FeatureSample* added = &*features_.insert(it, NewSample(name, kind));
  Reindex();
  return added;
}

void DriftMonitor::Reindex() {
  layout_.samples.clear();  // Points into features_ as it was.
  inputs_.clear();
  prediction_at_ = -1;
  label_at_ = -1;
  for (size_t i = 0; i < features_.size(); ++i) {
    const std::string& name = features_[i].name;
    if (name == kPredictionFeature) {
      prediction_at_ = static_cast<int64_t>(i);
    } else if (name == kLabelFeature) {
      label_at_ = static_cast<int64_t>(i);
    } else {
      inputs_.push_back(static_cast<uint32_t>(i));
    }
  }
}

FeatureSample& DriftMonitor::Special(int64_t at, absl::string_view name,
                                     FeatureSample::Kind kind) {
  if (at >= 0) return features_[static_cast<size_t>(at)];
  // Not an input feature: always created.
  return *SampleFor(name, kind, /*input=*/false);
}

void DriftMonitor::AddNumeric(FeatureSample& sample, double value) const {
  if (sample.kind != FeatureSample::Kind::kNumeric) {
    ++sample.type_conflicts;
    return;
  }
  if (!std::isfinite(value)) {
    ++sample.missing;
    return;
  }
  ++sample.observed;
  sample.sketch.Add(value);
  sample.sum += value;
  sample.sum_squares += value * value;
}

void DriftMonitor::AddCategory(FeatureSample& sample,
                               absl::string_view value) const {
  if (sample.kind != FeatureSample::Kind::kCategorical) {
    ++sample.type_conflicts;
    return;
  }
  ++sample.observed;
  auto it = sample.categories.find(value);
  if (it != sample.categories.end()) {
    ++it->second;
  } else if (sample.categories.size() < options_.max_categories) {
    sample.categories.emplace(std::string(value), 1);
  } else {
    ++sample.untracked;
  }
}

// Inline in the walk over an event's features, and only what most values
// need: a finite number into a numeric feature, or a category already
// counted. The rest (a missing value, one of the other kind, a new
// category, a full sketch buffer) is out of line, so that the walk keeps
// its registers instead of saving them around a call per value.
[[gnu::always_inline]] inline void DriftMonitor::AddValue(
    FeatureSample& sample, const FeatureView& value) const {
  if (value.kind == FeatureView::Kind::kNumeric &&
      sample.kind == FeatureSample::Kind::kNumeric &&
      std::isfinite(value.numeric)) [[likely]] {
    ++sample.observed;
    sample.sketch.Add(value.numeric);
    sample.sum += value.numeric;
    sample.sum_squares += value.numeric * value.numeric;
    return;
  }
  if (value.kind == FeatureView::Kind::kCategorical &&
      sample.kind == FeatureSample::Kind::kCategorical) {
    if (const auto it = sample.categories.find(value.categorical);
        it != sample.categories.end()) [[likely]] {
      ++sample.observed;
      ++it->second;
      return;
    }
  }
  AddRareValue(sample, value);
}

void DriftMonitor::AddRareValue(FeatureSample& sample,
                                const FeatureView& value) const {
  switch (value.kind) {
    case FeatureView::Kind::kNumeric:
      AddNumeric(sample, value.numeric);
      break;
    case FeatureView::Kind::kCategorical:
      AddCategory(sample, value.categorical);
      break;
    case FeatureView::Kind::kMissing:
      ++sample.missing;
      break;
  }
}

DriftMonitor::Found DriftMonitor::SlowFind(absl::string_view name,
                                           const FeatureView& value,
                                           size_t next) {
  // A feature named like the prediction or the label would mix with them:
  // its values are dropped, and counted.
  if (IsSpecial(name)) return {nullptr, next};
  const auto by_name = [&](uint32_t index, absl::string_view key) {
    return features_[index].name < key;
  };
  auto it =
      std::lower_bound(inputs_.begin() + static_cast<std::ptrdiff_t>(next),
                       inputs_.end(), name, by_name);
  if (it == inputs_.end() || !SameName(features_[*it].name, name)) {
    const FeatureSample::Kind kind =
        value.kind == FeatureView::Kind::kCategorical
            ? FeatureSample::Kind::kCategorical
            : FeatureSample::Kind::kNumeric;
    if (SampleFor(name, kind, /*input=*/true) == nullptr) {
      return {nullptr, next};
    }
    // inputs_ was rebuilt with the new feature.
    it = std::lower_bound(inputs_.begin(), inputs_.end(), name, by_name);
  }
  return {&features_[*it], static_cast<size_t>(it - inputs_.begin()) + 1};
}

// Inline in ObservePrediction, whose saved registers it then shares.
[[gnu::always_inline]] inline void DriftMonitor::ObserveOutput(
    const PredictionView& prediction) {
  // A binary score or decision, a regression value: a number, added inline
  // as an input feature's value is, from one call of AddValue.
  double number = 0;
  switch (prediction.output) {
    case PredictionView::Output::kBinary:
      if (prediction.score.has_value()) {
        number = *prediction.score;
      } else if (prediction.decision.has_value()) {
        number = *prediction.decision ? 1.0 : 0.0;
      } else {
        return;
      }
      break;
    case PredictionView::Output::kRegression:
      if (!prediction.regression_value.has_value()) return;
      number = *prediction.regression_value;
      break;
    case PredictionView::Output::kMulticlass:
      AddCategory(Special(prediction_at_, kPredictionFeature,
                          FeatureSample::Kind::kCategorical),
                  prediction.predicted_class);
      return;
    case PredictionView::Output::kRecommendation:
    case PredictionView::Output::kOther:
      return;
  }
  AddValue(Special(prediction_at_, kPredictionFeature,
                   FeatureSample::Kind::kNumeric),
           FeatureView{.kind = FeatureView::Kind::kNumeric,
                       .numeric = number,
                       .categorical = {}});
}

void DriftMonitor::ObservePrediction(const PredictionView& prediction) {
  ++predictions_;
  const auto& features = prediction.features;
  // Mostly the same names as the last event's: each is compared with the
  // sample found for it then. Nothing in the loop changes features_, so
  // the layout stays valid. Both vectors' data and sizes are held in
  // locals: the compiler cannot tell that the values' stores leave them
  // alone, and would read them again for every feature.
  const size_t count = features.size();
  size_t i = 0;
  if (count == layout_.samples.size()) {
    const auto* feature = features.data();
    FeatureSample* const* samples = layout_.samples.data();
    for (; i < count; ++i) {
      FeatureSample& sample = *samples[i];
      if (!SameName(sample.name, feature[i].first)) [[unlikely]] {
        break;
      }
      AddValue(sample, feature[i].second);
    }
  }
  if (i < count) [[unlikely]] {
    ObserveByName(features, i);
  }
  ObserveOutput(prediction);
}

void DriftMonitor::ObserveByName(Features features, size_t from) {
  // The layout is rebuilt from `from` on. Reindex empties it when a sample
  // is added (the others move), so that it holds only pointers found
  // since: it is kept only if it then has one sample per feature.
  layout_.samples.resize(from);
  // Both lists are sorted by name: one walk finds every feature. Events of
  // a model mostly carry the same features, so the input feature after the
  // last one found is tried first, and searched for only when it is not.
  size_t next = 0;  // In inputs_; 0 also before the first feature searched.
  for (size_t i = from; i < features.size(); ++i) {
    const auto& [name, value] = features[i];
    FeatureSample* sample = nullptr;
    if (next < inputs_.size() &&
        SameName(features_[inputs_[next]].name, name)) {
      sample = &features_[inputs_[next]];
      ++next;
    } else {
      const Found found = SlowFind(name, value, next);
      sample = found.sample;
      next = found.next;
    }
    if (sample == nullptr) {
      ++features_dropped_;
      continue;
    }
    layout_.samples.push_back(sample);
    AddValue(*sample, value);
  }
  if (layout_.samples.size() != features.size()) layout_.samples.clear();
}

void DriftMonitor::ObserveLabel(const vigie::v1::Outcome& outcome) {
  switch (outcome.label_case()) {
    case vigie::v1::Outcome::kBinary:
      ++labels_;
      AddNumeric(
          Special(label_at_, kLabelFeature, FeatureSample::Kind::kNumeric),
          outcome.binary() ? 1.0 : 0.0);
      break;
    case vigie::v1::Outcome::kRegression:
      ++labels_;
      AddNumeric(
          Special(label_at_, kLabelFeature, FeatureSample::Kind::kNumeric),
          outcome.regression());
      break;
    case vigie::v1::Outcome::kClassLabel:
      ++labels_;
      AddCategory(
          Special(label_at_, kLabelFeature, FeatureSample::Kind::kCategorical),
          outcome.class_label());
      break;
    default:
      break;
  }
}

absl::Status DriftMonitor::Merge(const DriftMonitor& other) {
  if (!SameOptions(options_, other.options_)) {
    return absl::InvalidArgumentError(
        "cannot merge drift monitors built with different options");
  }
  if (&other == this) {
    const DriftMonitor copy = other;
    return Merge(copy);
  }
  // A sketch merge fails only past QuantileSketch::kMaxCount values: checked
  // for every feature first, so that a failure leaves *this unchanged
  // without merging into a copy (a window merges every one of its panes).
  for (const FeatureSample& theirs : other.features_) {
    const FeatureSample* mine = Find(theirs.name);
    if (mine != nullptr && mine->kind == theirs.kind &&
        theirs.kind == FeatureSample::Kind::kNumeric &&
        theirs.sketch.count() >
            QuantileSketch::kMaxCount - mine->sketch.count()) {
      return absl::OutOfRangeError(absl::StrCat(
          "merging feature '", theirs.name, "' would hold more than ",
          QuantileSketch::kMaxCount, " values"));
    }
  }
  DriftMonitor& merged = *this;
  for (const FeatureSample& theirs : other.features_) {
    FeatureSample* mine =
        merged.SampleFor(theirs.name, theirs.kind, !IsSpecial(theirs.name));
    if (mine == nullptr) {
      merged.features_dropped_ += theirs.observed + theirs.missing;
      continue;
    }
    mine->missing += theirs.missing;
    mine->type_conflicts += theirs.type_conflicts;
    if (mine->kind != theirs.kind) {
      mine->type_conflicts += theirs.observed;
      continue;
    }
    mine->observed += theirs.observed;
    if (theirs.kind == FeatureSample::Kind::kNumeric) {
      // Into an empty sketch, a copy: a merge would draw new coins, and a
      // window merged with empty panes would differ from its one pane.
      if (mine->sketch.empty()) {
        mine->sketch = theirs.sketch;
      } else if (!theirs.sketch.empty()) {
        if (absl::Status s = mine->sketch.Merge(theirs.sketch); !s.ok()) {
          return s;
        }
      }
      mine->sum += theirs.sum;
      mine->sum_squares += theirs.sum_squares;
    } else {
      for (const auto& [category, count] : theirs.categories) {
        auto it = mine->categories.find(category);
        if (it != mine->categories.end()) {
          it->second += count;
        } else if (mine->categories.size() < options_.max_categories) {
          mine->categories.emplace(category, count);
        } else {
          mine->untracked += count;
        }
      }
      mine->untracked += theirs.untracked;
    }
  }
  predictions_ = SaturatingAdd(predictions_, other.predictions_);
  labels_ = SaturatingAdd(labels_, other.labels_);
  features_dropped_ += other.features_dropped_;
  return absl::OkStatus();
}

void DriftMonitor::ToProto(state::v1::DriftState* state) const {
  state->Clear();
  state->set_version(kStateVersion);
  state->set_max_features(options_.max_features);
  state->set_max_categories(options_.max_categories);
  state->set_sketch_k(options_.sketch_k);
  state->set_sketch_exact_capacity(options_.sketch_exact_capacity);
  state->set_predictions(predictions_);
  state->set_labels(labels_);
  state->set_features_dropped(features_dropped_);
  for (const FeatureSample& sample : features_) {
    state::v1::FeatureSampleState* out = state->add_features();
    out->set_name(sample.name);
    out->set_kind(static_cast<uint32_t>(sample.kind));
    out->set_observed(sample.observed);
    out->set_missing(sample.missing);
    out->set_type_conflicts(sample.type_conflicts);
    if (sample.kind == FeatureSample::Kind::kNumeric) {
      sample.sketch.ToProto(out->mutable_sketch());
      out->set_sum(sample.sum);
      out->set_sum_squares(sample.sum_squares);
    } else {
      for (const auto& [category, count] : sample.categories) {
        state::v1::CategoryCountState* c = out->add_categories();
        c->set_category(category);
        c->set_count(count);
      }
      out->set_untracked(sample.untracked);
    }
  }
}

absl::StatusOr<DriftMonitor> DriftMonitor::FromProto(
    const state::v1::DriftState& state, const Options& options) {
  if (state.version() != kStateVersion) {
    return Corrupt(absl::StrCat("unknown version ", state.version()));
  }
  const Options stored{state.max_features(), state.max_categories(),
                       state.sketch_k(), state.sketch_exact_capacity()};
  if (!SameOptions(stored, options)) {
    return Corrupt(
        "written with other drift options than the configured ones (state "
        "was written under another configuration)");
  }
  absl::StatusOr<DriftMonitor> monitor = Create(options);
  if (!monitor.ok()) return Corrupt(monitor.status().message());
  monitor->predictions_ = state.predictions();
  monitor->labels_ = state.labels();
  monitor->features_dropped_ = state.features_dropped();
  for (const state::v1::FeatureSampleState& in : state.features()) {
    if (!monitor->features_.empty() &&
        monitor->features_.back().name >= in.name()) {
      return Corrupt("features are not sorted by name, or repeat one");
    }
    if (in.kind() != 1 && in.kind() != 2) {
      return Corrupt(
          absl::StrCat("feature '", in.name(), "' has kind ", in.kind()));
    }
    FeatureSample sample = monitor->NewSample(
        in.name(), static_cast<FeatureSample::Kind>(in.kind()));
    sample.observed = in.observed();
    sample.missing = in.missing();
    sample.type_conflicts = in.type_conflicts();
    if (sample.kind == FeatureSample::Kind::kNumeric) {
      absl::StatusOr<QuantileSketch> sketch =
          QuantileSketch::FromProto(in.sketch());
      if (!sketch.ok()) {
        return Corrupt(absl::StrCat("feature '", in.name(),
                                    "': ", sketch.status().message()));
      }
      if (sketch->k() != options.sketch_k ||
          sketch->exact_capacity() != options.sketch_exact_capacity ||
          sketch->count() != sample.observed) {
        return Corrupt(absl::StrCat("feature '", in.name(),
                                    "': sketch disagrees with its counts"));
      }
      if (!std::isfinite(in.sum()) || !std::isfinite(in.sum_squares()) ||
          in.sum_squares() < 0) {
        return Corrupt(absl::StrCat("feature '", in.name(), "': bad sums"));
      }
      sample.sketch = *std::move(sketch);
      sample.sum = in.sum();
      sample.sum_squares = in.sum_squares();
    } else {
      if (in.categories_size() > static_cast<int>(options.max_categories)) {
        return Corrupt(absl::StrCat("feature '", in.name(),
                                    "' has more categories than allowed"));
      }
      uint64_t total = in.untracked();
      for (const state::v1::CategoryCountState& c : in.categories()) {
        if (!sample.categories.emplace(c.category(), c.count()).second) {
          return Corrupt(absl::StrCat("feature '", in.name(),
                                      "' repeats category '", c.category(),
                                      "'"));
        }
        total = SaturatingAdd(total, c.count());
      }
      if (total != sample.observed) {
        return Corrupt(absl::StrCat("feature '", in.name(),
                                    "': category counts do not sum to its "
                                    "observed values"));
      }
      sample.untracked = in.untracked();
    }
    if (!IsSpecial(sample.name)) {
      if (++monitor->input_features_ > options.max_features) {
        return Corrupt("more features than max_features");
      }
    }
    monitor->features_.push_back(std::move(sample));
  }
  monitor->Reindex();
  return monitor;
}

}  // namespace vigie::monitors
