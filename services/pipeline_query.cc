// The read side of the pipeline, and what runs after a commit: rule
// evaluation, alert recording, expiry sweeps.

#include <algorithm>
#include <cmath>
#include <map>
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
#include "services/pane_exchange.h"
#include "services/pipeline.h"
#include "services/proto_conversions.h"

namespace vigie::services {
namespace {

void LogTransition(const vigie::v1::Alert& alert) {
  const bool firing = alert.state() == vigie::v1::ALERT_STATE_FIRING;
  const std::string text = absl::StrCat(
      "alert ", firing ? "FIRING " : "RESOLVED ",
      SeverityName(alert.severity()), " rule=", alert.rule_id(),
      " model=", alert.model_id(), " fingerprint=", alert.fingerprint(), " [",
      alert.referential(), " ", alert.element(), "]: ", alert.message());
  if (firing && alert.severity() != vigie::v1::SEVERITY_INSUFFICIENT_DATA) {
    VIGIE_LOG(Warning, text);
  } else {
    VIGIE_LOG(Info, text);
  }
}

// Changes of the error stream at event times in `window` (all of them when
// it has no start).
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

// The errors of `panes` by window of length `window` ending at `end`
// (monitors::WindowIndex), back to the window holding `since`: a pane
// belongs to the window holding its start, as MergePanes takes panes.
std::map<uint64_t, monitors::ErrorTally> ErrorsByWindow(
    const std::map<absl::Time, monitors::ModelMonitors>& panes, absl::Time end,
    absl::Duration window, absl::Time since) {
  std::map<uint64_t, monitors::ErrorTally> out;
  const uint64_t oldest = monitors::WindowIndex(end, window, since);
  // Saturates to the infinite past for an old episode and short windows.
  const absl::Time from = end - window * static_cast<double>(oldest);
  for (auto it = panes.lower_bound(from); it != panes.end() && it->first < end;
       ++it) {
    if (it->second.errors().count == 0) continue;
    out[monitors::WindowIndex(end, window, it->first)].Merge(
        it->second.errors());
  }
  return out;
}

// The recommendation metrics of the `count` windows of length `window`
// ending at `end` (numbered as monitors::WindowIndex: 1 the latest), each
// the merge of its panes' recommendation monitors; windows without lists
// are left out. A merge of panes bound to different catalogues keeps the
// later one's, as ModelMonitors::Merge does.
std::map<uint64_t, monitors::RecommendationMetrics> RecommendationByWindow(
    const std::map<absl::Time, monitors::ModelMonitors>& panes, absl::Time end,
    absl::Duration window, uint32_t count) {
  std::map<uint64_t, std::optional<monitors::RecommendationMonitor>> merged;
  const absl::Time from = end - window * static_cast<double>(count);
  for (auto it = panes.lower_bound(from); it != panes.end() && it->first < end;
       ++it) {
    const monitors::RecommendationMonitor* pane = it->second.recommendation();
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

// The most windows a recommendation rule of `policy` reads for `model_id`;
// 0 when it has none.
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

// The model's change episode, if it has one; its validity was checked
// when it was loaded or made.
std::optional<monitors::ChangeEpisode> EpisodeOf(
    const state::v1::ModelCountersState& counters) {
  if (!counters.has_error_episode()) return std::nullopt;
  absl::StatusOr<monitors::ChangeEpisode> episode =
      monitors::ChangeEpisode::FromProto(counters.error_episode());
  if (!episode.ok()) return std::nullopt;
  return *episode;
}

// Whether some rule of `policy` reads the window's features against the
// reference.
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

// The first error_change_windows rule of `policy` that applies to
// `model_id`, as it applies; empty if none.
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

}  // namespace

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

absl::Status Pipeline::EvaluateRules(ModelState& model) {
  if (model.panes.empty()) return absl::OkStatus();
  const std::string& model_id = model.config.id;
  // Rules sharing a window (as the overrides make it for this model) are
  // evaluated on one merge of its panes; each group keeps the overrides,
  // which Evaluate and TrackAlerts resolve per attribute.
  std::map<absl::Duration, rules::Policy> by_window;
  for (const rules::Rule& rule : policy_.rules) {
    if (!Applies(rule, model_id)) continue;
    const absl::Duration window = policy_.Resolve(rule, model_id).window;
    auto [it, added] = by_window.try_emplace(window);
    rules::Policy& policy = it->second;
    if (added) {
      policy.referential = policy_.referential;
      policy.evaluation_interval = policy_.evaluation_interval;
      policy.overrides = policy_.overrides;
    }
    policy.rules.push_back(rule);
  }
  const absl::Time now = clock_->Now();
  // One evaluation per evaluation_interval counts towards the rules' `for`
  // and `keep_firing_for`; those in between (after each ingest call, for a
  // listing) only refresh.
  const bool counts =
      now - model.rules_counted_at >= policy_.evaluation_interval;
  if (counts) model.rules_counted_at = now;
  const absl::Time end = model.panes.rbegin()->first + model.config.pane_length;
  const rules::ModelActivity activity{
      now - (model.counters.has_last_received()
                 ? FromProtoTime(model.counters.last_received())
                 : created_at_),
      model.config.expect_events_every};
  std::optional<rules::Reference> reference;
  if (model.reference.has_value()) {
    reference = rules::Reference{model.reference->Snapshot(),
                                 ReferenceDescription(model)};
  }
  const std::optional<monitors::ChangeEpisode> episode =
      EpisodeOf(model.counters);
  std::vector<rules::AlertChange> changes;
  absl::flat_hash_set<std::string> evaluated;
  for (const auto& [window, policy] : by_window) {
    vigie::v1::TimeWindow covered;
    std::optional<monitors::ModelMonitors> merged;
    if (window == absl::ZeroDuration()) {
      // Everything kept; with an archive it starts at the beginning, so the
      // start is left unset.
      if (!model.archive.has_value()) {
        *covered.mutable_start() = ToProtoTime(model.panes.begin()->first);
      }
      *covered.mutable_end() = ToProtoTime(end);
    } else {
      uint64_t panes = 0;
      merged = MergePanes(model, end - window, end, &panes, &covered);
    }
    const monitors::ModelMonitors& monitors =
        merged.has_value() ? *merged : *model.all;
    const monitors::ModelMetrics metrics = monitors.Snapshot();
    std::optional<monitors::DriftReport> report;
    rules::DriftInputs drift;
    drift.reference_expected =
        model.config.reference_window > absl::ZeroDuration();
    if (model.detectors.has_value()) {
      const monitors::ErrorStreamSnapshot detectors =
          model.detectors->Snapshot();
      drift.errors_observed = detectors.observed;
      drift.error_changes = ChangesWithin(model.counters, covered);
      drift.change_detail = absl::StrCat(
          "ADWIN ", detectors.adwin.detections, " and Page-Hinkley ",
          detectors.page_hinkley.detections,
          " changes since the start; ADWIN's window: ", detectors.adwin_width,
          " errors");
      if (detectors.adwin_mean.has_value()) {
        absl::StrAppend(&drift.change_detail,
                        absl::StrFormat(", mean %.4f", *detectors.adwin_mean));
      }
    }
    drift.window_end = end;
    drift.window = window;
    drift.change_delta = model.config.detectors.adwin.delta;
    if (episode.has_value() && window > absl::ZeroDuration() &&
        ChangeWindowsRule(policy, model_id).has_value()) {
      drift.episode = &*episode;
      drift.errors_by_window =
          ErrorsByWindow(model.panes, end, window, episode->start);
    }
    // Compared only for the windows whose rules read it: 2 ms a comparison.
    if (model.profile.has_value() && ComparesFeatures(policy)) {
      report = monitors::CompareWithReference(monitors.drift(), *model.profile);
      drift.report = &*report;
      drift.reference_description = ReferenceDescription(model);
    }
    // Conformal rules, for a model that has sent conformal predictions;
    // recommendation rules, for a recommender.
    const bool conformal_model = model.counters.has_adaptive_conformal();
    rules::ConformalInputs conformal;
    if (metrics.conformal.has_value()) conformal.overall = &*metrics.conformal;
    conformal.by_attribute = metrics.conformal_by_attribute;
    const bool recommender = model.config.task == "recommendation";
    rules::RecommendationInputs recommendation;
    recommendation.window = window;
    recommendation.window_end = end;
    if (recommender && window > absl::ZeroDuration()) {
      recommendation.by_window = RecommendationByWindow(
          model.panes, end, window, RecommendationWindows(policy, model_id));
    }
    if (reference.has_value()) {
      if (reference->metrics.conformal.has_value()) {
        conformal.baseline = &*reference->metrics.conformal;
      }
      if (reference->metrics.recommendation.has_value()) {
        recommendation.baseline = &*reference->metrics.recommendation;
      }
      conformal.baseline_description = reference->description;
      recommendation.baseline_description = reference->description;
    }
    std::vector<rules::Finding> findings =
        rules::Evaluate(policy, model_id, metrics, &activity,
                        reference.has_value() ? &*reference : nullptr, &drift,
                        conformal_model ? &conformal : nullptr,
                        recommender ? &recommendation : nullptr);
    for (rules::Finding& finding : findings) {
      finding.model_version = model.counters.watermark_model_version();
      evaluated.insert(rules::Fingerprint(finding.rule_id, finding.model_id,
                                          rules::ScopeKey(finding)));
    }
    for (rules::AlertChange& change :
         rules::TrackAlerts(findings, policy, alerts_, covered, now, counts)) {
      changes.push_back(std::move(change));
    }
  }
  // Fingerprints differ between windows and retired alerts were not
  // evaluated, so none of these changes reads another.
  for (rules::AlertChange& change : rules::RetireAlerts(
           model_id, evaluated, alerts_, now,
           "the policy no longer evaluates this rule here (rule removed, "
           "disabled or narrowed), or the window has no events of this "
           "scope")) {
    changes.push_back(std::move(change));
  }
  return StoreAlerts(changes);
}

absl::Status Pipeline::StoreAlerts(
    const std::vector<rules::AlertChange>& changes) {
  if (changes.empty()) return absl::OkStatus();
  storage::StateBatch batch = store_->NewBatch();
  for (const rules::AlertChange& change : changes) {
    batch.PutAlert(change.alert, change.transition);
    if (change.transition) LogTransition(change.alert);
    alerts_.insert_or_assign(change.alert.fingerprint(), change.alert);
  }
  RETURN_IF_ERROR(store_->Commit(batch));
  // Notified once stored: a receiver never hears of an alert a restart
  // would not know.
  if (alert_listener_) {
    for (const rules::AlertChange& change : changes) {
      alert_listener_(change.alert, change.transition);
    }
  }
  return absl::OkStatus();
}

absl::Status Pipeline::SetPolicy(rules::Policy policy) {
  RETURN_IF_ERROR(policy.Validate());
  absl::MutexLock lock(&mu_);
  policy_ = std::move(policy);
  VIGIE_LOG(Info, "policy replaced: ", policy_.rules.size(), " rules, ",
            policy_.overrides.size(), " overrides (", policy_.referential, ")");
  absl::Status first_error;
  for (auto& [id, model] : models_) {
    model->rules_due = false;
    model->rules_evaluated_at = clock_->Now();
    if (absl::Status status = EvaluateRules(*model); !status.ok()) {
      VIGIE_LOG(Error, "rule evaluation of model '", id,
                "' under the new policy failed: ", status.ToString());
      first_error.Update(status);
    }
  }
  return first_error;
}

void Pipeline::EvaluateLiveness() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  for (auto& [id, model] : models_) {
    if (model->config.expect_events_every <= absl::ZeroDuration() ||
        now - model->rules_counted_at < policy_.evaluation_interval) {
      continue;
    }
    model->rules_due = false;
    model->rules_evaluated_at = now;
    if (absl::Status status = EvaluateRules(*model); !status.ok()) {
      VIGIE_LOG(Error, "rule evaluation of model '", id,
                "' failed: ", status.ToString());
    }
  }
  // Declared models that never sent an event: only their liveness rules,
  // silent since the pipeline started.
  for (const ModelConfig& config : config_.models) {
    if (config.expect_events_every <= absl::ZeroDuration() ||
        models_.contains(config.id)) {
      continue;
    }
    auto [counted, added] =
        unseen_counted_at_.try_emplace(config.id, absl::InfinitePast());
    if (now - counted->second < policy_.evaluation_interval) continue;
    counted->second = now;
    rules::Policy liveness = policy_;
    std::erase_if(liveness.rules, [&](const rules::Rule& rule) {
      return rule.metric != rules::kMissedWindows || !Applies(rule, config.id);
    });
    const rules::ModelActivity activity{now - created_at_,
                                        config.expect_events_every};
    const std::vector<rules::Finding> findings =
        rules::Evaluate(liveness, config.id, {}, &activity);
    if (absl::Status status = StoreAlerts(
            rules::TrackAlerts(findings, liveness, alerts_, {}, now));
        !status.ok()) {
      VIGIE_LOG(Error, "liveness alerts of model '", config.id,
                "' cannot be stored: ", status.ToString());
    }
  }
}

rules::Policy Pipeline::policy() const {
  absl::ReaderMutexLock lock(&mu_);
  return policy_;
}

void Pipeline::SetPaneExchange(PaneExchange* exchange) {
  absl::MutexLock lock(&mu_);
  exchange_ = exchange;
}

void Pipeline::SetAlertListener(AlertListener listener) {
  absl::MutexLock lock(&mu_);
  alert_listener_ = std::move(listener);
  if (!alert_listener_) return;
  // Alerts firing when the server stopped: a receiver that lost them while
  // it was down, or never heard of them, hears of them again.
  for (const auto& [fingerprint, alert] : alerts_) {
    if (alert.state() == vigie::v1::ALERT_STATE_FIRING) {
      alert_listener_(alert, /*transition=*/true);
    }
  }
}

absl::StatusOr<uint64_t> Pipeline::SweepExpired() {
  absl::MutexLock lock(&mu_);
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
    end = model.panes.empty() ? absl::UnixEpoch()
                              : model.panes.rbegin()->first + pane;
    start = end - last;
  }
  bool with_archive = !request.has_last() && !request.window().has_start();
  if (request.since_reference()) {
    if (request.has_window() || request.has_last()) {
      return absl::InvalidArgumentError(
          "give one of window, last and since_reference");
    }
    ASSIGN_OR_RETURN(with_archive, SinceReference(model, &start));
    end = model.panes.empty()
              ? start
              : model.panes.rbegin()->first + model.config.pane_length;
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
    if (exchange_ == nullptr) {
      return absl::FailedPreconditionError(
          "model_wide needs Kafka ingest with a panes_topic "
          "(kafka_ingest.panes_topic): this server shares no panes");
    }
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
  if (const std::optional<monitors::ChangeEpisode> episode =
          EpisodeOf(model.counters);
      episode.has_value()) {
    std::optional<monitors::SustainedChange> sustained;
    const std::optional<rules::Rule> rule =
        ChangeWindowsRule(policy_, model.config.id);
    if (rule.has_value() && !model.panes.empty()) {
      const absl::Time latest =
          model.panes.rbegin()->first + model.config.pane_length;
      sustained = monitors::Sustained(
          *episode, latest, rule->window,
          ErrorsByWindow(model.panes, latest, rule->window, episode->start),
          rule->min_current_values, model.config.detectors.adwin.delta);
    }
    ErrorChangeEpisodeToProto(
        *episode, rule.has_value() ? rule->window : absl::ZeroDuration(),
        sustained.has_value() ? sustained->windows : 0,
        reply.mutable_concept_drift()->mutable_episode());
  }
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
