#include "services/rule_inputs.h"

#include <algorithm>
#include <optional>

#include "rules/quality_rules.h"
#include "services/proto_conversions.h"

namespace vigie::services {

PaneView ViewOf(const std::map<absl::Time, monitors::ModelMonitors>& panes) {
  PaneView view;
  for (const auto& [start, pane] : panes)
    view.emplace_hint(view.end(), start, &pane);
  return view;
}

uint64_t MergeView(const PaneView& view, absl::Time start, absl::Time end,
                   absl::Duration pane_length, monitors::ModelMonitors* merged,
                   vigie::v1::TimeWindow* covered) {
  uint64_t starts = 0;
  absl::Time last = absl::InfinitePast();
  for (auto it = view.lower_bound(start); it != view.end() && it->first < end;
       ++it) {
    // Panes of one model share its options, so Merge cannot fail here.
    merged->Merge(*it->second).IgnoreError();
    if (starts == 0) *covered->mutable_start() = ToProtoTime(it->first);
    if (it->first != last) ++starts;
    last = it->first;
    *covered->mutable_end() = ToProtoTime(it->first + pane_length);
  }
  return starts;
}

uint64_t ChangesWithin(const state::v1::ModelCountersState& counters,
                       const vigie::v1::TimeWindow& window) {
  uint64_t n = 0;
  for (const google::protobuf::Timestamp& at : counters.error_changes()) {
    const absl::Time t = FromProtoTime(at);
    if ((!window.has_start() || t >= FromProtoTime(window.start())) &&
        t < FromProtoTime(window.end())) {
      ++n;
    }
  }
  return n;
}

std::map<uint64_t, monitors::ErrorTally> ErrorsByWindow(const PaneView& panes,
                                                        absl::Time end,
                                                        absl::Duration window,
                                                        absl::Time since) {
  std::map<uint64_t, monitors::ErrorTally> out;
  const uint64_t oldest = monitors::WindowIndex(end, window, since);
  // Saturates to the infinite past for an old episode and short windows.
  const absl::Time from = end - window * static_cast<double>(oldest);
  for (auto it = panes.lower_bound(from); it != panes.end() && it->first < end;
       ++it) {
    if (it->second->errors().count == 0) continue;
    out[monitors::WindowIndex(end, window, it->first)].Merge(
        it->second->errors());
  }
  return out;
}

std::map<uint64_t, monitors::RecommendationMetrics> RecommendationByWindow(
    const PaneView& panes, absl::Time end, absl::Duration window,
    uint32_t count) {
  std::map<uint64_t, std::optional<monitors::RecommendationMonitor>> merged;
  const absl::Time from = end - window * static_cast<double>(count);
  for (auto it = panes.lower_bound(from); it != panes.end() && it->first < end;
       ++it) {
    const monitors::RecommendationMonitor* pane = it->second->recommendation();
    if (pane == nullptr) continue;
    std::optional<monitors::RecommendationMonitor>& into =
        merged[monitors::WindowIndex(end, window, it->first)];
    if (!into.has_value() || !into->Merge(*pane).ok()) into = *pane;
  }
  std::map<uint64_t, monitors::RecommendationMetrics> out;
  for (const auto& [index, monitor] : merged) {
    out.emplace(index, monitor->Snapshot());
  }
  return out;
}

uint32_t RecommendationWindows(const rules::Policy& policy,
                               const std::string& model_id) {
  uint32_t windows = 0;
  for (const rules::Rule& rule : policy.rules) {
    if (!rules::IsRecommendationMetric(rule.metric)) continue;
    const rules::Rule resolved = policy.Resolve(rule, model_id);
    if (!resolved.enabled) continue;
    windows = std::max(windows, rules::RecommendationWindowsRead(resolved));
  }
  return windows;
}

std::optional<monitors::ChangeEpisode> EpisodeOf(
    const state::v1::ModelCountersState& counters) {
  if (!counters.has_error_episode()) return std::nullopt;
  absl::StatusOr<monitors::ChangeEpisode> episode =
      monitors::ChangeEpisode::FromProto(counters.error_episode());
  if (!episode.ok()) return std::nullopt;
  return *episode;
}

bool ComparesFeatures(const rules::Policy& policy) {
  for (const rules::Rule& rule : policy.rules) {
    if (rule.metric == rules::kPopulationStabilityIndex ||
        rule.metric == rules::kFeatureDrift ||
        rule.metric == rules::kDriftedFeatureShare) {
      return true;
    }
  }
  return false;
}

bool Applies(const rules::Rule& rule, const std::string& model_id) {
  return rule.models.empty() ||
         std::find(rule.models.begin(), rule.models.end(), model_id) !=
             rule.models.end();
}

std::optional<rules::Rule> ChangeWindowsRule(const rules::Policy& policy,
                                             const std::string& model_id) {
  for (const rules::Rule& rule : policy.rules) {
    if (rule.metric != rules::kErrorChangeWindows || !Applies(rule, model_id)) {
      continue;
    }
    rules::Rule resolved = policy.Resolve(rule, model_id);
    if (resolved.enabled) return resolved;
  }
  return std::nullopt;
}

}  // namespace vigie::services
