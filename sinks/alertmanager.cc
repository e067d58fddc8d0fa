#include "sinks/alertmanager.h"

#include <httplib.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "proto/alert_names.h"
#include "proto/proto_time.h"
#include "sinks/http.h"

namespace vigie::sinks {
namespace {

constexpr absl::string_view kAlertsPath = "/api/v2/alerts";

// RFC 3339 in UTC with a "Z", as Alertmanager writes its own times.
std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

std::string Number(double value) { return absl::StrFormat("%.6g", value); }

std::string ScopeText(const vigie::v1::Alert& alert) {
  std::vector<std::string> parts;
  for (const auto& [key, value] : alert.scope()) {
    parts.push_back(absl::StrCat(key, " ", value));
  }
  std::sort(parts.begin(), parts.end());  // A map's order is unspecified.
  return absl::StrJoin(parts, ", ");
}

std::string Summary(const vigie::v1::Alert& alert) {
  const std::string scope = ScopeText(alert);
  const std::string where =
      absl::StrCat(scope.empty() ? "" : absl::StrCat(" (", scope, ")"),
                   " on model ", alert.model_id());
  if (alert.severity() == vigie::v1::SEVERITY_INSUFFICIENT_DATA) {
    return absl::StrCat(alert.rule_id(), ": too few samples to evaluate ",
                        alert.metric(), where);
  }
  return absl::StrCat(alert.rule_id(), ": ", alert.metric(), " ",
                      Number(alert.value()), " ", alert.comparison(), " ",
                      Number(alert.threshold()), where);
}

}  // namespace

absl::Status AlertmanagerOptions::Validate() const {
  std::string origin, prefix;
  if (absl::Status s = SplitHttpUrl(url, "alertmanager", &origin, &prefix);
      !s.ok())
    return s;
  if (timeout <= absl::ZeroDuration() || ends_after <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "alertmanager timeout and ends_after must be > 0");
  }
  return absl::OkStatus();
}

vigie::sinks::v1::AlertmanagerAlert ToAlertmanager(
    const vigie::v1::Alert& alert, absl::Time now,
    const AlertmanagerOptions& options) {
  vigie::sinks::v1::AlertmanagerAlert out;
  auto& labels = *out.mutable_labels();
  labels["alertname"] = absl::StrCat("Vigie", alert.rule_id());
  labels["severity"] = std::string(SeverityName(alert.severity()));
  labels["model"] = alert.model_id();
  labels["rule"] = alert.rule_id();
  labels["metric"] = alert.metric();
  for (const auto& [key, value] : alert.scope()) labels[key] = value;
  labels["referential"] = alert.referential();
  labels["element"] = alert.element();

  auto& annotations = *out.mutable_annotations();
  // The rule's summary template when the alert carries its rendering.
  annotations["summary"] =
      alert.summary().empty() ? Summary(alert) : alert.summary();
  annotations["description"] = alert.message();
  annotations["vigie_fingerprint"] = alert.fingerprint();
  if (alert.severity() != vigie::v1::SEVERITY_INSUFFICIENT_DATA) {
    annotations["value"] = Number(alert.value());
    annotations["threshold"] =
        absl::StrCat(alert.comparison(), " ", Number(alert.threshold()));
  }
  if (alert.has_value_interval()) {
    annotations["interval"] =
        absl::StrCat("[", Number(alert.value_interval().lower()), ", ",
                     Number(alert.value_interval().upper()), "] at ",
                     Number(alert.value_interval().level()));
  }
  if (alert.has_p_value()) annotations["p_value"] = Number(alert.p_value());
  if (alert.has_adjusted_p_value()) {
    annotations["p_value_adjusted"] =
        absl::StrCat(Number(alert.adjusted_p_value()), " (Holm, ",
                     alert.tests_in_family(), " tests)");
  }
  if (!alert.threshold_source().empty()) {
    annotations["threshold_source"] = alert.threshold_source();
  }
  if (alert.has_baseline()) {
    annotations["baseline"] = absl::StrCat(Number(alert.baseline()), " (",
                                           alert.baseline_source(), ")");
  }
  if (!alert.model_version().empty()) {
    annotations["model_version"] = alert.model_version();
  }
  if (!alert.acknowledged_by().empty()) {
    annotations["acknowledged"] =
        absl::StrCat(alert.acknowledged_by(), " at ",
                     Rfc3339(FromTimestamp(alert.acknowledged_at())),
                     alert.acknowledgement_comment().empty()
                         ? ""
                         : absl::StrCat(": ", alert.acknowledgement_comment()));
  }
  if (alert.window().has_end()) {
    annotations["window"] =
        absl::StrCat(alert.window().has_start()
                         ? Rfc3339(FromTimestamp(alert.window().start()))
                         : "deployment",
                     " to ", Rfc3339(FromTimestamp(alert.window().end())));
  }
  if (!alert.samples().empty()) annotations["samples"] = AlertSamples(alert);
  if (!alert.excluded_groups().empty()) {
    annotations["excluded_groups"] =
        absl::StrJoin(alert.excluded_groups(), ", ");
  }
  if (!alert.related_elements().empty()) {
    annotations["related_elements"] =
        absl::StrJoin(alert.related_elements(), ", ");
  }
  if (!alert.ai_act_articles().empty()) {
    annotations["ai_act_articles"] =
        absl::StrJoin(alert.ai_act_articles(), ", ");
  }

  out.set_starts_at(Rfc3339(FromTimestamp(alert.started_at())));
  out.set_ends_at(Rfc3339(alert.state() == vigie::v1::ALERT_STATE_RESOLVED
                              ? FromTimestamp(alert.resolved_at())
                              : now + options.ends_after));
  if (!alert.report_url().empty()) {
    // The model's report page, where the figures behind the alert are.
    out.set_generator_url(alert.report_url());
  } else if (!options.external_url.empty()) {
    out.set_generator_url(
        absl::StrCat(absl::StripSuffix(options.external_url, "/"), "/models/",
                     alert.model_id()));
  }
  return out;
}

std::string ToAlertmanagerJson(
    absl::Span<const vigie::sinks::v1::AlertmanagerAlert> alerts) {
  std::vector<std::string> items;
  for (const auto& alert : alerts) {
    std::string json;
    // Maps and strings only: printing cannot fail.
    (void)google::protobuf::util::MessageToJsonString(alert, &json);
    items.push_back(std::move(json));
  }
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

absl::StatusOr<std::vector<vigie::sinks::v1::AlertmanagerAlert>>
ParseAlertmanagerJson(absl::string_view json) {
  vigie::sinks::v1::AlertmanagerAlerts wrapped;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // receivers, silencedBy, ...
  const auto status = google::protobuf::util::JsonStringToMessage(
      absl::StrCat("{\"alerts\":", json, "}"), &wrapped, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not an Alertmanager alert list: ", status.message().as_string()));
  }
  return std::vector<vigie::sinks::v1::AlertmanagerAlert>(
      wrapped.alerts().begin(), wrapped.alerts().end());
}

AlertmanagerSink::AlertmanagerSink(const AlertmanagerOptions& options)
    : options_(options) {}

AlertmanagerSink::~AlertmanagerSink() = default;

absl::StatusOr<std::unique_ptr<AlertmanagerSink>> AlertmanagerSink::Create(
    const AlertmanagerOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<AlertmanagerSink> sink(new AlertmanagerSink(options));
  std::string origin;
  (void)SplitHttpUrl(options.url, "alertmanager", &origin, &sink->prefix_);
  sink->client_ = NewHttpClient(origin, options.timeout);
  return sink;
}

std::string AlertmanagerSink::name() const {
  return absl::StrCat("alertmanager ", options_.url);
}

absl::Status AlertmanagerSink::Deliver(
    absl::Span<const vigie::v1::Alert> alerts, absl::Time now) {
  std::vector<vigie::sinks::v1::AlertmanagerAlert> out;
  for (const vigie::v1::Alert& alert : alerts) {
    out.push_back(ToAlertmanager(alert, now, options_));
    auto sent = sent_severity_.find(alert.fingerprint());
    if (sent != sent_severity_.end() && sent->second != alert.severity()) {
      // Its labels under the old severity are another alert to
      // Alertmanager: end it now.
      vigie::v1::Alert old = alert;
      old.set_severity(sent->second);
      old.set_state(vigie::v1::ALERT_STATE_RESOLVED);
      *old.mutable_resolved_at() = alert.updated_at();
      out.push_back(ToAlertmanager(old, now, options_));
    }
  }
  const std::string path = absl::StrCat(prefix_, kAlertsPath);
  if (absl::Status posted =
          PostJson(*client_, path, ToAlertmanagerJson(out), name());
      !posted.ok()) {
    return posted;
  }
  for (const vigie::v1::Alert& alert : alerts) {
    if (alert.state() == vigie::v1::ALERT_STATE_RESOLVED) {
      sent_severity_.erase(alert.fingerprint());
    } else {
      sent_severity_[alert.fingerprint()] = alert.severity();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<vigie::sinks::v1::AlertmanagerAlert>>
AlertmanagerSink::List() {
  const httplib::Result result =
      client_->Get(absl::StrCat(prefix_, kAlertsPath));
  if (!result) {
    return absl::UnavailableError(
        absl::StrCat(name(), ": ", httplib::to_string(result.error())));
  }
  if (result->status != 200) {
    return absl::UnavailableError(
        absl::StrCat(name(), ": HTTP ", result->status, " ", result->body));
  }
  return ParseAlertmanagerJson(result->body);
}

}  // namespace vigie::sinks
