#pragma once

// What the pipeline derives from a model's panes, counters and policy to
// hand to the rules (rules/evaluator.h), shared by rule evaluation and
// GetMetrics so that a query shows what the rules read.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "monitors/change_episode.h"
#include "monitors/model_monitors.h"
#include "rules/policy.h"
#include "vigie/state/v1/state.pb.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::services {

// A model's panes by start: this replica's and, with a pane exchange, the
// other replicas' (then several may share a start). The pointers stay
// valid as long as their owners: the pipeline's lock for its own panes,
// the PeerPanes for the others'.
using PaneView = std::multimap<absl::Time, const monitors::ModelMonitors*>;

PaneView ViewOf(const std::map<absl::Time, monitors::ModelMonitors>& panes);

// The merge, into `merged` (created with the panes' options), of the panes
// of `view` starting in [start, end); `covered` spans them (start of the
// first, end of the last, given each pane's `pane_length`). Returns how
// many distinct pane starts it merged.
uint64_t MergeView(const PaneView& view, absl::Time start, absl::Time end,
                   absl::Duration pane_length, monitors::ModelMonitors* merged,
                   vigie::v1::TimeWindow* covered);

// Changes of the error stream at event times in `window` (all of them when
// it has no start).
uint64_t ChangesWithin(const state::v1::ModelCountersState& counters,
                       const vigie::v1::TimeWindow& window);

// The errors of `panes` by window of length `window` ending at `end`
// (monitors::WindowIndex), back to the window holding `since`: a pane
// belongs to the window holding its start, as MergeView takes panes.
std::map<uint64_t, monitors::ErrorTally> ErrorsByWindow(const PaneView& panes,
                                                        absl::Time end,
                                                        absl::Duration window,
                                                        absl::Time since);

// The recommendation metrics of the `count` windows of length `window`
// ending at `end` (numbered as monitors::WindowIndex: 1 the latest), each
// the merge of its panes' recommendation monitors; windows without lists
// are left out. A merge of panes bound to different catalogues keeps the
// later one's, as ModelMonitors::Merge does.
std::map<uint64_t, monitors::RecommendationMetrics> RecommendationByWindow(
    const PaneView& panes, absl::Time end, absl::Duration window,
    uint32_t count);

// The most windows a recommendation rule of `policy` reads for `model_id`;
// 0 when it has none.
uint32_t RecommendationWindows(const rules::Policy& policy,
                               const std::string& model_id);

// The model's change episode, if it has one; its validity was checked
// when it was loaded or made.
std::optional<monitors::ChangeEpisode> EpisodeOf(
    const state::v1::ModelCountersState& counters);

// Whether some rule of `policy` reads the window's features against the
// reference.
bool ComparesFeatures(const rules::Policy& policy);

// Whether `rule` applies to `model_id` (it names no model, or this one).
bool Applies(const rules::Rule& rule, const std::string& model_id);

// The first error_change_windows rule of `policy` that applies to
// `model_id`, as it applies; empty if none.
std::optional<rules::Rule> ChangeWindowsRule(const rules::Policy& policy,
                                             const std::string& model_id);

}  // namespace vigie::services
