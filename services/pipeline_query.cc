// The read side of the pipeline: merged windows, the reference, compaction,
// expiry sweeps, metrics and alert queries.

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "monitors/change_episode.h"
#include "proto/alert_names.h"
#include "rules/alert_tracker.h"
#include "rules/evaluator.h"
#include "rules/quality_rules.h"
#include "services/model_footprint.h"
#include "services/pane_exchange.h"
#include "services/performance_estimate.h"
#include "services/pipeline.h"
#include "services/proto_conversions.h"
#include "services/rule_inputs.h"
#include "services/small_groups.h"

namespace vigie::services {

monitors::ModelMonitors Pipeline::MergePanes(
    const ModelState& model, absl::Time start, absl::Time end, uint64_t* panes,
    vigie::v1::TimeWindow* covered) const {
  // Options were checked when the model's aggregate was created.
  monitors::ModelMonitors merged =
      *monitors::ModelMonitors::Create(model.config.monitors);
  *panes = 0;
  for (auto it = model.panes.lower_bound(start);
       it != model.panes.end() && it->first < end; ++it) {
    // Panes of one model share its options, so Merge cannot fail here.
    merged.Merge(it->second).IgnoreError();
    if (*panes == 0) *covered->mutable_start() = ToProtoTime(it->first);
    *covered->mutable_end() = ToProtoTime(it->first + model.config.pane_length);
    ++*panes;
  }
  return merged;
}

void Pipeline::MaybeFreezeReference(ModelState& model) {
  const ModelConfig& config = model.config;
  if (config.reference_window <= absl::ZeroDuration() ||
      model.reference.has_value() || model.reference_lost ||
      model.panes.empty() || !model.counters.has_first_pane()) {
    return;
  }
  const absl::Time start = config.reference_time.value_or(
      FromProtoTime(model.counters.first_pane()));
  const absl::Time end = start + config.reference_window;
  if (model.panes.rbegin()->first < end) return;  // Not complete yet.
  if (model.archived_before > start) {
    // Only with a pane budget (max_panes) too small for the window:
    // retention alone keeps its panes (it exceeds the window).
    model.reference_lost = true;
    VIGIE_LOG(Error, "model '", config.id, "': its reference window ",
              absl::FormatTime(start), " to ", absl::FormatTime(end),
              " cannot be frozen: its panes were archived (raise max_panes); "
              "rules with baseline: reference stay insufficient_data");
    return;
  }
  uint64_t panes = 0;
  vigie::v1::TimeWindow covered;
  model.reference = MergePanes(model, start, end, &panes, &covered);
  model.reference_meta.Clear();
  *model.reference_meta.mutable_start() = ToProtoTime(start);
  *model.reference_meta.mutable_end() = ToProtoTime(end);
  model.reference_meta.set_version(1);
  model.reference_meta.set_source("window");
  *model.reference_meta.mutable_created_at() = ToProtoTime(clock_->Now());
  model.reference_dirty = true;
  BuildProfile(model);
  ApplyLearnedPopularity(model);
  dirty_models_.insert(&model);
  VIGIE_LOG(Info, "model '", config.id, "': reference window ",
            absl::FormatTime(start), " to ", absl::FormatTime(end), " frozen (",
            panes, " panes)");
}

std::string Pipeline::ReferenceDescription(const ModelState& model) {
  const state::v1::ReferenceState& meta = model.reference_meta;
  if (meta.source() == "window") {
    return absl::StrCat(
        "reference window ",
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProtoTime(meta.start()),
                         absl::UTCTimeZone()),
        " to ",
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProtoTime(meta.end()),
                         absl::UTCTimeZone()));
  }
  return absl::StrCat("reference v", meta.version(), " (", meta.source(), ")");
}

void Pipeline::BuildProfile(ModelState& model) {
  model.profile.reset();
  if (!model.reference.has_value()) return;
  absl::StatusOr<monitors::ReferenceProfile> profile =
      monitors::ReferenceProfile::Build(model.reference->drift(),
                                        model.config.drift);
  if (!profile.ok()) {
    // The configuration validated these options: not expected.
    VIGIE_LOG(
        Error, "model '", model.config.id,
        "': no drift profile of its reference: ", profile.status().message());
    return;
  }
  model.profile = *std::move(profile);
}

void Pipeline::Compact(ModelState& model) {
  const ModelConfig& config = model.config;
  if (model.panes.empty()) return;
  const absl::Time horizon =
      model.panes.rbegin()->first + config.pane_length - config.retention;
  const size_t over_budget = model.panes.size() > config.max_panes
                                 ? model.panes.size() - config.max_panes
                                 : 0;
  // Panes wholly older than the retention, and the oldest past the budget.
  std::vector<absl::Time> old;
  for (const auto& [start, pane] : model.panes) {
    if (start + config.pane_length > horizon && old.size() >= over_budget) {
      break;
    }
    old.push_back(start);
  }
  if (old.empty()) return;
  if (!model.archive.has_value()) {
    // Options were checked when the model's aggregate was created.
    model.archive = *monitors::ModelMonitors::Create(config.monitors);
  }
  for (absl::Time start : old) {
    // Panes of one model share its options, so Merge cannot fail here.
    model.archive->Merge(model.panes.at(start)).IgnoreError();
    model.archived_before =
        std::max(model.archived_before, start + config.pane_length);
    model.panes.erase(start);
    model.dirty_panes.insert(start);  // Deleted at the next checkpoint.
  }
  model.archive_dirty = true;
  dirty_models_.insert(&model);
  VIGIE_LOG(Debug, "model '", config.id, "': archived ", old.size(),
            " panes before ", absl::FormatTime(model.archived_before));
}

absl::StatusOr<uint64_t> Pipeline::SweepExpired() {
  absl::MutexLock lock(&mu_);
  // Alert transitions past their retention (a store write of its own: the
  // history is not part of a checkpoint).
  ASSIGN_OR_RETURN(const bool forgot_history,
                   store_->ForgetAlertHistoryBefore(
                       clock_->Now() - config_.alerting.history_retention));
  if (forgot_history) {
    VIGIE_LOG(Info, "deleted alert transitions older than ",
              absl::FormatDuration(config_.alerting.history_retention),
              " (alerting.history_retention)");
  }
  if (models_.empty()) return 0;
  // Entries appended since the last checkpoint are in memory only, and
  // Sweep reads the stored blocks.
  RETURN_IF_ERROR(CheckpointLocked());
  const absl::Time now = clock_->Now();
  absl::Duration shortest = absl::InfiniteDuration();
  absl::Duration longest = absl::ZeroDuration();
  for (const auto& [id, model] : models_) {
    shortest = std::min(shortest, model->config.label_delay);
    longest = std::max(longest, model->config.label_delay);
  }
  ASSIGN_OR_RETURN(
      const uint64_t expired,
      pending_.Sweep(now - shortest, [&](storage::PendingJoins::Kind kind,
                                         const state::v1::PendingEntry& entry) {
        const std::string& model_id = entry.has_outcome()
                                          ? entry.outcome().model_id()
                                          : entry.prediction().model_id();
        auto it = models_.find(model_id);
        if (it == models_.end() ||
            FromProtoTime(entry.arrived()) + it->second->config.label_delay >=
                now) {
          return false;
        }
        ModelState& model = *it->second;
        state::v1::ModelCountersState& c = model.counters;
        if (kind == storage::PendingJoins::Kind::kPrediction) {
          c.set_pending_predictions(c.pending_predictions() - 1);
          c.set_expired_predictions(c.expired_predictions() + 1);
        } else {
          c.set_pending_outcomes(c.pending_outcomes() - 1);
          c.set_expired_outcomes(c.expired_outcomes() + 1);
        }
        dirty_models_.insert(&model);
        return true;
      }));
  // Join marks serve only to recognise re-sent events; they are kept for at
  // least one label delay, the horizon within which a client is expected to
  // retry.
  ASSIGN_OR_RETURN(const uint64_t forgotten, marks_.Forget(now - longest));
  if (expired == 0 && forgotten == 0) return expired;
  // The sweep is not in the ingest log: make it durable now. Should this
  // fail, a restart simply finds the entries pending again, and the next
  // sweep expires them.
  RETURN_IF_ERROR(CheckpointLocked());
  VIGIE_LOG(Info, "expired ", expired,
            " pending predictions and outcomes past their label delay; "
            "forgot ",
            forgotten, " join marks older than the longest label delay");
  return expired;
}

absl::StatusOr<bool> Pipeline::SinceReference(const ModelState& model,
                                              absl::Time* start) {
  const std::optional<absl::Time>& reference = model.config.reference_time;
  const absl::Time first = model.counters.has_first_pane()
                               ? FromProtoTime(model.counters.first_pane())
                               : absl::InfiniteFuture();
  // Before any event: everything, the archive included.
  if (!reference.has_value() || *reference <= first) {
    *start = reference.value_or(absl::InfinitePast());
    return model.archive.has_value();
  }
  *start = *reference;
  if (!model.archive.has_value() || *reference >= model.archived_before) {
    return false;  // The panes after the reference are all still kept.
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "model '", model.config.id, "': the panes from ", absl::FormatTime(first),
      " to ", absl::FormatTime(model.archived_before),
      " were merged into its archive, so a window from its reference_time ",
      absl::FormatTime(*reference),
      " cannot be told apart; raise the model's retention"));
}

absl::StatusOr<vigie::v1::GetMetricsReply> Pipeline::GetMetrics(
    const vigie::v1::GetMetricsRequest& request) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = models_.find(request.model_id());
  if (it == models_.end()) {
    std::vector<std::string> known;
    for (const auto& [id, model] : models_) known.push_back(id);
    std::sort(known.begin(), known.end());
    return absl::NotFoundError(absl::StrCat(
        "model '", request.model_id(), "' has no data; known models: ",
        known.empty() ? "none" : absl::StrJoin(known, ", ")));
  }
  const ModelState& model = *it->second;
  if (request.model_wide() && exchange_ == nullptr) {
    return absl::FailedPreconditionError(
        "model_wide needs Kafka ingest with a panes_topic "
        "(kafka_ingest.panes_topic): this server shares no panes");
  }
  // The end of the latest pane (of any replica's, model-wide); the
  // infinite past when there is none.
  absl::Time latest = model.panes.empty() ? absl::InfinitePast()
                                          : model.panes.rbegin()->first +
                                                model.config.pane_length;
  if (request.model_wide()) {
    if (const std::optional<absl::Time> peers =
            exchange_->Activity(model.config.id).latest_start;
        peers.has_value()) {
      latest = std::max(latest, *peers + model.config.pane_length);
    }
  }
  absl::Time start = request.window().has_start()
                         ? FromProtoTime(request.window().start())
                         : absl::InfinitePast();
  absl::Time end = request.window().has_end()
                       ? FromProtoTime(request.window().end())
                       : absl::InfiniteFuture();
  if (request.has_last()) {
    if (request.has_window()) {
      return absl::InvalidArgumentError("give either window or last, not both");
    }
    const absl::Duration last = absl::Seconds(request.last().seconds()) +
                                absl::Nanoseconds(request.last().nanos());
    const absl::Duration pane = model.config.pane_length;
    if (last <= absl::ZeroDuration() ||
        absl::FDivDuration(last, pane) !=
            std::floor(absl::FDivDuration(last, pane))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "last must be a positive multiple of model '", model.config.id,
          "''s pane length ", absl::FormatDuration(pane), ", got ",
          absl::FormatDuration(last)));
    }
    // Ends with the latest pane; an empty model has an empty window.
    end = latest == absl::InfinitePast() ? absl::UnixEpoch() : latest;
    start = end - last;
  }
  bool with_archive = !request.has_last() && !request.window().has_start();
  if (request.since_reference()) {
    if (request.has_window() || request.has_last()) {
      return absl::InvalidArgumentError(
          "give one of window, last and since_reference");
    }
    ASSIGN_OR_RETURN(with_archive, SinceReference(model, &start));
    end = latest == absl::InfinitePast() ? start : latest;
  }
  if (start >= end && !request.has_last() && !request.since_reference()) {
    return absl::InvalidArgumentError("window start must be before window end");
  }
  vigie::v1::GetMetricsReply reply;
  reply.set_model_id(model.config.id);
  *reply.mutable_window() = request.window();
  if (request.has_last() || request.since_reference()) {
    // The window a sliding or since-reference request resolved to; no
    // start when it reaches back to the model's first event.
    if (start != absl::InfinitePast()) {
      *reply.mutable_window()->mutable_start() = ToProtoTime(start);
    }
    *reply.mutable_window()->mutable_end() = ToProtoTime(end);
  }
  uint64_t panes = 0;
  monitors::ModelMonitors merged =
      MergePanes(model, start, end, &panes, reply.mutable_covered());
  if (model.archive.has_value()) {
    *reply.mutable_archived_before() = ToProtoTime(model.archived_before);
    // A window with no start means "since the beginning": the archive too.
    if (with_archive) {
      merged.Merge(*model.archive).IgnoreError();  // Same options.
    }
  }
  if (request.model_wide()) {
    // Panes and coverage count each pane interval once, whichever
    // replicas hold it.
    std::set<absl::Time> starts;
    for (auto pane = model.panes.lower_bound(start);
         pane != model.panes.end() && pane->first < end; ++pane) {
      starts.insert(pane->first);
    }
    for (std::string& replica :
         exchange_->MergeInto(model.config.id, model.config.monitors, start,
                              end, with_archive, &merged, &starts)) {
      reply.add_replicas(std::move(replica));
    }
    panes = starts.size();
    if (!starts.empty()) {
      *reply.mutable_covered()->mutable_start() = ToProtoTime(*starts.begin());
      *reply.mutable_covered()->mutable_end() =
          ToProtoTime(*starts.rbegin() + model.config.pane_length);
    }
  }
  const monitors::ModelMetrics metrics = merged.Snapshot();
  reply.set_panes(panes);
  CountersToProto(model.counters, reply.mutable_counters());
  ModelMetricsToProto(metrics, &reply);
  if (model.profile.has_value()) {
    DriftReportToProto(
        monitors::CompareWithReference(merged.drift(), *model.profile),
        reply.mutable_drift());
    *reply.mutable_reference() = ReferenceInfoOf(model, /*profiles=*/false);
  }
  if (model.detectors.has_value()) {
    ConceptDriftToProto(model.detectors->Snapshot(), model.counters,
                        reply.mutable_concept_drift());
  }
  if (metrics.conformal.has_value()) {
    ConformalToProto(*metrics.conformal, metrics.conformal_by_attribute,
                     reply.mutable_conformal());
  }
  if (model.counters.has_adaptive_conformal()) {
    // Load and every update keep it valid.
    if (absl::StatusOr<monitors::AdaptiveConformal> aci =
            monitors::AdaptiveConformal::FromProto(
                model.counters.adaptive_conformal());
        aci.ok()) {
      AdaptiveConformalToProto(*aci,
                               reply.mutable_conformal()->mutable_adaptive());
    }
  }
  if (metrics.recommendation.has_value()) {
    RecommendationToProto(*metrics.recommendation,
                          reply.mutable_recommendation());
  }
  // Against the reference's calibration map; the reference and the window
  // share the configured bins, or the reference would not have loaded.
  if (absl::StatusOr<std::optional<monitors::PerformanceEstimateMetrics>>
          estimate = EstimatePerformance(
              merged, model.reference ? &*model.reference : nullptr,
              model.config.performance_estimation);
      estimate.ok() && estimate->has_value()) {
    PerformanceEstimateToProto(
        **estimate, model.config.monitors.performance_estimate.num_bins,
        reply.mutable_performance_estimate());
  }
  if (metrics.footprint.has_value()) {
    // The reference's footprint alone: its other metrics are not needed.
    monitors::ModelMetrics then;
    if (model.reference.has_value() && model.reference->footprint()) {
      then.footprint = model.reference->footprint()->Snapshot();
    }
    FootprintToProto(
        *metrics.footprint,
        FootprintTargets(model.config, &then, ReferenceDescription(model)),
        reply.mutable_footprint());
  }
  if (const std::optional<monitors::ChangeEpisode> episode =
          EpisodeOf(model.counters);
      episode.has_value()) {
    std::optional<monitors::SustainedChange> sustained;
    const std::optional<rules::Rule> rule =
        ChangeWindowsRule(policy_, model.config.id);
    if (rule.has_value() && latest != absl::InfinitePast()) {
      // As the rule reads them (pipeline_rules.cc).
      PaneView view = ViewOf(model.panes);
      std::vector<PeerPane> peers;
      if (request.model_wide()) {
        peers = exchange_->Panes(model.config.id, model.config.monitors,
                                 absl::InfinitePast(), latest,
                                 /*with_archive=*/false);
        for (const PeerPane& peer : peers) {
          view.emplace(peer.start, peer.monitors.get());
        }
      }
      sustained = monitors::Sustained(
          *episode, latest, rule->window,
          ErrorsByWindow(view, latest, rule->window, episode->start),
          rule->min_current_values, model.config.detectors.adwin.delta);
    }
    ErrorChangeEpisodeToProto(
        *episode, rule.has_value() ? rule->window : absl::ZeroDuration(),
        sustained.has_value() ? sustained->windows : 0,
        reply.mutable_concept_drift()->mutable_episode());
  }
  SuppressSmallGroups(config_.privacy.min_group_size, reply);
  return reply;
}

vigie::v1::ListAlertsReply Pipeline::ListAlerts(
    const vigie::v1::ListAlertsRequest& request) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, model] : models_) {
    MaybeEvaluateRules(*model, /*now_or_never=*/true);
  }
  vigie::v1::ListAlertsReply reply;
  for (const auto& [fingerprint, alert] : alerts_) {
    if (!request.model_id().empty() && alert.model_id() != request.model_id()) {
      continue;
    }
    // Open alerts (firing, or pending their rule's `for`) unless asked for
    // the closed ones too.
    if (!request.include_resolved() &&
        alert.state() != vigie::v1::ALERT_STATE_FIRING &&
        alert.state() != vigie::v1::ALERT_STATE_PENDING) {
      continue;
    }
    *reply.add_alerts() = alert;
  }
  std::sort(reply.mutable_alerts()->begin(), reply.mutable_alerts()->end(),
            [](const vigie::v1::Alert& a, const vigie::v1::Alert& b) {
              const auto& ta = a.updated_at();
              const auto& tb = b.updated_at();
              if (ta.seconds() != tb.seconds()) {
                return ta.seconds() > tb.seconds();
              }
              if (ta.nanos() != tb.nanos()) return ta.nanos() > tb.nanos();
              return a.fingerprint() < b.fingerprint();
            });
  return reply;
}

absl::StatusOr<vigie::v1::ListAlertHistoryReply> Pipeline::ListAlertHistory(
    const vigie::v1::ListAlertHistoryRequest& request) const {
  constexpr uint32_t kDefaultLimit = 1000;
  constexpr uint32_t kMaxLimit = 100000;
  if (request.limit() > kMaxLimit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limit must be at most ", kMaxLimit, ", got ", request.limit()));
  }
  const uint32_t limit = request.limit() == 0 ? kDefaultLimit : request.limit();
  const absl::Time since = request.has_since() ? FromProtoTime(request.since())
                                               : absl::InfinitePast();
  const absl::Time until = request.has_until() ? FromProtoTime(request.until())
                                               : absl::InfiniteFuture();
  // The store is written under mu_ but reads need no lock: RocksDB reads
  // a consistent snapshot.
  ASSIGN_OR_RETURN(std::vector<vigie::v1::Alert> history,
                   store_->LoadAlertHistory());
  std::vector<vigie::v1::Alert> matched;
  for (vigie::v1::Alert& alert : history) {
    const absl::Time at = FromProtoTime(alert.updated_at());
    if ((!request.model_id().empty() &&
         alert.model_id() != request.model_id()) ||
        (!request.fingerprint().empty() &&
         alert.fingerprint() != request.fingerprint()) ||
        at < since || at >= until) {
      continue;
    }
    matched.push_back(std::move(alert));
  }
  vigie::v1::ListAlertHistoryReply reply;
  const size_t skip = matched.size() > limit ? matched.size() - limit : 0;
  reply.set_truncated(skip > 0);
  for (size_t i = skip; i < matched.size(); ++i) {
    *reply.add_transitions() = std::move(matched[i]);
  }
  return reply;
}

}  // namespace vigie::services
