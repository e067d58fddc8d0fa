#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "sinks/alert_sink.h"
#include "vigie/sinks/v1/alertmanager.pb.h"
#include "vigie/v1/vigie.pb.h"

namespace httplib {
class Client;
}

namespace vigie::sinks {

struct AlertmanagerOptions {
  // Base URL of the Alertmanager, e.g. "http://alertmanager:9093" (http
  // only). Required.
  std::string url;
  // Of each HTTP request. Default: 5 s.
  absl::Duration timeout = absl::Seconds(5);
  // A firing alert's endsAt is set this far ahead of each sending, so that
  // Alertmanager resolves it by itself if Vigie stops sending (the
  // dispatcher re-sends firing alerts more often than this). Default: 5 min.
  absl::Duration ends_after = absl::Minutes(5);
  // Base of the generatorURL of an alert that carries no report_url (those
  // that do link to their model's report page); empty: none.
  std::string external_url;

  absl::Status Validate() const;
};

// A Vigie alert as Alertmanager takes it, by its conventions:
// - labels, which identify and route it: alertname ("Vigie" and the rule id,
//   e.g. "VigieF3"), severity ("warning", "critical" or
//   "insufficient_data"), model, rule, metric, each scope key (e.g.
//   attribute="race"), referential and element (so that receivers can
//   route by commitment);
// - annotations, which describe it: summary (one line), description (the
//   message), value, interval, p_value, threshold, threshold_source,
//   window, samples, excluded_groups, related_elements, ai_act_articles,
//   vigie_fingerprint;
// - startsAt: when it started firing; endsAt: its resolution time once
//   resolved, else `now` + ends_after.
vigie::sinks::v1::AlertmanagerAlert ToAlertmanager(
    const vigie::v1::Alert& alert, absl::Time now,
    const AlertmanagerOptions& options);

// The JSON array POST /api/v2/alerts takes.
std::string ToAlertmanagerJson(
    absl::Span<const vigie::sinks::v1::AlertmanagerAlert> alerts);
// Reads the JSON array GET /api/v2/alerts gives. kInvalidArgument if it is
// not one.
absl::StatusOr<std::vector<vigie::sinks::v1::AlertmanagerAlert>>
ParseAlertmanagerJson(absl::string_view json);

// Sends alerts to an Alertmanager's v2 API. When an alert's severity
// changes, the labels of the severity it had are sent ended too, since
// Alertmanager identifies an alert by its labels: the warning stops when the
// critical starts. Thread-compatible.
class AlertmanagerSink final : public AlertSink {
 public:
  static absl::StatusOr<std::unique_ptr<AlertmanagerSink>> Create(
      const AlertmanagerOptions& options);
  ~AlertmanagerSink() override;

  std::string name() const override;
  // One POST of every alert (kUnavailable, with the reason, if the
  // Alertmanager cannot be reached or refuses them).
  absl::Status Deliver(absl::Span<const vigie::v1::Alert> alerts,
                       absl::Time now) override;

  // GET /api/v2/alerts: the alerts the Alertmanager holds now.
  absl::StatusOr<std::vector<vigie::sinks::v1::AlertmanagerAlert>> List();

 private:
  explicit AlertmanagerSink(const AlertmanagerOptions& options);

  AlertmanagerOptions options_;
  std::string prefix_;  // Path of the URL, before /api/v2/alerts.
  std::unique_ptr<httplib::Client> client_;
  // The severity last sent per fingerprint, to end its labels when it
  // changes.
  std::map<std::string, vigie::v1::Severity> sent_severity_;
};

}  // namespace vigie::sinks
