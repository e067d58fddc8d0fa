#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "monitors/fairness.h"

namespace vigie::v1 {
class Prediction;
class Outcome;
}  // namespace vigie::v1

namespace vigie::monitors {

// Metrics of all monitors of one model over one window.
struct ModelMetrics {
  // Fairness by group attribute name.
  std::map<std::string, FairnessMetrics> fairness;
  // Predictions lacking a monitored attribute, by attribute name.
  std::map<std::string, uint64_t> missing;
};

// The monitors of one model over one pane (or a merge of panes): for now,
// one FairnessMonitor per group attribute. Routes events to them; later
// monitor families join here.
//
// Only binary predictions with a decision are observed (the pipeline fills
// the decision in from the score before); other events are ignored.
// Exact and mergeable, as its monitors are.
// Thread-compatible.
class ModelMonitors {
 public:
  struct Options {
    // Group attributes monitored. Empty: every attribute the predictions
    // carry, up to max_attributes (later ones are ignored). Default: empty.
    std::vector<std::string> group_attributes;
    // Attributes kept when group_attributes is empty. Default: 32.
    // Range: [1, 1000].
    uint32_t max_attributes = 32;
    // Options of every attribute's FairnessMonitor.
    FairnessMonitor::Options fairness;
    // The class labels of a multiclass model, whose fairness is measured
    // one class against the rest; empty for a binary model.
    std::vector<std::string> classes;
  };

  // kInvalidArgument if `options` is out of range.
  static absl::StatusOr<ModelMonitors> Create(const Options& options);

  // Label-free monitors: O(attributes).
  void ObservePrediction(const vigie::v1::Prediction& prediction);
  // Label-needing monitors, on a prediction joined with its outcome.
  void ObserveJoined(const vigie::v1::Prediction& prediction,
                     const vigie::v1::Outcome& outcome);

  // kInvalidArgument if `other` was built with other options; *this is then
  // unchanged.
  absl::Status Merge(const ModelMonitors& other);

  ModelMetrics Snapshot() const;
  bool empty() const;

  std::string Serialize() const;  // A vigie.state.v1.PaneState.
  // kDataLoss for bytes that are not a valid PaneState, or whose monitors'
  // options differ from `options` (state written under another
  // configuration).
  static absl::StatusOr<ModelMonitors> Deserialize(absl::string_view bytes,
                                                   const Options& options);

 private:
  explicit ModelMonitors(const Options& options) : options_(options) {}
  // The monitor of `attribute`, created if new and allowed; null otherwise.
  FairnessMonitor* FairnessFor(const std::string& attribute);
  // Calls observe(monitor, group) for each monitored attribute `prediction`
  // carries; counts the listed attributes it lacks in missing_ if asked.
  template <typename Observe>
  void ForEachGroup(const vigie::v1::Prediction& prediction, bool count_missing,
                    Observe observe);

  Options options_;
  std::map<std::string, FairnessMonitor> fairness_;
  std::map<std::string, uint64_t> missing_;
};

}  // namespace vigie::monitors
