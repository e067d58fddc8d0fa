// ModelMonitors' conformal and recommendation families: what they read of
// an event, their merge, snapshot and state.

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "monitors/model_monitors.h"
#include "vigie/state/v1/conformal.pb.h"
#include "vigie/state/v1/recommendation.pb.h"
#include "vigie/state/v1/state.pb.h"
#include "vigie/v1/catalogue.pb.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {
namespace {

// The catalogue lists are resolved against when the model has none: every
// item is unknown, so only counts, hit rate and MRR are measured.
const ItemCatalogue& NoCatalogue() {
  // An immutable constant, built once: not state.
  static const ItemCatalogue* const kEmpty =
      new ItemCatalogue(ItemCatalogue::Empty());
  return *kEmpty;
}

absl::Status WrittenElsewhere(absl::string_view what) {
  return absl::DataLossError(absl::StrCat(
      "pane state ", what, ": state was written under another configuration"));
}

}  // namespace

std::optional<ConformalObservation> ModelMonitors::ConformalOf(
    const PredictionView& prediction, const v1::Outcome& outcome) const {
  if (!prediction.alpha.has_value()) return std::nullopt;
  ConformalObservation o;
  o.alpha = *prediction.alpha;
  o.calibration_size = prediction.calibration_size.value_or(0);
  if (options_.classes.empty()) {
    if (prediction.output != PredictionView::Output::kRegression ||
        !prediction.interval_lower.has_value() ||
        !prediction.interval_upper.has_value() ||
        outcome.label_case() != v1::Outcome::kRegression) {
      return std::nullopt;
    }
    const double lo = *prediction.interval_lower;
    const double hi = *prediction.interval_upper;
    const double y = outcome.regression();
    constexpr double kInf = std::numeric_limits<double>::infinity();
    o.covered = lo <= y && y <= hi;
    o.full = lo == -kInf && hi == kInf;
    o.size = hi - lo;
    o.score = std::abs(y - prediction.regression_value.value_or(0));
    return o;
  }
  if (prediction.output != PredictionView::Output::kMulticlass ||
      outcome.label_case() != v1::Outcome::kClassLabel) {
    return std::nullopt;
  }
  // Validation keeps the set's labels distinct and among the classes.
  for (absl::string_view label : prediction.prediction_set) {
    o.covered = o.covered || label == outcome.class_label();
  }
  o.size = static_cast<double>(prediction.prediction_set.size());
  o.full = prediction.prediction_set.size() >= options_.classes.size();
  return o;
}

ConformalMonitor ModelMonitors::NewConformal() const {
  ConformalMonitor::Options options = options_.conformal;
  options.kind =
      options_.classes.empty() ? ConformalKind::kInterval : ConformalKind::kSet;
  // Create validated the options.
  return *ConformalMonitor::Create(options);
}

ConformalMonitor* ModelMonitors::ConformalFor(absl::string_view attribute) {
  if (auto it = conformal_by_attribute_.find(attribute);
      it != conformal_by_attribute_.end()) {
    return &it->second;
  }
  if (!Admits(attribute, PlainAttributes(conformal_by_attribute_))) {
    return nullptr;
  }
  return &conformal_by_attribute_.emplace(attribute, NewConformal())
              .first->second;
}

void ModelMonitors::ObserveConformal(const PredictionView& prediction,
                                     const ConformalObservation& observation) {
  if (!conformal_.has_value()) conformal_ = NewConformal();
  conformal_->Observe(observation);
  ForEachGroup(prediction, /*count_missing=*/false,
               [&](absl::string_view name, absl::string_view group) {
                 ConformalMonitor* monitor = ConformalFor(name);
                 if (monitor == nullptr) return;
                 ConformalObservation grouped = observation;
                 grouped.group = monitor->ResolveGroup(group);
                 monitor->Observe(grouped);
               });
}

void ModelMonitors::ObserveList(const PredictionView& prediction,
                                const ItemCatalogue* catalogue) {
  const ItemCatalogue& items =
      catalogue != nullptr ? *catalogue : NoCatalogue();
  if (!recommendation_.has_value() || !recommendation_->Accepts(items)) {
    // Create validated the options. A new catalogue starts afresh: dense
    // ids of two catalogues do not mix.
    recommendation_ = *RecommendationMonitor::Create(options_.recommendation);
  }
  recommendation_->ObserveListByIds(items, prediction.items,
                                    prediction.user_id);
}

void ModelMonitors::ObserveFeedback(const PredictionView& prediction,
                                    const v1::Outcome& outcome,
                                    const ItemCatalogue* catalogue) {
  if (outcome.label_case() != v1::Outcome::kRecommendation) return;
  const ItemCatalogue& items =
      catalogue != nullptr ? *catalogue : NoCatalogue();
  if (!recommendation_.has_value()) {
    recommendation_ = *RecommendationMonitor::Create(options_.recommendation);
  }
  absl::InlinedVector<absl::string_view, 8> relevant;
  for (const std::string& id : outcome.recommendation().relevant_item_ids()) {
    relevant.push_back(id);
  }
  recommendation_->ObserveFeedback(items, prediction.items, relevant);
}

void ModelMonitors::CountInteractions(const v1::Outcome& outcome,
                                      const ItemCatalogue& catalogue) {
  if (outcome.label_case() != v1::Outcome::kRecommendation) return;
  if (!interactions_.has_value()) interactions_.emplace();
  absl::InlinedVector<absl::string_view, 8> relevant;
  for (const std::string& id : outcome.recommendation().relevant_item_ids()) {
    relevant.push_back(id);
  }
  interactions_->Observe(catalogue, relevant);
}

void ModelMonitors::MergeQuality(const ModelMonitors& other) {
  // Built with the same options (Merge checked): nothing here fails.
  if (other.conformal_.has_value()) {
    if (!conformal_.has_value()) {
      conformal_ = other.conformal_;
    } else {
      conformal_->Merge(*other.conformal_).IgnoreError();
    }
  }
  for (const auto& [name, theirs] : other.conformal_by_attribute_) {
    if (ConformalMonitor* mine = ConformalFor(name)) {
      mine->Merge(theirs).IgnoreError();
    }
  }
  if (other.recommendation_.has_value()) {
    if (!recommendation_.has_value() ||
        !recommendation_->Merge(*other.recommendation_).ok()) {
      // Bound to another catalogue: the later pane's is kept.
      recommendation_ = other.recommendation_;
    }
  }
  if (other.interactions_.has_value()) {
    if (!interactions_.has_value() ||
        !interactions_->Merge(*other.interactions_).ok()) {
      // Likewise: counts against another catalogue are the later pane's.
      interactions_ = other.interactions_;
    }
  }
}

void ModelMonitors::SnapshotQuality(ModelMetrics& metrics) const {
  if (conformal_.has_value()) metrics.conformal = conformal_->Snapshot();
  for (const auto& [name, monitor] : conformal_by_attribute_) {
    metrics.conformal_by_attribute.emplace(name, monitor.Snapshot());
  }
  if (recommendation_.has_value()) {
    metrics.recommendation = recommendation_->Snapshot();
  }
}

void ModelMonitors::QualityToProto(state::v1::PaneState* state) const {
  if (conformal_.has_value()) conformal_->ToProto(state->mutable_conformal());
  for (const auto& [name, monitor] : conformal_by_attribute_) {
    monitor.ToProto(&(*state->mutable_conformal_by_attribute())[name]);
  }
  if (recommendation_.has_value()) {
    recommendation_->ToProto(state->mutable_recommendation());
  }
  if (interactions_.has_value()) {
    interactions_->ToProto(state->mutable_interactions());
  }
}

absl::Status ModelMonitors::QualityFromProto(
    const state::v1::PaneState& state) {
  const ConformalMonitor::Options expected = NewConformal().options();
  const auto read_conformal =
      [&](const state::v1::ConformalState& from,
          absl::string_view where) -> absl::StatusOr<ConformalMonitor> {
    absl::StatusOr<ConformalMonitor> monitor =
        ConformalMonitor::FromProto(from);
    if (!monitor.ok()) {
      return absl::DataLossError(absl::StrCat("pane state, ", where, ": ",
                                              monitor.status().message()));
    }
    if (monitor->options() != expected) {
      return WrittenElsewhere(
          absl::StrCat(where, ": conformal options differ"));
    }
    return monitor;
  };
  if (state.has_conformal()) {
    absl::StatusOr<ConformalMonitor> monitor =
        read_conformal(state.conformal(), "conformal coverage");
    if (!monitor.ok()) return monitor.status();
    conformal_ = *std::move(monitor);
  }
  for (const auto& [name, from] : state.conformal_by_attribute()) {
    if (name.empty()) return WrittenElsewhere("has an unnamed attribute");
    const std::string where = absl::StrCat("conformal attribute '", name, "'");
    absl::StatusOr<ConformalMonitor> monitor = read_conformal(from, where);
    if (!monitor.ok()) return monitor.status();
    ConformalMonitor* slot = ConformalFor(name);
    if (slot == nullptr) {
      return WrittenElsewhere(absl::StrCat("has ", where, ", not monitored"));
    }
    *slot = *std::move(monitor);
  }
  if (state.has_recommendation()) {
    absl::StatusOr<RecommendationMonitor> monitor =
        RecommendationMonitor::FromProto(state.recommendation());
    if (!monitor.ok()) {
      return absl::DataLossError(absl::StrCat("pane state, recommendation: ",
                                              monitor.status().message()));
    }
    if (monitor->options() != options_.recommendation) {
      return WrittenElsewhere("recommendation options differ");
    }
    recommendation_ = *std::move(monitor);
  }
  if (state.has_interactions()) {
    absl::StatusOr<ItemInteractions> interactions =
        ItemInteractions::FromProto(state.interactions());
    if (!interactions.ok()) {
      return absl::DataLossError(absl::StrCat("pane state, interactions: ",
                                              interactions.status().message()));
    }
    interactions_ = *std::move(interactions);
  }
  return absl::OkStatus();
}

}  // namespace vigie::monitors
