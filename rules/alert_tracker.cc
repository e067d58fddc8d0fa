#include "rules/alert_tracker.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "rules/summary.h"

namespace vigie::rules {
namespace {

constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

void FnvAppend(uint64_t& hash, absl::string_view bytes) {
  for (char c : bytes) {
    hash ^= static_cast<uint8_t>(c);
    hash *= kFnvPrime;
  }
}

void FnvAppendField(uint64_t& hash, absl::string_view field) {
  uint64_t length = field.size();
  char prefix[8];
  for (char& byte : prefix) {
    byte = static_cast<char>(length & 0xff);
    length >>= 8;
  }
  FnvAppend(hash, absl::string_view(prefix, sizeof(prefix)));
  FnvAppend(hash, field);
}

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* out) {
  // ToUnixSeconds rounds towards the past, so nanos is in [0, 1e9).
  const int64_t seconds = absl::ToUnixSeconds(time);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>((time - absl::FromUnixSeconds(seconds)) /
                                      absl::Nanoseconds(1)));
}

vigie::v1::Severity ToProto(Severity severity) {
  switch (severity) {
    case Severity::kInsufficientData:
      return vigie::v1::SEVERITY_INSUFFICIENT_DATA;
    case Severity::kWarning:
      return vigie::v1::SEVERITY_WARNING;
    case Severity::kCritical:
      return vigie::v1::SEVERITY_CRITICAL;
  }
  return vigie::v1::SEVERITY_UNSPECIFIED;
}

const Rule* FindRule(const Policy& policy, absl::string_view id) {
  for (const Rule& rule : policy.rules) {
    if (rule.id == id) return &rule;
  }
  return nullptr;
}

// Everything but state, severity and timestamps.
vigie::v1::Alert AlertOf(const Finding& finding, const std::string& fingerprint,
                         const Rule& rule, const Policy& policy,
                         const vigie::v1::TimeWindow& window) {
  vigie::v1::Alert alert;
  alert.set_fingerprint(fingerprint);
  alert.set_rule_id(finding.rule_id);
  alert.set_model_id(finding.model_id);
  alert.set_metric(finding.metric);
  if (finding.feature.empty()) {
    (*alert.mutable_scope())["attribute"] = finding.attribute;
  } else {
    (*alert.mutable_scope())["feature"] = finding.feature;
  }
  alert.set_value(finding.value.value_or(0));
  if (finding.interval.has_value()) {
    alert.mutable_value_interval()->set_lower(finding.interval->lower);
    alert.mutable_value_interval()->set_upper(finding.interval->upper);
    alert.mutable_value_interval()->set_level(rule.confidence);
  }
  if (finding.p_value.has_value()) alert.set_p_value(*finding.p_value);
  if (finding.adjusted_p_value.has_value()) {
    alert.set_adjusted_p_value(*finding.adjusted_p_value);
    alert.set_tests_in_family(static_cast<uint32_t>(finding.tests_in_family));
  }
  alert.set_threshold(finding.threshold);
  alert.set_comparison(finding.comparison == Comparison::kAbove ? ">" : "<");
  alert.set_threshold_source(rule.threshold_source);
  for (const GroupSample& sample : finding.samples) {
    vigie::v1::GroupSample* out = alert.add_samples();
    out->set_group(sample.group);
    out->set_predictions(sample.predictions);
    out->set_positives(sample.positives);
    out->set_negatives(sample.negatives);
  }
  for (const std::string& group : finding.excluded_groups) {
    alert.add_excluded_groups(group);
  }
  alert.set_referential(policy.referential);
  alert.set_element(rule.element);
  for (const std::string& element : rule.related_elements) {
    alert.add_related_elements(element);
  }
  for (const std::string& article : rule.ai_act_articles) {
    alert.add_ai_act_articles(article);
  }
  alert.set_message(finding.message);
  *alert.mutable_window() = window;
  alert.set_high_group(finding.high_group);
  alert.set_low_group(finding.low_group);
  alert.set_model_version(finding.model_version);
  if (finding.baseline.has_value()) {
    alert.set_baseline(*finding.baseline);
    alert.set_baseline_source(finding.baseline_source);
  }
  return alert;
}

// Whether `a` and `b` differ in what was measured. The window is left out:
// it moves with every evaluation and alone is no news.
bool MeasurementsDiffer(const vigie::v1::Alert& a, const vigie::v1::Alert& b) {
  vigie::v1::Alert a_copy = a, b_copy = b;
  a_copy.clear_window();
  b_copy.clear_window();
  return !google::protobuf::util::MessageDifferencer::Equals(a_copy, b_copy);
}

}  // namespace

std::string Fingerprint(absl::string_view rule_id, absl::string_view model_id,
                        absl::string_view attribute) {
  uint64_t hash = kFnvOffsetBasis;
  FnvAppendField(hash, rule_id);
  FnvAppendField(hash, model_id);
  FnvAppendField(hash, attribute);
  return absl::StrFormat("%016x", hash);
}

std::vector<AlertChange> TrackAlerts(
    const std::vector<Finding>& findings, const Policy& policy,
    const absl::flat_hash_map<std::string, vigie::v1::Alert>& current,
    const vigie::v1::TimeWindow& window, absl::Time now, bool counts) {
  const uint32_t step = counts ? 1 : 0;
  const Rule no_rule;  // Stands in for a rule missing from `policy`.
  std::vector<AlertChange> changes;
  for (const Finding& finding : findings) {
    const std::string fingerprint =
        Fingerprint(finding.rule_id, finding.model_id, ScopeKey(finding));
    auto it = current.find(fingerprint);
    const vigie::v1::Alert* previous =
        it != current.end() ? &it->second : nullptr;
    const vigie::v1::AlertState state =
        previous != nullptr ? previous->state()
                            : vigie::v1::ALERT_STATE_UNSPECIFIED;
    const bool firing = state == vigie::v1::ALERT_STATE_FIRING;
    const bool pending = state == vigie::v1::ALERT_STATE_PENDING;
    const Rule* found = FindRule(policy, finding.rule_id);
    const Rule rule = found != nullptr
                          ? policy.Resolve(*found, finding.model_id,
                                           finding.attribute, finding.feature)
                          : no_rule;

    AlertChange change;
    vigie::v1::Alert& alert = change.alert;
    if (!finding.severity.has_value()) {
      if (pending) {
        // Cleared before it fired: never notified, kept as inactive.
        alert = *previous;
        alert.set_state(vigie::v1::ALERT_STATE_INACTIVE);
        alert.set_breaching_evaluations(0);
        SetTimestamp(now, alert.mutable_updated_at());
        alert.set_summary(RenderSummary(rule.summary, alert));
        changes.push_back(std::move(change));
        continue;
      }
      if (!firing) continue;
      const uint32_t healthy =
          std::max<uint32_t>(1, previous->healthy_evaluations() + step);
      if (healthy <= rule.keep_firing_for) {
        // Still firing, as it was when last breached; only the count moves.
        alert = *previous;
        alert.set_healthy_evaluations(healthy);
        alert.set_summary(RenderSummary(rule.summary, alert));
        changes.push_back(std::move(change));
        continue;
      }
      alert = AlertOf(finding, fingerprint, rule, policy, window);
      // A resolved alert keeps the severity it had, so that receivers can
      // match it with the notification that opened it.
      alert.set_severity(previous->severity());
      alert.set_state(vigie::v1::ALERT_STATE_RESOLVED);
      *alert.mutable_started_at() = previous->started_at();
      SetTimestamp(now, alert.mutable_updated_at());
      SetTimestamp(now, alert.mutable_resolved_at());
      change.transition = true;
      alert.set_summary(RenderSummary(rule.summary, alert));
      changes.push_back(std::move(change));
      continue;
    }

    alert = AlertOf(finding, fingerprint, rule, policy, window);
    alert.set_severity(ToProto(*finding.severity));
    // Counted up to `for` only: a firing alert's count stays put, so that
    // an unchanged breach is no change to store.
    const uint32_t needed = std::max<uint32_t>(rule.for_evaluations, 1);
    const uint32_t breaching =
        firing || pending
            ? std::min(needed, std::max<uint32_t>(
                                   1, previous->breaching_evaluations() + step))
            : 1;
    alert.set_breaching_evaluations(breaching);
    if (firing) {
      alert.set_state(vigie::v1::ALERT_STATE_FIRING);
      *alert.mutable_started_at() = previous->started_at();
      if (alert.severity() != previous->severity()) {
        SetTimestamp(now, alert.mutable_updated_at());
        change.transition = true;
      } else {
        *alert.mutable_updated_at() = previous->updated_at();
        alert.set_summary(RenderSummary(rule.summary, alert));
        if (!MeasurementsDiffer(alert, *previous)) continue;
      }
    } else if (breaching >= needed) {
      alert.set_state(vigie::v1::ALERT_STATE_FIRING);
      SetTimestamp(now, alert.mutable_started_at());
      SetTimestamp(now, alert.mutable_updated_at());
      change.transition = true;
    } else {
      alert.set_state(vigie::v1::ALERT_STATE_PENDING);
      if (pending) {
        *alert.mutable_started_at() = previous->started_at();
      } else {
        SetTimestamp(now, alert.mutable_started_at());  // Pending since.
      }
      SetTimestamp(now, alert.mutable_updated_at());
    }
    alert.set_summary(RenderSummary(rule.summary, alert));
    changes.push_back(std::move(change));
  }
  return changes;
}

std::vector<AlertChange> RetireAlerts(
    absl::string_view model_id,
    const absl::flat_hash_set<std::string>& evaluated,
    const absl::flat_hash_map<std::string, vigie::v1::Alert>& current,
    absl::Time now, absl::string_view reason) {
  std::vector<AlertChange> changes;
  for (const auto& [fingerprint, previous] : current) {
    if (previous.model_id() != model_id || evaluated.contains(fingerprint)) {
      continue;
    }
    const bool firing = previous.state() == vigie::v1::ALERT_STATE_FIRING;
    if (!firing && previous.state() != vigie::v1::ALERT_STATE_PENDING) {
      continue;
    }
    AlertChange change;
    vigie::v1::Alert& alert = change.alert;
    alert = previous;
    alert.set_message(
        absl::StrCat(previous.message(), " Closed: ", reason, "."));
    SetTimestamp(now, alert.mutable_updated_at());
    if (firing) {
      alert.set_state(vigie::v1::ALERT_STATE_RESOLVED);
      SetTimestamp(now, alert.mutable_resolved_at());
      change.transition = true;
    } else {
      alert.set_state(vigie::v1::ALERT_STATE_INACTIVE);
      alert.set_breaching_evaluations(0);
    }
    alert.set_summary(
        absl::StrCat(previous.summary(), " (closed: ", reason, ")"));
    changes.push_back(std::move(change));
  }
  // The map's order is unspecified; a stable order makes stored history
  // and notifications reproducible.
  std::sort(changes.begin(), changes.end(),
            [](const AlertChange& a, const AlertChange& b) {
              return a.alert.fingerprint() < b.alert.fingerprint();
            });
  return changes;
}

}  // namespace vigie::rules
