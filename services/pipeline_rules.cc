// Rule evaluation and alert recording: what runs after a commit, on a
// timer (liveness) and on a policy change.

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
#include "services/report/report_links.h"
#include "services/rule_inputs.h"
#include "services/small_groups.h"

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

}  // namespace

absl::Status Pipeline::EvaluateRules(ModelState& model) {
  const std::string& model_id = model.config.id;
  const absl::Duration pane_length = model.config.pane_length;
  // The panes the rules read: this replica's and, with a pane exchange,
  // the other replicas' as of their last checkpoints, so that every
  // replica evaluates the model-wide windows (and one delivers: see
  // services/README.md). `peers` holds the others' panes the view points to.
  PaneView view = ViewOf(model.panes);
  std::vector<PeerPane> peers;
  absl::Time end = model.panes.empty()
                       ? absl::InfinitePast()
                       : model.panes.rbegin()->first + pane_length;
  std::optional<absl::Time> peers_changed;
  if (exchange_ != nullptr) {
    peers = exchange_->Panes(model_id, model.config.monitors,
                             absl::InfinitePast(), absl::InfiniteFuture(),
                             /*with_archive=*/true);
    for (const PeerPane& peer : peers) {
      if (peer.archive) continue;
      view.emplace(peer.start, peer.monitors.get());
      end = std::max(end, peer.start + pane_length);
    }
    const PeerActivity activity = exchange_->Activity(model_id);
    model.peers_generation = activity.generation;
    peers_changed = activity.last_changed;
  }
  if (view.empty()) return absl::OkStatus();
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
  // The model is alive while any replica receives its events.
  absl::Time last_received = model.counters.has_last_received()
                                 ? FromProtoTime(model.counters.last_received())
                                 : created_at_;
  if (peers_changed.has_value()) {
    last_received = std::max(last_received, *peers_changed);
  }
  const rules::ModelActivity activity{now - last_received,
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
      bool archived = model.archive.has_value();
      if (!peers.empty()) {
        merged = *model.all;
        for (const PeerPane& peer : peers) {
          // Decoded under this model's options: Merge cannot fail.
          merged->Merge(*peer.monitors).IgnoreError();
          archived = archived || peer.archive;
        }
      }
      if (!archived) {
        *covered.mutable_start() = ToProtoTime(view.begin()->first);
      }
      *covered.mutable_end() = ToProtoTime(end);
    } else {
      merged = *monitors::ModelMonitors::Create(model.config.monitors);
      MergeView(view, end - window, end, pane_length, &*merged, &covered);
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
          ErrorsByWindow(view, end, window, episode->start);
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
          view, end, window, RecommendationWindows(policy, model_id));
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
    for (rules::Finding& finding : EvaluatePerformanceRules(
             policy, model_id, model.config.declared_performance,
             model.config.performance_estimation, monitors,
             model.reference.has_value() ? &*model.reference : nullptr)) {
      findings.push_back(std::move(finding));
    }
    // Rule E1 (model_footprint.h): full once the model's earliest pane,
    // kept or archived, starts by the window's start.
    rules::FootprintInputs footprint = FootprintTargets(
        model.config, reference ? &reference->metrics : nullptr,
        reference ? reference->description : std::string());
    absl::Time first_pane = view.begin()->first;
    if (model.counters.has_first_pane()) {
      first_pane =
          std::min(first_pane, FromProtoTime(model.counters.first_pane()));
    }
    footprint.full_window = FullWindow(window, end, first_pane);
    footprint.reference_expected =
        model.config.reference_window > absl::ZeroDuration();
    for (rules::Finding& finding : EvaluateFootprintRules(
             policy, model_id, footprint, metrics.footprint)) {
      findings.push_back(std::move(finding));
    }
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
  return StoreAlerts(std::move(changes));
}

absl::Status Pipeline::StoreAlerts(std::vector<rules::AlertChange> changes) {
  if (changes.empty()) return absl::OkStatus();
  storage::StateBatch batch = store_->NewBatch();
  for (rules::AlertChange& change : changes) {
    if (!config_.external_url.empty()) {
      change.alert.set_report_url(report::ModelReportUrl(
          config_.external_url, change.alert.model_id()));
    }
    SuppressSmallGroups(config_.privacy.min_group_size, change.alert);
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
    // Another replica may be receiving its events.
    absl::Time last_received = created_at_;
    if (exchange_ != nullptr) {
      last_received = std::max(
          last_received, exchange_->Activity(config.id).last_changed.value_or(
                             absl::InfinitePast()));
    }
    const rules::ModelActivity activity{now - last_received,
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

}  // namespace vigie::services
